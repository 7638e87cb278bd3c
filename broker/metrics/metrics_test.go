package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	dto "github.com/prometheus/client_model/go"

	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingStore counts ListAccounts calls and fails them on request.
type countingStore struct {
	store.Store
	lists atomic.Int64
	fail  atomic.Bool
}

func (s *countingStore) ListAccounts(ctx context.Context, opts store.ListOptions) ([]store.Account, string, error) {
	s.lists.Add(1)
	if s.fail.Load() {
		return nil, "", errors.New("disk on fire")
	}
	return s.Store.ListAccounts(ctx, opts)
}

func openBolt(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "zoombroker.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sample returns the value of the first sample of name whose labels
// include labels ("k", "v", ...); a histogram gives its count.
func sample(t *testing.T, m *metrics.Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range s.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return valueOf(s), true
		}
	}
	return 0, false
}

func valueOf(s *dto.Metric) float64 {
	switch {
	case s.GetCounter() != nil:
		return s.GetCounter().GetValue()
	case s.GetGauge() != nil:
		return s.GetGauge().GetValue()
	case s.GetHistogram() != nil:
		return float64(s.GetHistogram().GetSampleCount())
	}
	return 0
}

func addAccount(t *testing.T, db store.Store, id string, app store.App, status store.Status, issued time.Time) {
	t.Helper()
	a := store.Account{ID: id, App: app, Status: status, Zoom: store.ZoomIdentity{UserID: id, AccountID: id},
		RefreshTokenIssuedAt: issued, CreatedAt: issued, UpdatedAt: issued}
	if err := db.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

func TestAccountGauges(t *testing.T) {
	db := &countingStore{Store: openBolt(t)}
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	addAccount(t, db, "acc_aaaaaaaaaaaaaaaaaaa1", store.AppZoom, store.StatusActive, clk.Now().Add(-48*time.Hour))
	addAccount(t, db, "acc_aaaaaaaaaaaaaaaaaaa2", store.AppZoom, store.StatusActive, clk.Now().Add(-time.Hour))
	addAccount(t, db, "acc_aaaaaaaaaaaaaaaaaaa3", store.AppZoom, store.StatusNeedsReconnect, clk.Now().Add(-90*24*time.Hour))
	addAccount(t, db, "acc_aaaaaaaaaaaaaaaaaaa4", store.AppZoomAdmin, store.StatusActive, clk.Now().Add(-2*time.Hour))

	m := metrics.New(metrics.Options{Accounts: db, AccountsScanInterval: 10 * time.Second, Now: clk.Now})

	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{name: "zoom active", metric: "zoombroker_accounts", labels: []string{"app", "zoom", "status", "active"}, want: 2},
		{name: "zoom needs reconnect", metric: "zoombroker_accounts", labels: []string{"app", "zoom", "status", "needs_reconnect"}, want: 1},
		{name: "admin active", metric: "zoombroker_accounts", labels: []string{"app", "zoom_admin", "status", "active"}, want: 1},
		{name: "admin revoked", metric: "zoombroker_accounts", labels: []string{"app", "zoom_admin", "status", "revoked"}, want: 0},
		// The needs_reconnect account's older token does not count: it is
		// no longer renewed.
		{name: "oldest zoom token", metric: "zoombroker_oldest_refresh_token_age_seconds", labels: []string{"app", "zoom"}, want: 48 * 3600},
		{name: "oldest admin token", metric: "zoombroker_oldest_refresh_token_age_seconds", labels: []string{"app", "zoom_admin"}, want: 2 * 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sample(t, m, tt.metric, tt.labels...)
			if !ok {
				t.Fatalf("%s%v is missing", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v; want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

func TestAccountScanBounded(t *testing.T) {
	db := &countingStore{Store: openBolt(t)}
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	addAccount(t, db, "acc_aaaaaaaaaaaaaaaaaaa1", store.AppZoom, store.StatusActive, clk.Now())
	m := metrics.New(metrics.Options{Accounts: db, AccountsScanInterval: 10 * time.Second, Now: clk.Now})

	for range 5 {
		sample(t, m, "zoombroker_accounts")
	}
	if got := db.lists.Load(); got != 1 {
		t.Errorf("ListAccounts calls after 5 scrapes within the interval = %d; want 1", got)
	}

	addAccount(t, db, "acc_aaaaaaaaaaaaaaaaaaa2", store.AppZoom, store.StatusActive, clk.Now())
	if got, _ := sample(t, m, "zoombroker_accounts", "app", "zoom", "status", "active"); got != 1 {
		t.Errorf("active accounts before the interval passed = %v; want the cached 1", got)
	}

	clk.Advance(10 * time.Second)
	if got, _ := sample(t, m, "zoombroker_accounts", "app", "zoom", "status", "active"); got != 2 {
		t.Errorf("active accounts after the interval = %v; want 2", got)
	}
	if got := db.lists.Load(); got != 2 {
		t.Errorf("ListAccounts calls after the interval = %d; want 2", got)
	}

	t.Run("failed scan", func(t *testing.T) {
		db.fail.Store(true)
		clk.Advance(10 * time.Second)
		if got, _ := sample(t, m, "zoombroker_accounts", "app", "zoom", "status", "active"); got != 2 {
			t.Errorf("active accounts after a failed scan = %v; want the previous 2", got)
		}
		if got, _ := sample(t, m, "zoombroker_accounts_scan_errors_total"); got != 1 {
			t.Errorf("zoombroker_accounts_scan_errors_total = %v; want 1", got)
		}
	})
}

func TestObserversLabels(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "v1.2.3"})
	m.Refresh(store.AppZoom, tokens.OutcomeSuccess, 200*time.Millisecond)
	m.Refresh(store.AppZoom, "exploded", time.Second)
	m.Handout("", tokens.HandoutNotFound, time.Millisecond)
	m.Handout(store.App("acc_aaaaaaaaaaaaaaaaaaa1"), tokens.HandoutStored, time.Millisecond)
	m.WebhookVerified(store.AppZoomAdmin, metrics.WebhookBadSignature)
	m.WebhookVerified(store.AppZoomAdmin, "attacker-chosen text")
	m.EventDelivered(metrics.EventRetry)
	m.RefresherScan(time.Unix(1000, 0), 3, 90*time.Second)

	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{name: "refresh success", metric: "zoombroker_refreshes_total", labels: []string{"app", "zoom", "outcome", "success"}, want: 1},
		{name: "refresh other outcome", metric: "zoombroker_refreshes_total", labels: []string{"app", "zoom", "outcome", "other"}, want: 1},
		{name: "zoom latency", metric: "zoombroker_zoom_refresh_duration_seconds", labels: []string{"app", "zoom"}, want: 2},
		{name: "hand-out without app", metric: "zoombroker_token_requests_total", labels: []string{"app", "unknown", "outcome", "not_found"}, want: 1},
		{name: "hand-out with bad app", metric: "zoombroker_token_requests_total", labels: []string{"app", "unknown", "outcome", "stored"}, want: 1},
		{name: "webhook result", metric: "zoombroker_webhook_verifications_total", labels: []string{"app", "zoom_admin", "result", "bad_signature"}, want: 1},
		{name: "webhook other", metric: "zoombroker_webhook_verifications_total", labels: []string{"app", "zoom_admin", "result", "other"}, want: 1},
		{name: "event retry", metric: "zoombroker_event_deliveries_total", labels: []string{"outcome", "retry"}, want: 1},
		{name: "refresher due", metric: "zoombroker_refresher_due_accounts", want: 3},
		{name: "refresher lag", metric: "zoombroker_refresher_lag_seconds", want: 90},
		{name: "refresher last scan", metric: "zoombroker_refresher_last_scan_timestamp_seconds", want: 1000},
		{name: "build info", metric: "zoombroker_build_info", labels: []string{"version", "v1.2.3"}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sample(t, m, tt.metric, tt.labels...)
			if !ok {
				t.Fatalf("%s%v is missing", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v; want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

func TestNilMetrics(t *testing.T) {
	var m *metrics.Metrics
	m.Refresh(store.AppZoom, tokens.OutcomeSuccess, time.Second)
	m.Handout(store.AppZoom, tokens.HandoutStored, time.Second)
	m.RefresherScan(time.Now(), 1, time.Second)
	m.WebhookVerified(store.AppZoom, metrics.WebhookValid)
	m.EventDelivered(metrics.EventOK)

	db := openBolt(t)
	if got := m.InstrumentStore(db); got != store.Store(db) {
		t.Errorf("nil InstrumentStore(db) = %T; want db itself", got)
	}
}

func TestInstrumentStore(t *testing.T) {
	m := metrics.New(metrics.Options{})
	db := m.InstrumentStore(openBolt(t))
	ctx := context.Background()

	addAccount(t, db, "acc_aaaaaaaaaaaaaaaaaaa1", store.AppZoom, store.StatusActive, time.Now())
	db.GetAccount(ctx, "acc_aaaaaaaaaaaaaaaaaaa1")
	db.GetAccount(ctx, "acc_aaaaaaaaaaaaaaaaaaa2")
	db.UpdateAccount(ctx, "acc_aaaaaaaaaaaaaaaaaaa1", func(a store.Account) (store.Account, error) { return a, store.ErrConflict })

	// A method the decorator does not time still reaches the store.
	if err := db.CreateOperator(ctx, store.Operator{Name: "alice"}); err != nil {
		t.Fatalf("CreateOperator through the decorator = %v", err)
	}

	tests := []struct {
		operation, result string
		want              float64
	}{
		{operation: "create_account", result: "ok", want: 1},
		{operation: "get_account", result: "ok", want: 1},
		{operation: "get_account", result: "not_found", want: 1},
		{operation: "update_account", result: "conflict", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.operation+" "+tt.result, func(t *testing.T) {
			got, _ := sample(t, m, "zoombroker_store_operation_duration_seconds", "operation", tt.operation, "result", tt.result)
			if got != tt.want {
				t.Errorf("store operations %s/%s = %v; want %v", tt.operation, tt.result, got, tt.want)
			}
		})
	}
}

func TestMiddlewareRoutes(t *testing.T) {
	m := metrics.New(metrics.Options{})
	e := echo.New()
	e.Use(m.Middleware())
	e.GET("/v1/accounts/:id", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/fail", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot) })

	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaa1"},
		{http.MethodGet, "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaa2"},
		{http.MethodGet, "/no/such/page"},
		{http.MethodGet, "/fail"},
		{"BREW", "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaa1"},
	} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}

	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "template", labels: []string{"method", "GET", "route", "/v1/accounts/:id", "status", "200"}, want: 2},
		{name: "unmatched", labels: []string{"method", "GET", "route", "unmatched", "status", "404"}, want: 1},
		{name: "error status", labels: []string{"method", "GET", "route", "/fail", "status", "418"}, want: 1},
		{name: "unknown method", labels: []string{"method", "other", "route", "/v1/accounts/:id", "status", "405"}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sample(t, m, "zoombroker_http_requests_total", tt.labels...)
			if !ok || got != tt.want {
				t.Errorf("zoombroker_http_requests_total%v = %v (present %t); want %v", tt.labels, got, ok, tt.want)
			}
		})
	}
	if got, _ := sample(t, m, "zoombroker_http_requests_in_flight"); got != 0 {
		t.Errorf("zoombroker_http_requests_in_flight after the requests = %v; want 0", got)
	}
}
