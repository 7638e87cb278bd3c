package replicas_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// TestOneRefreshAcrossReplicas sends 50 concurrent token requests to each
// of three brokers on one database while the account's token lacks the
// life they request. Only the database coordinates the brokers, because
// each has its own single-flight group. Without the refresh lease and the
// compare-and-swap on the token version, Zoom would see up to three
// refreshes, and all but one broker would store a dead refresh token.
func TestOneRefreshAcrossReplicas(t *testing.T) {
	// Tokens live 3310 s. Callers request 3300 s, which the connected token
	// lacks after about 10 s and a refreshed one keeps for 10 s, long
	// enough to serve every caller.
	const ttl, minTTL = 3310 * time.Second, 3300 * time.Second
	c := newCluster(t, options{accessTTL: ttl})
	c.setUpAccess(c.pgEnv)
	brokers := []*broker{c.startBroker(c.pgEnv), c.startBroker(c.pgEnv), c.startBroker(c.pgEnv)}

	id := c.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	old := c.mustToken(brokers[0].url, id, `{"min_ttl_seconds": 60}`)
	oldVersion := c.tokenVersion(id)
	before := c.sandbox.RefreshCount()

	// Wait until the connected token has less than minTTL left.
	if wait := time.Until(old.ExpiresAt.Add(-(minTTL - time.Second))); wait > 0 {
		time.Sleep(wait)
	}

	const perBroker = 50
	body := fmt.Sprintf(`{"min_ttl_seconds": %d}`, int(minTTL.Seconds()))
	results := make([]tokenResponse, len(brokers)*perBroker)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		b := brokers[i%len(brokers)]
		wg.Go(func() {
			<-start
			results[i] = c.token(b.url, id, body)
		})
	}
	close(start)
	wg.Wait()

	if got := c.sandbox.RefreshCount() - before; got != 1 {
		t.Errorf("refresh requests at the sandbox for %d callers on 3 brokers = %d; want exactly 1", len(results), got)
	}
	want := results[0].AccessToken
	for i, r := range results {
		if r.Err != nil || r.Status != http.StatusOK {
			t.Errorf("caller %d on broker %d: status %d, error %q, %v; want 200", i, i%len(brokers)+1, r.Status, r.Error, r.Err)
			continue
		}
		if r.AccessToken != want {
			t.Errorf("caller %d on broker %d got another token than caller 0; want one token for all", i, i%len(brokers)+1)
		}
		if r.ExpiresIn < int64(minTTL.Seconds()) {
			t.Errorf("caller %d: expires_in = %d; want at least %d", i, r.ExpiresIn, int(minTTL.Seconds()))
		}
	}
	if want == old.AccessToken {
		t.Fatalf("callers got the connected token; want the refreshed one")
	}
	if got := c.zoomStatus(want); got != http.StatusOK {
		t.Errorf("Zoom users/me with the token the callers got = %d; want 200", got)
	}
	if got := c.zoomStatus(old.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("Zoom users/me with the connected token = %d; want 401, since the one refresh replaced it", got)
	}
	if got := c.tokenVersion(id); got != oldVersion+1 {
		t.Errorf("token version after the callers = %d; want %d, one rotation stored", got, oldVersion+1)
	}
}

// lease is a row of the leases table.
type lease struct {
	holder  string
	expires time.Time
}

