package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zoombroker/zoombroker/store"
)

// Defaults of the Options fields left zero.
const (
	DefaultQueryTimeout   = 5 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultMigrateTimeout = 2 * time.Minute
)

// Options configures [Open]. The zero value is the production setting.
type Options struct {
	// MaxConns bounds the pool's open connections. Zero keeps the
	// pool_max_conns parameter of the URL, or else pgxpool's default: the
	// greater of 4 and the number of CPUs.
	MaxConns int32

	// MinConns is how many idle connections the pool keeps open. Zero
	// keeps the pool_min_conns parameter of the URL, or else 0.
	MinConns int32

	// QueryTimeout bounds each query, and each attempt of a transaction,
	// when the caller's context has no sooner deadline. Zero means
	// DefaultQueryTimeout.
	QueryTimeout time.Duration

	// ConnectTimeout bounds opening one connection when the URL has no
	// connect_timeout parameter. Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// MigrateTimeout bounds the wait for the migration lock plus applying
	// the migrations at Open. Zero means DefaultMigrateTimeout.
	MigrateTimeout time.Duration
}

// DB is a [store.Store] in a PostgreSQL database. It is safe for
// concurrent use, also by several processes on one database.
type DB struct {
	pool         *pgxpool.Pool
	queryTimeout time.Duration
	target       string
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at connURL
// (postgres://USER:PASSWORD@HOST:PORT/DATABASE?PARAMETERS),
// applies the embedded schema migrations and returns the store. Pool
// parameters in the URL (pool_max_conns and the others pgxpool reads) apply
// unless opts overrides them.
//
// It fails with an error wrapping [store.ErrUnavailable] when the server
// cannot be reached, and with a plain error when the URL is invalid or the
// database's schema is newer than [SchemaVersion]. Errors never contain
// the URL's password.
func Open(ctx context.Context, connURL string, opts Options) (*DB, error) {
	cfg, err := parseURL(connURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	target := Describe(connURL)

	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = orDefault(opts.ConnectTimeout, DefaultConnectTimeout)
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", target, err)
	}
	db := &DB{pool: pool, queryTimeout: orDefault(opts.QueryTimeout, DefaultQueryTimeout), target: target}

	mctx, cancel := context.WithTimeout(ctx, orDefault(opts.MigrateTimeout, DefaultMigrateTimeout))
	defer cancel()
	if err := db.migrate(mctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", target, classify(ctx, err))
	}
	return db, nil
}

// parseURL parses a postgres:// URL into a pool configuration. Its errors
// never repeat the URL, because the URL may contain a password.
func parseURL(raw string) (*pgxpool.Config, error) {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return nil, errors.New("the database URL must start with postgres:// or postgresql://")
	}
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		// pgx redacts passwords only on a best-effort basis, so its
		// message is not repeated.
		return nil, errors.New("the database URL is invalid; use postgres://USER:PASSWORD@HOST:PORT/DATABASE with optional parameters such as ?sslmode=require")
	}
	return cfg, nil
}

// Describe returns the host, port and database name of a postgres:// URL,
// without the user name or password, for logs and messages. It returns
// "invalid database URL" when url cannot be parsed.
func Describe(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "invalid database URL"
	}
	host := u.Host
	if host == "" {
		host = "default host"
	}
	return fmt.Sprintf("host %s database %s", host, strings.TrimPrefix(u.Path, "/"))
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// String returns the host and database the store uses.
func (db *DB) String() string { return "postgres store (" + db.target + ")" }

// Ping reports whether the database responds to a query within the query
// timeout. It returns an error wrapping [store.ErrUnavailable] when it does
// not.
func (db *DB) Ping(ctx context.Context) error {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	var one int
	if err := db.pool.QueryRow(qctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping postgres store %s: %w", db.target, classify(ctx, err))
	}
	return nil
}

// Close waits for the connections in use to be returned, then closes the
// pool. Closing twice returns nil.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// deadline returns ctx bounded by the query timeout.
func (db *DB) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.queryTimeout)
}

// classify returns err wrapped with the store sentinel it stands for. ctx
// is the caller's context, before the query timeout was added: when the
// caller cancelled, the error is not the database's fault and stays as it
// is.
func classify(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case errors.As(err, &pgErr):
		if pgErr.Code == "23505" { // unique_violation
			return fmt.Errorf("%w: %s", store.ErrAlreadyExists, pgErr.ConstraintName)
		}
		if serverUnavailable(pgErr.Code) {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	case errors.Is(ctx.Err(), context.Canceled):
		return err
	case unreachable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// serverUnavailable reports whether a SQLSTATE means the server cannot
// serve now, as opposed to a problem with the query.
func serverUnavailable(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient resources, too many connections
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	case "57014": // query_canceled, as statement_timeout does
		return true
	case "25006": // read_only_sql_transaction: a standby after a failover
		return true
	}
	return false
}

// unreachable reports whether err is a failure to talk to the server: a
// refused or broken connection, or no response in time.
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case pgconn.SafeToRetry(err):
		// pgconn marks errors that happened before the query was sent,
		// such as a connection that was already closed.
		return true
	}
	return false
}
