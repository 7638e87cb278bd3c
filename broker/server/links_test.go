package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// customerApp stands in for the company's product: it receives end users
// back from connect links and hosts a page that opens the link in a popup.
type customerApp struct {
	*httptest.Server
	mu     sync.Mutex
	visits []*url.URL
}

func newCustomerApp(t *testing.T) *customerApp {
	a := &customerApp{}
	mux := http.NewServeMux()
	mux.HandleFunc("/zoom/", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.visits = append(a.visits, r.URL)
		a.mu.Unlock()
		fmt.Fprintf(w, `<!doctype html><title>back</title><p id="landed">%s</p>`, html.EscapeString(r.URL.String()))
	})
	mux.HandleFunc("/opener", func(w http.ResponseWriter, r *http.Request) {
		link := r.URL.Query().Get("link")
		fmt.Fprintf(w, `<!doctype html><title>opener</title>
<button id="open">Connect Zoom</button><pre id="message"></pre>
<script>
document.getElementById("open").onclick = function () { window.open(%q, "zoom", "width=600,height=700"); };
window.addEventListener("message", function (e) {
  document.getElementById("message").textContent = e.origin + " " + JSON.stringify(e.data);
});
</script>`, link)
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

type sessionJSON struct {
	ID         string    `json:"id"`
	Token      string    `json:"token"`
	ConnectURL string    `json:"connect_url"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// newSession creates a connect session for an external user.
func (e *env) newSession(app store.App, external string, extra ...string) (int, sessionJSON, string) {
	e.t.Helper()
	body := fmt.Sprintf(`{"app": %q, "external_user_id": %q, "success_redirect_url": %q, "error_redirect_url": %q%s}`,
		app, external, e.app.URL+"/zoom/done", e.app.URL+"/zoom/failed", strings.Join(extra, ""))
	resp, raw := e.api(http.MethodPost, "/v1/connect-sessions", body)
	var cs sessionJSON
	if resp.StatusCode == http.StatusCreated {
		must(e.t, json.Unmarshal([]byte(raw), &cs))
	}
	return resp.StatusCode, cs, raw
}

var linkTokenField = regexp.MustCompile(`name="token" value="([^"]+)"`)

// followLink plays the end user: opens the link, clicks Connect Account,
// allows at the sandbox as userID and follows the callback. It returns
// where the broker finally sent the browser.
func (e *env) followLink(link, userID string) *url.URL {
	e.t.Helper()
	c := e.browser()
	resp, err := c.Get(link)
	must(e.t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc
	}
	m := linkTokenField.FindSubmatch(page)
	if m == nil {
		e.t.Fatalf("connect page has no Connect Account form:\n%s", page)
	}

	resp, err = c.PostForm(e.broker.URL+"/connect/start", url.Values{"token": {html.UnescapeString(string(m[1]))}})
	must(e.t, err)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, e.zoomURL) {
		u, _ := url.Parse(loc)
		return u
	}
	back, err := e.sandbox.Approve(context.Background(), c, loc, userID)
	must(e.t, err)
	resp, err = c.Get(back.String())
	must(e.t, err)
	resp.Body.Close()
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u
}

func TestConnectLinkFlow(t *testing.T) {
	e := newEnv(t)
	status, cs, raw := e.newSession(store.AppZoom, "customer-42")
	if status != http.StatusCreated {
		t.Fatalf("create session: %d %s; want 201", status, raw)
	}
	if !strings.HasPrefix(cs.ConnectURL, e.broker.URL+"/connect?token=") || cs.ExpiresAt.Sub(e.clock.Now()) != 15*time.Minute {
		t.Errorf("session = %+v; want a connect URL on the broker that expires in 15m", cs)
	}

	back := e.followLink(cs.ConnectURL, zoomsandbox.DefaultUserID)
	if back == nil || !strings.HasPrefix(back.String(), e.app.URL+"/zoom/done?") {
		t.Fatalf("end user sent to %v; want the success URL", back)
	}
	id := back.Query().Get("account_id")
	a, err := e.store.GetAccount(context.Background(), id)
	must(t, err)
	if len(a.Owners) != 1 || a.Owners[0] != "customer-42" || a.ConsoleConnected {
		t.Errorf("account owners = %q, console %t; want [customer-42], false", a.Owners, a.ConsoleConnected)
	}

	_, body := e.api(http.MethodGet, "/v1/accounts?external_user_id=customer-42", "")
	if !strings.Contains(body, id) || !strings.Contains(body, `"external_user_ids":["customer-42"]`) {
		t.Errorf("list by external user = %s; want the account with its owner", body)
	}

	// The link is single-use.
	again := e.followLink(cs.ConnectURL, zoomsandbox.DefaultUserID)
	if again == nil || again.Query().Get("error") != "session_used" || !strings.HasPrefix(again.String(), e.app.URL+"/zoom/failed") {
		t.Errorf("used link sent the end user to %v; want the error URL with error=session_used", again)
	}
	if n := e.accountCount(); n != 1 {
		t.Errorf("accounts = %d; want 1", n)
	}
}

