package server

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
)

// Cookie names and lifetimes.
const (
	sessionCookie = "zb_session"
	sessionTTL    = 12 * time.Hour

	connectCookie = "zb_connect"
	connectTTL    = 10 * time.Minute
)

// session is the signed-in operator, kept in an encrypted cookie.
type session struct {
	Operator string
	Expires  time.Time

	// Epoch is the operator's SessionEpoch at sign-in; signing out
	// increments the stored one, which ends the session.
	Epoch int64

	// SSO marks a session started from the trusted header of an SSO
	// proxy. Its operator has no stored record.
	SSO bool
}

// connectState binds an OAuth round trip to the browser that started it.
type connectState struct {
	State     string
	Verifier  string
	App       string
	AccountID string // the account being reconnected, if any
	SessionID string // the connect link being used, if any
	Expires   time.Time
}

// randomToken returns n random bytes as unpadded base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newRequestID() string { return randomToken(12) }

// setCookie encodes value with the newest key and sets it HttpOnly and
// SameSite=Lax, Secure when the base URL is https.
func (s *Server) setCookie(c echo.Context, name, path string, value any, ttl time.Duration) error {
	encoded, err := securecookie.EncodeMulti(name, value, s.codecs...)
	if err != nil {
		return fmt.Errorf("encode cookie %s: %w", name, err)
	}
	// #nosec G124 -- Secure is set whenever the base URL is https; over
	// plain http a browser would drop a Secure cookie.
	c.SetCookie(&http.Cookie{
		Name:     name,
		Value:    encoded,
		Path:     path,
		MaxAge:   int(ttl.Seconds()),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// readCookie decodes a cookie with any configured key. It reports false for
// a missing, tampered or undecodable cookie.
func (s *Server) readCookie(c echo.Context, name string, dst any) bool {
	ck, err := c.Cookie(name)
	if err != nil || ck.Value == "" {
		return false
	}
	return securecookie.DecodeMulti(name, ck.Value, dst, s.codecs...) == nil
}

func (s *Server) clearCookie(c echo.Context, name, path string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}) // #nosec G124 -- as in setCookie
}
