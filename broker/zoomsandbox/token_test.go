package zoomsandbox_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

func TestCodeFlow(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)

	if tok.TokenType != "bearer" {
		t.Errorf("token_type = %q; want bearer", tok.TokenType)
	}
	if tok.ExpiresIn != 3599 {
		t.Errorf("expires_in = %d; want 3599", tok.ExpiresIn)
	}
	if want := "user:read:user meeting:read:meeting"; tok.Scope != want {
		t.Errorf("scope = %q; want %q", tok.Scope, want)
	}
	if tok.APIURL != e.srv.URL {
		t.Errorf("api_url = %q; want %q", tok.APIURL, e.srv.URL)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.AccessToken == tok.RefreshToken {
		t.Errorf("tokens are empty or equal; want two distinct tokens")
	}
	if got := e.sb.ExchangeCount(); got != 1 {
		t.Errorf("ExchangeCount() = %d; want 1", got)
	}
	if !e.sb.LiveGrant(userClientID, plainUser) {
		t.Errorf("LiveGrant(user app, %s) = false; want true", plainUser)
	}

	resp := e.api(t, http.MethodGet, "/v2/users/me", tok.AccessToken, "")
	if resp.status != http.StatusOK {
		t.Fatalf("GET /v2/users/me status = %d (%s); want 200", resp.status, resp.body)
	}
	var me map[string]any
	if err := json.Unmarshal([]byte(resp.body), &me); err != nil {
		t.Fatalf("decode users/me: %v", err)
	}
	if me["id"] != plainUser {
		t.Errorf("users/me id = %v; want %s", me["id"], plainUser)
	}
	if me["account_id"] != zoomsandbox.DefaultAccountID {
		t.Errorf("users/me account_id = %v; want %s", me["account_id"], zoomsandbox.DefaultAccountID)
	}
}

func TestTokenShape(t *testing.T) {
	e := newEnv(t)
	first := e.connect(t, userClientID, plainUser)
	second := e.connect(t, userClientID, adminUser)

	seen := map[string]bool{}
	for _, tok := range []string{first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken} {
		if seen[tok] {
			t.Errorf("a token was issued twice")
		}
		seen[tok] = true

		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("token has %d dot-separated parts; want 3", len(parts))
		}
		header, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			t.Fatalf("decode token header: %v", err)
		}
		if want := `{"alg":"HS512","v":"2.0"}`; string(header) != want {
			t.Errorf("token header = %s; want %s", header, want)
		}
		var claims map[string]any
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatalf("decode token payload: %v", err)
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Errorf("token payload is not JSON: %v", err)
		}
		if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
			t.Errorf("decode token signature: %v", err)
		}
	}
}