func TestConnectLinkRejections(t *testing.T) {
	e := newEnv(t)

	tests := []struct {
		name  string
		body  string
		code  string
		state int
	}{
		{"success outside allow-list", `{"app":"zoom","external_user_id":"c1","success_redirect_url":"https://evil.example/zoom/done","error_redirect_url":"` + e.app.URL + `/zoom/failed"}`, "redirect_not_allowed", 400},
		{"error outside prefix", `{"app":"zoom","external_user_id":"c1","success_redirect_url":"` + e.app.URL + `/zoom/done","error_redirect_url":"` + e.app.URL + `/zoomer"}`, "redirect_not_allowed", 400},
		{"user info in URL", `{"app":"zoom","external_user_id":"c1","success_redirect_url":"` + strings.Replace(e.app.URL, "http://", "http://x@", 1) + `/zoom/done","error_redirect_url":"` + e.app.URL + `/zoom/failed"}`, "redirect_not_allowed", 400},
		{"bad app", `{"app":"teams","external_user_id":"c1","success_redirect_url":"` + e.app.URL + `/zoom/done","error_redirect_url":"` + e.app.URL + `/zoom/failed"}`, "invalid_body", 400},
		{"no external user", `{"app":"zoom","external_user_id":"","success_redirect_url":"` + e.app.URL + `/zoom/done","error_redirect_url":"` + e.app.URL + `/zoom/failed"}`, "invalid_body", 400},
		{"foreign opener", `{"app":"zoom","external_user_id":"c1","success_redirect_url":"` + e.app.URL + `/zoom/done","error_redirect_url":"` + e.app.URL + `/zoom/failed","display":"popup","opener_origin":"https://evil.example"}`, "redirect_not_allowed", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.api(http.MethodPost, "/v1/connect-sessions", tc.body)
			if resp.StatusCode != tc.state || !strings.Contains(body, `"`+tc.code+`"`) {
				t.Errorf("create session = %d %s; want %d %s", resp.StatusCode, body, tc.state, tc.code)
			}
		})
	}

	// An expired link sends the end user to the error URL and connects
	// nothing.
	_, cs, _ := e.newSession(store.AppZoom, "c2")
	e.clock.Advance(16 * time.Minute)
	if back := e.followLink(cs.ConnectURL, zoomsandbox.DefaultUserID); back == nil || back.Query().Get("error") != "session_expired" {
		t.Errorf("expired link sent the end user to %v; want error=session_expired", back)
	}

	// A tampered token is not a link at all.
	resp, err := http.Get(cs.ConnectURL + "x")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("tampered link: status %d; want 404", resp.StatusCode)
	}
	if n := e.accountCount(); n != 0 {
		t.Errorf("accounts = %d; want 0", n)
	}
}

