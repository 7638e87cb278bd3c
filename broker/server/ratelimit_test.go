package server_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

func TestAPIFailuresRateLimited(t *testing.T) {
	var al *audit.Log
	e := newEnv(t, withAudit(&al), withFailureLimit(3, time.Minute))
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	bad := "zbk_key_aaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

	// Successes never count.
	for range 10 {
		if status, _ := e.token(id, ""); status != http.StatusOK {
			t.Fatalf("token with a good key = %d; want 200", status)
		}
	}
	for i := range 3 {
		if resp, _ := e.api(http.MethodGet, "/v1/apps", "", bad); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d; want 401", i+1, resp.StatusCode)
		}
	}

	resp, body := e.api(http.MethodGet, "/v1/apps", "", bad)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th failure = %d %s; want 429", resp.StatusCode, body)
	}
	if got := errorCode(body); got != "too_many_failures" {
		t.Errorf("error code = %q; want too_many_failures", got)
	}
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Errorf("Retry-After = %q; want 1 to 60 seconds", resp.Header.Get("Retry-After"))
	}

	// The address is blocked before its key is checked, good or not.
	if resp, _ := e.api(http.MethodGet, "/v1/apps", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("good key from a blocked address = %d; want 429", resp.StatusCode)
	}
	entries := auditEntries(t, e, al)
	if _, ok := findAudit(entries, audit.ActionAppList, resp.Header.Get("X-Request-Id")); !ok {
		t.Errorf("the 429 is not in the audit log")
	}

	// One failure's worth of time later, one more attempt is allowed.
	e.clock.Advance(time.Minute)
	if resp, _ := e.api(http.MethodGet, "/v1/apps", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("good key after the wait = %d; want 200", resp.StatusCode)
	}
}

func TestSignInRateLimited(t *testing.T) {
	e := newEnv(t, withFailureLimit(2, time.Minute))
	c := e.browser()
	post := func(password string) *http.Response {
		t.Helper()
		tok := e.csrf(c, "/signin")
		resp, err := c.PostForm(e.broker.URL+"/signin", url.Values{"_csrf": {tok}, "name": {operatorName}, "password": {password}})
		must(t, err)
		resp.Body.Close()
		return resp
	}

	for i := range 2 {
		if resp := post("not the password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d = %d; want 401", i+1, resp.StatusCode)
		}
	}
	resp := post(operatorPass)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password after 2 failures = %d; want 429", resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 has no Retry-After")
	}

	e.clock.Advance(time.Minute)
	if resp := post(operatorPass); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("right password after the wait = %d; want 303", resp.StatusCode)
	}
}

func TestTrustedProxyAddresses(t *testing.T) {
	tests := []struct {
		name    string
		proxies []netip.Prefix
		xff     string
		want    string
	}{
		{"no proxies ignores the header", nil, "203.0.113.9", "127.0.0.1"},
		{"trusted peer gives the client", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9", "203.0.113.9"},
		{"spoofed hop before the client", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"chain of trusted proxies", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}, "203.0.113.9, 10.1.2.3", "203.0.113.9"},
		{"private hop not configured", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9, 10.1.2.3", "10.1.2.3"},
		{"untrusted peer ignores the header", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, "203.0.113.9", "127.0.0.1"},
		{"garbage falls back to the peer", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "not-an-ip", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var al *audit.Log
			e := newEnv(t, withAudit(&al), withConfig(func(e *env, cfg *server.Config) { cfg.Security.TrustedProxies = tc.proxies }))
			req, _ := http.NewRequest(http.MethodGet, e.broker.URL+"/v1/apps", nil)
			req.Header.Set("X-Forwarded-For", tc.xff)
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()

			en, ok := findAudit(auditEntries(t, e, al), audit.ActionAppList, resp.Header.Get("X-Request-Id"))
			if !ok {
				t.Fatal("no audit entry for the refused request")
			}
			if en.RemoteAddr != tc.want {
				t.Errorf("client address with X-Forwarded-For %q = %q; want %q", tc.xff, en.RemoteAddr, tc.want)
			}
		})
	}
}
