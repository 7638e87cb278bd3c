package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
	"github.com/zoombroker/zoombroker/store/postgres"
)

// usesPostgres reports whether the settings select PostgreSQL over the
// bbolt file.
func usesPostgres(vs values) bool { return vs[envDatabaseURL].text != "" }

// openServeStore opens the store of serve: the PostgreSQL database of
// ZOOMBROKER_DATABASE_URL when it is set, else the bbolt file in the data
// directory. It logs which one, naming only the host and database of a URL.
func openServeStore(ctx context.Context, cfg Config, vs values, log *slog.Logger) (store.Store, error) {
	if usesPostgres(vs) {
		db, err := openPostgres(ctx, vs)
		if err != nil {
			return nil, err
		}
		log.Info("database opened", "backend", "postgres", "database", postgres.Describe(vs[envDatabaseURL].text), "schema_version", postgres.SchemaVersion)
		return db, nil
	}

	dbPath := filepath.Join(cfg.DataDir, dbFile)
	db, err := bolt.Open(dbPath, bolt.Options{LockTimeout: serveLockTimeout})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("another zoombroker is using %s; stop it or use its console, or set %s to another directory", dbPath, vs.label(envDataDir))
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	log.Info("database opened", "backend", "bolt", "path", dbPath)
	return db, nil
}

// openPostgres opens the database of ZOOMBROKER_DATABASE_URL and applies
// its migrations. Its errors name the setting and never the URL.
func openPostgres(ctx context.Context, vs values) (*postgres.DB, error) {
	v := vs[envDatabaseURL]
	db, err := postgres.Open(ctx, v.text, postgres.Options{})
	if errors.Is(err, store.ErrUnavailable) {
		return nil, fmt.Errorf("%s: cannot reach the database: %w; check that PostgreSQL runs, accepts connections from this host and knows the user and password", vs.label(envDatabaseURL), err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vs.label(envDatabaseURL), err)
	}
	return db, nil
}

// onlineBackup returns the store's online backup, or nil for a store
// without one: PostgreSQL is backed up with its own tools, such as pg_dump.
func onlineBackup(db store.Store) server.Backuper {
	if b, ok := db.(server.Backuper); ok {
		return b
	}
	return nil
}
