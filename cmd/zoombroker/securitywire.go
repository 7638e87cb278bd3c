package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/store"
)

// auditCloseTimeout bounds the wait for queued audit entries at shutdown.
const auditCloseTimeout = 10 * time.Second

// securityWiring is the hardening part of serve's wiring: the audit log,
// the limit on failed authentications and the caller settings.
type securityWiring struct {
	server server.SecurityConfig
	audit  *audit.Log
	log    *slog.Logger
}

// startSecurity checks that every token record's key is configured, then
// starts the audit log and builds the server's security settings. Close
// the result after the HTTP server has stopped.
func (c *cli) startSecurity(ctx context.Context, cfg Config, db store.Store, log *slog.Logger, m *metrics.Metrics) (*securityWiring, error) {
	if err := checkRecordKeys(ctx, db, cfg.EncryptionKeys, log); err != nil {
		return nil, err
	}

	auditLog := audit.New(audit.Config{Store: db, Logger: log, Now: c.now, Retention: cfg.Security.AuditRetention})
	auditLog.Start()

	failures := auth.NewFailureLimiter(0, 0, 0)
	if m != nil {
		registerSecurityMetrics(m.Registry(), auditLog, failures, log)
	}
	for id, keyID := range cfg.Security.ClientCerts {
		if _, err := db.GetAPIKey(ctx, keyID); errors.Is(err, store.ErrNotFound) {
			log.Warn("client certificate mapped to a missing API key; its callers get 401 until the key exists", "identity", id.String(), "key_id", keyID)
		}
	}

	return &securityWiring{
		server: server.SecurityConfig{
			Audit:          auditLog,
			TrustedProxies: cfg.Security.TrustedProxies,
			TrustedHeader:  cfg.Security.TrustedHeader,
			ClientCerts:    cfg.Security.ClientCerts,
			Failures:       failures,
		},
		audit: auditLog,
		log:   log,
	}, nil
}

// close writes the queued audit entries.
func (w *securityWiring) close() {
	ctx, cancel := context.WithTimeout(context.Background(), auditCloseTimeout)
	defer cancel()
	if err := w.audit.Close(ctx); err != nil {
		w.log.Error("audit entries still queued at shutdown are lost", "err", err)
	}
}

// registerSecurityMetrics exports the audit log's losses and the failed
// authentications turned away.
func registerSecurityMetrics(reg *prometheus.Registry, a *audit.Log, failures *auth.FailureLimiter, log *slog.Logger) {
	collectors := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "zoombroker_audit_dropped_total",
			Help: "Audit entries dropped because the write queue was full.",
		}, func() float64 { return float64(a.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "zoombroker_audit_write_failures_total",
			Help: "Audit entries lost because the store failed to write them.",
		}, func() float64 { return float64(a.WriteFailures()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "zoombroker_auth_rate_limited_total",
			Help: "Requests turned away because their address had too many failed authentications.",
		}, func() float64 { return float64(failures.BlockedCount()) }),
	}
	for _, col := range collectors {
		if err := reg.Register(col); err != nil {
			log.Warn("register security metric failed", "err", err)
		}
	}
}
