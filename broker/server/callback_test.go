package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// callbackPage follows the browser to the callback URL and returns the
// status and page.
func callbackPage(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

func TestBadCallbacksCreateNothing(t *testing.T) {
	tests := []struct {
		name string
		// callback returns the URL the browser is sent to, given a
		// started flow and the sandbox's approval redirect.
		callback func(e *env, c *http.Client, authorize string) string
		heading  string
	}{
		{
			name: "declined",
			callback: func(e *env, c *http.Client, authorize string) string {
				u, err := e.sandbox.Decline(context.Background(), c, authorize)
				must(e.t, err)
				return u.String()
			},
			heading: "Access was declined",
		},
		{
			name: "zoom error",
			callback: func(e *env, c *http.Client, authorize string) string {
				return e.broker.URL + "/oauth/callback?error=server_error&state=x"
			},
			heading: "Zoom returned an error",
		},
		{
			name: "missing state",
			callback: func(e *env, c *http.Client, authorize string) string {
				u := approve(e, c, authorize)
				q := u.Query()
				q.Del("state")
				u.RawQuery = q.Encode()
				return u.String()
			},
			heading: "The answer from Zoom does not match",
		},
		{
			name: "wrong state",
			callback: func(e *env, c *http.Client, authorize string) string {
				u := approve(e, c, authorize)
				q := u.Query()
				q.Set("state", "forged")
				u.RawQuery = q.Encode()
				return u.String()
			},
			heading: "The answer from Zoom does not match",
		},
		{
			name: "missing code",
			callback: func(e *env, c *http.Client, authorize string) string {
				u := approve(e, c, authorize)
				q := u.Query()
				q.Del("code")
				u.RawQuery = q.Encode()
				return u.String()
			},
			heading: "Zoom sent no authorization code",
		},
		{
			name: "expired state cookie",
			callback: func(e *env, c *http.Client, authorize string) string {
				u := approve(e, c, authorize)
				e.clock.Advance(11 * time.Minute)
				return u.String()
			},
			heading: "This connect attempt has expired",
		},
		{
			name: "other browser",
			callback: func(e *env, c *http.Client, authorize string) string {
				u := approve(e, c, authorize)
				c.Jar, _ = cookieJar()
				return u.String()
			},
			heading: "This connect attempt has expired",
		},
		{
			name: "expired code",
			callback: func(e *env, c *http.Client, authorize string) string {
				u := approve(e, c, authorize)
				// Codes live 5 minutes at Zoom, the state cookie 10.
				e.clock.Advance(6 * time.Minute)
				return u.String()
			},
			heading: "Zoom did not complete the connection",
		},
		{
			name: "duplicate parameter",
			callback: func(e *env, c *http.Client, authorize string) string {
				u := approve(e, c, authorize)
				return u.String() + "&code=again"
			},
			heading: "The answer from Zoom is not valid",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.browser()
			e.signIn(c)
			authorize := e.startConnect(c, store.AppZoom)
			exchangesBefore := e.sandbox.ExchangeCount()

			status, page := callbackPage(t, c, tc.callback(e, c, authorize))
			if status < 400 {
				t.Errorf("status = %d; want an error status", status)
			}
			if !strings.Contains(page, tc.heading) {
				t.Errorf("page does not say %q:\n%s", tc.heading, page)
			}
			if !strings.Contains(page, `id="start-again"`) {
				t.Errorf("page offers no way to start again")
			}
			if n := e.accountCount(); n != 0 {
				t.Errorf("accounts after a bad callback = %d; want 0", n)
			}
			for _, s := range e.sandbox.IssuedSecrets() {
				if strings.Contains(page, s) {
					t.Errorf("page shows a code or token")
				}
			}
			if tc.name != "expired code" && e.sandbox.ExchangeCount() != exchangesBefore {
				t.Errorf("a rejected callback still exchanged the code")
			}
		})
	}
}

func approve(e *env, c *http.Client, authorize string) *url.URL {
	e.t.Helper()
	u, err := e.sandbox.Approve(context.Background(), c, authorize, zoomsandbox.DefaultUserID)
	must(e.t, err)
	return u
}

func TestForgedCallbackKeepsRealOne(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	e.signIn(c)
	authorize := e.startConnect(c, store.AppZoom)
	real := approve(e, c, authorize)

	forged := *real
	q := forged.Query()
	q.Set("state", "forged")
	forged.RawQuery = q.Encode()
	if status, _ := callbackPage(t, c, forged.String()); status != http.StatusBadRequest {
		t.Errorf("forged callback: status %d; want 400", status)
	}

	resp, err := c.Get(real.String())
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/accounts/acc_") {
		t.Errorf("real callback after a forged one: status %d, Location %q; want 303 to the new account", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestReconnectAsOtherUserSaysSo(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)

	c := e.browser()
	e.signIn(c)
	tok := e.csrf(c, "/accounts/"+id)
	resp, err := c.PostForm(e.broker.URL+"/accounts/"+id+"/reconnect", url.Values{"_csrf": {tok}})
	must(t, err)
	resp.Body.Close()
	back, err := e.sandbox.Approve(context.Background(), c, resp.Header.Get("Location"), zoomsandbox.DefaultAdminUserID)
	must(t, err)
	resp, err = c.Get(back.String())
	must(t, err)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasSuffix(loc, "done=other_user") || strings.Contains(loc, id) {
		t.Errorf("reconnect as another user redirected to %q; want a new account with done=other_user", loc)
	}
}
