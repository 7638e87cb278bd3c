package server_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/store"
)

// envOption changes how newEnv builds the broker.
type envOption func(*envSetup)

// envSetup collects the options of newEnv.
type envSetup struct {
	tls       bool
	tlsConfig *tls.Config
	changes   []func(e *env, cfg *server.Config)
}

func newEnvSetup(opts []envOption) *envSetup {
	s := &envSetup{}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *envSetup) scheme() string {
	if s.tls {
		return "https"
	}
	return "http"
}

func (s *envSetup) configure(e *env, cfg *server.Config) {
	for _, change := range s.changes {
		change(e, cfg)
	}
}

func (s *envSetup) start(srv *httptest.Server) {
	if !s.tls {
		srv.Start()
		return
	}
	srv.TLS = s.tlsConfig
	srv.StartTLS()
}

// withTLS serves the broker over HTTPS with httptest's certificate, and
// with cfg's client certificate settings when cfg is not nil.
func withTLS(cfg *tls.Config) envOption {
	return func(s *envSetup) { s.tls, s.tlsConfig = true, cfg }
}

// withConfig changes the server's configuration.
func withConfig(change func(e *env, cfg *server.Config)) envOption {
	return func(s *envSetup) { s.changes = append(s.changes, change) }
}

// withAudit gives the broker an audit log on its bbolt store and stores it
// in dst.
func withAudit(dst **audit.Log) envOption {
	return withConfig(func(e *env, cfg *server.Config) {
		l := audit.New(audit.Config{Store: e.store.(store.AuditLog), Now: e.clock.Now})
		l.Start()
		e.t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l.Close(ctx)
		})
		cfg.Security.Audit = l
		*dst = l
	})
}

// withFailureLimit sets the limit on failed authentications per address.
func withFailureLimit(burst int, every time.Duration) envOption {
	return withConfig(func(e *env, cfg *server.Config) {
		cfg.Security.Failures = auth.NewFailureLimiter(burst, every, 0)
	})
}

// auditEntries waits for the queued entries and returns all of them,
// newest first.
func auditEntries(t *testing.T, e *env, l *audit.Log) []store.AuditEntry {
	t.Helper()
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, _, err := e.store.(store.AuditLog).ListAudit(t.Context(), store.AuditListOptions{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// findAudit returns the newest entry with the action and request id.
func findAudit(entries []store.AuditEntry, action, requestID string) (store.AuditEntry, bool) {
	for _, en := range entries {
		if en.Action == action && en.RequestID == requestID {
			return en, true
		}
	}
	return store.AuditEntry{}, false
}

// newLimitedKey stores a key with limits and an expiry and returns it in
// full.
func (e *env) newLimitedKey(name string, limits store.Limits, expires time.Time) (store.APIKey, string) {
	e.t.Helper()
	k, full := auth.NewKey(name, e.clock.Now())
	k.Limits, k.ExpiresAt = limits, expires
	if err := e.store.CreateAPIKey(context.Background(), k); err != nil {
		e.t.Fatal(err)
	}
	return k, full.Reveal()
}

// errorCode returns the error code of an API error body.
func errorCode(body string) string {
	var b struct {
		Error string `json:"error"`
	}
	json.Unmarshal([]byte(body), &b)
	return b.Error
}
