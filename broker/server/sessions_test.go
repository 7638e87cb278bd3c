package server_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/server"
)

// sessionCookie returns the browser's zb_session cookie value.
func (e *env) sessionCookie(c *http.Client) string {
	e.t.Helper()
	u, _ := url.Parse(e.broker.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "zb_session" {
			return ck.Value
		}
	}
	e.t.Fatal("the browser has no zb_session cookie")
	return ""
}

// getWithSession GETs path with only the given session cookie and returns
// the status.
func (e *env) getWithSession(path, session string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.broker.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "zb_session", Value: session})
	resp, err := e.browser().Do(req)
	must(e.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestSignOutEndsCopiedSessions(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	e.signIn(c)
	copied := e.sessionCookie(c)
	if status := e.getWithSession("/accounts", copied); status != http.StatusOK {
		t.Fatalf("GET /accounts with the session = %d; want 200", status)
	}

	tok := e.csrf(c, "/accounts")
	resp, err := c.PostForm(e.broker.URL+"/signout", url.Values{"_csrf": {tok}})
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("sign out = %d to %q; want 303 to /signin", resp.StatusCode, resp.Header.Get("Location"))
	}

	if status := e.getWithSession("/accounts", copied); status != http.StatusSeeOther {
		t.Errorf("GET /accounts with the signed-out session = %d; want 303 to sign-in", status)
	}
	e.signIn(c)
	if status := e.getWithSession("/accounts", e.sessionCookie(c)); status != http.StatusOK {
		t.Errorf("GET /accounts after signing in again = %d; want 200", status)
	}
}

func TestSessionExpires(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	e.signIn(c)
	session := e.sessionCookie(c)

	e.clock.Advance(11 * time.Hour)
	if status := e.getWithSession("/accounts", session); status != http.StatusOK {
		t.Errorf("GET /accounts after 11h = %d; want 200", status)
	}
	e.clock.Advance(time.Hour)
	if status := e.getWithSession("/accounts", session); status != http.StatusSeeOther {
		t.Errorf("GET /accounts after 12h = %d; want 303 to sign-in", status)
	}
}

func TestTrustedHeaderSignIn(t *testing.T) {
	trustLoopback := withConfig(func(e *env, cfg *server.Config) {
		cfg.Security.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		cfg.Security.TrustedHeader = "X-Forwarded-Email"
	})
	trustOther := withConfig(func(e *env, cfg *server.Config) {
		cfg.Security.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		cfg.Security.TrustedHeader = "X-Forwarded-Email"
	})

	get := func(e *env, c *http.Client, header string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.broker.URL+"/accounts", nil)
		if header != "" {
			req.Header.Set("X-Forwarded-Email", header)
		}
		resp, err := c.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp
	}

	t.Run("from a trusted proxy", func(t *testing.T) {
		var al *audit.Log
		e := newEnv(t, trustLoopback, withAudit(&al))
		c := e.browser()
		if resp := get(e, c, "sso.user@example.com"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /accounts with the header = %d; want 200", resp.StatusCode)
		}
		// The session cookie carries on without the header.
		if resp := get(e, c, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /accounts with the SSO session = %d; want 200", resp.StatusCode)
		}
		// Another user at the proxy replaces the session.
		get(e, c, "other.user@example.com")
		page := e.consolePage(c, "/accounts")
		if !strings.Contains(page, "other.user@example.com") {
			t.Errorf("console does not show the second SSO user as signed in")
		}
		signins := 0
		for _, en := range auditEntries(t, e, al) {
			if en.Action == audit.ActionSignIn && en.Outcome == audit.OutcomeOK && en.ActorType == audit.ActorOperator {
				signins++
			}
		}
		if signins != 2 {
			t.Errorf("SSO sign-ins audited = %d; want 2", signins)
		}
	})

	t.Run("from anywhere else", func(t *testing.T) {
		e := newEnv(t, trustOther)
		if resp := get(e, e.browser(), operatorName); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("GET /accounts with the header from an untrusted peer = %d; want 303 to sign-in", resp.StatusCode)
		}
		if !strings.Contains(e.logs.String(), "trusted header ignored") {
			t.Errorf("the ignored header is not logged")
		}
	})

	t.Run("bad values", func(t *testing.T) {
		e := newEnv(t, trustLoopback)
		for _, v := range []string{"two words", "tab\there", strings.Repeat("a", 255)} {
			if resp := get(e, e.browser(), v); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("GET /accounts with header %q = %d; want 303 to sign-in", v, resp.StatusCode)
			}
		}
	})

	t.Run("passwords still work", func(t *testing.T) {
		e := newEnv(t, trustLoopback)
		c := e.browser()
		e.signIn(c)
		if resp := get(e, c, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /accounts after password sign-in = %d; want 200", resp.StatusCode)
		}
	})
}