// TestKilledLeaseHolder kills a broker with SIGKILL while it holds the
// account's refresh lease and waits at Zoom. The sandbox sleeps before it
// looks at the refresh token, and stops when the client goes away, so the
// kill lands before the sandbox rotates anything and the stored refresh
// token stays valid. (A kill after Zoom rotated the token would lose the
// account legitimately: the new refresh token existed only in the dead
// process.)
func TestKilledLeaseHolder(t *testing.T) {
	// The lease lasts twice the Zoom timeout plus 15 s: 21 s here.
	c := newCluster(t, options{zoomTimeout: "3s"})
	c.setUpAccess(c.pgEnv)
	victim := c.startBroker(c.pgEnv)
	second, third := c.startBroker(c.pgEnv), c.startBroker(c.pgEnv)

	id := c.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	old := c.mustToken(second.url, id, `{}`)
	oldVersion := c.tokenVersion(id)
	before := c.sandbox.RefreshCount()

	c.sandbox.SetTokenLatency(10 * time.Minute)
	go c.token(victim.url, id, `{"force_refresh": true}`) // fails when the victim dies

	// The victim's refresh is inside the sandbox and its lease is in the
	// database.
	victimPID := fmt.Sprintf("/%d/", victim.cmd.Process.Pid)
	var held lease
	eventually(t, "victim holds the refresh lease while its refresh waits at the sandbox", func() bool {
		err := c.query("SELECT holder, expires FROM leases WHERE name = $1", []any{"refresh/" + id}, &held.holder, &held.expires)
		return err == nil && strings.Contains(held.holder, victimPID) && c.sandbox.RefreshCount() == before+1
	})
	victim.kill()
	c.remove(victim)
	c.sandbox.SetTokenLatency(0)

	// While the lease lasts, another broker does not refresh: a forced
	// refresh waits for the lease, gives up, and returns the stored token,
	// which still has the default 300 s of life.
	r := c.mustToken(second.url, id, `{"force_refresh": true}`)
	if time.Now().Before(held.expires) {
		if r.AccessToken != old.AccessToken {
			t.Errorf("forced refresh while the dead broker's lease lasts returned a new token; want the stored one")
		}
		if got := c.sandbox.RefreshCount() - before; got != 1 {
			t.Errorf("refresh requests at the sandbox while the lease lasts = %d; want 1, the victim's", got)
		}
	}

	// No caller asks again: the refresher of a surviving broker resumes
	// the interrupted refresh once the lease has expired.
	eventually(t, "a surviving broker refreshes the account", func() bool { return c.tokenVersion(id) != oldVersion })

	acct := c.account(second.url, id)
	if acct.Status != string(store.StatusActive) {
		t.Errorf("account status after the takeover = %q; want active", acct.Status)
	}
	if acct.LastRefreshedAt == nil || acct.LastRefreshedAt.Before(held.expires.Add(-time.Millisecond)) {
		t.Errorf("last_refreshed_at = %v; want at or after the dead broker's lease expiry %v", acct.LastRefreshedAt, held.expires)
	}
	if got := c.sandbox.RefreshCount() - before; got != 2 {
		t.Errorf("refresh requests at the sandbox = %d; want 2, the victim's and the takeover", got)
	}
	var holder string
	err := c.query("SELECT holder FROM leases WHERE name = $1", []any{"refresh/" + id}, &holder)
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("refresh lease after the takeover: holder %q, %v; want the row released", holder, err)
	}
	if !strings.Contains(second.stderr.String()+third.stderr.String(), `"msg":"token refreshed"`) {
		t.Errorf("no surviving broker logged the refresh")
	}

	// The account is not lost: the new token works, and the stored refresh
	// token refreshes again.
	now := c.mustToken(third.url, id, `{}`)
	if now.AccessToken == old.AccessToken {
		t.Fatalf("token after the takeover = the old one; want a new token")
	}
	if got := c.zoomStatus(now.AccessToken); got != http.StatusOK {
		t.Errorf("Zoom users/me with the token after the takeover = %d; want 200", got)
	}
	again := c.mustToken(second.url, id, `{"force_refresh": true}`)
	if again.AccessToken == now.AccessToken {
		t.Errorf("forced refresh after the takeover returned the same token; want a new one")
	}
	if got := c.zoomStatus(again.AccessToken); got != http.StatusOK {
		t.Errorf("Zoom users/me after one more refresh = %d; want 200", got)
	}
}

