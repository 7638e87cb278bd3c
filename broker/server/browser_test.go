package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// newBrowser starts a headless Chromium from the system's packages. The
// test is skipped when Chromium is missing, unless
// ZOOMBROKER_REQUIRE_BROWSER=1 (as in CI), where it fails.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := os.Getenv("ZOOMBROKER_CHROMIUM")
	if path == "" {
		for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if _, err := exec.LookPath("chromium"); err == nil {
			path = "chromium"
		}
	}
	if path == "" {
		if os.Getenv("ZOOMBROKER_REQUIRE_BROWSER") == "1" {
			t.Fatal("Chromium not found; install Debian's chromium package or set ZOOMBROKER_CHROMIUM")
		}
		t.Skip("Chromium not found; set ZOOMBROKER_REQUIRE_BROWSER=1 to make this a failure")
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	opts = append(opts, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

func TestBrowserConnectAndRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := newBrowser(t)
	ID := func(id string) chromedp.ID { return chromedp.ID(id) }

	must(t, chromedp.Do(ctx,
		chromedp.Navigate(e.broker.URL+"/accounts"),
		chromedp.WaitVisible(ID("name")),
		chromedp.SendKeys(ID("name"), operatorName),
		chromedp.SendKeys(ID("password"), operatorPass),
		chromedp.Click(ID("signin")),
		chromedp.WaitVisible(ID("connect-zoom")),
	))
	sandboxLabel, err := chromedp.Run(ctx, chromedp.Text(ID("sandbox-label")))
	must(t, err)
	if !strings.Contains(sandboxLabel, "sandbox") {
		t.Errorf("console does not label the sandbox: %q", sandboxLabel)
	}

	for _, app := range []string{"zoom", "zoom_admin"} {
		must(t, chromedp.Do(ctx,
			chromedp.Navigate(e.broker.URL+"/accounts"),
			chromedp.WaitVisible(ID("connect-"+app)),
			chromedp.Click(ID("connect-"+app)),
			chromedp.WaitVisible(ID("allow")),
			chromedp.Click(ID("allow")),
			chromedp.WaitVisible(ID("status")),
		))
	}

	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.broker.URL+"/accounts"))
	must(t, err)
	must(t, chromedp.Do(ctx, chromedp.WaitVisible(ID("accounts"))))
	table, err := chromedp.Run(ctx, chromedp.Text(ID("accounts")))
	must(t, err)
	for _, want := range []string{"Zoom Admin", "dev.admin@example.com", "active", "user:read:admin"} {
		if !strings.Contains(table, want) {
			t.Errorf("account list lacks %q:\n%s", want, table)
		}
	}
	if n := e.accountCount(); n != 2 {
		t.Fatalf("accounts after two connects = %d; want 2", n)
	}
	checkSecurityHeaders(t, resp.Headers)

	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#accounts tbody tr:first-child a")),
		chromedp.WaitVisible(ID("revoke")),
		chromedp.Click(ID("revoke")),
		chromedp.WaitVisible(ID("confirm-revoke")),
		chromedp.Click(ID("confirm-revoke")),
		chromedp.WaitVisible(ID("status")),
	))
	status, err := chromedp.Run(ctx, chromedp.Text(ID("status")))
	must(t, err)
	if status != "revoked" {
		t.Errorf("status after revoke = %q; want revoked", status)
	}
	revoked, _, err := e.store.ListAccounts(context.Background(), store.ListOptions{Filter: store.AccountFilter{Status: store.StatusRevoked}})
	must(t, err)
	if len(revoked) != 1 {
		t.Errorf("revoked accounts = %d; want 1", len(revoked))
	}
	if n := e.sandbox.RevokeCount(); n != 1 {
		t.Errorf("revokes at sandbox = %d; want 1", n)
	}
}

func checkSecurityHeaders(t *testing.T, h network.Headers) {
	t.Helper()
	if h == nil {
		t.Fatal("no response headers recorded for /accounts")
	}
	get := func(name string) string {
		for k, v := range h {
			if strings.EqualFold(k, name) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	csp := get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q; want frame-ancestors 'none' and no unsafe-inline", csp)
	}
	if got := get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q; want nosniff", got)
	}
	if got := get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q; want no-referrer", got)
	}
	_ = http.StatusOK
}

