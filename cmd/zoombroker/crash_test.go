package main

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// Bounds of the crash test: how many kills it aims for and the most time
// it may take. They bound the run; they are not performance goals.
const (
	crashKills    = 100
	crashAccounts = 48
	crashBudget   = 4 * time.Minute
)

// crashEnv is a broker binary in real (not dev) mode, talking to a sandbox
// that lives in the test process, so the sandbox keeps its grants while
// the broker is killed.
type crashEnv struct {
	bin     string
	env     []string
	addr    string
	dataDir string
	sandbox *zoomsandbox.Sandbox
	apiKey  string
}

func newCrashEnv(t *testing.T) *crashEnv {
	t.Helper()
	var users []zoomsandbox.User
	for i := range crashAccounts {
		users = append(users, zoomsandbox.User{ID: fmt.Sprintf("crashUser%02d", i), AccountID: "crashAcct", Email: fmt.Sprintf("user%02d@example.com", i), FirstName: "Crash", LastName: fmt.Sprint(i)})
	}
	sb := zoomsandbox.New(zoomsandbox.Options{
		Apps:  []zoomsandbox.App{{Name: "Zoom", ClientID: "crash-zoom", ClientSecret: "crash-secret", Scopes: []string{"user:read"}}},
		Users: users,
	})
	zs := httptest.NewServer(sb.Handler())
	t.Cleanup(zs.Close)

	_, encKey, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	cookie := make([]byte, 64)
	cryptorand.Read(cookie)

	e := &crashEnv{bin: buildBinary(t), addr: freeAddr(t), dataDir: t.TempDir(), sandbox: sb}
	e.env = baseEnv(
		envListen+"="+e.addr,
		envDataDir+"="+e.dataDir,
		envEncryptionKey+"="+encKey.Reveal(),
		envCookieKey+"="+base64.StdEncoding.EncodeToString(cookie),
		envZoomClientID+"=crash-zoom",
		envZoomClientSecret+"=crash-secret",
		envZoomOAuthURL+"="+zs.URL,
		envZoomAPIURL+"="+zs.URL,
		envZoomTimeout+"=2s",
	)

	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("crash test password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := start(t, e.bin, e.env, "operators", "add", "alice", "--password-file", pw); p.wait(t) != 0 {
		t.Fatalf("operators add failed: %s", p.stderr)
	}
	keys := start(t, e.bin, e.env, "keys", "create", "--name", "crash")
	if keys.wait(t) != 0 {
		t.Fatalf("keys create failed: %s", keys.stderr)
	}
	e.apiKey = strings.TrimSpace(keys.stdout.String())
	return e
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// connect signs in and runs the connect flow for one sandbox user.
func (e *crashEnv) connect(t *testing.T, userID string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + e.addr

	csrf := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfInput.FindSubmatch(body)
		if m == nil {
			t.Fatalf("GET %s: no CSRF field (status %d)", path, resp.StatusCode)
		}
		return string(m[1])
	}
	post := func(path string, form url.Values) *http.Response {
		resp, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	post("/signin", url.Values{"_csrf": {csrf("/signin")}, "name": {"alice"}, "password": {"crash test password"}})
	resp := post("/connect/zoom", url.Values{"_csrf": {csrf("/accounts")}})
	back, err := e.sandbox.Approve(context.Background(), c, resp.Header.Get("Location"), userID)
	if err != nil {
		t.Fatalf("approve %s: %v", userID, err)
	}
	resp, err = c.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/accounts/acc_") {
		t.Fatalf("callback for %s: status %d, Location %q", userID, resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSIGKILLDuringRefreshStorm(t *testing.T) {
	e := newCrashEnv(t)
	broker := start(t, e.bin, e.env, "serve")
	broker.waitHealthy(t, e.addr)
	for i := range crashAccounts {
		e.connect(t, fmt.Sprintf("crashUser%02d", i))
	}
	broker.cmd.Process.Signal(syscall.SIGTERM)
	broker.wait(t)
	ids := accountIDs(t, e.dataDir)
	if len(ids) != crashAccounts {
		t.Fatalf("accounts after connecting = %d; want %d", len(ids), crashAccounts)
	}

	deadline := time.Now().Add(crashBudget)
	kills := 0
	client := &http.Client{Timeout: 5 * time.Second}
	for kills < crashKills && time.Now().Before(deadline) {
		broker := start(t, e.bin, e.env, "serve")
		broker.waitHealthy(t, e.addr)

		// Four callers fetch tokens of random accounts until the kill; one
		// request in 25 forces a refresh.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					e.token(client, ids[rand.IntN(len(ids))], rand.IntN(25) == 0)
				}
			}()
		}
		time.Sleep(time.Duration(5+rand.IntN(60)) * time.Millisecond)
		broker.cmd.Process.Kill()
		broker.wait(t)
		close(stop)
		wg.Wait()
		kills++
	}
	if kills < crashKills {
		t.Fatalf("only %d kills within %s; want %d", kills, crashBudget, crashKills)
	}

	// Compare what the broker stored with what the sandbox answered. An
	// account is intact when both counted the same refreshes. A refresh
	// cut off after it reached the sandbox rotates the token there and
	// not here; nothing can keep that account, so it may be one refresh
	// behind, never more, and the broker must flag it as a lost refresh.
	stored := tokenVersions(t, e.dataDir)
	behind := map[string]bool{}
	for i, id := range ids {
		rotations, live := e.sandbox.GrantRotations("crash-zoom", fmt.Sprintf("crashUser%02d", accountIndex(t, e.dataDir, id, i)))
		if !live {
			t.Errorf("account %s: grant no longer live at the sandbox", id)
			continue
		}
		switch diff := rotations - int(stored[id]-1); diff {
		case 0:
		case 1:
			behind[id] = true
		default:
			t.Errorf("account %s: sandbox answered %d refreshes, broker stored %d; a difference of %d means a lost or doubled refresh", id, rotations, stored[id]-1, diff)
		}
	}

	broker = start(t, e.bin, e.env, "serve")
	broker.waitHealthy(t, e.addr)
	refreshed := 0
	for _, id := range ids {
		status, code := e.forceRefresh(client, id)
		switch {
		case behind[id]:
			if status != http.StatusConflict || code != "needs_reconnect" || lastErrorCode(t, e, id) != "refresh_lost" {
				t.Errorf("account %s, one refresh behind: status %d, error %q; want 409 with last error refresh_lost", id, status, code)
			}
		case status == http.StatusOK:
			refreshed++
		default:
			t.Errorf("intact account %s after the storm: status %d, error %q; want 200", id, status, code)
		}
	}
	t.Logf("%d kills: %d of %d accounts refreshed; %d lost a refresh cut off inside the rotation window", kills, refreshed, len(ids), len(behind))

	broker.cmd.Process.Signal(syscall.SIGTERM)
	if code := broker.wait(t); code != 0 {
		t.Errorf("final broker exit code = %d; want 0", code)
	}
	checkRecords(t, e.dataDir, len(ids))
}

