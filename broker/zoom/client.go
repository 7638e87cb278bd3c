package zoom

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// Paths below the OAuth and API base URLs.
const (
	AuthorizePath = "/oauth/authorize"
	TokenPath     = "/oauth/token"
	RevokePath    = "/oauth/revoke"
	UsersMePath   = "/v2/users/me"
)

// DefaultTimeout bounds every call to Zoom when Client.HTTP is nil.
const DefaultTimeout = 15 * time.Second

// maxBody caps how much of a Zoom response the client reads.
const maxBody = 1 << 20

// Credentials identify one Zoom app to Zoom.
type Credentials struct {
	ClientID     string
	ClientSecret secret.Secret
}

// Configured reports whether both the client id and the secret are set.
func (c Credentials) Configured() bool { return c.ClientID != "" && !c.ClientSecret.Empty() }

// Client calls Zoom's OAuth endpoints and REST API. It is safe for
// concurrent use.
type Client struct {
	// OAuthURL is the base of the authorize, token and revoke endpoints,
	// for example https://zoom.us.
	OAuthURL string

	// APIURL is the base of the REST API, for example https://api.zoom.us.
	APIURL string

	// HTTP sends every request. It must have a timeout; nil means a client
	// with DefaultTimeout.
	HTTP *http.Client

	// Now is the clock for absolute expiry times; nil means time.Now.
	Now func() time.Time
}

// Token is the result of a code exchange or a refresh.
type Token struct {
	AccessToken  secret.Secret
	RefreshToken secret.Secret

	// Expiry is the broker's clock at the response plus expires_in.
	Expiry time.Time

	// IssuedAt is the broker's clock when the response arrived.
	IssuedAt time.Time

	// Scopes are the granted scopes, split from Zoom's space-separated
	// scope string.
	Scopes []string
}

// User is the identity /v2/users/me returns.
type User struct {
	ID          string `json:"id"`
	AccountID   string `json:"account_id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
}

// Name returns the display name, or first and last name when Zoom sent no
// display name.
func (u User) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: DefaultTimeout}
}

func (c *Client) oauthConfig(cred Credentials, redirectURI string) *oauth2.Config {
	base := strings.TrimRight(c.OAuthURL, "/")
	return &oauth2.Config{
		ClientID:     cred.ClientID,
		ClientSecret: cred.ClientSecret.Reveal(),
		RedirectURL:  redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:  base + AuthorizePath,
			TokenURL: base + TokenPath,
			// Zoom documents HTTP Basic client authentication; never let
			// x/oauth2 guess, because a failed guess costs a second request.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// AuthorizeURL returns the consent URL the browser is sent to. No scope is
// sent: Zoom grants the scopes configured on the app. The PKCE challenge is
// S256 of verifier.
func (c *Client) AuthorizeURL(cred Credentials, redirectURI, state, verifier string) string {
	return c.oauthConfig(cred, redirectURI).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// S256Challenge returns the PKCE S256 challenge for verifier.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Exchange trades an authorization code for tokens. Errors are *Error.
func (c *Client) Exchange(ctx context.Context, cred Credentials, code, redirectURI, verifier string) (Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	tok, err := c.oauthConfig(cred, redirectURI).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Token{}, classifyTokenError("exchange code", err)
	}
	return c.convert(tok, "")
}

// Refresh redeems a refresh token. Zoom rotates the refresh token on every
// refresh, so the returned token's RefreshToken replaces the old one, which
// is dead from now on. Errors are *Error.
func (c *Client) Refresh(ctx context.Context, cred Credentials, refreshToken secret.Secret) (Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())

	// A source built from the refresh token alone has no access token, so
	// Token() refreshes exactly once. It is dropped afterwards: x/oauth2
	// would keep the rotated token only in memory.
	src := c.oauthConfig(cred, "").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken.Reveal()})
	tok, err := src.Token()
	if err != nil {
		return Token{}, classifyTokenError("refresh token", err)
	}
	return c.convert(tok, refreshToken.Reveal())
}

// convert builds a Token with expiry on the broker's clock. oldRefresh is the
// refresh token that was redeemed: x/oauth2 copies it into the result when
// the response carries none, and a response without a new refresh token is
// treated as malformed.
func (c *Client) convert(tok *oauth2.Token, oldRefresh string) (Token, error) {
	now := c.now().UTC()
	if tok.AccessToken == "" {
		return Token{}, &Error{Op: "parse token response", Kind: KindTransient, Code: "malformed_response", Reason: "response has no access_token"}
	}
	if tok.RefreshToken == "" || tok.RefreshToken == oldRefresh {
		return Token{}, &Error{Op: "parse token response", Kind: KindTransient, Code: "malformed_response", Reason: "response has no new refresh_token"}
	}

	expiresIn, ok := numberExtra(tok.Extra("expires_in"))
	if !ok || expiresIn <= 0 {
		return Token{}, &Error{Op: "parse token response", Kind: KindTransient, Code: "malformed_response", Reason: "response has no positive expires_in"}
	}

	var scopes []string
	if s, ok := tok.Extra("scope").(string); ok {
		scopes = strings.Fields(s)
	}

	// api_url may appear in the response. It is deliberately ignored: a
	// token is only ever sent to the configured API URL.
	return Token{
		AccessToken:  secret.Secret(tok.AccessToken),
		RefreshToken: secret.Secret(tok.RefreshToken),
		Expiry:       now.Add(time.Duration(expiresIn) * time.Second),
		IssuedAt:     now,
		Scopes:       scopes,
	}, nil
}

// numberExtra reads a JSON number that x/oauth2 decoded as float64 (JSON
// body) or string (form-encoded body).
func numberExtra(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		var i int64
		_, err := fmt.Sscan(n, &i)
		return i, err == nil
	}
	return 0, false
}

// Revoke revokes a grant at Zoom. Zoom revokes the whole grant, not only the
// token, and sends an app_deauthorized webhook afterwards. Zoom's response to
// an unknown token is not documented, so an invalid_* error code counts as
// "already revoked" and returns nil.
func (c *Client) Revoke(ctx context.Context, cred Credentials, token secret.Secret) error {
	form := url.Values{"token": {token.Reveal()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.OAuthURL, "/")+RevokePath, strings.NewReader(form.Encode()))
	if err != nil {
		return &Error{Op: "revoke", Kind: KindClient, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cred.ClientID), url.QueryEscape(cred.ClientSecret.Reveal()))

	resp, err := c.httpClient().Do(req)
	if err != nil {
		return networkError("revoke", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))

	if resp.StatusCode/100 == 2 {
		return nil
	}
	e := responseError("revoke", resp, body)
	if strings.HasPrefix(e.Code, "invalid_") && e.Code != "invalid_client" {
		return nil
	}
	return e
}

// Me returns the identity of the access token's user.
func (c *Client) Me(ctx context.Context, accessToken secret.Secret) (User, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.APIURL, "/")+UsersMePath, nil)
	if err != nil {
		return User{}, &Error{Op: "get users/me", Kind: KindClient, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken.Reveal())
	req.Header.Set("Accept", "application/json")

	resp, err := c.httpClient().Do(req)
	if err != nil {
		return User{}, networkError("get users/me", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))

	if resp.StatusCode != http.StatusOK {
		return User{}, responseError("get users/me", resp, body)
	}
	var u User
	if err := json.Unmarshal(body, &u); err != nil || u.ID == "" {
		return User{}, &Error{Op: "get users/me", Kind: KindTransient, Status: resp.StatusCode, Code: "malformed_response", Reason: "response is not a user object"}
	}
	return u, nil
}
