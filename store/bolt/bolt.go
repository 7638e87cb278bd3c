package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/zoombroker/zoombroker/store"
)

// SchemaVersion is the layout version this package reads and writes. Open
// rejects a file with a newer version. Version 2 added the account filter
// index (accounts_by_field); Open migrates a version 1 file.
const SchemaVersion = 2

// defaultLockTimeout is the file lock wait when Options.LockTimeout is zero.
const defaultLockTimeout = time.Second

// Bucket names and meta keys. See the package documentation for the layout.
var (
	bucketMeta       = []byte("meta")
	bucketAccounts   = []byte("accounts")
	bucketIdentity   = []byte("accounts_by_identity")
	bucketDue        = []byte("accounts_by_next_refresh")
	bucketAPIKeys    = []byte("apikeys")
	bucketAPIKeyHash = []byte("apikeys_by_hash")
	bucketOperators  = []byte("operators")
	bucketLeases     = []byte("leases")
	bucketConnect    = []byte("connect_sessions")
	bucketWebhooks   = []byte("webhooks")
	bucketDeliveries = []byte("deliveries")
	bucketQueued     = []byte("deliveries_queued")

	allBuckets = [][]byte{bucketMeta, bucketAccounts, bucketIdentity, bucketDue, bucketFilter, bucketAPIKeys, bucketAPIKeyHash, bucketOperators, bucketLeases, bucketWebhooks, bucketDeliveries, bucketQueued, bucketConnect, bucketAudit}

	keySchemaVersion = []byte("schema_version")
)

// Options configures [Open]. The zero value is the production setting.
type Options struct {
	// LockTimeout is how long Open waits for the file lock that another
	// process holds. Zero or less means 1s.
	LockTimeout time.Duration

	// NoSync skips the fsync after each commit. THIS IS UNSAFE: a crash can
	// lose or corrupt committed writes, including rotated refresh tokens.
	// Use it only in tests.
	NoSync bool
}

// DB is a [store.Store] in a bbolt file. It is safe for concurrent use.
type DB struct {
	bdb  *bbolt.DB
	path string

	// accountCache and apiKeyCache spare GetAccount and GetAPIKey the
	// JSON decoding of records read before; see decodeCache.
	accountCache *decodeCache[store.Account]
	apiKeyCache  *decodeCache[store.APIKey]
}

var _ store.Store = (*DB)(nil)

// Open opens the store at path, creating the file with mode 0600 and its
// buckets if needed. It fails with an error wrapping [store.ErrLocked] when
// another process holds the file past opts.LockTimeout, and with a plain
// error when the file's schema is newer than [SchemaVersion] or the file is
// not a zoombroker store.
func Open(path string, opts Options) (*DB, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = defaultLockTimeout
	}

	// A copy, because bbolt.DefaultOptions is a shared pointer.
	bopts := *bbolt.DefaultOptions
	bopts.Timeout = timeout
	bopts.NoSync = opts.NoSync

	bdb, err := bbolt.Open(path, 0o600, &bopts)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open bolt store %s: waited %s for the file lock; stop the other process using this file: %w", path, timeout, store.ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open bolt store %s: %w", path, err)
	}

	if err := bdb.Update(func(tx *bbolt.Tx) error {
		if err := initSchema(tx); err != nil {
			return err
		}
		if err := migrateFilterIndex(tx); err != nil {
			return err
		}
		return dropLeases(tx)
	}); err != nil {
		_ = bdb.Close() // the schema error matters more than a close error
		return nil, fmt.Errorf("open bolt store %s: %w", path, err)
	}
	return &DB{
		bdb:          bdb,
		path:         path,
		accountCache: newDecodeCache(accountCacheSize, cloneAccount),
		apiKeyCache:  newDecodeCache(apiKeyCacheSize, cloneAPIKey),
	}, nil
}

// initSchema checks the schema version of an existing store, or creates the
// buckets and the version of a new one.
func initSchema(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return fmt.Errorf("file has bucket %q but no %q bucket; it is not a zoombroker store", k, bucketMeta)
		}
		var err error
		if meta, err = tx.CreateBucket(bucketMeta); err != nil {
			return fmt.Errorf("create bucket %q: %w", bucketMeta, err)
		}
		if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}

	raw := meta.Get(keySchemaVersion)
	version, err := strconv.Atoi(string(raw))
	if err != nil || version < 1 {
		return fmt.Errorf("schema version %q is invalid; want a positive integer", raw)
	}
	if version > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than %d, the newest this zoombroker reads; run a newer zoombroker or restore a backup", version, SchemaVersion)
	}

	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// Path returns the file path given to Open.
func (db *DB) Path() string { return db.path }

// Ping reports whether the file can be read.
func (db *DB) Ping(ctx context.Context) error {
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return fmt.Errorf("bucket %q is missing", bucketMeta)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ping bolt store %s: %w", db.path, err)
	}
	return nil
}

// Close waits for running transactions and releases the file and its lock.
// Closing twice returns nil.
func (db *DB) Close() error {
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("close bolt store %s: %w", db.path, err)
	}
	return nil
}

// WriteTo writes a consistent copy of the whole file to w from one read
// transaction, so writers go on while it runs. The copy opens with Open like
// the original. It contains only sealed tokens, but also API key hashes and
// operator password hashes: protect it like the original.
func (db *DB) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := db.bdb.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up bolt store %s: %w", db.path, err)
	}
	return n, nil
}

// view runs fn in a read transaction unless ctx is already done. bbolt
// transactions cannot be cancelled once they run.
func (db *DB) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.View(fn)
}

// update runs fn in a write transaction unless ctx is already done.
func (db *DB) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.Update(fn)
}
