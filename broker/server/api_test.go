package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

type tokenJSON struct {
	AccountID   string    `json:"account_id"`
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"`
	ExpiresIn   int64     `json:"expires_in"`
	Scopes      []string  `json:"scopes"`
}

func (e *env) token(id, body string) (int, tokenJSON) {
	e.t.Helper()
	resp, raw := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", body)
	var tok tokenJSON
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(raw), &tok); err != nil {
			e.t.Fatalf("token response %q: %v", raw, err)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			e.t.Errorf("Cache-Control = %q; want no-store", got)
		}
		if strings.Contains(raw, "refresh") {
			e.t.Errorf("token response mentions a refresh token: %s", raw)
		}
	}
	return resp.StatusCode, tok
}

func TestTokenReusedUntilExpiry(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)

	status, first := e.token(id, "")
	if status != http.StatusOK {
		t.Fatalf("first token: status %d; want 200", status)
	}
	if first.AccessToken == "" || first.TokenType != "bearer" || first.AccountID != id {
		t.Errorf("first token = %+v; want a bearer token for %s", first, id)
	}
	if first.ExpiresIn < 3000 {
		t.Errorf("expires_in = %d; want about 3599", first.ExpiresIn)
	}

	e.clock.Advance(10 * time.Minute)
	_, second := e.token(id, "")
	if second.AccessToken != first.AccessToken {
		t.Errorf("second token differs while the first has enough life")
	}
	if got := e.sandbox.RefreshCount(); got != 0 {
		t.Errorf("refreshes at sandbox = %d; want 0", got)
	}

	// After the sandbox expires the token, the broker must refresh.
	e.clock.Advance(55 * time.Minute)
	status, third := e.token(id, "")
	if status != http.StatusOK {
		t.Fatalf("token after expiry: status %d; want 200", status)
	}
	if third.AccessToken == first.AccessToken {
		t.Errorf("token after expiry is the expired one")
	}
	if got := e.sandbox.RefreshCount(); got != 1 {
		t.Errorf("refreshes at sandbox = %d; want 1", got)
	}
}

func TestMinTTLForcesRefresh(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	_, first := e.token(id, "")

	e.clock.Advance(40 * time.Minute)
	_, same := e.token(id, `{"min_ttl_seconds": 600}`)
	if same.AccessToken != first.AccessToken {
		t.Errorf("token with 19m left was replaced for min_ttl 600s")
	}
	_, fresh := e.token(id, `{"min_ttl_seconds": 1800}`)
	if fresh.AccessToken == first.AccessToken {
		t.Errorf("token with 19m left was returned for min_ttl 1800s")
	}
	_, forced := e.token(id, `{"force_refresh": true}`)
	if forced.AccessToken == fresh.AccessToken {
		t.Errorf("force_refresh returned the same token")
	}
	if got := e.sandbox.RefreshCount(); got != 2 {
		t.Errorf("refreshes at sandbox = %d; want 2", got)
	}
}

func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	_, old := e.token(id, "")
	e.sandbox.SetTokenLatency(100 * time.Millisecond)
	e.clock.Advance(58 * time.Minute) // 59s left: below the default min_ttl

	const callers = 50
	var wg sync.WaitGroup
	got := make([]tokenJSON, callers)
	codes := make([]int, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], got[i] = e.token(id, "")
		}()
	}
	wg.Wait()

	if n := e.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refreshes at sandbox = %d; want 1", n)
	}
	for i := range callers {
		if codes[i] != http.StatusOK {
			t.Errorf("caller %d: status %d; want 200", i, codes[i])
			continue
		}
		if got[i].AccessToken != got[0].AccessToken || got[i].AccessToken == old.AccessToken {
			t.Errorf("caller %d got a different or old token", i)
		}
	}

	// The new refresh token must work: one more forced refresh succeeds.
	if status, _ := e.token(id, `{"force_refresh": true}`); status != http.StatusOK {
		t.Errorf("refresh after the shared one: status %d; want 200", status)
	}
}

