package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// fuzzNow is the fixed clock of the fuzz targets.
var fuzzNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fuzzBroker is a broker handler for fuzz targets, called in process. Its
// Zoom URL points at a closed port, because no fuzz input can get as far
// as a call to Zoom.
type fuzzBroker struct {
	handler http.Handler
	store   store.Store
	apiKey  string
}

func newFuzzBroker(tb testing.TB) *fuzzBroker {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "zoombroker.db"), bolt.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })

	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		tb.Fatal(err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		tb.Fatal(err)
	}
	now := func() time.Time { return fuzzNow }
	ts, err := tokens.New(tokens.Config{
		Store:  db,
		Sealer: sealer,
		Zoom:   &zoom.Client{OAuthURL: "http://127.0.0.1:9", APIURL: "http://127.0.0.1:9", HTTP: &http.Client{Timeout: time.Second}, Now: now},
		Apps: map[store.App]zoom.Credentials{
			store.AppZoom:      {ClientID: zoomClientID, ClientSecret: "s1"},
			store.AppZoomAdmin: {ClientID: adminClientID, ClientSecret: "s2"},
		},
		Now: now,
	})
	if err != nil {
		tb.Fatal(err)
	}

	cookieKey := make([]byte, 64)
	rand.Read(cookieKey)
	base, _ := url.Parse("http://127.0.0.1:8080")
	srv, err := server.New(server.Config{
		Tokens: ts, Store: db, BaseURL: base, CookieKeys: [][]byte{cookieKey}, Now: now,
		WebhookSecrets:   map[store.App]secret.Secret{store.AppZoom: webhookSecret},
		ConnectRedirects: []string{"https://app.example.com/zoom/"},
		Security:         server.SecurityConfig{Failures: auth.NewFailureLimiter(1<<30, time.Nanosecond, 0)},
	})
	if err != nil {
		tb.Fatal(err)
	}

	k, full := auth.NewKey("fuzz", fuzzNow)
	if err := db.CreateAPIKey(context.Background(), k); err != nil {
		tb.Fatal(err)
	}
	return &fuzzBroker{handler: srv.Handler(), store: db, apiKey: full.Reveal()}
}

// serve runs one request in process.
func (b *fuzzBroker) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec
}

