package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// headerValue returns a response header that Chromium recorded.
func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// TestBrowserHTTPSHeadersAndCookies signs in with Chromium over HTTPS and
// checks what the browser receives: the security headers of every page kind,
// the flags of the session and CSRF cookies, that no page runs inline
// script, that a foreign return-to address stays on the broker, and that
// signing out ends the session.
func TestBrowserHTTPSHeadersAndCookies(t *testing.T) {
	e := newEnv(t, withTLS(nil))
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	ID := func(id string) chromedp.ID { return chromedp.ID(id) }

	signInPage, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.broker.URL+"/signin?next="+url.QueryEscape("//evil.example/x")))
	must(t, err)
	must(t, chromedp.Do(ctx,
		chromedp.WaitVisible(ID("name")),
		chromedp.SendKeys(ID("name"), operatorName),
		chromedp.SendKeys(ID("password"), operatorPass),
		chromedp.Click(ID("signin")),
		chromedp.WaitVisible(ID("connect-zoom")),
	))
	landed, err := chromedp.Run(ctx, chromedp.Location())
	must(t, err)
	if landed != e.broker.URL+"/accounts" {
		t.Errorf("after sign-in with next=//evil.example/x the browser is at %q; want %s/accounts", landed, e.broker.URL)
	}

	accounts, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.broker.URL+"/accounts"))
	must(t, err)
	keysPage, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.broker.URL+"/keys"))
	must(t, err)
	for name, resp := range map[string]*network.Response{"/signin": signInPage, "/accounts": accounts, "/keys": keysPage} {
		t.Run("headers "+name, func(t *testing.T) {
			checkSecurityHeaders(t, resp.Headers)
			csp := headerValue(resp.Headers, "Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") && !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy = %q; want default-src 'none' and no script source but our own", csp)
			}
			if hsts := headerValue(resp.Headers, "Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
				t.Errorf("Strict-Transport-Security over HTTPS = %q; want max-age=...", hsts)
			}
		})
	}

	inline, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script:not([src])").length + document.querySelectorAll("[onclick],[onload],[onsubmit]").length`))
	must(t, err)
	if inline != 0 {
		t.Errorf("the keys page has %d inline scripts or handlers; want 0", inline)
	}

	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.broker.URL + "/"}})
	must(t, err)
	seen := map[string]bool{}
	for _, ck := range cookies.Cookies {
		if ck.Name != "zb_session" && ck.Name != "zb_csrf" {
			continue
		}
		seen[ck.Name] = true
		if !ck.HTTPOnly {
			t.Errorf("cookie %s is not HttpOnly", ck.Name)
		}
		if !ck.Secure {
			t.Errorf("cookie %s is not Secure although the base URL is https", ck.Name)
		}
		if ck.SameSite != network.CookieSameSiteLax {
			t.Errorf("cookie %s SameSite = %q; want Lax", ck.Name, ck.SameSite)
		}
	}
	// A browser that sends Sec-Fetch-Site gets no zb_csrf cookie: echo's
	// CSRF check then relies on that header. TestCookieFlagsOverHTTPS
	// checks the cookie's flags for clients without it.
	if !seen["zb_session"] {
		t.Errorf("the browser has no zb_session cookie")
	}

	must(t, chromedp.Do(ctx,
		chromedp.Navigate(e.broker.URL+"/accounts"),
		chromedp.WaitVisible(chromedp.CSS("form[action='/signout'] button")),
		chromedp.Click(chromedp.CSS("form[action='/signout'] button")),
		chromedp.WaitVisible(ID("signin")),
		chromedp.Navigate(e.broker.URL+"/keys"),
		chromedp.WaitVisible(ID("signin")),
	))
}

// TestNoHSTSOverHTTP checks that plain HTTP gets every header but HSTS,
// which a browser would ignore there anyway.
func TestNoHSTSOverHTTP(t *testing.T) {
	e := newEnv(t)
	resp, err := e.browser().Get(e.broker.URL + "/signin")
	must(t, err)
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security over HTTP = %q; want none", got)
	}
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s = %q; want %q", name, got, want)
		}
	}
	for _, ck := range resp.Cookies() {
		if ck.Secure {
			t.Errorf("cookie %s is Secure over an http base URL; the browser would drop it", ck.Name)
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /signin = %d; want 200", resp.StatusCode)
	}
}

// TestCookieFlagsOverHTTPS checks the Set-Cookie flags that a client
// without Sec-Fetch-Site gets: the CSRF cookie on the sign-in page, the
// session cookie on sign-in, and the cleared session on sign-out.
func TestCookieFlagsOverHTTPS(t *testing.T) {
	e := newEnv(t, withTLS(nil))
	c := e.browser()

	resp, err := c.Get(e.broker.URL + "/signin")
	must(t, err)
	resp.Body.Close()
	checkCookieFlags(t, resp, "zb_csrf")

	tok := e.csrf(c, "/signin")
	resp, err = c.PostForm(e.broker.URL+"/signin", url.Values{"_csrf": {tok}, "name": {operatorName}, "password": {operatorPass}})
	must(t, err)
	resp.Body.Close()
	checkCookieFlags(t, resp, "zb_session")

	tok = e.csrf(c, "/accounts")
	resp, err = c.PostForm(e.broker.URL+"/signout", url.Values{"_csrf": {tok}})
	must(t, err)
	resp.Body.Close()
	cleared := checkCookieFlags(t, resp, "zb_session")
	if cleared != nil && cleared.MaxAge >= 0 {
		t.Errorf("zb_session after sign-out has Max-Age %d; want it deleted", cleared.MaxAge)
	}
}

func checkCookieFlags(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name != name {
			continue
		}
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %s: HttpOnly %t, Secure %t, SameSite %v; want HttpOnly, Secure and Lax", name, ck.HttpOnly, ck.Secure, ck.SameSite)
		}
		return ck
	}
	t.Errorf("%s %s set no %s cookie", resp.Request.Method, resp.Request.URL.Path, name)
	return nil
}
