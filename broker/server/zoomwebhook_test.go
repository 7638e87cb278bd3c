package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

func sign(key, ts, body string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("v0:" + ts + ":" + body))
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// webhook posts a Zoom webhook for app with the given timestamp and
// signature.
func (e *env) webhook(app, body, ts, sig string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.broker.URL+"/webhooks/zoom/"+app, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set("x-zm-request-timestamp", ts)
	}
	if sig != "" {
		req.Header.Set("x-zm-signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func deauthBody(userID, accountID string) string {
	return fmt.Sprintf(`{"event":"app_deauthorized","event_ts":1740439732278,"payload":{"account_id":%q,"user_id":%q,"signature":"827edc","deauthorization_time":"2026-03-01T09:00:00.000Z","client_id":%q}}`, accountID, userID, zoomClientID)
}

func TestDeauthorizationWebhook(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	body := deauthBody(zoomsandbox.DefaultUserID, zoomsandbox.DefaultAccountID)

	rejected := []struct {
		name string
		body string
		ts   string
		sig  string
		code string
	}{
		{"no signature", body, ts, "", "invalid_signature"},
		{"wrong signature", body, ts, sign("other-secret", ts, body), "invalid_signature"},
		{"signature of another body", body, ts, sign(webhookSecret, ts, body+" "), "invalid_signature"},
		{"stale timestamp", body, strconv.FormatInt(e.clock.Now().Add(-6*time.Minute).Unix(), 10), sign(webhookSecret, strconv.FormatInt(e.clock.Now().Add(-6*time.Minute).Unix(), 10), body), "stale_timestamp"},
		{"future timestamp", body, strconv.FormatInt(e.clock.Now().Add(6*time.Minute).Unix(), 10), sign(webhookSecret, strconv.FormatInt(e.clock.Now().Add(6*time.Minute).Unix(), 10), body), "stale_timestamp"},
		{"bad timestamp", body, "yesterday", sign(webhookSecret, "yesterday", body), "invalid_signature"},
		{"admin app secret", body, ts, sign(webhookSecret+"-admin", ts, body), "invalid_signature"},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := e.webhook("zoom", tc.body, tc.ts, tc.sig)
			if status != http.StatusUnauthorized || !strings.Contains(resp, tc.code) {
				t.Errorf("webhook = %d %s; want 401 %s", status, resp, tc.code)
			}
			a, err := e.store.GetAccount(context.Background(), id)
			must(t, err)
			if a.Status != store.StatusActive {
				t.Errorf("status after a rejected webhook = %s; want active", a.Status)
			}
		})
	}

	status, resp := e.webhook("zoom", body, ts, sign(webhookSecret, ts, body))
	if status != http.StatusOK || !strings.Contains(resp, `"deauthorized":true`) {
		t.Fatalf("signed deauthorization = %d %s; want 200 deauthorized", status, resp)
	}
	a, err := e.store.GetAccount(context.Background(), id)
	must(t, err)
	if a.Status != store.StatusRevoked || a.Token != nil || a.Zoom.Email != "" || a.RevokedAt.IsZero() || !strings.Contains(a.RevokeReason, "deauthorized") {
		t.Errorf("after deauthorization: status %s, token kept %t, email %q, revoked at %v, reason %q; want a tombstone", a.Status, a.Token != nil, a.Zoom.Email, a.RevokedAt, a.RevokeReason)
	}
	if r, body := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", ""); r.StatusCode != http.StatusGone || !strings.Contains(body, `"revoked"`) {
		t.Errorf("token after deauthorization: %d %s; want 410 revoked", r.StatusCode, body)
	}

	// The same delivery again is a replay.
	if status, resp := e.webhook("zoom", body, ts, sign(webhookSecret, ts, body)); status != http.StatusUnauthorized || !strings.Contains(resp, "replayed") {
		t.Errorf("replayed webhook = %d %s; want 401 replayed", status, resp)
	}
}

func TestURLValidationAnswered(t *testing.T) {
	e := newEnv(t)
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	body := `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`

	status, resp := e.webhook("zoom_admin", body, ts, sign(webhookSecret+"-admin", ts, body))
	if status != http.StatusOK {
		t.Fatalf("url_validation = %d %s; want 200", status, resp)
	}
	var got struct{ PlainToken, EncryptedToken string }
	must(t, json.Unmarshal([]byte(resp), &got))
	m := hmac.New(sha256.New, []byte(webhookSecret+"-admin"))
	m.Write([]byte("qgg8vlvZRS6UYooatFL8Aw"))
	if want := hex.EncodeToString(m.Sum(nil)); got.EncryptedToken != want || got.PlainToken != "qgg8vlvZRS6UYooatFL8Aw" {
		t.Errorf("url_validation answer = %+v; want plainToken echoed and encryptedToken %s", got, want)
	}
}

func TestAdminDeauthorizationMatchesAccount(t *testing.T) {
	e := newEnv(t)
	admin := e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	user := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)

	// Zoom names the admin who removed the app and the Zoom account; only
	// the zoom_admin grant of that account is affected.
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	body := deauthBody(zoomsandbox.DefaultAdminUserID, zoomsandbox.DefaultAccountID)
	if status, resp := e.webhook("zoom_admin", body, ts, sign(webhookSecret+"-admin", ts, body)); status != http.StatusOK {
		t.Fatalf("admin deauthorization = %d %s; want 200", status, resp)
	}
	a, _ := e.store.GetAccount(context.Background(), admin)
	u, _ := e.store.GetAccount(context.Background(), user)
	if a.Status != store.StatusRevoked {
		t.Errorf("admin account status = %s; want revoked", a.Status)
	}
	if u.Status != store.StatusActive {
		t.Errorf("user account status = %s; want active", u.Status)
	}
}
