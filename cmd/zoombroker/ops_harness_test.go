package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// Credentials of the production-mode brokers in these tests.
const (
	opsZoomClientID  = "ops-zoom"
	opsAdminClientID = "ops-zoom-admin"
	opsOperator      = "ops"
)

// opsEnv is a broker configured as in production (no --dev), with a Zoom
// sandbox served by the test process standing in for Zoom. The broker runs
// in process or as the binary; either way it talks to the sandbox over
// loopback HTTP.
type opsEnv struct {
	t       *testing.T
	addr    string // the broker's listen address
	base    string // http://addr, or https://addr with TLS
	client  *http.Client
	dataDir string
	sandbox *zoomsandbox.Sandbox
	zoomURL string

	// sandboxLogs collects the sandbox's own log lines.
	sandboxLogs *syncBuffer

	// Secrets the broker was configured with or created; the log scan
	// looks for each of them.
	encMaterial    string
	cookieMaterial string
	zoomSecret     string
	adminSecret    string
	password       string
	apiKey         string

	// settings are the broker's environment variables.
	settings map[string]string
}

// newOpsEnv starts a sandbox and prepares a data directory with an
// operator and an API key. extraUsers are added to the sandbox's default
// users.
func newOpsEnv(t *testing.T, extraUsers ...zoomsandbox.User) *opsEnv {
	t.Helper()
	e := &opsEnv{t: t, addr: freeAddr(t), dataDir: t.TempDir(), sandboxLogs: &syncBuffer{}, client: http.DefaultClient}
	e.base = "http://" + e.addr

	e.zoomSecret, e.adminSecret = rand.Text(), rand.Text()
	redirect := []string{e.base + "/oauth/callback"}
	e.sandbox = zoomsandbox.New(zoomsandbox.Options{
		Apps: []zoomsandbox.App{
			{Name: "Zoom", ClientID: opsZoomClientID, ClientSecret: secret.Secret(e.zoomSecret), Scopes: []string{"meeting:read", "user:read"}, RedirectURIs: redirect},
			{Name: "Zoom Admin", ClientID: opsAdminClientID, ClientSecret: secret.Secret(e.adminSecret), Admin: true, Scopes: []string{"user:read:admin"}, RedirectURIs: redirect},
		},
		Users:  append(zoomsandbox.DefaultUsers(), extraUsers...),
		Logger: slog.New(slog.NewJSONHandler(e.sandboxLogs, nil)),
	})
	zs := httptest.NewServer(e.sandbox.Handler())
	t.Cleanup(zs.Close)
	e.zoomURL = zs.URL

	encKey := make([]byte, 32)
	rand.Read(encKey)
	cookieKey := make([]byte, 64)
	rand.Read(cookieKey)
	e.encMaterial = base64.StdEncoding.EncodeToString(encKey)
	e.cookieMaterial = base64.StdEncoding.EncodeToString(cookieKey)

	e.settings = map[string]string{
		envListen:            e.addr,
		envDataDir:           e.dataDir,
		envEncryptionKey:     "k1:" + e.encMaterial,
		envCookieKey:         e.cookieMaterial,
		envZoomClientID:      opsZoomClientID,
		envZoomClientSecret:  e.zoomSecret,
		envZoomAdminClientID: opsAdminClientID,
		envZoomAdminSecret:   e.adminSecret,
		envZoomOAuthURL:      zs.URL,
		envZoomAPIURL:        zs.URL,
	}
	e.seedDataDir()
	return e
}

