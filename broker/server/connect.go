package server

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
)

// callbackPath is the path Zoom redirects the browser to after consent.
const callbackPath = "/oauth/callback"

func (s *Server) redirectURI() string {
	u := *s.cfg.BaseURL
	u.Path = callbackPath
	u.RawQuery = ""
	return u.String()
}

// startConnect begins the authorization-code flow for an app: it binds a
// random state and PKCE verifier to this browser in a cookie and sends the
// browser to Zoom's consent page.
func (s *Server) startConnect(c echo.Context) error {
	app := store.App(c.Param("app"))
	if !app.Valid() {
		return newError(http.StatusNotFound, "not_found", "Unknown app %s; the apps are zoom and zoom_admin.", quote(string(app)))
	}
	return s.redirectToZoomFor(c, app, "", "")
}

func (s *Server) reconnectAccount(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	a, err := s.store.GetAccount(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return s.redirectToZoomFor(c, a.App, a.ID, "")
}

// redirectToZoomFor starts a flow for an app: a reconnect of accountID from
// the console, or the connect link sessionID, or neither.
func (s *Server) redirectToZoomFor(c echo.Context, app store.App, accountID, sessionID string) error {
	cred, ok := s.tokens.Credentials(app)
	if !ok {
		return newError(http.StatusConflict, "app_not_configured", "%s is not configured on this broker: set its client id and secret, then restart.", appName(app))
	}

	st := connectState{
		State:     randomToken(32),
		Verifier:  randomToken(48),
		App:       string(app),
		AccountID: accountID,
		SessionID: sessionID,
		Expires:   s.now().Add(connectTTL),
	}
	if err := s.setCookie(c, connectCookie, "/oauth", st, connectTTL); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, s.tokens.Zoom().AuthorizeURL(cred, s.redirectURI(), st.State, st.Verifier))
}

// callbackProblem is a failed callback, as shown to the person in the browser.
type callbackProblem struct {
	status  int
	heading string
	detail  string

	// linkCode is the error code a connect link's application receives.
	linkCode string
}

func (s *Server) callbackFailed(c echo.Context, p callbackProblem, logMsg string, attrs ...any) error {
	s.log.Warn(logMsg, attrs...)
	return c.Render(p.status, "callback.html", s.page(c, p.heading, map[string]any{"Heading": p.heading, "Detail": p.detail}))
}

// callback finishes the flow: it checks the state against the cookie,
// exchanges the code, reads the identity and stores the account. Any
// failure shows a page in plain words and creates nothing.
func (s *Server) callback(c echo.Context) error {
	var st connectState
	haveCookie := s.readCookie(c, connectCookie, &st)

	q := c.QueryParams()
	for name, values := range q {
		if len(values) > 1 {
			return s.callbackFailed(c, callbackProblem{http.StatusBadRequest, "The answer from Zoom is not valid", "The parameter " + name + " appeared more than once. Start again from the console.", ""}, "callback rejected: duplicate parameter", "param", name)
		}
	}

	if zerr := q.Get("error"); zerr != "" {
		if stateMatches(q.Get("state"), st, haveCookie) {
			s.clearCookie(c, connectCookie, "/oauth")
			if st.SessionID != "" {
				code := "zoom_error"
				if zerr == "access_denied" {
					code = "access_denied"
				}
				return s.finishLink(c, st.SessionID, "", code)
			}
		}
		if zerr == "access_denied" {
			return s.callbackFailed(c, callbackProblem{http.StatusBadRequest, "Access was declined", "You declined access at Zoom, so no account was connected. Start again if that was a mistake.", ""}, "callback: access denied at zoom")
		}
		code := "an unrecognized error code"
		if oauthErrorCode.MatchString(zerr) {
			code = "the error code " + zerr
		}
		return s.callbackFailed(c, callbackProblem{http.StatusBadRequest, "Zoom returned an error", "Zoom did not grant access and returned " + code + ". No account was connected. Start again, or check the app's settings at Zoom.", ""}, "callback: zoom returned an error", "zoom_error", quote(zerr))
	}
	if !haveCookie {
		return s.callbackFailed(c, callbackProblem{http.StatusBadRequest, "This connect attempt has expired", "The connect attempt was started more than 10 minutes ago, in another browser, or its cookie was lost. No account was connected. Start again where you began: the console, or the application that sent you here.", ""}, "callback rejected: no connect cookie")
	}
	if !s.now().Before(st.Expires) {
		s.clearCookie(c, connectCookie, "/oauth")
		return s.callbackFailed(c, callbackProblem{http.StatusBadRequest, "This connect attempt has expired", "The connect attempt is older than 10 minutes. No account was connected. Start again from the console.", ""}, "callback rejected: connect state expired")
	}
	state := q.Get("state")
	if !stateMatches(state, st, haveCookie) {
		// The cookie stays: a forged callback must not spoil the real one
		// that may still arrive.
		return s.callbackFailed(c, callbackProblem{http.StatusBadRequest, "The answer from Zoom does not match", "The state parameter is missing or belongs to another connect attempt, so the answer was not accepted. No account was connected. Start again from the console.", ""}, "callback rejected: state mismatch")
	}
	s.clearCookie(c, connectCookie, "/oauth")
	code := q.Get("code")
	if code == "" && st.SessionID != "" {
		return s.finishLink(c, st.SessionID, "", "missing_code")
	}
	if code == "" {
		return s.callbackFailed(c, callbackProblem{http.StatusBadRequest, "Zoom sent no authorization code", "The answer from Zoom carried no code, so no account was connected. Start again from the console.", ""}, "callback rejected: no code")
	}

	return s.finishConnect(c, st, code)
}