// token asks the broker for a token of the account, forcing a refresh when
// force is set, and returns the status and the error code of the body.
func (e *crashEnv) token(client *http.Client, id string, force bool) (int, string) {
	body := `{"min_ttl_seconds": 60}`
	if force {
		body = `{"force_refresh": true}`
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/v1/accounts/"+id+"/token", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var eb struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&eb)
	return resp.StatusCode, eb.Error
}

// forceRefresh asks the broker for a new token.
func (e *crashEnv) forceRefresh(client *http.Client, id string) (int, string) {
	return e.token(client, id, true)
}

// tokenVersions reads each account's token version from the stopped
// broker's file.
func tokenVersions(t *testing.T, dataDir string) map[string]int64 {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accts, _, err := db.ListAccounts(context.Background(), store.ListOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, a := range accts {
		out[a.ID] = a.TokenVersion
	}
	return out
}

// accountIndex returns the number of the sandbox user behind an account.
func accountIndex(t *testing.T, dataDir, id string, fallback int) int {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(a.Zoom.UserID, "crashUser%02d", &n); err != nil {
		return fallback
	}
	return n
}

// accountIDs reads the account ids from the stopped broker's file.
func accountIDs(t *testing.T, dataDir string) []string {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accts, _, err := db.ListAccounts(context.Background(), store.ListOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range accts {
		ids = append(ids, a.ID)
	}
	return ids
}

func lastErrorCode(t *testing.T, e *crashEnv, id string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+"/v1/accounts/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		LastError *struct{ Code string } `json:"last_error"`
	}
	json.NewDecoder(resp.Body).Decode(&a)
	if a.LastError == nil {
		return ""
	}
	return a.LastError.Code
}

// checkRecords opens the file after the storm: every account is there and
// decodes, and none carries a half-written refresh.
func checkRecords(t *testing.T, dataDir string, want int) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatalf("open the file after the storm: %v", err)
	}
	defer db.Close()
	accts, _, err := db.ListAccounts(context.Background(), store.ListOptions{Limit: 500})
	if err != nil {
		t.Fatalf("list accounts after the storm: %v", err)
	}
	if len(accts) != want {
		t.Errorf("accounts after the storm = %d; want %d", len(accts), want)
	}
	for _, a := range accts {
		if a.Status == store.StatusActive && (len(a.Token) == 0 || !a.RefreshStartedAt.IsZero()) {
			t.Errorf("account %s: token present %t, refresh start mark %v; want a token and no mark", a.ID, len(a.Token) > 0, a.RefreshStartedAt)
		}
	}
}