// TestMigratedBoltServesTokens connects accounts on a broker with a bbolt
// file, stops it, copies the file into PostgreSQL with `zoombroker
// migrate`, and starts three brokers on the database. They hand out the
// same tokens, with no refresh and no new authorization at Zoom, and the
// copied refresh tokens still work.
func TestMigratedBoltServesTokens(t *testing.T) {
	c := newCluster(t, options{})
	c.setUpAccess(c.env)
	single := c.startBroker(c.env)

	user := c.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	admin := c.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	tokens := map[string]string{
		user:  c.mustToken(single.url, user, `{}`).AccessToken,
		admin: c.mustToken(single.url, admin, `{}`).AccessToken,
	}
	refreshes, exchanges := c.sandbox.RefreshCount(), c.sandbox.ExchangeCount()

	single.stop(t)
	c.remove(single)
	out := c.cliRun(c.pgEnv, "migrate", "--from", "bolt:"+filepath.Join(c.dir, "data"), "--to", "postgres")
	for _, want := range []string{"accounts           2", "API keys           1", "operators          1"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output = %q; want it to contain %q", out, want)
		}
	}

	brokers := []*broker{c.startBroker(c.pgEnv), c.startBroker(c.pgEnv), c.startBroker(c.pgEnv)}
	for _, b := range brokers {
		for id, want := range tokens {
			// The API key was created on the bbolt file: it was copied too.
			if got := c.mustToken(b.url, id, `{}`); got.AccessToken != want {
				t.Errorf("%s: token of %s after the migration differs from the one before; want the same", b.name, id)
			}
		}
	}
	if got := c.sandbox.RefreshCount() - refreshes; got != 0 {
		t.Errorf("refresh requests at the sandbox after the migration = %d; want 0", got)
	}
	if got := c.sandbox.ExchangeCount() - exchanges; got != 0 {
		t.Errorf("authorizations at the sandbox after the migration = %d; want 0, no account connected again", got)
	}

	// The operator was copied, and the console lists both accounts.
	b := c.browser()
	b.signIn()
	_, page := b.page("/accounts")
	for id := range tokens {
		if !strings.Contains(page, id) {
			t.Errorf("console account list after the migration does not show %s", id)
		}
	}

	// The copied refresh tokens are the live ones.
	for id, old := range tokens {
		r := c.mustToken(brokers[1].url, id, `{"force_refresh": true}`)
		if r.AccessToken == old {
			t.Errorf("forced refresh of %s after the migration returned the old token; want a new one", id)
		}
		if got := c.zoomStatus(r.AccessToken); got != http.StatusOK {
			t.Errorf("Zoom users/me with the refreshed token of %s = %d; want 200", id, got)
		}
	}
}

// TestDatabaseLost cuts the brokers' connections to PostgreSQL. /readyz
// must fail, and token requests must get 503 store_unavailable instead of
// a token. When the database is back, the same token is handed out again.
func TestDatabaseLost(t *testing.T) {
	var p *tcpProxy
	c := newCluster(t, options{databaseURL: func(schemaURL string) string {
		p = newTCPProxy(t, schemaURL)
		return p.urlThrough(schemaURL)
	}})
	c.setUpAccess(c.pgEnv)
	brokers := []*broker{c.startBroker(c.pgEnv), c.startBroker(c.pgEnv)}
	id := c.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	want := c.mustToken(brokers[0].url, id, `{}`)

	p.cut()

	for _, b := range brokers {
		if status, _ := get(b.url + "/readyz"); status != http.StatusServiceUnavailable {
			t.Errorf("%s: GET /readyz without the database = %d; want 503", b.name, status)
		}
		r := c.token(b.url, id, `{}`)
		if r.Status != http.StatusServiceUnavailable || r.Error != "store_unavailable" {
			t.Errorf("%s: token without the database = status %d, error %q, %v; want 503 store_unavailable", b.name, r.Status, r.Error, r.Err)
		}
		if r.AccessToken != "" {
			t.Errorf("%s: token response without the database carries a token; want none", b.name)
		}
		if r.RetryAfter == "" {
			t.Errorf("%s: 503 without the database has no Retry-After; want one", b.name)
		}
	}

	p.restore()

	for _, b := range brokers {
		eventually(t, b.name+" ready again", func() bool { status, _ := get(b.url + "/readyz"); return status == http.StatusOK })
		if got := c.mustToken(b.url, id, `{}`); got.AccessToken != want.AccessToken {
			t.Errorf("%s: token after the database came back differs; want the stored one", b.name)
		}
	}
}

// tcpProxy forwards connections from a loopback port to the database and
// can cut them, as a network failure would.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newTCPProxy(t *testing.T, dbURL string) *tcpProxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	if u.Hostname() == "" {
		t.Skip("ZOOMBROKER_TEST_DATABASE_URL has no host; the connection loss test needs a TCP address")
	}
	p := &tcpProxy{t: t, target: net.JoinHostPort(u.Hostname(), port)}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) listen(addr string) {
	p.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("proxy listen on %s: %v", addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				client.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, client, server)
			p.mu.Unlock()
			go func() { copyAndClose(server, client) }()
			go func() { copyAndClose(client, server) }()
		}
	}()
}

func copyAndClose(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
}

// cut closes the listener and every connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, conn := range p.conns {
		conn.Close()
	}
	p.conns = nil
}

// restore listens on the same address again.
func (p *tcpProxy) restore() { p.listen(p.addr) }

// urlThrough returns u with the proxy's address as its host.
func (p *tcpProxy) urlThrough(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		p.t.Fatal(err)
	}
	parsed.Host = p.addr
	return parsed.String()
}
