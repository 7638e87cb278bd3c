package zoomsandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

func TestAuthorizeRejects(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		clientID string
		extra    url.Values
		message  string
	}{
		{"unknown client", "nope", nil, "Invalid client_id"},
		{"unregistered redirect", userClientID, url.Values{"redirect_uri": {"http://127.0.0.1:9/other"}}, "Invalid redirect url"},
		{"redirect case differs", userClientID, url.Values{"redirect_uri": {strings.ToUpper(redirectURI)}}, "Invalid redirect url"},
		{"missing redirect", userClientID, url.Values{"redirect_uri": {""}}, "Invalid redirect url"},
		{"missing response_type", userClientID, url.Values{"response_type": {""}}, "Invalid response_type"},
		{"token response_type", userClientID, url.Values{"response_type": {"token"}}, "Invalid response_type"},
		{"bad challenge method", userClientID, url.Values{"code_challenge": {"abc"}, "code_challenge_method": {"S512"}}, "Invalid code_challenge_method"},
		{"method without challenge", userClientID, url.Values{"code_challenge_method": {"S256"}}, "Missing code_challenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.authorizeURL(tt.clientID, tt.extra), nil)
			resp := e.do(t, req)
			if resp.status != http.StatusBadRequest {
				t.Errorf("GET authorize status = %d; want 400", resp.status)
			}
			if loc := resp.header.Get("Location"); loc != "" {
				t.Errorf("GET authorize Location = %q; want none", loc)
			}
			want := `{"status":false,"errorCode":4700,"errorMessage":"` + tt.message + `","result":null}`
			if resp.body != want {
				t.Errorf("GET authorize body = %s; want %s", resp.body, want)
			}
		})
	}
}

func TestAuthorizeAnyRedirect(t *testing.T) {
	e := newEnv(t, func(o *zoomsandbox.Options) {
		o.Apps[0].RedirectURIs = nil
	})
	tests := []struct {
		name     string
		redirect string
		wantOK   bool
	}{
		{"http", "http://localhost:8080/cb", true},
		{"https with query", "https://app.example/cb?x=1", true},
		{"ftp", "ftp://app.example/cb", false},
		{"relative", "/cb", false},
		{"fragment", "https://app.example/cb#frag", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := e.authorizeURL(userClientID, url.Values{"redirect_uri": {tt.redirect}})
			loc, err := e.sb.Approve(context.Background(), e.srv.Client(), u, plainUser)
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("Approve(redirect %q) error = %v; want success %t", tt.redirect, err, tt.wantOK)
			}
			if !tt.wantOK {
				return
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; !strings.HasPrefix(tt.redirect, got) {
				t.Errorf("Approve(redirect %q) Location = %s; want the redirect URI", tt.redirect, got)
			}
			if tt.redirect == "https://app.example/cb?x=1" && loc.Query().Get("x") != "1" {
				t.Errorf("Approve(redirect %q) Location query = %v; want x=1 kept", tt.redirect, loc.Query())
			}
		})
	}
}

func TestApproveRedirect(t *testing.T) {
	e := newEnv(t)
	loc, err := e.sb.Approve(context.Background(), e.srv.Client(), e.authorizeURL(userClientID, nil), plainUser)
	if err != nil {
		t.Fatalf("Approve error: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Errorf("Approve Location = %s; want %s", got, redirectURI)
	}
	if got := loc.Query().Get("state"); got != "state-123" {
		t.Errorf("Approve Location state = %q; want %q", got, "state-123")
	}
	if got := loc.Query().Get("code"); len(got) < 20 {
		t.Errorf("Approve Location code = %q; want a long random code", got)
	}
}

func TestApproveWithoutState(t *testing.T) {
	e := newEnv(t)
	loc, err := e.sb.Approve(context.Background(), e.srv.Client(), e.authorizeURL(userClientID, url.Values{"state": {""}}), plainUser)
	if err != nil {
		t.Fatalf("Approve error: %v", err)
	}
	if _, ok := loc.Query()["state"]; ok {
		t.Errorf("Approve Location query = %v; want no state", loc.Query())
	}
}

func TestDecline(t *testing.T) {
	e := newEnv(t)
	loc, err := e.sb.Decline(context.Background(), e.srv.Client(), e.authorizeURL(userClientID, nil))
	if err != nil {
		t.Fatalf("Decline error: %v", err)
	}
	if got := loc.Query().Get("error"); got != "access_denied" {
		t.Errorf("Decline Location error = %q; want access_denied", got)
	}
	if got := loc.Query().Get("state"); got != "state-123" {
		t.Errorf("Decline Location state = %q; want state-123", got)
	}
	if got := loc.Query().Get("code"); got != "" {
		t.Errorf("Decline Location code = %q; want none", got)
	}
}

func TestAdminAppNonAdmin(t *testing.T) {
	e := newEnv(t)
	_, err := e.sb.Approve(context.Background(), e.srv.Client(), e.authorizeURL(adminClientID, nil), plainUser)
	var ce *zoomsandbox.ConsentError
	if !errors.As(err, &ce) {
		t.Fatalf("Approve(admin app, normal user) error = %v; want a *ConsentError", err)
	}
	if ce.StatusCode != http.StatusForbidden {
		t.Errorf("Approve(admin app, normal user) status = %d; want 403", ce.StatusCode)
	}
	if !strings.Contains(ce.Message, "account-level") {
		t.Errorf("Approve(admin app, normal user) message = %q; want it to explain account-level apps", ce.Message)
	}
	if got := e.sb.ExchangeCount(); got != 0 {
		t.Errorf("ExchangeCount() = %d; want 0", got)
	}

	if _, err := e.sb.Approve(context.Background(), e.srv.Client(), e.authorizeURL(adminClientID, nil), adminUser); err != nil {
		t.Errorf("Approve(admin app, admin) error = %v; want success", err)
	}
}

// consentPage returns the consent page for clientID.
func consentPage(t *testing.T, e *env, clientID string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.authorizeURL(clientID, nil), nil)
	resp := e.do(t, req)
	if resp.status != http.StatusOK {
		t.Fatalf("GET authorize status = %d (%s); want 200", resp.status, resp.body)
	}
	return resp.body
}

