package zoomsandbox

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"time"
)

// consentTTL is how long a consent page's form token stays usable.
const consentTTL = 15 * time.Minute

// codeRetention is how long a used or expired code is remembered after it
// expired, so that presenting it again still gets "Code is expired" rather
// than "Invalid authorization code".
const codeRetention = time.Hour

// authRequest holds the parameters of one GET /oauth/authorize that passed
// validation.
type authRequest struct {
	ClientID      string
	RedirectURI   string
	State         string
	Challenge     string
	ChallengeMode string // "S256", "plain", or "" without PKCE
}

// consent is a consent page waiting for its form to come back.
type consent struct {
	req     authRequest
	expires time.Time
}

type authCode struct {
	req     authRequest
	userID  string
	expires time.Time
	used    bool
}

// grantKey identifies the one live grant an app can have per subject: the
// Zoom user for a user-managed app, the Zoom account for an account-level
// app. A new authorization replaces the grant under the same key.
type grantKey struct {
	clientID string
	subject  string
}

// grant is one authorization of an app by a user and the tokens it
// currently has.
type grant struct {
	key    grantKey
	user   User
	scopes []string

	accessToken    string
	accessExpires  time.Time
	refreshToken   string
	refreshExpires time.Time

	// tolerance counts the access tokens issued for the grant, like the
	// toleranceId claim of Zoom's tokens.
	tolerance int
}

func (s *Sandbox) keyFor(app App, u User) grantKey {
	if app.Admin {
		return grantKey{clientID: app.ClientID, subject: u.AccountID}
	}
	return grantKey{clientID: app.ClientID, subject: u.ID}
}

// issueTokens gives g a new access token and a new refresh token, and drops
// the previous ones. The caller holds s.mu.
func (s *Sandbox) issueTokens(g *grant, now time.Time) {
	delete(s.access, g.accessToken)
	delete(s.refresh, g.refreshToken)

	g.tolerance++
	g.accessExpires = now.Add(s.accessTTL)
	g.refreshExpires = now.Add(s.refreshTTL)
	g.accessToken = s.mintToken(g, "access_token", now, g.accessExpires)
	g.refreshToken = s.mintToken(g, "refresh_token", now, g.refreshExpires)

	s.access[g.accessToken] = g
	s.refresh[g.refreshToken] = g
	s.issued = append(s.issued, g.accessToken, g.refreshToken)
	s.saveState()
}

// removeGrant kills g and its tokens. The caller holds s.mu.
func (s *Sandbox) removeGrant(g *grant) {
	delete(s.access, g.accessToken)
	delete(s.refresh, g.refreshToken)
	if s.grants[g.key] == g {
		delete(s.grants, g.key)
	}
	s.saveState()
}

// sweep deletes consent forms and codes that can no longer be used. The
// caller holds s.mu.
func (s *Sandbox) sweep(now time.Time) {
	for tok, c := range s.consents {
		if now.After(c.expires) {
			delete(s.consents, tok)
		}
	}
	for code, c := range s.codes {
		if now.After(c.expires.Add(codeRetention)) {
			delete(s.codes, code)
		}
	}
}

// tokenHeader is the JOSE header of Zoom's tokens, without the key id.
var tokenHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS512","v":"2.0"}`))

// tokenClaims mirrors the claims of the token example in Zoom's
// documentation. Callers must treat tokens as opaque, as Zoom documents
// them, and the broker reads nothing from them.
type tokenClaims struct {
	Version          int    `json:"ver"`
	ClientID         string `json:"clientId"`
	Code             string `json:"code"`
	Issuer           string `json:"iss"`
	AuthenticationID string `json:"authenticationId"`
	UserID           string `json:"userId"`
	GroupNumber      int    `json:"groupNumber"`
	Audience         string `json:"aud"`
	AccountID        string `json:"accountId"`
	NotBefore        int64  `json:"nbf"`
	Expires          int64  `json:"exp"`
	TokenType        string `json:"tokenType"`
	IssuedAt         int64  `json:"iat"`
	JWTID            string `json:"jti"`
	ToleranceID      int    `json:"toleranceId"`
}

// mintToken returns a new token shaped like Zoom's: a JWT signed with
// HMAC-SHA512 under the sandbox's random key. The random jti makes every
// token distinct and unguessable.
func (s *Sandbox) mintToken(g *grant, tokenType string, now, expires time.Time) string {
	claims := tokenClaims{
		Version:          7,
		ClientID:         g.key.clientID,
		Code:             randomString(24),
		Issuer:           "urn:zoom:connect:clientid:" + g.key.clientID,
		AuthenticationID: randomString(16),
		UserID:           g.user.ID,
		Audience:         "https://oauth.zoom.us",
		AccountID:        g.user.AccountID,
		NotBefore:        now.Unix(),
		Expires:          expires.Unix(),
		TokenType:        tokenType,
		IssuedAt:         now.Unix(),
		JWTID:            randomString(24),
		ToleranceID:      g.tolerance,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("zoomsandbox: encode token claims: " + err.Error()) // unreachable: the claims are strings and integers
	}

	signed := tokenHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha512.New, s.signingKey)
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
