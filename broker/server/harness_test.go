package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// clock is a settable clock shared by the broker and the sandbox.
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

// env is one broker with its own bbolt file, talking over real HTTP to its
// own sandbox.
type env struct {
	t       *testing.T
	clock   *clock
	sandbox *zoomsandbox.Sandbox
	zoomURL string
	store   store.Store
	dbPath  string
	tokens  *tokens.Service
	broker  *httptest.Server
	apiKey  string
	logs    *syncBuffer

	zoomSecret string

	// app is the customer's application that connect links send end users
	// back to.
	app *customerApp
}

const (
	zoomClientID  = "test-zoom"
	adminClientID = "test-zoom-admin"
	operatorName  = "alice"
	operatorPass  = "correct horse battery staple"
	webhookSecret = "zoom-webhook-secret-token"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	setup := newEnvSetup(opts)
	e := &env{t: t, clock: &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The broker's address must be known before the sandbox registers its
	// redirect URL, so the listener starts first.
	e.broker = httptest.NewUnstartedServer(nil)
	baseURL, _ := url.Parse(setup.scheme() + "://" + e.broker.Listener.Addr().String())
	redirect := baseURL.String() + "/oauth/callback"

	zoomSecret, adminSecret := rand.Text(), rand.Text()
	e.zoomSecret = zoomSecret
	e.sandbox = zoomsandbox.New(zoomsandbox.Options{
		Apps: []zoomsandbox.App{
			{Name: "Zoom", ClientID: zoomClientID, ClientSecret: secret.Secret(zoomSecret), Scopes: []string{"meeting:read", "user:read"}, RedirectURIs: []string{redirect}},
			{Name: "Zoom Admin", ClientID: adminClientID, ClientSecret: secret.Secret(adminSecret), Admin: true, Scopes: []string{"user:read:admin", "report:read:admin"}, RedirectURIs: []string{redirect}},
		},
		Now:    e.clock.Now,
		Logger: logger,
	})
	zs := httptest.NewServer(e.sandbox.Handler())
	t.Cleanup(zs.Close)
	e.zoomURL = zs.URL

	e.app = newCustomerApp(t)

	e.dbPath = filepath.Join(t.TempDir(), "zoombroker.db")
	db, err := bolt.Open(e.dbPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.store = db

	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	e.tokens, err = tokens.New(tokens.Config{
		Store:  db,
		Sealer: sealer,
		Zoom:   &zoom.Client{OAuthURL: zs.URL, APIURL: zs.URL, HTTP: &http.Client{Timeout: 10 * time.Second}, Now: e.clock.Now},
		Apps: map[store.App]zoom.Credentials{
			store.AppZoom:      {ClientID: zoomClientID, ClientSecret: secret.Secret(zoomSecret)},
			store.AppZoomAdmin: {ClientID: adminClientID, ClientSecret: secret.Secret(adminSecret)},
		},
		Now:    e.clock.Now,
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}

	cookieKey := make([]byte, 64)
	rand.Read(cookieKey)
	cfg := server.Config{
		Tokens: e.tokens, Store: db, BaseURL: baseURL, CookieKeys: [][]byte{cookieKey},
		WebhookSecrets: map[store.App]secret.Secret{store.AppZoom: webhookSecret, store.AppZoomAdmin: webhookSecret + "-admin"},
		Logger:         logger, Now: e.clock.Now, Sandbox: true, Version: "test",
		ConnectRedirects: []string{e.app.URL + "/zoom/"},
		BrandName:        "Acme Scheduling",
	}
	setup.configure(e, &cfg)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.broker.Config.Handler = srv.Handler()
	setup.start(e.broker)
	t.Cleanup(e.broker.Close)

	e.addOperator()
	e.apiKey = e.newAPIKey("tests")
	return e
}

func (e *env) addOperator() {
	hash, err := auth.HashPassword(operatorPass)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateOperator(context.Background(), store.Operator{Name: operatorName, PasswordHash: hash, CreatedAt: e.clock.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) newAPIKey(name string) string {
	k, full := auth.NewKey(name, e.clock.Now())
	if err := e.store.CreateAPIKey(context.Background(), k); err != nil {
		e.t.Fatal(err)
	}
	return full.Reveal()
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each hop can be checked.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Transport:     e.broker.Client().Transport, // trusts the TLS test certificate
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf loads a console page and returns its CSRF form token.
func (e *env) csrf(c *http.Client, path string) string {
	e.t.Helper()
	resp, err := c.Get(e.broker.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		e.t.Fatalf("GET %s: no CSRF field in the page (status %d)", path, resp.StatusCode)
	}
	return string(m[1])
}

// signIn signs the browser in as the test operator.
func (e *env) signIn(c *http.Client) {
	e.t.Helper()
	tok := e.csrf(c, "/signin")
	resp, err := c.PostForm(e.broker.URL+"/signin", url.Values{"_csrf": {tok}, "name": {operatorName}, "password": {operatorPass}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in: status %d; want 303", resp.StatusCode)
	}
}

// startConnect posts Connect Account for app and returns Zoom's authorize
// URL the broker redirected to.
func (e *env) startConnect(c *http.Client, app store.App) string {
	e.t.Helper()
	tok := e.csrf(c, "/accounts")
	resp, err := c.PostForm(e.broker.URL+"/connect/"+string(app), url.Values{"_csrf": {tok}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, e.zoomURL+"/oauth/authorize") {
		e.t.Fatalf("connect %s: status %d, Location %q; want 303 to the sandbox", app, resp.StatusCode, loc)
	}
	return loc
}

// connect runs the whole flow for a sandbox user and returns the new
// account's id.
func (e *env) connect(app store.App, userID string) string {
	e.t.Helper()
	c := e.browser()
	e.signIn(c)
	authorize := e.startConnect(c, app)

	back, err := e.sandbox.Approve(context.Background(), c, authorize, userID)
	if err != nil {
		e.t.Fatalf("approve at sandbox: %v", err)
	}
	resp, err := c.Get(back.String())
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(strings.SplitN(loc, "?", 2)[0], "/accounts/")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		e.t.Fatalf("callback: status %d, Location %q; want 303 to /accounts/ID; body %s", resp.StatusCode, loc, body)
	}
	return id
}

// api sends an API request with the test key unless key is given.
func (e *env) api(method, path, body string, key ...string) (*http.Response, string) {
	e.t.Helper()
	k := e.apiKey
	if len(key) > 0 {
		k = key[0]
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.broker.URL+path, r)
	if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.broker.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (e *env) accountCount() int {
	e.t.Helper()
	accts, _, err := e.store.ListAccounts(context.Background(), store.ListOptions{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(accts)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = fmt.Sprintf

func cookieJar() (http.CookieJar, error) { return cookiejar.New(nil) }
