package server_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// newBrowser starts a headless Chromium from the system's packages. The
// test is skipped when Chromium is missing, unless
// ZOOMBROKER_REQUIRE_BROWSER=1 (as in CI), where it fails.
func newBrowser(t *testing.T) context.Context {
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