func TestConsentPage(t *testing.T) {
	e := newEnv(t)
	page := consentPage(t, e, adminClientID)
	for _, want := range []string{
		`id="allow"`,
		`id="decline"`,
		`<select name="user"`,
		`value="` + adminUser + `"`,
		`value="` + plainUser + `"`,
		"Zoom Admin",
		"account-level app",
		"user:read:user:admin",
		`name="form_token"`,
		`name="state" value="state-123"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page does not contain %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Errorf("consent page contains a <script> element; want none")
	}
	if strings.Contains(page, adminSecret) {
		t.Errorf("consent page contains the client secret")
	}
}

func TestConsentPageHeaders(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.authorizeURL(userClientID, nil), nil)
	resp := e.do(t, req)
	if got := resp.header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q; want default-src 'none'", got)
	}
	if got := resp.header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q; want DENY", got)
	}
	if got := resp.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q; want text/html; charset=utf-8", got)
	}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consentForm returns the hidden fields of a fresh consent page for the
// user app, with Allow chosen for the normal user.
func consentForm(t *testing.T, e *env) url.Values {
	t.Helper()
	form := url.Values{"action": {"allow"}, "user": {plainUser}}
	for _, m := range hiddenInput.FindAllStringSubmatch(consentPage(t, e, userClientID), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("form_token") == "" {
		t.Fatalf("consent page has no form_token field")
	}
	return form
}

func (e *env) postConsent(t *testing.T, form url.Values) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST authorize error: %v", err)
	}
	resp.Body.Close()
	return response{status: resp.StatusCode, header: resp.Header}
}

func TestConsentForged(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		change func(t *testing.T, form url.Values)
	}{
		{"no form token", func(t *testing.T, form url.Values) { form.Del("form_token") }},
		{"made-up form token", func(t *testing.T, form url.Values) { form.Set("form_token", "forged") }},
		{"used form token", func(t *testing.T, form url.Values) {
			if resp := e.postConsent(t, form); resp.status != http.StatusFound {
				t.Fatalf("first POST authorize status = %d; want 302", resp.status)
			}
		}},
		{"changed redirect", func(t *testing.T, form url.Values) { form.Set("redirect_uri", "http://evil.example/cb") }},
		{"changed state", func(t *testing.T, form url.Values) { form.Set("state", "other") }},
		{"unknown user", func(t *testing.T, form url.Values) { form.Set("user", "nobody") }},
		{"no action", func(t *testing.T, form url.Values) { form.Del("action") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := consentForm(t, e)
			tt.change(t, form)
			resp := e.postConsent(t, form)
			if resp.status != http.StatusBadRequest {
				t.Errorf("POST authorize status = %d; want 400", resp.status)
			}
			if loc := resp.header.Get("Location"); loc != "" {
				t.Errorf("POST authorize Location = %q; want none", loc)
			}
		})
	}
}

func TestConsentFormExpires(t *testing.T) {
	e := newEnv(t)
	form := consentForm(t, e)
	e.clock.Advance(16 * time.Minute) // past the 15 minutes a form lives
	if resp := e.postConsent(t, form); resp.status != http.StatusBadRequest {
		t.Errorf("POST authorize with an old form status = %d; want 400", resp.status)
	}
}

func TestIndexPage(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
	resp := e.do(t, req)
	if resp.status != http.StatusOK {
		t.Fatalf("GET / status = %d; want 200", resp.status)
	}
	for _, want := range []string{userClientID, adminClientID, "/oauth/token", adminUser} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("GET / body does not contain %q", want)
		}
	}
	for _, secret := range []string{userSecret, adminSecret} {
		if strings.Contains(resp.body, secret) {
			t.Errorf("GET / body contains a client secret")
		}
	}
}

func TestAuthorizeErrorIsJSON(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.authorizeURL("nope", nil), nil)
	resp := e.do(t, req)
	var v map[string]any
	if err := json.Unmarshal([]byte(resp.body), &v); err != nil {
		t.Errorf("authorize error body is not JSON: %v", err)
	}
	if got := resp.header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("authorize error Content-Type = %q; want application/json", got)
	}
}