func (s *Server) finishConnect(c echo.Context, st connectState, code string) error {
	app := store.App(st.App)
	ctx := c.Request().Context()

	// A connect link's flow adds its external user as an owner and ends at
	// the application's redirect URLs instead of the console.
	opts := tokens.ConnectOptions{Console: true}
	failed := s.callbackFailed
	if st.SessionID != "" {
		cs, err := s.store.GetConnectSession(ctx, st.SessionID)
		if err != nil {
			return err
		}
		opts = tokens.ConnectOptions{Owner: cs.ExternalUserID}
		failed = func(c echo.Context, p callbackProblem, logMsg string, attrs ...any) error {
			s.log.Warn(logMsg, append(attrs, "session_id", cs.ID)...)
			return s.finishLink(c, cs.ID, "", p.linkCode)
		}
	}

	cred, ok := s.tokens.Credentials(app)
	if !ok {
		return failed(c, callbackProblem{http.StatusConflict, "The app is not configured", appName(app) + " has no client credentials on this broker any more.", "app_not_configured"}, "callback: app not configured", "app", st.App)
	}

	tok, err := s.tokens.Zoom().Exchange(ctx, cred, code, s.redirectURI(), st.Verifier)
	if err != nil {
		detail := "Zoom did not accept the authorization code"
		var zerr *zoom.Error
		if errors.As(err, &zerr) && zerr.Code != "" {
			detail += " (" + zerr.Code + ")"
		}
		return failed(c, callbackProblem{http.StatusBadGateway, "Zoom did not complete the connection", detail + ". No account was connected. Start again from the console.", "exchange_failed"}, "callback: code exchange failed", "app", st.App, "err", err)
	}

	user, err := s.tokens.Zoom().Me(ctx, tok.AccessToken)
	if err != nil {
		return failed(c, callbackProblem{http.StatusBadGateway, "Zoom did not say who you are", "The broker could not read the Zoom user behind the new grant. No account was connected. Start again from the console.", "identity_failed"}, "callback: users/me failed", "app", st.App, "err", err)
	}

	acct, reconnected, err := s.tokens.Connect(ctx, app, tok, user, opts)
	if err != nil {
		return err
	}
	s.recordConnect(c, acct, reconnected, st.SessionID)
	if st.SessionID != "" {
		return s.finishLink(c, st.SessionID, acct.ID, "")
	}
	done := "connected"
	switch {
	case reconnected:
		done = "reconnected"
	case st.AccountID != "":
		done = "other_user"
	}
	s.log.Info("account "+done, "account_id", acct.ID, "app", st.App)
	return c.Redirect(http.StatusSeeOther, "/accounts/"+acct.ID+"?done="+done)
}

// oauthErrorCode matches the error codes OAuth servers send (RFC 6749
// section 4.1.2.1); anything else is not echoed on the page.
var oauthErrorCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// stateMatches compares the callback's state with the one in the cookie in
// constant time.
func stateMatches(state string, st connectState, haveCookie bool) bool {
	return haveCookie && state != "" && subtle.ConstantTimeCompare([]byte(state), []byte(st.State)) == 1
}
