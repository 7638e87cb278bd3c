package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

func TestAPIErrors(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)

	revoked := e.newAPIKey("old")
	revokedID := strings.SplitN(strings.TrimPrefix(revoked, "zbk_"), "_", 3)
	_, err := e.store.UpdateAPIKey(context.Background(), revokedID[0]+"_"+revokedID[1], func(k store.APIKey) (store.APIKey, error) {
		k.RevokedAt = e.clock.Now()
		return k, nil
	})
	must(t, err)

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		key    string
		status int
		code   string
	}{
		{"no key", "GET", "/v1/accounts", "", "-", 401, "unauthorized"},
		{"unknown key", "GET", "/v1/accounts", "", "zbk_key_aaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 401, "unauthorized"},
		{"malformed key", "GET", "/v1/accounts", "", "not-a-key", 401, "unauthorized"},
		{"revoked key", "POST", "/v1/accounts/" + id + "/token", "", revoked, 401, "unauthorized"},
		{"unknown account", "POST", "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaaa/token", "", "", 404, "not_found"},
		{"unknown account get", "GET", "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaaa", "", "", 404, "not_found"},
		{"malformed id", "GET", "/v1/accounts/..%2f..%2fetc", "", "", 400, "invalid_account_id"},
		{"malformed json", "POST", "/v1/accounts/" + id + "/token", `{"min_ttl_seconds": `, "", 400, "invalid_body"},
		{"wrong type", "POST", "/v1/accounts/" + id + "/token", `{"min_ttl_seconds": "ten"}`, "", 400, "invalid_body"},
		{"unknown field", "POST", "/v1/accounts/" + id + "/token", `{"min_ttl": 10}`, "", 400, "invalid_body"},
		{"negative ttl", "POST", "/v1/accounts/" + id + "/token", `{"min_ttl_seconds": -1}`, "", 400, "invalid_body"},
		{"huge ttl", "POST", "/v1/accounts/" + id + "/token", `{"min_ttl_seconds": 99999999999}`, "", 400, "invalid_body"},
		{"two objects", "POST", "/v1/accounts/" + id + "/token", `{} {}`, "", 400, "invalid_body"},
		{"bad filter", "GET", "/v1/accounts?app=teams", "", "", 400, "invalid_parameter"},
		{"unknown filter", "GET", "/v1/accounts?colour=red", "", "", 400, "invalid_parameter"},
		{"duplicate filter", "GET", "/v1/accounts?app=zoom&app=zoom_admin", "", "", 400, "invalid_parameter"},
		{"bad limit", "GET", "/v1/accounts?limit=0", "", "", 400, "invalid_parameter"},
		{"unknown endpoint", "GET", "/v1/nothing", "", "", 404, "not_found"},
		{"wrong method", "PUT", "/v1/accounts/" + id, "", "", 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := []string{}
			switch tc.key {
			case "":
			case "-":
				key = []string{""}
			default:
				key = []string{tc.key}
			}
			resp, body := e.api(tc.method, tc.path, tc.body, key...)
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d; want %d (body %s)", resp.StatusCode, tc.status, body)
			}
			var eb struct{ Error, Message string }
			if err := json.Unmarshal([]byte(body), &eb); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if eb.Error != tc.code {
				t.Errorf("error = %q; want %q", eb.Error, tc.code)
			}
			if eb.Message == "" {
				t.Errorf("message is empty")
			}
		})
	}
}

func TestWrongContentTypeRejected(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	req, _ := http.NewRequest(http.MethodPost, e.broker.URL+"/v1/accounts/"+id+"/token", strings.NewReader("min_ttl_seconds=10"))
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("status = %d; want 415", resp.StatusCode)
	}
}

func TestOversizedBodyRejected(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	resp, _ := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", `{"rejected_access_token": "`+strings.Repeat("a", 100<<10)+`"}`)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d; want 413", resp.StatusCode)
	}
}

