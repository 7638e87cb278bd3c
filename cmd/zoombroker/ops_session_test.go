package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// session is what runSession did, for the checks after it.
type session struct {
	userAccount  string // zoom app, still active
	adminAccount string // zoom_admin app, revoked at the end
}

// runSession drives a broker through what operators see in a day: two
// connects, hand-outs, forced refreshes, one refresh that fails at Zoom,
// a revoke, and requests for a revoked and an unknown account.
func runSession(t *testing.T, e *opsEnv) session {
	t.Helper()
	s := session{
		userAccount:  e.connect(store.AppZoom, zoomsandbox.DefaultUserID),
		adminAccount: e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID),
	}

	for _, id := range []string{s.userAccount, s.adminAccount} {
		for range 3 {
			e.token(id, "", http.StatusOK)
		}
		e.token(id, `{"force_refresh": true}`, http.StatusOK)
	}

	// Zoom fails the next refresh; the stored token still has the life
	// asked for, so the caller is served anyway.
	e.sandbox.FailRefreshes(http.StatusInternalServerError, 1, 0)
	e.token(s.userAccount, `{"force_refresh": true}`, http.StatusOK)

	if status, _, b := e.call(http.MethodGet, "/v1/accounts/"+s.userAccount, ""); status != http.StatusOK {
		t.Fatalf("GET account = %d; want 200: %s", status, b)
	}
	if status, _, b := e.call(http.MethodDelete, "/v1/accounts/"+s.adminAccount, ""); status != http.StatusOK {
		t.Fatalf("DELETE account = %d; want 200: %s", status, b)
	}
	e.token(s.adminAccount, "", http.StatusGone)
	e.token("acc_aaaaaaaaaaaaaaaaaaaa", "", http.StatusNotFound)
	return s
}

// scrape fetches url and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET %s Content-Type = %q; want the text format", url, ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return families
}

