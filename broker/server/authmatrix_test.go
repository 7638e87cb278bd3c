package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// TestAuthMatrix sends every /v1 endpoint (and the backup) with each kind
// of bad credential and checks the status, the error code and that the
// refusal is in the audit log with its actor.
func TestAuthMatrix(t *testing.T) {
	var al *audit.Log
	e := newEnv(t, withAudit(&al), withFailureLimit(1000, time.Second))
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	now := e.clock.Now()

	revokedKey, revoked := e.newLimitedKey("revoked", store.Limits{}, time.Time{})
	if _, err := e.store.UpdateAPIKey(context.Background(), revokedKey.ID, func(k store.APIKey) (store.APIKey, error) {
		k.RevokedAt = now
		return k, nil
	}); err != nil {
		t.Fatal(err)
	}
	expiredKey, expired := e.newLimitedKey("expired", store.Limits{}, now.Add(-time.Second))
	otherAppKey, otherApp := e.newLimitedKey("admin only", store.Limits{Apps: []store.App{store.AppZoomAdmin}}, now.Add(time.Hour))
	_, unknownFull := auth.NewKey("never stored", now)
	unknownID, _ := auth.KeyID(unknownFull.Reveal())

	endpoints := []struct {
		name, method, path, body string
	}{
		{"apps", http.MethodGet, "/v1/apps", ""},
		{"list accounts", http.MethodGet, "/v1/accounts?app=zoom", ""},
		{"get account", http.MethodGet, "/v1/accounts/" + id, ""},
		{"token", http.MethodPost, "/v1/accounts/" + id + "/token", `{"min_ttl_seconds": 60}`},
		{"delete account", http.MethodDelete, "/v1/accounts/" + id, ""},
		{"proxy", http.MethodGet, "/v1/accounts/" + id + "/zoom/v2/users/me", ""},
		{"remove owner", http.MethodDelete, "/v1/accounts?external_user_id=user-1", ""},
		{"connect session", http.MethodPost, "/v1/connect-sessions", `{"app": "zoom", "external_user_id": "user-1", "success_redirect_url": "` + e.app.URL + `/zoom/ok", "error_redirect_url": "` + e.app.URL + `/zoom/err"}`},
		{"list webhooks", http.MethodGet, "/v1/webhooks", ""},
		{"create webhook", http.MethodPost, "/v1/webhooks", `{"url": "https://hooks.example.com/zb"}`},
		{"delete webhook", http.MethodDelete, "/v1/webhooks/whk_abcdefghijklmnopqrst", ""},
		{"audit", http.MethodGet, "/v1/audit", ""},
		{"backup", http.MethodGet, "/ops/backup", ""},
	}
	callers := []struct {
		name       string
		key        string
		wantStatus int
		wantActor  string
	}{
		{"no key", "", http.StatusUnauthorized, ""},
		{"unknown key", unknownFull.Reveal(), http.StatusUnauthorized, unknownID},
		{"revoked key", revoked, http.StatusUnauthorized, revokedKey.ID},
		{"expired key", expired, http.StatusUnauthorized, expiredKey.ID},
		{"other app", otherApp, http.StatusForbidden, otherAppKey.ID},
	}

	for _, ep := range endpoints {
		for _, cl := range callers {
			t.Run(ep.name+"/"+cl.name, func(t *testing.T) {
				resp, body := e.api(ep.method, ep.path, ep.body, cl.key)

				if ep.name == "apps" && cl.name == "other app" {
					// Listing apps names no account: a limited key gets the
					// list filtered to its apps instead of a 403.
					checkAppsFiltered(t, resp, body)
					return
				}
				if resp.StatusCode != cl.wantStatus {
					t.Fatalf("%s %s = %d %s; want %d", ep.method, ep.path, resp.StatusCode, body, cl.wantStatus)
				}
				wantCode := map[int]string{http.StatusUnauthorized: "unauthorized", http.StatusForbidden: "forbidden"}[cl.wantStatus]
				if got := errorCode(body); got != wantCode {
					t.Errorf("error code = %q; want %q", got, wantCode)
				}

				reqID := resp.Header.Get("X-Request-Id")
				var entry store.AuditEntry
				found := false
				for _, en := range auditEntries(t, e, al) {
					if en.RequestID == reqID {
						entry, found = en, true
						break
					}
				}
				if !found {
					t.Fatalf("no audit entry for request %s", reqID)
				}
				if entry.Outcome != audit.OutcomeDenied {
					t.Errorf("audit outcome = %q; want %q", entry.Outcome, audit.OutcomeDenied)
				}
				if entry.Actor != cl.wantActor {
					t.Errorf("audit actor = %q; want %q", entry.Actor, cl.wantActor)
				}
				if entry.RemoteAddr != "127.0.0.1" {
					t.Errorf("audit remote address = %q; want 127.0.0.1", entry.RemoteAddr)
				}
				if strings.Contains(entry.Detail, cl.key) && cl.key != "" {
					t.Errorf("audit detail %q contains the key", entry.Detail)
				}
			})
		}
	}

	// The bad calls changed nothing: the account still hands out tokens.
	if status, _ := e.token(id, ""); status != http.StatusOK {
		t.Errorf("token after the matrix: status %d; want 200", status)
	}
}

func checkAppsFiltered(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/apps with an app-limited key = %d %s; want 200", resp.StatusCode, body)
	}
	var got struct {
		Apps []struct {
			App string `json:"app"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Apps) != 1 || got.Apps[0].App != string(store.AppZoomAdmin) {
		t.Errorf("GET /v1/apps with a zoom_admin key = %s; want only zoom_admin", body)
	}
}
