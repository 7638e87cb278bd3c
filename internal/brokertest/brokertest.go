package brokertest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/events"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/client"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// Credentials of the test broker.
const (
	ZoomClientID      = "test-zoom"
	AdminClientID     = "test-zoom-admin"
	OperatorName      = "alice"
	OperatorPassword  = "correct horse battery staple"
	ZoomWebhookSecret = "zoom-webhook-secret-token"
)

// Options configures New. The zero value is a broker without account
// events.
type Options struct {
	// Start is the clock's first time; zero means DefaultStart.
	Start time.Time

	// Events, when not nil, adds the account events service built from
	// it: New fills in Store, Sealer, Now and Logger and runs the
	// deliverer until the test ends.
	Events *events.Config

	// ProxyTimeout is the server's Zoom API proxy timeout; zero means the
	// default.
	ProxyTimeout time.Duration

	// ConnectRedirects are the URL prefixes connect links may return to.
	ConnectRedirects []string

	// WrapZoom, when not nil, wraps the sandbox's handler, for example to
	// record the requests that reach Zoom.
	WrapZoom func(http.Handler) http.Handler
}

// Broker is a running test broker.
type Broker struct {
	// URL is the broker's base URL on 127.0.0.1.
	URL string

	// APIKey is a valid API key.
	APIKey string

	Clock   *Clock
	Sandbox *zoomsandbox.Sandbox

	// ZoomURL is the sandbox's base URL, used as Zoom's OAuth and API
	// URL.
	ZoomURL string

	Store  *bolt.DB
	Tokens *tokens.Service

	// Events is nil unless Options.Events was set.
	Events *events.Service

	// Audit is the audit log, kept in Store.
	Audit *audit.Log

	// Logs holds every JSON log line of the broker and the sandbox.
	Logs *LogBuffer

	t testing.TB
}

