package replicas_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// waitLimit guards every wait against a hung process or a refresh that
// never comes; it is not a performance goal.
const waitLimit = 2 * time.Minute

const (
	zoomClientID  = "replicas-zoom"
	adminClientID = "replicas-zoom-admin"
	operatorName  = "alice"
	operatorPass  = "correct horse battery staple"
)

// binPath is the zoombroker binary that TestMain builds.
var binPath string

func TestMain(m *testing.M) {
	if os.Getenv("ZOOMBROKER_TEST_DATABASE_URL") == "" {
		// Every test skips with a message; building is not needed.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "zoombroker-replicas-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "zoombroker")
	cmd := exec.Command("go", "build", "-o", binPath, "github.com/zoombroker/zoombroker/cmd/zoombroker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testDatabaseURL returns ZOOMBROKER_TEST_DATABASE_URL or skips the test.
func testDatabaseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("ZOOMBROKER_TEST_DATABASE_URL")
	if u == "" {
		t.Skip("ZOOMBROKER_TEST_DATABASE_URL is not set; set it to a PostgreSQL URL whose user may create schemas (.ci/run does) to run the replica tests")
	}
	if testing.Short() {
		t.Skip("starts several zoombroker processes; skipped with -short")
	}
	return u
}

// newSchemaURL creates an empty schema, drops it when the test ends, and
// returns a URL whose connections use it.
func newSchemaURL(t *testing.T) string {
	t.Helper()
	base := testDatabaseURL(t)
	schema := "zbreplicas_" + strings.ToLower(rand.Text()[:12])
	exec := func(sql string) error {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatal("ZOOMBROKER_TEST_DATABASE_URL is not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// options configure a cluster.
type options struct {
	// accessTTL is the sandbox's access token lifetime; zero means Zoom's
	// 3599 seconds.
	accessTTL time.Duration

	// zoomTimeout is ZOOMBROKER_ZOOM_TIMEOUT. The refresh lease lasts
	// twice this plus 15 seconds.
	zoomTimeout string

	// databaseURL replaces the URL of the test's schema, for example to
	// reach it through a proxy.
	databaseURL func(schemaURL string) string
}

// cluster is one Zoom sandbox, a load balancer and the brokers behind it,
// all sharing a database schema and the same keys.
type cluster struct {
	t       *testing.T
	dir     string
	dbURL   string // the schema's URL, as the test reaches it
	sandbox *zoomsandbox.Sandbox
	zoomURL string
	lbURL   string

	mu       sync.Mutex
	backends []*broker // behind the load balancer
	started  []*broker // every broker started, for the log checks
	next     atomic.Uint64

	// env is the environment of every zoombroker process: keys, Zoom apps
	// and the base URL of the load balancer. pgEnv adds the database.
	env   []string
	pgEnv []string

	apiKey string
}

// broker is one running `zoombroker serve`.
type broker struct {
	name   string
	url    string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func newCluster(t *testing.T, opts options) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), dbURL: newSchemaURL(t)}

	lb := httptest.NewUnstartedServer(http.HandlerFunc(c.balance))
	c.lbURL = "http://" + lb.Listener.Addr().String()
	lb.Start()
	t.Cleanup(lb.Close)

	zoomSecret, adminSecret := rand.Text(), rand.Text()
	redirect := []string{c.lbURL + "/oauth/callback"}
	c.sandbox = zoomsandbox.New(zoomsandbox.Options{
		Apps: []zoomsandbox.App{
			{Name: "Zoom", ClientID: zoomClientID, ClientSecret: secret.Secret(zoomSecret), Scopes: []string{"meeting:read", "user:read"}, RedirectURIs: redirect},
			{Name: "Zoom Admin", ClientID: adminClientID, ClientSecret: secret.Secret(adminSecret), Admin: true, Scopes: []string{"user:read:admin"}, RedirectURIs: redirect},
		},
		AccessTokenTTL: opts.accessTTL,
	})
	zs := httptest.NewServer(c.sandbox.Handler())
	t.Cleanup(zs.Close)
	c.zoomURL = zs.URL

	_, encKey, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	cookieKey := make([]byte, 64)
	rand.Read(cookieKey)
	zoomTimeout := opts.zoomTimeout
	if zoomTimeout == "" {
		zoomTimeout = "5s"
	}
	dbURL := c.dbURL
	if opts.databaseURL != nil {
		dbURL = opts.databaseURL(c.dbURL)
	}

	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ZOOMBROKER_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env,
		"ZOOMBROKER_ENCRYPTION_KEY_FILE="+c.writeFile("encryption-key", encKey.Reveal()),
		"ZOOMBROKER_COOKIE_KEY_FILE="+c.writeFile("cookie-key", base64.StdEncoding.EncodeToString(cookieKey)),
		"ZOOMBROKER_ZOOM_CLIENT_ID="+zoomClientID,
		"ZOOMBROKER_ZOOM_CLIENT_SECRET_FILE="+c.writeFile("zoom-secret", zoomSecret),
		"ZOOMBROKER_ZOOM_ADMIN_CLIENT_ID="+adminClientID,
		"ZOOMBROKER_ZOOM_ADMIN_CLIENT_SECRET_FILE="+c.writeFile("zoom-admin-secret", adminSecret),
		"ZOOMBROKER_ZOOM_OAUTH_URL="+c.zoomURL,
		"ZOOMBROKER_ZOOM_API_URL="+c.zoomURL,
		"ZOOMBROKER_ZOOM_TIMEOUT="+zoomTimeout,
		"ZOOMBROKER_BASE_URL="+c.lbURL,
		"ZOOMBROKER_DATA_DIR="+filepath.Join(c.dir, "data"),
		"ZOOMBROKER_SHUTDOWN_GRACE=5s",
		"ZOOMBROKER_LOG_FORMAT=json",
	)
	c.pgEnv = append(c.env, "ZOOMBROKER_DATABASE_URL_FILE="+c.writeFile("database-url", dbURL))

	t.Cleanup(c.checkLogs)
	return c
}

// writeFile writes a secret into the cluster's directory with mode 0600
// and returns its path.
func (c *cluster) writeFile(name, content string) string {
	c.t.Helper()
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// balance is the load balancer: it sends each request to the next broker
// in turn, keeping the Host the browser used.
func (c *cluster) balance(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	backends := c.backends
	c.mu.Unlock()
	if len(backends) == 0 {
		http.Error(w, "no broker behind the load balancer", http.StatusBadGateway)
		return
	}
	b := backends[c.next.Add(1)%uint64(len(backends))]
	target, _ := url.Parse(b.url)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}
	proxy.ServeHTTP(w, r)
}

// cliRun runs a zoombroker command with env and returns its stdout. A
// failure ends the test.
func (c *cluster) cliRun(env []string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("zoombroker %s: %v\nstderr:\n%s", args[0], err, stderr.String())
	}
	return stdout.String()
}

// setUpAccess creates the operator and an API key in the store that env
// selects.
func (c *cluster) setUpAccess(env []string) {
	c.t.Helper()
	pw := c.writeFile("operator-password", operatorPass)
	c.cliRun(env, "operators", "add", operatorName, "--password-file", pw)
	c.apiKey = strings.TrimSpace(c.cliRun(env, "keys", "create", "--name", "replica-tests"))
}

// startBroker starts `zoombroker serve` with env on a free port, waits
// until /readyz returns 200, and puts it behind the load balancer.
func (c *cluster) startBroker(env []string) *broker {
	c.t.Helper()
	addr := freeAddr(c.t)
	c.mu.Lock()
	n := len(c.started) + 1
	c.mu.Unlock()
	b := &broker{name: fmt.Sprintf("broker %d", n), url: "http://" + addr, stderr: &syncBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(binPath, "serve")
	b.cmd.Env = append(append([]string{}, env...), "ZOOMBROKER_LISTEN="+addr)
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", b.name, err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	c.t.Cleanup(func() { b.stop(c.t) })

	deadline := time.Now().Add(waitLimit)
	for {
		select {
		case <-b.done:
			c.t.Fatalf("%s exited before it was ready: %v\nstderr:\n%s", b.name, b.err, b.stderr)
		default:
		}
		if status, _ := get(b.url + "/readyz"); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready within %s\nstderr:\n%s", b.name, waitLimit, b.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	c.mu.Lock()
	c.backends = append(c.backends, b)
	c.started = append(c.started, b)
	c.mu.Unlock()
	return b
}

// remove takes b out of the load balancer.
func (c *cluster) remove(b *broker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var kept []*broker
	for _, x := range c.backends {
		if x != b {
			kept = append(kept, x)
		}
	}
	c.backends = kept
}

// stop sends SIGTERM and waits for the broker to exit; it kills it after
// waitLimit. Stopping a stopped broker does nothing.
func (b *broker) stop(t *testing.T) {
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		if b.err != nil {
			t.Errorf("%s exited with %v after SIGTERM; want status 0\nstderr:\n%s", b.name, b.err, b.stderr)
		}
	case <-time.After(waitLimit):
		b.cmd.Process.Kill()
		<-b.done
		t.Errorf("%s did not stop within %s of SIGTERM", b.name, waitLimit)
	}
}

// kill ends the broker with SIGKILL, as a machine loss would, and waits
// for it to be gone.
func (b *broker) kill() {
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
}

// checkLogs fails the test if a broker logged the database password or a
// token that the sandbox issued.
func (c *cluster) checkLogs() {
	secrets := c.sandbox.IssuedSecrets()
	if u, err := url.Parse(c.dbURL); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.started {
		logs := b.stderr.String()
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				c.t.Errorf("%s logged a secret (a token, code or the database password)", b.name)
				break
			}
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
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

// get returns the status and body of GET u, or 0 when it failed.
func get(u string) (int, string) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// tokenResponse is the body of POST /v1/accounts/{id}/token, or of an error.
type tokenResponse struct {
	Status      int
	RetryAfter  string
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
	ExpiresIn   int64     `json:"expires_in"`
	Error       string    `json:"error"`
	Err         error     // the request failed without a response
}

// token requests a token of the account from the broker at base.
func (c *cluster) token(base, id, body string) tokenResponse {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/accounts/"+id+"/token", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: waitLimit}
	resp, err := client.Do(req)
	if err != nil {
		return tokenResponse{Err: err}
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		tr.Err = fmt.Errorf("decode token response: %w", err)
	}
	tr.Status = resp.StatusCode
	tr.RetryAfter = resp.Header.Get("Retry-After")
	return tr
}

// mustToken is token that ends the test unless the broker returns 200.
func (c *cluster) mustToken(base, id, body string) tokenResponse {
	c.t.Helper()
	tr := c.token(base, id, body)
	if tr.Err != nil || tr.Status != http.StatusOK {
		c.t.Fatalf("POST %s/v1/accounts/%s/token %s = status %d, error %q, %v; want 200", base, id, body, tr.Status, tr.Error, tr.Err)
	}
	return tr
}

// zoomStatus calls the sandbox's users/me with an access token and returns
// the status: 200 for a token Zoom accepts, 401 for a dead one.
func (c *cluster) zoomStatus(accessToken string) int {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.zoomURL+"/v2/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// browser is a cookie-keeping client that does not follow redirects, so
// each hop through the load balancer can be checked.
type browser struct {
	c      *cluster
	client *http.Client
}

func (c *cluster) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: c, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page gets a console page through the load balancer.
func (b *browser) page(path string) (int, string) {
	b.c.t.Helper()
	resp, err := b.client.Get(b.c.lbURL + path)
	if err != nil {
		b.c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post submits a console form with the CSRF token of the page at from.
func (b *browser) post(from, path string, form url.Values) *http.Response {
	b.c.t.Helper()
	_, body := b.page(from)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.c.t.Fatalf("GET %s: no CSRF field in the page", from)
	}
	form.Set("_csrf", m[1])
	resp, err := b.client.PostForm(b.c.lbURL+path, form)
	if err != nil {
		b.c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (b *browser) signIn() {
	b.c.t.Helper()
	resp := b.post("/signin", "/signin", url.Values{"name": {operatorName}, "password": {operatorPass}})
	if resp.StatusCode != http.StatusSeeOther {
		b.c.t.Fatalf("sign in: status %d; want 303", resp.StatusCode)
	}
}

// connect runs Connect Account through the load balancer, approves at the
// sandbox as userID and follows the callback. It returns the account id.
// With round-robin balancing, the steps land on different brokers, which
// works only if they share the cookie keys and the database.
func (c *cluster) connect(app store.App, userID string) string {
	c.t.Helper()
	b := c.browser()
	b.signIn()

	resp := b.post("/accounts", "/connect/"+string(app), url.Values{})
	authorize := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(authorize, c.zoomURL+"/oauth/authorize") {
		c.t.Fatalf("connect %s: status %d, Location %q; want 303 to the sandbox", app, resp.StatusCode, authorize)
	}
	back, err := c.sandbox.Approve(context.Background(), b.client, authorize, userID)
	if err != nil {
		c.t.Fatalf("approve at the sandbox: %v", err)
	}

	resp, err = b.client.Get(back.String())
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(strings.SplitN(loc, "?", 2)[0], "/accounts/")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		c.t.Fatalf("callback: status %d, Location %q; want 303 to /accounts/ID", resp.StatusCode, loc)
	}
	return id
}

// accountView is the part of GET /v1/accounts/{id} the tests read.
type accountView struct {
	Status          string     `json:"status"`
	LastRefreshedAt *time.Time `json:"last_refreshed_at"`
	TokenExpiresAt  *time.Time `json:"token_expires_at"`
}

func (c *cluster) account(base, id string) accountView {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/accounts/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v accountView
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET /v1/accounts/%s = %d; want 200", id, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		c.t.Fatal(err)
	}
	return v
}

// query runs one SQL query on the cluster's schema and scans its single
// row into dest. It returns pgx.ErrNoRows when there is none.
func (c *cluster) query(sql string, args []any, dest ...any) error {
	conn, err := pgx.Connect(context.Background(), c.dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(context.Background(), sql, args...).Scan(dest...)
}

// tokenVersion reads the account's token version from the database.
func (c *cluster) tokenVersion(id string) int64 {
	c.t.Helper()
	var v int64
	if err := c.query("SELECT token_version FROM accounts WHERE id = $1", []any{id}, &v); err != nil {
		c.t.Fatalf("read token version of %s: %v", id, err)
	}
	return v
}

// eventually polls cond every 20ms until it returns true, and ends the
// test after waitLimit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
