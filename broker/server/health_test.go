package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// pingStore fails Ping while down is set.
type pingStore struct {
	store.Store
	down bool
}

func (s *pingStore) Ping(ctx context.Context) error {
	if s.down {
		return errors.New("store unreachable")
	}
	return s.Store.Ping(ctx)
}

// opsServer builds a second server on the env's token service with the
// operations settings of cfg.
func opsServer(t *testing.T, e *env, cfg server.Config) http.Handler {
	t.Helper()
	key := make([]byte, 64)
	rand.Read(key)
	base, _ := url.Parse(e.broker.URL)
	cfg.Tokens, cfg.BaseURL, cfg.CookieKeys, cfg.Version = e.tokens, base, [][]byte{key}, "v9.9.9"
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, nil))
	if cfg.Store == nil {
		cfg.Store = e.store
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

func get(h http.Handler, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestReadyz(t *testing.T) {
	e := newEnv(t)
	ps := &pingStore{Store: e.store}
	keysLoaded := true
	h := opsServer(t, e, server.Config{Store: ps, ReadyChecks: []server.ReadyCheck{{Name: "keys", Check: func(context.Context) error {
		if !keysLoaded {
			return errors.New("no key")
		}
		return nil
	}}}})

	tests := []struct {
		name       string
		storeDown  bool
		keys       bool
		wantStatus int
		wantChecks map[string]string
	}{
		{name: "ready", keys: true, wantStatus: http.StatusOK, wantChecks: map[string]string{"store": "ok", "keys": "ok"}},
		{name: "store down", storeDown: true, keys: true, wantStatus: http.StatusServiceUnavailable, wantChecks: map[string]string{"store": "failed", "keys": "ok"}},
		{name: "no keys", keys: false, wantStatus: http.StatusServiceUnavailable, wantChecks: map[string]string{"store": "ok", "keys": "failed"}},
		{name: "ready again", keys: true, wantStatus: http.StatusOK, wantChecks: map[string]string{"store": "ok", "keys": "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps.down, keysLoaded = tt.storeDown, tt.keys
			rec := get(h, "/readyz", "")
			if rec.Code != tt.wantStatus {
				t.Errorf("GET /readyz = %d; want %d", rec.Code, tt.wantStatus)
			}
			var body struct {
				Version string            `json:"version"`
				Checks  map[string]string `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("GET /readyz body is not JSON: %v", err)
			}
			if body.Version != "v9.9.9" {
				t.Errorf("GET /readyz version = %q; want v9.9.9", body.Version)
			}
			for name, want := range tt.wantChecks {
				if got := body.Checks[name]; got != want {
					t.Errorf("GET /readyz checks[%s] = %q; want %q", name, got, want)
				}
			}
		})
	}

	// Readiness changed twice: lost at "store down", back at "ready again".
	if got := strings.Count(e.logs.String(), `"msg":"not ready"`); got != 1 {
		t.Errorf("logs have %d not-ready lines; want 1", got)
	}
	if got := strings.Count(e.logs.String(), `"msg":"ready again"`); got != 1 {
		t.Errorf("logs have %d ready-again lines; want 1", got)
	}
}

func TestOpsBackupEndpoint(t *testing.T) {
	e := newEnv(t)
	db := e.store.(*bolt.DB)

	t.Run("without key", func(t *testing.T) {
		if rec := get(opsServer(t, e, server.Config{Backup: db}), "/ops/backup", ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET /ops/backup without a key = %d; want 401", rec.Code)
		}
	})
	t.Run("unsupported store", func(t *testing.T) {
		if rec := get(opsServer(t, e, server.Config{}), "/ops/backup", e.apiKey); rec.Code != http.StatusNotImplemented {
			t.Errorf("GET /ops/backup with no Backup = %d; want 501", rec.Code)
		}
	})
	t.Run("copy opens", func(t *testing.T) {
		rec := get(opsServer(t, e, server.Config{Backup: db}), "/ops/backup", e.apiKey)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /ops/backup = %d; want 200", rec.Code)
		}
		path := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(path, rec.Body.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		copied, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatalf("open the copy: %v", err)
		}
		defer copied.Close()
		if _, err := copied.GetOperator(context.Background(), operatorName); err != nil {
			t.Errorf("GetOperator(%s) in the copy = %v; want the operator", operatorName, err)
		}
	})
}

func TestServeMetricsRoute(t *testing.T) {
	e := newEnv(t)
	m := metrics.New(metrics.Options{})
	tests := []struct {
		name  string
		serve bool
		want  int
	}{
		{name: "served", serve: true, want: http.StatusOK},
		{name: "not served", serve: false, want: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := opsServer(t, e, server.Config{Metrics: m, ServeMetrics: tt.serve})
			get(h, "/healthz", "")
			rec := get(h, "/metrics", "")
			if rec.Code != tt.want {
				t.Errorf("GET /metrics = %d; want %d", rec.Code, tt.want)
			}
			if tt.serve && !bytes.Contains(rec.Body.Bytes(), []byte("zoombroker_http_requests_total")) {
				t.Errorf("GET /metrics body has no zoombroker_http_requests_total")
			}
		})
	}
}

func TestVersionShown(t *testing.T) {
	e := newEnv(t)
	h := opsServer(t, e, server.Config{})

	if rec := get(h, "/signin", ""); !strings.Contains(rec.Body.String(), "zoombroker v9.9.9</footer>") {
		t.Errorf("GET /signin footer does not show the version v9.9.9")
	}
	if rec := get(h, "/readyz", ""); !strings.Contains(rec.Body.String(), `"version":"v9.9.9"`) {
		t.Errorf("GET /readyz body = %s; want the version v9.9.9", rec.Body)
	}
}
