package zoomsandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenError is Zoom's error body at /oauth/token and /oauth/revoke, always
// sent with HTTP 400: a human-readable reason and an OAuth error code, and
// no error_description.
type tokenError struct {
	Reason string `json:"reason"`
	Code   string `json:"error"`
}

// Token endpoint errors. The texts of errBadClient, errUnsupportedGrant,
// errInvalidCode and errInvalidToken are the ones seen on the wire from
// Zoom. The others use Zoom's documented messages (4706, 4709, 4733), but
// which error code Zoom pairs them with is an assumption.
var (
	errBadRequest       = &tokenError{Reason: "Bad request", Code: "invalid_request"}
	errMissingClient    = &tokenError{Reason: "Client ID or client secret is missing", Code: "invalid_request"}
	errBadClient        = &tokenError{Reason: "Invalid client_id or client_secret", Code: "invalid_client"}
	errUnsupportedGrant = &tokenError{Reason: "unsupported grant type", Code: "unsupported_grant_type"}
	errInvalidCode      = &tokenError{Reason: "Invalid authorization code", Code: "invalid_grant"}
	errExpiredCode      = &tokenError{Reason: "Code is expired", Code: "invalid_grant"}
	errRedirectMismatch = &tokenError{Reason: "Redirect URI mismatch.", Code: "invalid_request"}
	errBadVerifier      = &tokenError{Reason: "Invalid code_verifier", Code: "invalid_grant"}
	errInvalidToken     = &tokenError{Reason: "Invalid Token!", Code: "invalid_grant"}
)

// tokenResponse is the body of a successful token request.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	APIURL       string `json:"api_url"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Sandbox) writeTokenError(w http.ResponseWriter, grantType string, e *tokenError) {
	s.log.Info("zoom sandbox: token request rejected", "grant_type", grantType, "error", e.Code, "reason", e.Reason)
	writeJSON(w, http.StatusBadRequest, e)
}

// handleToken serves both grants. Parameters may come in the form body or
// the query string, and client credentials in a Basic header or as
// parameters, as Zoom accepts all of them.
func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.writeTokenError(w, "", errBadRequest)
		return
	}
	grantType := r.Form.Get("grant_type")

	latency := s.countTokenRequest(grantType)
	if !sleepContext(r.Context(), latency) {
		return // the client went away
	}
	if s.writeRateLimited(w) {
		return
	}
	if grantType == "refresh_token" && s.writeInjectedFailure(w) {
		return
	}

	app, err := s.authenticateClient(r)
	if err != nil {
		s.writeTokenError(w, grantType, err)
		return
	}

	var (
		resp tokenResponse
		drop bool
	)
	switch grantType {
	case "authorization_code":
		resp, err = s.exchangeCode(app, r.Form)
	case "refresh_token":
		resp, drop, err = s.refreshGrant(app, r.Form)
	default:
		err = errUnsupportedGrant
	}
	if err != nil {
		s.writeTokenError(w, grantType, err)
		return
	}
	if drop {
		s.log.Info("zoom sandbox: dropping refresh response on request", "client_id", app.ClientID)
		abortConnection(w)
		return
	}

	resp.APIURL = baseURL(r)
	writeJSON(w, http.StatusOK, resp)
}

// authenticateClient returns the app whose credentials the request carries.
func (s *Sandbox) authenticateClient(r *http.Request) (App, *tokenError) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id == "" || secret == "" {
		return App{}, errMissingClient
	}

	// RFC 6749 form-encodes credentials before Basic encoding them (and
	// x/oauth2 does), while many clients send them raw. Accept both.
	app, ok := s.apps[id]
	if !ok && basic {
		app, ok = s.apps[unescape(id)]
	}
	if !ok || app.ClientSecret.Empty() {
		return App{}, errBadClient
	}
	want := []byte(app.ClientSecret.Reveal())
	if subtle.ConstantTimeCompare([]byte(secret), want) == 1 {
		return app, nil
	}
	if basic && subtle.ConstantTimeCompare([]byte(unescape(secret)), want) == 1 {
		return app, nil
	}
	return App{}, errBadClient
}

func unescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// exchangeCode redeems an authorization code. A code is spent by the first
// request that presents it for its own client, whether or not the rest of
// that request is valid. The new grant replaces the app's earlier grant for
// the same user, or for the same account when the app is account-level.
func (s *Sandbox) exchangeCode(app App, form url.Values) (tokenResponse, *tokenError) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()

	code := s.codes[form.Get("code")]
	if code == nil || code.used || code.req.ClientID != app.ClientID {
		return tokenResponse{}, errInvalidCode
	}
	code.used = true
	if !now.Before(code.expires) {
		return tokenResponse{}, errExpiredCode
	}
	if form.Get("redirect_uri") != code.req.RedirectURI {
		return tokenResponse{}, errRedirectMismatch
	}
	if !verifyPKCE(code.req, form.Get("code_verifier")) {
		return tokenResponse{}, errBadVerifier
	}

	user := s.users[code.userID]
	key := s.keyFor(app, user)
	if old := s.grants[key]; old != nil {
		s.removeGrant(old)
		s.log.Info("zoom sandbox: earlier grant replaced", "client_id", app.ClientID, "user_id", old.user.ID)
	}
	g := &grant{key: key, user: user, scopes: app.Scopes}
	s.grants[key] = g
	s.issueTokens(g, now)

	s.log.Info("zoom sandbox: code exchanged", "client_id", app.ClientID, "user_id", user.ID)
	return s.responseFor(g), nil
}

// verifyPKCE checks the code_verifier against the code's challenge. A code
// issued without a challenge ignores any verifier.
func verifyPKCE(req authRequest, verifier string) bool {
	var got string
	switch req.ChallengeMode {
	case "":
		return true
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	default: // plain
		got = verifier
	}
	return verifier != "" && subtle.ConstantTimeCompare([]byte(got), []byte(req.Challenge)) == 1
}

// refreshGrant rotates both tokens of the grant that owns the refresh
// token. The old refresh token and the old access token die at once. drop
// reports that the response must be lost (see DropRefreshResponses).
func (s *Sandbox) refreshGrant(app App, form url.Values) (resp tokenResponse, drop bool, err *tokenError) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()

	g := s.refresh[form.Get("refresh_token")]
	if g == nil || g.key.clientID != app.ClientID || !now.Before(g.refreshExpires) {
		return tokenResponse{}, false, errInvalidToken
	}
	s.issueTokens(g, now)
	drop = s.faults.takeDrop()

	s.log.Info("zoom sandbox: tokens refreshed", "client_id", app.ClientID, "user_id", g.user.ID)
	return s.responseFor(g), drop, nil
}

// responseFor returns the token response for g's current tokens. The
// caller holds s.mu.
func (s *Sandbox) responseFor(g *grant) tokenResponse {
	return tokenResponse{
		AccessToken:  g.accessToken,
		TokenType:    "bearer",
		RefreshToken: g.refreshToken,
		ExpiresIn:    int64(s.accessTTL / time.Second),
		Scope:        strings.Join(g.scopes, " "),
	}
}