// New starts a broker and stops it when the test ends.
func New(t testing.TB, opts Options) *Broker {
	t.Helper()
	start := opts.Start
	if start.IsZero() {
		start = DefaultStart
	}
	b := &Broker{t: t, Clock: &Clock{now: start}, Logs: &LogBuffer{}}
	logger := slog.New(slog.NewJSONHandler(b.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The broker's address must be known before the sandbox registers its
	// redirect URL, so the listener starts first.
	srv := httptest.NewUnstartedServer(nil)
	baseURL, _ := url.Parse("http://" + srv.Listener.Addr().String())
	b.URL = baseURL.String()
	redirect := b.URL + "/oauth/callback"

	zoomSecret, adminSecret := secret.Secret(rand.Text()), secret.Secret(rand.Text())
	b.Sandbox = zoomsandbox.New(zoomsandbox.Options{
		Apps: []zoomsandbox.App{
			{Name: "Zoom", ClientID: ZoomClientID, ClientSecret: zoomSecret, Scopes: []string{"meeting:read", "meeting:write", "user:read"}, RedirectURIs: []string{redirect}},
			{Name: "Zoom Admin", ClientID: AdminClientID, ClientSecret: adminSecret, Admin: true, Scopes: []string{"user:read:admin", "report:read:admin"}, RedirectURIs: []string{redirect}},
		},
		Now:    b.Clock.Now,
		Logger: logger,
	})
	zoomHandler := b.Sandbox.Handler()
	if opts.WrapZoom != nil {
		zoomHandler = opts.WrapZoom(zoomHandler)
	}
	zs := httptest.NewServer(zoomHandler)
	t.Cleanup(zs.Close)
	b.ZoomURL = zs.URL

	db, err := bolt.Open(filepath.Join(t.TempDir(), "zoombroker.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	b.Store = db

	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		t.Fatalf("build sealer: %v", err)
	}

	var sink tokens.EventSink
	if opts.Events != nil {
		cfg := *opts.Events
		cfg.Store, cfg.Sealer, cfg.Now, cfg.Logger = db, sealer, b.Clock.Now, logger
		b.Events, err = events.New(cfg)
		if err != nil {
			t.Fatalf("build events service: %v", err)
		}
		if err := b.Events.SyncEndpoints(context.Background()); err != nil {
			t.Fatalf("sync webhook endpoints: %v", err)
		}
		sink = b.Events
	}

	b.Tokens, err = tokens.New(tokens.Config{
		Store:  db,
		Sealer: sealer,
		Zoom:   &zoom.Client{OAuthURL: zs.URL, APIURL: zs.URL, HTTP: &http.Client{Timeout: 10 * time.Second}, Now: b.Clock.Now},
		Apps: map[store.App]zoom.Credentials{
			store.AppZoom:      {ClientID: ZoomClientID, ClientSecret: zoomSecret},
			store.AppZoomAdmin: {ClientID: AdminClientID, ClientSecret: adminSecret},
		},
		Now:    b.Clock.Now,
		Logger: logger,
		Events: sink,
	})
	if err != nil {
		t.Fatalf("build token service: %v", err)
	}

	b.Audit = audit.New(audit.Config{Store: db, Logger: logger, Now: b.Clock.Now})
	b.Audit.Start()
	t.Cleanup(func() { b.Audit.Close(context.Background()) })

	cookieKey := make([]byte, 64)
	rand.Read(cookieKey)
	handler, err := server.New(server.Config{
		Tokens:         b.Tokens,
		Store:          db,
		BaseURL:        baseURL,
		CookieKeys:     [][]byte{cookieKey},
		WebhookSecrets: map[store.App]secret.Secret{store.AppZoom: ZoomWebhookSecret, store.AppZoomAdmin: ZoomWebhookSecret},
		Logger:         logger,
		Now:            b.Clock.Now,
		Sandbox:        true,
		Version:        "test",
		Events:         b.Events,
		ProxyTimeout:   opts.ProxyTimeout,

		ConnectRedirects: opts.ConnectRedirects,
		Security:         server.SecurityConfig{Audit: b.Audit},
	})
	if err != nil {
		t.Fatalf("build server: %v", err)
	}
	srv.Config.Handler = handler.Handler()
	srv.Start()
	t.Cleanup(srv.Close)

	if b.Events != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.Events.Run(ctx)
		}()
		// Cleanups run last-in first-out: the deliverer stops before the
		// store closes.
		t.Cleanup(func() {
			cancel()
			<-done
		})
	}

	hash, err := auth.HashPassword(OperatorPassword)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	if err := db.CreateOperator(context.Background(), store.Operator{Name: OperatorName, PasswordHash: hash, CreatedAt: b.Clock.Now()}); err != nil {
		t.Fatalf("create operator: %v", err)
	}
	b.APIKey = b.NewAPIKey("tests")
	return b
}

// NewAPIKey stores a new API key and returns it in full.
func (b *Broker) NewAPIKey(name string) string {
	b.t.Helper()
	k, full := auth.NewKey(name, b.Clock.Now())
	if err := b.Store.CreateAPIKey(context.Background(), k); err != nil {
		b.t.Fatalf("create API key: %v", err)
	}
	return full.Reveal()
}

// Client returns a client of the broker with the test API key.
func (b *Broker) Client() *client.Client {
	return &client.Client{BaseURL: b.URL, APIKey: client.APIKey(b.APIKey), HTTP: &http.Client{Timeout: 10 * time.Second}}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// Browser returns an HTTP client with a cookie jar, signed in to the
// console. It does not follow redirects, so each hop can be checked.
func (b *Broker) Browser() *http.Client {
	b.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.PostForm(b.URL+"/signin", url.Values{"_csrf": {b.CSRF(c, "/signin")}, "name": {OperatorName}, "password": {OperatorPassword}})
	if err != nil {
		b.t.Fatalf("sign in: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in: status %d; want 303", resp.StatusCode)
	}
	return c
}

// CSRF loads a console page and returns its CSRF form token.
func (b *Broker) CSRF(c *http.Client, path string) string {
	b.t.Helper()
	resp, err := c.Get(b.URL + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		b.t.Fatalf("GET %s: no CSRF field in the page (status %d)", path, resp.StatusCode)
	}
	return string(m[1])
}

// Connect connects the sandbox user through the console's Connect Account
// flow and returns the account id. Connecting the same user again
// reconnects the same account.
func (b *Broker) Connect(app store.App, userID string) string {
	b.t.Helper()
	c := b.Browser()
	resp, err := c.PostForm(b.URL+"/connect/"+string(app), url.Values{"_csrf": {b.CSRF(c, "/accounts")}})
	if err != nil {
		b.t.Fatalf("connect %s: %v", app, err)
	}
	resp.Body.Close()
	authorize := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(authorize, b.ZoomURL+"/oauth/authorize") {
		b.t.Fatalf("connect %s: status %d, Location %q; want 303 to the sandbox", app, resp.StatusCode, authorize)
	}

	back, err := b.Sandbox.Approve(context.Background(), c, authorize, userID)
	if err != nil {
		b.t.Fatalf("approve at sandbox: %v", err)
	}
	resp, err = c.Get(back.String())
	if err != nil {
		b.t.Fatalf("callback: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(strings.SplitN(loc, "?", 2)[0], "/accounts/")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		b.t.Fatalf("callback: status %d, Location %q; want 303 to /accounts/ID; body %s", resp.StatusCode, loc, body)
	}
	return id
}

// Deauthorize removes the user's grant at the sandbox and sends the
// broker Zoom's signed app_deauthorized webhook, as Zoom does when a user
// removes the app.
func (b *Broker) Deauthorize(app store.App, userID string) {
	b.t.Helper()
	clientID := ZoomClientID
	if app == store.AppZoomAdmin {
		clientID = AdminClientID
	}
	accountID, ok := b.Sandbox.Deauthorize(userID, clientID)
	if !ok {
		b.t.Fatalf("deauthorize %s at sandbox: no grant of user %s", app, userID)
	}

	body, _ := json.Marshal(map[string]any{
		"event":   "app_deauthorized",
		"payload": map[string]string{"account_id": accountID, "user_id": userID, "client_id": clientID},
	})
	ts := strconv.FormatInt(b.Clock.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(ZoomWebhookSecret))
	m.Write([]byte("v0:" + ts + ":" + string(body)))

	req, _ := http.NewRequest(http.MethodPost, b.URL+"/webhooks/zoom/"+string(app), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-zm-request-timestamp", ts)
	req.Header.Set("x-zm-signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatalf("send app_deauthorized: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("send app_deauthorized: status %d; want 200", resp.StatusCode)
	}
}

// LogBuffer collects log output from many goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
