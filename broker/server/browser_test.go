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

	// Watch the console's responses for the security headers and cookies.
	headers := map[string]network.Headers{}
	chromedp.ListenTarget(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && strings.HasPrefix(r.Response.URL, e.broker.URL) {
			headers[strings.TrimPrefix(r.Response.URL, e.broker.URL)] = r.Response.Headers
		}
	})

	var sandboxLabel string
	must(t, chromedp.Run(ctx,
		network.Enable(),
		chromedp.Navigate(e.broker.URL+"/accounts"),
		chromedp.WaitVisible(`#name`, chromedp.ByID),
		chromedp.SendKeys(`#name`, operatorName, chromedp.ByID),
		chromedp.SendKeys(`#password`, operatorPass, chromedp.ByID),
		chromedp.Click(`#signin`, chromedp.ByID),
		chromedp.WaitVisible(`#connect-zoom`, chromedp.ByID),
		chromedp.Text(`#sandbox-label`, &sandboxLabel, chromedp.ByID),
	))
	if !strings.Contains(sandboxLabel, "sandbox") {
		t.Errorf("console does not label the sandbox: %q", sandboxLabel)
	}

	for _, app := range []string{"zoom", "zoom_admin"} {
		must(t, chromedp.Run(ctx,
			chromedp.Navigate(e.broker.URL+"/accounts"),
			chromedp.WaitVisible(`#connect-`+app, chromedp.ByID),
			chromedp.Click(`#connect-`+app, chromedp.ByID),
			chromedp.WaitVisible(`#allow`, chromedp.ByID),
			chromedp.Click(`#allow`, chromedp.ByID),
			chromedp.WaitVisible(`#status`, chromedp.ByID),
		))
	}

	var table string
	must(t, chromedp.Run(ctx,
		chromedp.Navigate(e.broker.URL+"/accounts"),
		chromedp.WaitVisible(`#accounts`, chromedp.ByID),
		chromedp.Text(`#accounts`, &table, chromedp.ByID),
	))
	for _, want := range []string{"Zoom Admin", "dev.admin@example.com", "active", "user:read:admin"} {
		if !strings.Contains(table, want) {
			t.Errorf("account list lacks %q:\n%s", want, table)
		}
	}
	if n := e.accountCount(); n != 2 {
		t.Fatalf("accounts after two connects = %d; want 2", n)
	}

	var status string
	must(t, chromedp.Run(ctx,
		chromedp.Click(`#accounts tbody tr:first-child a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#revoke`, chromedp.ByID),
		chromedp.Click(`#revoke`, chromedp.ByID),
		chromedp.WaitVisible(`#confirm-revoke`, chromedp.ByID),
		chromedp.Click(`#confirm-revoke`, chromedp.ByID),
		chromedp.WaitVisible(`#status`, chromedp.ByID),
		chromedp.Text(`#status`, &status, chromedp.ByID),
	))
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

	checkSecurityHeaders(t, headers["/accounts"])
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