func TestDeleteRevokesAtZoom(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)

	resp, body := e.api(http.MethodDelete, "/v1/accounts/"+id, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"zoom_revoked":true`) {
		t.Fatalf("delete: status %d body %s; want 200 with zoom_revoked true", resp.StatusCode, body)
	}
	if e.sandbox.LiveGrant(zoomClientID, zoomsandbox.DefaultUserID) {
		t.Errorf("grant still live at the sandbox after delete")
	}
	a, err := e.store.GetAccount(context.Background(), id)
	must(t, err)
	if a.Token != nil || a.Zoom.Email != "" || a.Status != store.StatusRevoked {
		t.Errorf("after delete: token kept %t, email %q, status %s; want no token, no email, revoked", a.Token != nil, a.Zoom.Email, a.Status)
	}

	// Idempotent: a second delete succeeds without calling Zoom.
	resp, body = e.api(http.MethodDelete, "/v1/accounts/"+id, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"already_revoked":true`) {
		t.Errorf("second delete: status %d body %s; want 200 already_revoked", resp.StatusCode, body)
	}
	if n := e.sandbox.RevokeCount(); n != 1 {
		t.Errorf("revokes at sandbox = %d; want 1", n)
	}
	if resp, _ := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", ""); resp.StatusCode != http.StatusGone {
		t.Errorf("token of a revoked account: status %d; want 410", resp.StatusCode)
	}
}

func TestDeleteWhenZoomDown(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	e.sandbox.SetTokenLatency(0)

	// A tokens service pointed at a closed port stands in for Zoom being
	// unreachable.
	e.tokens.Zoom().OAuthURL = "http://127.0.0.1:1"
	defer func() { e.tokens.Zoom().OAuthURL = e.zoomURL }()

	resp, body := e.api(http.MethodDelete, "/v1/accounts/"+id, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"zoom_revoked":false`) || !strings.Contains(body, "zoom_revoke_error") {
		t.Errorf("delete with Zoom down: status %d body %s; want 200, zoom_revoked false and an explanation", resp.StatusCode, body)
	}
	a, err := e.store.GetAccount(context.Background(), id)
	must(t, err)
	if a.Status != store.StatusRevoked || a.Token != nil {
		t.Errorf("local delete did not happen: status %s", a.Status)
	}
}

func TestListAccountsFilters(t *testing.T) {
	e := newEnv(t)
	e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)

	resp, body := e.api(http.MethodGet, "/v1/accounts?app=zoom_admin", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: status %d", resp.StatusCode)
	}
	var page struct {
		Accounts []map[string]any `json:"accounts"`
	}
	must(t, json.Unmarshal([]byte(body), &page))
	if len(page.Accounts) != 1 || page.Accounts[0]["app"] != "zoom_admin" {
		t.Errorf("app=zoom_admin returned %v; want the admin account only", page.Accounts)
	}
	if strings.Contains(body, "token\":\"") {
		t.Errorf("account list contains a token field with a value")
	}

	_, body = e.api(http.MethodGet, "/v1/accounts?email=DEV.USER@example.com", "")
	must(t, json.Unmarshal([]byte(body), &page))
	if len(page.Accounts) != 1 {
		t.Errorf("email filter returned %d accounts; want 1", len(page.Accounts))
	}

	_, body = e.api(http.MethodGet, "/v1/apps", "")
	if !strings.Contains(body, `"configured":true`) {
		t.Errorf("apps = %s; want both configured", body)
	}
	_ = time.Second
}

func TestKeyUseRecorded(t *testing.T) {
	e := newEnv(t)
	e.api(http.MethodGet, "/v1/apps", "")

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		keys, err := e.store.ListAPIKeys(context.Background())
		must(t, err)
		if len(keys) == 1 && keys[0].LastUsedAt.Equal(e.clock.Now()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("LastUsedAt was not recorded within 5s")
}