// sampleValue returns the value of the sample of family name whose labels
// include every label pair in labels ("k", "v", ...), and whether it
// exists. For a histogram it returns the sample count.
func sampleValue(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsAfterSession(t *testing.T) {
	e := newOpsEnv(t)
	metricsAddr := freeAddr(t)
	e.settings[envMetricsListen] = metricsAddr
	e.serveInProcess()
	s := runSession(t, e)

	families := scrape(t, "http://"+metricsAddr+"/metrics")

	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{name: "stored hand-outs zoom", metric: "zoombroker_token_requests_total", labels: []string{"app", "zoom", "outcome", "stored"}, want: 4},
		{name: "refreshed hand-outs zoom", metric: "zoombroker_token_requests_total", labels: []string{"app", "zoom", "outcome", "refreshed"}, want: 1},
		{name: "stored hand-outs admin", metric: "zoombroker_token_requests_total", labels: []string{"app", "zoom_admin", "outcome", "stored"}, want: 3},
		{name: "revoked hand-out", metric: "zoombroker_token_requests_total", labels: []string{"app", "zoom_admin", "outcome", "revoked"}, want: 1},
		{name: "unknown account", metric: "zoombroker_token_requests_total", labels: []string{"app", "unknown", "outcome", "not_found"}, want: 1},
		{name: "hand-out latency zoom", metric: "zoombroker_token_request_duration_seconds", labels: []string{"app", "zoom"}, want: 5},
		{name: "transient refresh", metric: "zoombroker_refreshes_total", labels: []string{"app", "zoom", "outcome", "transient"}, want: 1},
		{name: "admin refresh", metric: "zoombroker_refreshes_total", labels: []string{"app", "zoom_admin", "outcome", "success"}, want: 1},
		{name: "active zoom accounts", metric: "zoombroker_accounts", labels: []string{"app", "zoom", "status", "active"}, want: 1},
		{name: "revoked admin accounts", metric: "zoombroker_accounts", labels: []string{"app", "zoom_admin", "status", "revoked"}, want: 1},
		{name: "active admin accounts", metric: "zoombroker_accounts", labels: []string{"app", "zoom_admin", "status", "active"}, want: 0},
		{name: "token route 200", metric: "zoombroker_http_requests_total", labels: []string{"method", "POST", "route", "/v1/accounts/:id/token", "status", "200"}, want: 9},
		{name: "token route 410", metric: "zoombroker_http_requests_total", labels: []string{"method", "POST", "route", "/v1/accounts/:id/token", "status", "410"}, want: 1},
		{name: "delete route", metric: "zoombroker_http_requests_total", labels: []string{"method", "DELETE", "route", "/v1/accounts/:id", "status", "200"}, want: 1},
		{name: "build info", metric: "zoombroker_build_info", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sampleValue(families, tt.metric, tt.labels...)
			if !ok {
				t.Fatalf("%s%v is missing from the scrape", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v; want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}

	atLeast := []struct {
		name   string
		metric string
		labels []string
	}{
		// The refresher may retry the failed refresh on its own, so these
		// count at least the session's own calls.
		{name: "successful refresh zoom", metric: "zoombroker_refreshes_total", labels: []string{"app", "zoom", "outcome", "success"}},
		{name: "zoom latency", metric: "zoombroker_zoom_refresh_duration_seconds", labels: []string{"app", "zoom"}},
		{name: "refresher scans", metric: "zoombroker_refresher_scans_total"},
		{name: "store reads", metric: "zoombroker_store_operation_duration_seconds", labels: []string{"operation", "get_account", "result", "ok"}},
		{name: "store updates", metric: "zoombroker_store_operation_duration_seconds", labels: []string{"operation", "update_account", "result", "ok"}},
		{name: "oldest refresh token", metric: "zoombroker_oldest_refresh_token_age_seconds", labels: []string{"app", "zoom"}},
	}
	for _, tt := range atLeast {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := sampleValue(families, tt.metric, tt.labels...); !ok {
				t.Errorf("%s%v is missing from the scrape", tt.metric, tt.labels)
			}
		})
	}

	t.Run("bounded labels", func(t *testing.T) {
		for name, f := range families {
			if !strings.HasPrefix(name, "zoombroker_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("metric %s does not start with zoombroker_", name)
			}
			for _, m := range f.GetMetric() {
				for _, lp := range m.GetLabel() {
					if v := lp.GetValue(); strings.Contains(v, s.userAccount) || strings.Contains(v, s.adminAccount) || strings.HasPrefix(v, "acc_") {
						t.Errorf("%s has label %s=%q; want no account id in labels", name, lp.GetName(), v)
					}
				}
			}
		}
	})

	t.Run("main listener", func(t *testing.T) {
		resp, err := http.Get(e.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /metrics on the main listener = %d; want 404 with a metrics listener set", resp.StatusCode)
		}
	})
}

func TestLogsHaveNoSecrets(t *testing.T) {
	e := newOpsEnv(t)
	logs := e.serveInProcess()
	s := runSession(t, e)

	// Every route the session did not use yet that logs or serves data.
	for _, path := range []string{"/metrics", "/readyz", "/healthz", "/v1/apps"} {
		if status, _, b := e.call(http.MethodGet, path, ""); status != http.StatusOK {
			t.Errorf("GET %s = %d; want 200: %s", path, status, b)
		}
	}
	status, _, _ := e.call(http.MethodGet, "/ops/backup", "")
	if status != http.StatusOK {
		t.Errorf("GET /ops/backup = %d; want 200", status)
	}
	logText := logs.String() + e.sandboxLogs.String()

	t.Run("lifecycle lines", func(t *testing.T) {
		for _, want := range []string{
			`"msg":"zoombroker started"`,
			`"msg":"refresh failed, will retry","account_id":"` + s.userAccount,
			`"msg":"account revoked","account_id":"` + s.adminAccount,
			`"msg":"backup sent"`,
		} {
			if !strings.Contains(logText, want) {
				t.Errorf("logs have no line containing %s", want)
			}
		}
	})

	t.Run("one line per request", func(t *testing.T) {
		lines := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			if !strings.Contains(line, `"msg":"request"`) {
				continue
			}
			lines++
			var entry struct {
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Fatalf("request line is not JSON: %v: %s", err, line)
			}
			if entry.RequestID == "" {
				t.Errorf("request line has no request_id: %s", line)
			}
		}
		if lines < 20 {
			t.Errorf("found %d request lines; want one per request of the session (at least 20)", lines)
		}
	})

	secrets := append(e.sandbox.IssuedSecrets(),
		e.apiKey, e.password, e.zoomSecret, e.adminSecret, e.encMaterial, e.cookieMaterial)
	if got := len(e.sandbox.IssuedSecrets()); got < 8 {
		t.Fatalf("sandbox issued %d secrets; want the codes and tokens of the session (at least 8)", got)
	}
	for i, sec := range secrets {
		if sec == "" {
			t.Fatalf("secret %d is empty; the scan would match anything", i)
		}
		if strings.Contains(logText, sec) {
			t.Errorf("logs contain secret %d of %d (%d characters)", i+1, len(secrets), len(sec))
		}
	}
}

// TestRequestIDHeader checks which X-Request-Id values the broker keeps
// and that the request line logs the one it returned.
func TestRequestIDHeader(t *testing.T) {
	e := newOpsEnv(t)
	logs := e.serveInProcess()

	tests := []struct {
		name string
		sent string
		keep bool
	}{
		{name: "valid", sent: "trace-4bf92f3577b34da6", keep: true},
		{name: "max length", sent: strings.Repeat("a", 128), keep: true},
		{name: "too long", sent: strings.Repeat("a", 129)},
		{name: "space", sent: "two words"},
		{name: "non-ascii", sent: "caf\u00e9"},
		{name: "tab", sent: "a\tb"},
		{name: "none", sent: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.base+"/healthz", nil)
			if tt.sent != "" {
				req.Header["X-Request-Id"] = []string{tt.sent}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()

			got := resp.Header.Get("X-Request-Id")
			if tt.keep && got != tt.sent {
				t.Errorf("X-Request-Id = %q; want the one sent, %q", got, tt.sent)
			}
			if !tt.keep && (got == "" || got == tt.sent) {
				t.Errorf("X-Request-Id = %q; want a new id in place of %q", got, tt.sent)
			}
			if want := fmt.Sprintf(`"request_id":%q`, got); !strings.Contains(logs.String(), want) {
				t.Errorf("logs have no request line with %s", want)
			}
		})
	}
}