func (b *fuzzBroker) accounts(t *testing.T) int {
	t.Helper()
	accts, _, err := b.store.ListAccounts(context.Background(), store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return len(accts)
}

// FuzzCallbackQuery sends arbitrary callback queries, with or without an
// arbitrary connect cookie: none may fail with 5xx or create an account.
func FuzzCallbackQuery(f *testing.F) {
	b := newFuzzBroker(f)
	f.Add("code=abc&state=xyz", "")
	f.Add("error=access_denied&state=x", "")
	f.Add("code=a&code=b&state=s", "")
	f.Add("state=%00%ff&code=%zz", "not-a-cookie")
	f.Add(strings.Repeat("a=b&", 500), "MTcwMDAwMDAwMHxhYmN8")

	f.Fuzz(func(t *testing.T, rawQuery, cookie string) {
		req := httptest.NewRequest(http.MethodGet, "/oauth/callback", nil)
		req.URL.RawQuery = rawQuery
		if cookie != "" {
			req.Header.Set("Cookie", "zb_connect="+cookie)
		}
		rec := b.serve(req)
		if rec.Code >= 500 {
			t.Fatalf("callback ?%q = %d; want a 4xx page", rawQuery, rec.Code)
		}
		if n := b.accounts(t); n != 0 {
			t.Fatalf("callback ?%q created %d accounts; want none", rawQuery, n)
		}
	})
}

// FuzzZoomWebhook sends arbitrary webhook bodies and signature headers.
// With sign set, the signature is made right, so the fuzzer reaches the
// JSON handling behind it.
func FuzzZoomWebhook(f *testing.F) {
	b := newFuzzBroker(f)
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	f.Add([]byte(`{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}`), ts, "", true)
	f.Add([]byte(deauthBody("u1", "a1")), ts, "", true)
	f.Add([]byte(`{"event":"app_deauthorized","payload":{}}`), ts, "", true)
	f.Add([]byte(`{"event":`), ts, "v0=00", false)
	f.Add([]byte(`[]`), "not-a-number", "v0=zz", false)
	f.Add([]byte(`{"event":"x"}`), "-99999999999999999999", "", false)

	f.Fuzz(func(t *testing.T, body []byte, stamp, sig string, sign bool) {
		if sign {
			sig = signBytes(webhookSecret, stamp, body)
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/zoom/zoom", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-zm-request-timestamp", stamp)
		req.Header.Set("x-zm-signature", sig)
		rec := b.serve(req)
		if rec.Code >= 500 {
			t.Fatalf("webhook %q = %d %s; want no 5xx", body, rec.Code, rec.Body)
		}
		if !sign && rec.Code == http.StatusOK {
			t.Fatalf("webhook with signature %q = 200; want it rejected", sig)
		}
	})
}

// signBytes signs a webhook body as Zoom does; the header values may be
// anything the fuzzer chose.
func signBytes(key, ts string, body []byte) string {
	return sign(key, ts, string(body))
}

// FuzzAPIBodies sends arbitrary bodies and content types to the JSON
// endpoints: the token request, webhook registration and connect
// sessions.
func FuzzAPIBodies(f *testing.F) {
	b := newFuzzBroker(f)
	f.Add(uint8(0), []byte(`{"min_ttl_seconds": 300, "force_refresh": false}`), "application/json")
	f.Add(uint8(0), []byte(`{"min_ttl_seconds": -1}`), "application/json")
	f.Add(uint8(0), []byte(`{"min_ttl_seconds": 1e400}`), "application/json; charset=utf-8")
	f.Add(uint8(0), []byte(`{"rejected_access_token": "\u0000"}`), "application/json")
	f.Add(uint8(1), []byte(`{"url": "https://hooks.example.com/x", "secret": "0123456789abcdef0123456789abcdef"}`), "application/json")
	f.Add(uint8(2), []byte(`{"app":"zoom","external_user_id":"u1","success_redirect_url":"https://app.example.com/zoom/ok","error_redirect_url":"https://app.example.com/zoom/err"}`), "application/json")
	f.Add(uint8(2), []byte(`{"app":"zoom","app":"zoom_admin"}`), "text/plain")

	paths := []string{"/v1/accounts/acc_aaaaaaaaaaaaaaaaaaaa/token", "/v1/webhooks", "/v1/connect-sessions"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte, contentType string) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+b.apiKey)
		req.Header.Set("Content-Type", contentType)
		rec := b.serve(req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q (%q) = %d %s; want no 5xx", path, body, contentType, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), b.apiKey) {
			t.Fatalf("POST %s echoed the API key", path)
		}
	})
}

// FuzzCookieDecoding sends arbitrary session, connect and CSRF cookies:
// none may sign anyone in or fail with 5xx.
func FuzzCookieDecoding(f *testing.F) {
	b := newFuzzBroker(f)
	f.Add("zb_session", "MTcwMDAwMDAwMHxhYmN8ZGVm")
	f.Add("zb_session", "")
	f.Add("zb_connect", "%%%")
	f.Add("zb_csrf", strings.Repeat("A", 5000))
	f.Add("zb_session", "a|b|c|d")

	f.Fuzz(func(t *testing.T, name, value string) {
		for _, path := range []string{"/accounts", "/oauth/callback?state=x&code=y"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Cookie", name+"="+value)
			rec := b.serve(req)
			if rec.Code >= 500 {
				t.Fatalf("GET %s with cookie %s=%q = %d; want no 5xx", path, name, value, rec.Code)
			}
			if path == "/accounts" && rec.Code == http.StatusOK {
				t.Fatalf("GET /accounts with cookie %s=%q = 200; want a redirect to sign-in", name, value)
			}
		}
	})
}
