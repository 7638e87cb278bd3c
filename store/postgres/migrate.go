package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFiles are the schema migrations, named NNNN_description.sql.
// Version NNNN must follow the previous one by one. A released migration
// never changes: a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// SchemaVersion is the newest schema version this package supports: the
// version of the last file in migrations/, which a test checks. Open
// rejects a database with a newer one.
const SchemaVersion = 4

// migrations are the embedded migrations in version order.
var migrations = mustLoadMigrations()

// migrationLockKey is the key of the advisory lock held while migrating.
// Advisory locks are per database, and the number is arbitrary but fixed:
// every zoombroker must use the same one.
const migrationLockKey int64 = 0x7a6f6f6d62726f6b // "zoombrok"

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded files in version order and checks that
// the versions run 1, 2, 3, ... without gaps.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}

	var out []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("migration file %s: name must start with a positive version number and an underscore", e.Name())
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: e.Name(), sql: string(body)})
	}

	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration file %s: version %d; want %d, one after the previous file", m.name, m.version, i+1)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no migration files are embedded")
	}
	return out, nil
}

// mustLoadMigrations is loadMigrations for package initialization: a bad
// file name is a mistake in this package, caught by any test.
func mustLoadMigrations() []migration {
	ms, err := loadMigrations()
	if err != nil {
		panic("postgres: " + err.Error())
	}
	return ms
}

// migrate applies the migrations the database lacks. It holds a session
// advisory lock on one connection while it checks and applies them, so
// replicas starting together wait for each other and apply each migration
// once. Each migration and its row in schema_migrations commit together.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()

	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// A lost connection releases the lock on the server by itself.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
	}()

	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`)
	if err != nil {
		return fmt.Errorf("create table schema_migrations: %w", err)
	}

	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if current > SchemaVersion {
		return fmt.Errorf("the database has schema version %d, newer than version %d, the newest this zoombroker supports; "+
			"run a zoombroker at least as new as the one that migrated the database, or restore a backup", current, SchemaVersion)
	}

	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	return nil
}

// Version returns the schema version recorded in the database.
func (db *DB) Version(ctx context.Context) (int, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	var v int
	if err := db.pool.QueryRow(qctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", classify(ctx, err))
	}
	return v, nil
}

// CheckSchema returns an error when the database's schema version is newer
// than [SchemaVersion], because a replica of a newer zoombroker migrated it
// while this one runs. Readiness checks call it, so a load balancer stops
// sending requests to replicas that are too old for the database.
func (db *DB) CheckSchema(ctx context.Context) error {
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	if v > SchemaVersion {
		return fmt.Errorf("the database has schema version %d, newer than version %d, the newest this zoombroker supports; upgrade this replica", v, SchemaVersion)
	}
	return nil
}