func TestBrowserReconnectKeepsID(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultAdminUserID)
	if _, ok := e.sandbox.Deauthorize(zoomsandbox.DefaultAdminUserID, zoomClientID); !ok {
		t.Fatal("sandbox found no grant to remove")
	}
	if resp, body := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", `{"force_refresh": true}`); resp.StatusCode != http.StatusConflict {
		t.Fatalf("token of a dead grant: %d %s; want 409", resp.StatusCode, body)
	}

	ctx := newBrowser(t)
	ID := func(id string) chromedp.ID { return chromedp.ID(id) }
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(e.broker.URL+"/accounts/"+id),
		chromedp.WaitVisible(ID("name")),
		chromedp.SendKeys(ID("name"), operatorName),
		chromedp.SendKeys(ID("password"), operatorPass),
		chromedp.Click(ID("signin")),
		chromedp.WaitVisible(ID("reconnect")),
	))
	before, err := chromedp.Run(ctx, chromedp.Text(ID("status")))
	must(t, err)
	if before != "needs_reconnect" {
		t.Errorf("status before reconnect = %q; want needs_reconnect", before)
	}

	must(t, chromedp.Do(ctx,
		chromedp.Click(ID("reconnect")),
		chromedp.WaitVisible(ID("allow")),
		chromedp.Click(ID("allow")),
		chromedp.WaitVisible(ID("status")),
	))
	after, err := chromedp.Run(ctx, chromedp.Text(ID("status")))
	must(t, err)
	if after != "active" {
		t.Errorf("status after reconnect = %q; want active", after)
	}
	if n := e.accountCount(); n != 1 {
		t.Errorf("accounts after reconnect = %d; want 1 (the same id)", n)
	}
	if status, _ := e.token(id, ""); status != http.StatusOK {
		t.Errorf("token after reconnect: status %d; want 200", status)
	}
}

func TestBrowserConnectLink(t *testing.T) {
	e := newEnv(t)
	_, cs, raw := e.newSession(store.AppZoomAdmin, "customer-9")
	if cs.ConnectURL == "" {
		t.Fatalf("create session: %s", raw)
	}
	ctx := newBrowser(t)
	ID := func(id string) chromedp.ID { return chromedp.ID(id) }

	must(t, chromedp.Do(ctx,
		chromedp.Navigate(cs.ConnectURL),
		chromedp.WaitVisible(ID("connect")),
	))
	intro, err := chromedp.Run(ctx, chromedp.Text(ID("link")))
	must(t, err)
	for _, want := range []string{"Acme Scheduling", "Zoom Admin", "administrator"} {
		if !strings.Contains(intro, want) {
			t.Errorf("connect page lacks %q:\n%s", want, intro)
		}
	}

	must(t, chromedp.Do(ctx,
		chromedp.Click(ID("connect")),
		chromedp.WaitVisible(ID("allow")),
		chromedp.Click(ID("allow")),
		chromedp.WaitVisible(ID("landed")),
	))
	landed, err := chromedp.Run(ctx, chromedp.Text(ID("landed")))
	must(t, err)
	u, err := url.Parse(landed)
	must(t, err)
	id := u.Query().Get("account_id")
	if u.Path != "/zoom/done" || id == "" {
		t.Fatalf("browser landed on %q; want /zoom/done with account_id", landed)
	}
	a, err := e.store.GetAccount(context.Background(), id)
	must(t, err)
	if len(a.Owners) != 1 || a.Owners[0] != "customer-9" || a.App != store.AppZoomAdmin {
		t.Errorf("account %s: app %s, owners %q; want zoom_admin owned by customer-9", id, a.App, a.Owners)
	}
}

func TestBrowserConnectLinkPopup(t *testing.T) {
	e := newEnv(t)
	_, cs, raw := e.newSession(store.AppZoom, "customer-popup", `, "display": "popup"`)
	if cs.ConnectURL == "" {
		t.Fatalf("create session: %s", raw)
	}
	ctx := newBrowser(t)
	ID := func(id string) chromedp.ID { return chromedp.ID(id) }

	opener := e.app.URL + "/opener?link=" + url.QueryEscape(cs.ConnectURL)
	must(t, chromedp.Do(ctx, chromedp.Navigate(opener), chromedp.WaitVisible(ID("open"))))

	popupID := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return strings.Contains(info.URL, "/connect") })
	must(t, chromedp.Do(ctx, chromedp.Click(ID("open"))))
	var id target.ID
	select {
	case id = <-popupID:
	case <-time.After(30 * time.Second):
		t.Fatal("the opener did not open a popup within 30s")
	}
	popup, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancel()
	must(t, chromedp.Do(popup,
		chromedp.WaitVisible(ID("connect")),
		chromedp.Click(ID("connect")),
		chromedp.WaitVisible(ID("allow")),
		chromedp.Click(ID("allow")),
	))

	// The popup posts the result to the opener and closes itself.
	must(t, chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("message").textContent.length > 0`)))
	message, err := chromedp.Run(ctx, chromedp.Text(ID("message")))
	must(t, err)
	origin, body, _ := strings.Cut(message, " ")
	if origin != e.broker.URL {
		t.Errorf("message origin = %q; want the broker %q", origin, e.broker.URL)
	}
	var got struct {
		Type      string `json:"type"`
		Status    string `json:"status"`
		AccountID string `json:"account_id"`
	}
	must(t, json.Unmarshal([]byte(body), &got))
	if got.Type != "zoombroker.connect" || got.Status != "success" || got.AccountID == "" {
		t.Errorf("message = %+v; want a zoombroker.connect success with an account id", got)
	}
	a, err := e.store.GetAccount(context.Background(), got.AccountID)
	must(t, err)
	if len(a.Owners) != 1 || a.Owners[0] != "customer-popup" {
		t.Errorf("popup account owners = %q; want [customer-popup]", a.Owners)
	}
}