func TestNoPlaintextTokensInBoltFile(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	e.token(id, `{"force_refresh": true}`)
	e.token(id, `{"force_refresh": true}`)

	must(t, e.store.Close())
	raw, err := os.ReadFile(e.dbPath)
	must(t, err)
	secrets := e.sandbox.IssuedSecrets()
	if len(secrets) < 6 {
		t.Fatalf("sandbox issued %d secrets; want at least 6", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("bbolt file contains an issued secret in plaintext (%d chars)", len(s))
		}
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("log output contains an issued secret (%d chars)", len(s))
		}
	}
}

func TestTransientFailureKeepsAccountActive(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	_, first := e.token(id, "")
	e.sandbox.FailRefreshes(http.StatusInternalServerError, -1, 0)

	// Still enough life: served without calling Zoom.
	e.clock.Advance(30 * time.Minute)
	if status, tok := e.token(id, ""); status != http.StatusOK || tok.AccessToken != first.AccessToken {
		t.Errorf("token with 29m left during outage: status %d; want 200 and the stored token", status)
	}

	// Not enough life: 503 with Retry-After, status stays active.
	e.clock.Advance(29 * time.Minute)
	resp, body := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("token during outage: status %d; want 503; body %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	a, err := e.store.GetAccount(context.Background(), id)
	must(t, err)
	if a.Status != store.StatusActive {
		t.Errorf("status after a 500 = %s; want active", a.Status)
	}
	if a.LastErrorCode == "" || a.TransientFailures != 1 {
		t.Errorf("after a 500: LastErrorCode %q, TransientFailures %d; want a code and 1", a.LastErrorCode, a.TransientFailures)
	}

	// Back-off: a second caller right away does not reach Zoom.
	e.token(id, "")
	if n := e.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refreshes during back-off = %d; want 1", n)
	}

	// After recovery and the back-off, the caller gets a new token.
	e.sandbox.ClearFailures()
	e.clock.Advance(time.Minute)
	if status, tok := e.token(id, ""); status != http.StatusOK || tok.AccessToken == first.AccessToken {
		t.Errorf("token after recovery: status %d; want 200 and a new token", status)
	}
}

func TestInvalidGrantNeedsReconnect(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	if _, ok := e.sandbox.Deauthorize(zoomsandbox.DefaultUserID, zoomClientID); !ok {
		t.Fatal("sandbox found no grant to remove")
	}

	resp, body := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", `{"force_refresh": true}`)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `"needs_reconnect"`) {
		t.Errorf("token after the grant died: status %d body %s; want 409 needs_reconnect", resp.StatusCode, body)
	}
	e.api(http.MethodPost, "/v1/accounts/"+id+"/token", `{"force_refresh": true}`)
	if n := e.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refresh attempts = %d; want exactly 1", n)
	}

	// Reconnecting the same Zoom user restores the same account id.
	again := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	if again != id {
		t.Errorf("reconnect created account %s; want %s", again, id)
	}
	if status, _ := e.token(id, ""); status != http.StatusOK {
		t.Errorf("token after reconnect: status %d; want 200", status)
	}
}

func TestReconnectKeepsOneAccount(t *testing.T) {
	e := newEnv(t)
	first := e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	second := e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	if first != second {
		t.Errorf("second admin connect created %s; want the same account %s", second, first)
	}
	user := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	if user == first {
		t.Errorf("a zoom account reused the zoom_admin account id")
	}
	if n := e.accountCount(); n != 2 {
		t.Errorf("accounts = %d; want 2", n)
	}
}

func TestForcedBurstSharesOneRefresh(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	e.sandbox.SetTokenLatency(100 * time.Millisecond)

	const callers = 50
	var wg sync.WaitGroup
	got := make([]tokenJSON, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, got[i] = e.token(id, `{"force_refresh": true}`)
		}()
	}
	wg.Wait()

	if n := e.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refreshes at sandbox for a burst of forced requests = %d; want 1", n)
	}
	for i := range callers {
		if got[i].AccessToken == "" || got[i].AccessToken != got[0].AccessToken {
			t.Errorf("caller %d got a different token", i)
		}
	}
}