func TestExchangeRejects(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		// setup returns the client, its secret, where the credentials go and
		// the form.
		setup func(t *testing.T) (clientID, secret string, style authStyle, form url.Values)
		want  string
	}{
		{
			name: "reused code",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, verifier := e.authorize(t, userClientID, plainUser)
				e.exchange(t, userClientID, code, verifier)
				return userClientID, userSecret, authBasic, codeForm(code, redirectURI, verifier)
			},
			want: `{"reason":"Invalid authorization code","error":"invalid_grant"}`,
		},
		{
			name: "unknown code",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				return userClientID, userSecret, authBasic, codeForm("made-up", redirectURI, "v")
			},
			want: `{"reason":"Invalid authorization code","error":"invalid_grant"}`,
		},
		{
			name: "code of another client",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, verifier := e.authorize(t, adminClientID, adminUser)
				return userClientID, userSecret, authBasic, codeForm(code, redirectURI, verifier)
			},
			want: `{"reason":"Invalid authorization code","error":"invalid_grant"}`,
		},
		{
			name: "expired code",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, verifier := e.authorize(t, userClientID, plainUser)
				e.clock.Advance(5*time.Minute + time.Second)
				return userClientID, userSecret, authBasic, codeForm(code, redirectURI, verifier)
			},
			want: `{"reason":"Code is expired","error":"invalid_grant"}`,
		},
		{
			name: "wrong redirect",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, verifier := e.authorize(t, userClientID, plainUser)
				return userClientID, userSecret, authBasic, codeForm(code, "http://127.0.0.1:9/other", verifier)
			},
			want: `{"reason":"Redirect URI mismatch.","error":"invalid_request"}`,
		},
		{
			name: "missing redirect",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, verifier := e.authorize(t, userClientID, plainUser)
				return userClientID, userSecret, authBasic, codeForm(code, "", verifier)
			},
			want: `{"reason":"Redirect URI mismatch.","error":"invalid_request"}`,
		},
		{
			name: "wrong verifier",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, _ := e.authorize(t, userClientID, plainUser)
				return userClientID, userSecret, authBasic, codeForm(code, redirectURI, strings.Repeat("x", 43))
			},
			want: `{"reason":"Invalid code_verifier","error":"invalid_grant"}`,
		},
		{
			name: "missing verifier",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, _ := e.authorize(t, userClientID, plainUser)
				return userClientID, userSecret, authBasic, codeForm(code, redirectURI, "")
			},
			want: `{"reason":"Invalid code_verifier","error":"invalid_grant"}`,
		},
		{
			name: "bad secret in header",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, verifier := e.authorize(t, userClientID, plainUser)
				return userClientID, "wrong", authBasic, codeForm(code, redirectURI, verifier)
			},
			want: `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`,
		},
		{
			name: "bad secret in body",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				code, verifier := e.authorize(t, userClientID, plainUser)
				return userClientID, "wrong", authBody, codeForm(code, redirectURI, verifier)
			},
			want: `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`,
		},
		{
			name: "unknown client",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				return "nope", userSecret, authBasic, codeForm("c", redirectURI, "v")
			},
			want: `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`,
		},
		{
			name: "no credentials",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				return userClientID, userSecret, authNone, codeForm("c", redirectURI, "v")
			},
			want: `{"reason":"Client ID or client secret is missing","error":"invalid_request"}`,
		},
		{
			name: "unsupported grant",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				return userClientID, userSecret, authBasic, url.Values{"grant_type": {"client_credentials"}}
			},
			want: `{"reason":"unsupported grant type","error":"unsupported_grant_type"}`,
		},
		{
			name: "missing grant",
			setup: func(t *testing.T) (string, string, authStyle, url.Values) {
				return userClientID, userSecret, authBasic, url.Values{}
			},
			want: `{"reason":"unsupported grant type","error":"unsupported_grant_type"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clientID, secret, style, form := tt.setup(t)
			resp := e.postToken(t, clientID, secret, style, form)
			if resp.status != http.StatusBadRequest {
				t.Errorf("POST token status = %d; want 400", resp.status)
			}
			if resp.body != tt.want {
				t.Errorf("POST token body = %s; want %s", resp.body, tt.want)
			}
		})
	}
}

func codeForm(code, redirect, verifier string) url.Values {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if redirect != "" {
		form.Set("redirect_uri", redirect)
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return form
}

func TestClientAuthStyles(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		style authStyle
	}{
		{"basic header", authBasic},
		{"form body", authBody},
		{"query string", authQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, verifier := e.authorize(t, userClientID, plainUser)
			resp := e.postToken(t, userClientID, userSecret, tt.style, codeForm(code, redirectURI, verifier))
			tok := decodeTokens(t, resp)

			resp = e.postToken(t, userClientID, userSecret, tt.style, url.Values{
				"grant_type":    {"refresh_token"},
				"refresh_token": {tok.RefreshToken},
			})
			decodeTokens(t, resp)
		})
	}
}

func TestPKCEPlainDefault(t *testing.T) {
	e := newEnv(t)
	verifier := strings.Repeat("v", 43)
	u := e.authorizeURL(userClientID, url.Values{"code_challenge": {verifier}})
	loc, err := e.sb.Approve(context.Background(), e.srv.Client(), u, plainUser)
	if err != nil {
		t.Fatalf("Approve error: %v", err)
	}
	e.exchange(t, userClientID, loc.Query().Get("code"), verifier)
}

func TestWithoutPKCE(t *testing.T) {
	e := newEnv(t)
	loc, err := e.sb.Approve(context.Background(), e.srv.Client(), e.authorizeURL(userClientID, nil), plainUser)
	if err != nil {
		t.Fatalf("Approve error: %v", err)
	}
	resp := e.postToken(t, userClientID, userSecret, authBasic, codeForm(loc.Query().Get("code"), redirectURI, ""))
	decodeTokens(t, resp)
}

func TestTokenResponseHeaders(t *testing.T) {
	e := newEnv(t)
	code, verifier := e.authorize(t, userClientID, plainUser)
	resp := e.postToken(t, userClientID, userSecret, authBasic, codeForm(code, redirectURI, verifier))
	if got := resp.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", got)
	}
	if got := resp.header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type = %q; want application/json", got)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/zoom/", http.StripPrefix("/zoom", e.sb.Handler()))
	srv := httptestServer(t, mux)
	mounted := &env{sb: e.sb, srv: srv, clock: e.clock}

	u := srv.URL + "/zoom/oauth/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {userClientID}, "redirect_uri": {redirectURI},
	}.Encode()
	loc, err := e.sb.Approve(context.Background(), srv.Client(), u, plainUser)
	if err != nil {
		t.Fatalf("Approve under /zoom error: %v", err)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/zoom/oauth/token",
		strings.NewReader(codeForm(loc.Query().Get("code"), redirectURI, "").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(userClientID, userSecret)
	tok := decodeTokens(t, mounted.do(t, req))
	if want := srv.URL + "/zoom"; tok.APIURL != want {
		t.Errorf("api_url = %q; want %q", tok.APIURL, want)
	}

	if resp := mounted.api(t, http.MethodGet, "/zoom/v2/users/me", tok.AccessToken, ""); resp.status != http.StatusOK {
		t.Errorf("GET /zoom/v2/users/me status = %d; want 200", resp.status)
	}
}
