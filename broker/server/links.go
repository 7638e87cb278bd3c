package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/store"
)

// defaultConnectSessionTTL is how long a connect link stays valid unless
// configured.
const defaultConnectSessionTTL = 15 * time.Minute

// connectTokenPrefix starts every connect link token.
const connectTokenPrefix = "zbc_"

// connectSessionRequest is the body of POST /v1/connect-sessions.
type connectSessionRequest struct {
	App                string `json:"app"`
	ExternalUserID     string `json:"external_user_id"`
	SuccessRedirectURL string `json:"success_redirect_url"`
	ErrorRedirectURL   string `json:"error_redirect_url"`
	OpenerOrigin       string `json:"opener_origin"`
	Display            string `json:"display"`
}

// connectSessionResponse is the created session, returned once with its token.
type connectSessionResponse struct {
	ID         string    `json:"id"`
	Token      string    `json:"token"`
	ConnectURL string    `json:"connect_url"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func (s *Server) createConnectSession(c echo.Context) error {
	var req connectSessionRequest
	if err := decodeJSONBody(c, &req); err != nil {
		return err
	}
	cs, err := s.validateConnectSession(req)
	if err != nil {
		return err
	}

	key := c.Get(ctxAPIKey).(store.APIKey)
	if !keyMayConnect(key.Limits, cs.App, cs.ExternalUserID) {
		s.log.Warn("connect session rejected: app or external user outside the key's limits", "key_id", key.ID, "remote_ip", c.RealIP())
		return newError(http.StatusForbidden, "forbidden", "This API key may not create connect sessions for app %s and external user %s.", cs.App, quote(cs.ExternalUserID))
	}

	// Both parts use an alphabet without "_", so the token splits cleanly.
	cs.ID = "cs_" + randomBase32(8)
	token := connectTokenPrefix + cs.ID + "_" + randomBase32(20)
	sum := sha256.Sum256([]byte(token))
	now := s.now().UTC()
	cs.TokenHash = sum[:]
	cs.CreatedBy = key.ID
	cs.CreatedAt, cs.UpdatedAt = now, now
	cs.ExpiresAt = now.Add(s.connectTTL())
	cs.Status = store.ConnectOpen
	if err := s.store.CreateConnectSession(c.Request().Context(), cs); err != nil {
		return fmt.Errorf("create connect session: %w", err)
	}

	u := *s.cfg.BaseURL
	u.Path = "/connect"
	u.RawQuery = url.Values{"token": {token}}.Encode()
	s.log.Info("connect session created", "session_id", cs.ID, "app", string(cs.App), "key_id", key.ID)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, connectSessionResponse{ID: cs.ID, Token: token, ConnectURL: u.String(), ExpiresAt: cs.ExpiresAt})
}

func (s *Server) connectTTL() time.Duration {
	if s.cfg.ConnectSessionTTL > 0 {
		return s.cfg.ConnectSessionTTL
	}
	return defaultConnectSessionTTL
}

// validateConnectSession checks a request and returns the session it
// describes, without id, token or times.
func (s *Server) validateConnectSession(req connectSessionRequest) (store.ConnectSession, error) {
	app := store.App(req.App)
	if !app.Valid() {
		return store.ConnectSession{}, newError(http.StatusBadRequest, "invalid_body", "app %s is not valid; use zoom or zoom_admin.", quote(req.App))
	}
	if _, ok := s.tokens.Credentials(app); !ok {
		return store.ConnectSession{}, newError(http.StatusConflict, "app_not_configured", "%s is not configured on this broker.", appName(app))
	}
	if err := checkExternalUserID(req.ExternalUserID); err != nil {
		return store.ConnectSession{}, err
	}
	if len(s.cfg.ConnectRedirects) == 0 {
		return store.ConnectSession{}, newError(http.StatusConflict, "connect_not_configured", "No redirect URLs are allowed yet; an operator must set ZOOMBROKER_CONNECT_REDIRECTS.")
	}
	for name, v := range map[string]string{"success_redirect_url": req.SuccessRedirectURL, "error_redirect_url": req.ErrorRedirectURL} {
		if !s.redirectAllowed(v) {
			return store.ConnectSession{}, newError(http.StatusBadRequest, "redirect_not_allowed", "%s %s is not an absolute URL under an allowed prefix; ask an operator to add it to ZOOMBROKER_CONNECT_REDIRECTS.", name, quote(v))
		}
	}

	origin := req.OpenerOrigin
	if origin == "" {
		origin = originOf(req.SuccessRedirectURL)
	}
	if !s.originAllowed(origin) {
		return store.ConnectSession{}, newError(http.StatusBadRequest, "redirect_not_allowed", "opener_origin %s is not the origin of an allowed redirect prefix.", quote(origin))
	}
	switch req.Display {
	case "", "page", "popup":
	default:
		return store.ConnectSession{}, newError(http.StatusBadRequest, "invalid_body", "display %s is not valid; use page or popup.", quote(req.Display))
	}
	if req.Display != "popup" {
		origin = ""
	}

	return store.ConnectSession{
		App:                app,
		ExternalUserID:     req.ExternalUserID,
		SuccessRedirectURL: req.SuccessRedirectURL,
		ErrorRedirectURL:   req.ErrorRedirectURL,
		OpenerOrigin:       origin,
	}, nil
}

// checkExternalUserID allows 1 to 200 printable characters.
func checkExternalUserID(id string) error {
	if n := utf8.RuneCountInString(id); n == 0 || n > 200 || !utf8.ValidString(id) {
		return newError(http.StatusBadRequest, "invalid_body", "external_user_id must be 1 to 200 characters of valid UTF-8.")
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return newError(http.StatusBadRequest, "invalid_body", "external_user_id contains the character %U; use printable characters only.", r)
		}
	}
	return nil
}

// redirectAllowed reports whether raw is an absolute http(s) URL without
// user info or fragment that lies under one of the allowed prefixes: same
// scheme and host, and a path that continues the prefix's path.
func (s *Server) redirectAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, "\\\t\r\n ") {
		return false
	}
	if hasDotSegment(u.EscapedPath()) {
		return false
	}
	for _, prefix := range s.cfg.ConnectRedirects {
		p, err := url.Parse(prefix)
		if err != nil || p.Scheme != u.Scheme || !strings.EqualFold(p.Host, u.Host) {
			continue
		}
		base := strings.TrimSuffix(p.Path, "/")
		if u.Path == base || strings.HasPrefix(u.Path, base+"/") {
			return true
		}
	}
	return false
}

// originAllowed reports whether origin is the origin of an allowed prefix.
func (s *Server) originAllowed(origin string) bool {
	for _, prefix := range s.cfg.ConnectRedirects {
		if origin != "" && strings.EqualFold(originOf(prefix), origin) {
			return true
		}
	}
	return false
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// sessionFromToken returns the session a link token names, comparing the
// token's hash in constant time.
func (s *Server) sessionFromToken(c echo.Context, token string) (store.ConnectSession, bool) {
	rest, ok := strings.CutPrefix(token, connectTokenPrefix)
	if !ok {
		return store.ConnectSession{}, false
	}
	i := strings.LastIndexByte(rest, '_')
	if i <= 0 {
		return store.ConnectSession{}, false
	}
	cs, err := s.store.GetConnectSession(c.Request().Context(), rest[:i])
	if err != nil {
		return store.ConnectSession{}, false
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], cs.TokenHash) != 1 {
		return store.ConnectSession{}, false
	}
	return cs, true
}

func (s *Server) removeOwner(c echo.Context) error {
	q := c.QueryParams()
	if len(q) != 1 || len(q["external_user_id"]) != 1 {
		return newError(http.StatusBadRequest, "invalid_parameter", "DELETE /v1/accounts takes exactly one external_user_id parameter; to delete one account use DELETE /v1/accounts/{id}.")
	}
	ext := q.Get("external_user_id")
	if err := checkExternalUserID(ext); err != nil {
		var ae *apiError
		if errorsAsPtr(err, &ae) {
			ae.Code = "invalid_parameter"
		}
		return err
	}
	key := c.Get(ctxAPIKey).(store.APIKey)
	if !keyMayRemoveOwner(key.Limits, ext) {
		return newError(http.StatusForbidden, "forbidden", "This API key may not act for external user %s.", quote(ext))
	}

	removed, err := s.tokens.RemoveOwner(c.Request().Context(), ext)
	if err != nil {
		return err
	}
	type result struct {
		AccountID   string `json:"account_id"`
		Revoked     bool   `json:"revoked"`
		ZoomRevoked bool   `json:"zoom_revoked,omitempty"`
	}
	out := make([]result, 0, len(removed))
	for _, r := range removed {
		out = append(out, result{AccountID: r.AccountID, Revoked: r.Revoked, ZoomRevoked: r.ZoomRevoked})
	}
	s.log.Info("external user removed from accounts", "accounts", len(out), "key_id", key.ID)
	return c.JSON(http.StatusOK, map[string]any{"accounts": out})
}

// decodeJSONBody reads a required JSON object into dst: sent as
// application/json, one object, no unknown fields.
func decodeJSONBody(c echo.Context, dst any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %s is not supported; send application/json.", quote(ct))
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if he, ok := errorsAs[*echo.HTTPError](err); ok {
			return he
		}
		return newError(http.StatusBadRequest, "invalid_body", "The request body could not be read.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return newError(http.StatusBadRequest, "invalid_body", "The body is not valid: %s.", describeJSONError(err))
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "invalid_body", "The body has data after the JSON object; send one object.")
	}
	return nil
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomBase32 returns n random bytes in lowercase base32.
func randomBase32(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return lowerBase32.EncodeToString(b)
}

// hasDotSegment reports whether an escaped URL path has a "." or ".."
// segment, also percent-encoded: browsers resolve them, so "/app/../admin"
// would leave the allowed prefix "/app/".
func hasDotSegment(escaped string) bool {
	for _, seg := range strings.Split(escaped, "/") {
		seg = strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return strings.Contains(strings.ToLower(escaped), "%2f") || strings.Contains(strings.ToLower(escaped), "%5c")
}

func errorsAsPtr(err error, target **apiError) bool {
	ae, ok := errorsAs[*apiError](err)
	if ok {
		*target = ae
	}
	return ok
}