func TestSharedGrantKeepsOneAccount(t *testing.T) {
	e := newEnv(t)
	_, first, _ := e.newSession(store.AppZoom, "alice-co")
	idA := e.followLink(first.ConnectURL, zoomsandbox.DefaultUserID).Query().Get("account_id")
	_, second, _ := e.newSession(store.AppZoom, "bob-co")
	idB := e.followLink(second.ConnectURL, zoomsandbox.DefaultUserID).Query().Get("account_id")
	if idA == "" || idA != idB {
		t.Fatalf("two owners of one Zoom user got accounts %q and %q; want one shared account", idA, idB)
	}
	_, again, _ := e.newSession(store.AppZoom, "alice-co")
	e.followLink(again.ConnectURL, zoomsandbox.DefaultUserID)

	a, err := e.store.GetAccount(context.Background(), idA)
	must(t, err)
	if len(a.Owners) != 2 || a.Owners[0] != "alice-co" || a.Owners[1] != "bob-co" {
		t.Errorf("owners = %q; want [alice-co bob-co]", a.Owners)
	}

	// The first owner's data-deletion request leaves the account to the
	// second; the second one's revokes it.
	resp, body := e.api(http.MethodDelete, "/v1/accounts?external_user_id=alice-co", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"revoked":false`) {
		t.Errorf("remove first owner = %d %s; want 200 and not revoked", resp.StatusCode, body)
	}
	resp, body = e.api(http.MethodDelete, "/v1/accounts?external_user_id=bob-co", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"revoked":true`) {
		t.Errorf("remove last owner = %d %s; want 200 and revoked", resp.StatusCode, body)
	}
	a, err = e.store.GetAccount(context.Background(), idA)
	must(t, err)
	if a.Status != store.StatusRevoked || e.sandbox.LiveGrant(zoomClientID, zoomsandbox.DefaultUserID) {
		t.Errorf("after the last owner left: status %s, grant live %t; want revoked at Zoom", a.Status, e.sandbox.LiveGrant(zoomClientID, zoomsandbox.DefaultUserID))
	}
}

func TestConsoleAccountSurvivesOwnerRemoval(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	_, cs, _ := e.newSession(store.AppZoom, "carol-co")
	e.followLink(cs.ConnectURL, zoomsandbox.DefaultUserID)

	e.api(http.MethodDelete, "/v1/accounts?external_user_id=carol-co", "")
	a, err := e.store.GetAccount(context.Background(), id)
	must(t, err)
	if a.Status != store.StatusActive || len(a.Owners) != 0 {
		t.Errorf("console account after its link owner left: status %s, owners %q; want active, none", a.Status, a.Owners)
	}
}

func TestDeclinedLinkReturnsError(t *testing.T) {
	e := newEnv(t)
	_, cs, _ := e.newSession(store.AppZoom, "dave-co")
	c := e.browser()
	resp, err := c.Get(cs.ConnectURL)
	must(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := linkTokenField.FindSubmatch(page)
	resp, err = c.PostForm(e.broker.URL+"/connect/start", url.Values{"token": {html.UnescapeString(string(m[1]))}})
	must(t, err)
	resp.Body.Close()
	back, err := e.sandbox.Decline(context.Background(), c, resp.Header.Get("Location"))
	must(t, err)
	resp, err = c.Get(back.String())
	must(t, err)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("error") != "access_denied" || !strings.HasPrefix(loc.String(), e.app.URL+"/zoom/failed") {
		t.Errorf("declined link sent the end user to %v; want the error URL with error=access_denied", loc)
	}
	if n := e.accountCount(); n != 0 {
		t.Errorf("accounts = %d; want 0", n)
	}
}

func TestLinkRestartsAfterBack(t *testing.T) {
	e := newEnv(t)
	_, cs, _ := e.newSession(store.AppZoom, "erin-co")
	c := e.browser()
	resp, err := c.Get(cs.ConnectURL)
	must(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := html.UnescapeString(string(linkTokenField.FindSubmatch(page)[1]))

	// The end user clicks Connect Account, goes back from Zoom's page and
	// clicks again: the second start still reaches Zoom.
	for i := range 2 {
		resp, err = c.PostForm(e.broker.URL+"/connect/start", url.Values{"token": {token}})
		must(t, err)
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, e.zoomURL) {
			t.Fatalf("start %d sent the browser to %q; want Zoom", i+1, loc)
		}
	}
	back, err := e.sandbox.Approve(context.Background(), c, resp.Header.Get("Location"), zoomsandbox.DefaultUserID)
	must(t, err)
	resp, err = c.Get(back.String())
	must(t, err)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "account_id=acc_") {
		t.Fatalf("callback after a restart went to %q; want the success URL", loc)
	}

	// Once finished, the link is used up.
	resp, err = c.PostForm(e.broker.URL+"/connect/start", url.Values{"token": {token}})
	must(t, err)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=session_used") {
		t.Errorf("start after the flow finished went to %q; want error=session_used", loc)
	}
}