// seedDataDir creates the operator and the API key while no broker runs.
func (e *opsEnv) seedDataDir() {
	db, err := bolt.Open(filepath.Join(e.dataDir, dbFile), bolt.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()

	e.password = rand.Text()
	hash, err := auth.HashPassword(e.password)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.CreateOperator(ctx, store.Operator{Name: opsOperator, PasswordHash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		e.t.Fatal(err)
	}
	k, full := auth.NewKey("ops-test", time.Now())
	if err := db.CreateAPIKey(ctx, k); err != nil {
		e.t.Fatal(err)
	}
	e.apiKey = full.Reveal()
}

// envList returns the settings as a process environment.
func (e *opsEnv) envList() []string {
	var extra []string
	for k, v := range e.settings {
		extra = append(extra, k+"="+v)
	}
	return baseEnv(extra...)
}

// serveInProcess runs serve in this process until the test ends, with its
// stderr (every log line of the broker) in the returned buffer.
func (e *opsEnv) serveInProcess() *syncBuffer {
	e.t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	c := &cli{stdin: strings.NewReader(""), stdout: logs, stderr: logs, env: mapEnv(e.settings), now: time.Now}
	exited := make(chan int, 1)
	go func() { exited <- c.run(ctx, []string{"serve"}) }()
	e.t.Cleanup(func() {
		cancel()
		if code := <-exited; code != 0 {
			e.t.Errorf("serve exit code = %d; want 0\n%s", code, logs)
		}
	})

	deadline := time.Now().Add(waitLimit)
	for {
		resp, err := e.client.Get(e.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logs
			}
		}
		select {
		case code := <-exited:
			exited <- code
			e.t.Fatalf("serve exited with %d before /healthz returned 200:\n%s", code, logs)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET /healthz did not return 200 within %s:\n%s", waitLimit, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var opsCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// connect runs the connect flow in a cookie-keeping client for the sandbox
// user and returns the new account's id.
func (e *opsEnv) connect(app store.App, userID string) string {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	form := func(path, page string, values url.Values) *http.Response {
		resp, err := c.Get(e.base + page)
		if err != nil {
			e.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := opsCSRF.FindSubmatch(body)
		if m == nil {
			e.t.Fatalf("GET %s: no CSRF field (status %d)", page, resp.StatusCode)
		}
		values.Set("_csrf", string(m[1]))
		resp, err = c.PostForm(e.base+path, values)
		if err != nil {
			e.t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	if resp := form("/signin", "/signin", url.Values{"name": {opsOperator}, "password": {e.password}}); resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in: status %d; want 303", resp.StatusCode)
	}
	resp := form("/connect/"+string(app), "/accounts", url.Values{})
	authorize := resp.Header.Get("Location")
	if !strings.HasPrefix(authorize, e.zoomURL+"/oauth/authorize") {
		e.t.Fatalf("connect %s: Location %q; want the sandbox's authorize URL", app, authorize)
	}

	back, err := e.sandbox.Approve(context.Background(), c, authorize, userID)
	if err != nil {
		e.t.Fatalf("approve at sandbox: %v", err)
	}
	resp, err = c.Get(back.String())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	id, ok := strings.CutPrefix(strings.SplitN(resp.Header.Get("Location"), "?", 2)[0], "/accounts/")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		e.t.Fatalf("callback: status %d, Location %q; want 303 to /accounts/ID", resp.StatusCode, resp.Header.Get("Location"))
	}
	return id
}

// call sends an API request with the test's key and returns the status,
// the response headers and the body.
func (e *opsEnv) call(method, path, body string, header ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// token fetches a token and returns its access token, failing the test on
// a status other than want.
func (e *opsEnv) token(id, body string, want int) string {
	e.t.Helper()
	status, _, b := e.call(http.MethodPost, "/v1/accounts/"+id+"/token", body)
	if status != want {
		e.t.Fatalf("POST /v1/accounts/%s/token %s = %d; want %d: %s", id, body, status, want, b)
	}
	var got struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(bytes.NewReader(b)).Decode(&got)
	return got.AccessToken
}

// accountIDs returns the ids GET /v1/accounts lists.
func (e *opsEnv) accountIDs() []string {
	e.t.Helper()
	status, _, b := e.call(http.MethodGet, "/v1/accounts", "")
	if status != http.StatusOK {
		e.t.Fatalf("GET /v1/accounts = %d; want 200: %s", status, b)
	}
	var list struct {
		Accounts []struct {
			ID string `json:"id"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, a := range list.Accounts {
		ids = append(ids, a.ID)
	}
	return ids
}
