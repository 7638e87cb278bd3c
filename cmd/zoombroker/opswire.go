package main

import (
	"context"
	"errors"

	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/store"
)

// opsWiring holds the operations parts that serve passes to buildServer:
// the metrics, the online backup and the readiness checks of the store.
type opsWiring struct {
	metrics *metrics.Metrics
	backup  server.Backuper // nil when the store has no online backup
	ready   []server.ReadyCheck
}

// schemaChecker is implemented by a store whose schema can change while
// the broker runs, such as a database that another replica migrates.
type schemaChecker interface {
	CheckSchema(ctx context.Context) error
}

// schemaCheck returns the readiness check of the store's schema. The bbolt
// store checks its schema version when it opens the file and holds the
// file's lock from then on, so no other process can migrate it: for a
// store without CheckSchema, the check passes.
func schemaCheck(db store.Store) server.ReadyCheck {
	if sc, ok := db.(schemaChecker); ok {
		return server.ReadyCheck{Name: "schema", Check: sc.CheckSchema}
	}
	return server.ReadyCheck{Name: "schema", Check: func(context.Context) error { return nil }}
}

// keysCheck returns the readiness check of the encryption keys: the
// sealer has a key to seal with.
func keysCheck(sealer *seal.Sealer) server.ReadyCheck {
	return server.ReadyCheck{Name: "keys", Check: func(context.Context) error {
		if sealer.Current() == "" {
			return errors.New("no encryption key is loaded")
		}
		return nil
	}}
}

// plainHTTPExposed reports whether the main listener serves plain HTTP to
// other hosts: it is not on loopback, has no TLS of its own, and the base
// URL does not point at an https proxy in front.
func plainHTTPExposed(cfg Config) bool {
	return !isLoopback(cfg.Listen) && !cfg.Ops.TLS() && cfg.BaseURL.Scheme != "https"
}
