package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/store"
)

// errConnectUsed makes a second start of one connect link fail inside the
// store transaction.
var errConnectUsed = errors.New("connect session already used")

// linkPage shows the end user what is being connected and why, with the
// Connect Account button. The token stays in the query, which request logs
// leave out.
func (s *Server) linkPage(c echo.Context) error {
	cs, ok := s.sessionFromToken(c, c.QueryParam("token"))
	if !ok {
		return s.linkInvalid(c)
	}
	if done := s.linkUnusable(c, cs); done != nil {
		return done
	}
	return c.Render(http.StatusOK, "link.html", s.page(c, "Connect your Zoom account", map[string]any{
		"Brand":       s.brand(),
		"AppName":     appName(cs.App),
		"Admin":       cs.App == store.AppZoomAdmin,
		"Description": appDescription(cs.App),
		"Token":       c.QueryParam("token"),
	}))
}

// linkStart marks the link as used and sends the browser to Zoom.
func (s *Server) linkStart(c echo.Context) error {
	cs, ok := s.sessionFromToken(c, c.FormValue("token"))
	if !ok {
		return s.linkInvalid(c)
	}
	if done := s.linkUnusable(c, cs); done != nil {
		return done
	}

	_, err := s.store.UpdateConnectSession(c.Request().Context(), cs.ID, func(cur store.ConnectSession) (store.ConnectSession, error) {
		if cur.Status != store.ConnectOpen && cur.Status != store.ConnectStarted {
			return cur, errConnectUsed
		}
		cur.Status = store.ConnectStarted
		cur.UpdatedAt = s.now().UTC()
		return cur, nil
	})
	if errors.Is(err, errConnectUsed) {
		return s.linkFinish(c, cs, "", "session_used")
	}
	if err != nil {
		return err
	}
	return s.redirectToZoomFor(c, cs.App, "", cs.ID)
}

// linkUnusable sends the end user of an expired or used session back to the
// application, and returns nil when the session can start.
func (s *Server) linkUnusable(c echo.Context, cs store.ConnectSession) error {
	switch {
	case !s.now().Before(cs.ExpiresAt):
		return s.linkFinish(c, cs, "", "session_expired")
	case cs.Status != store.ConnectOpen && cs.Status != store.ConnectStarted:
		// A started link may start again, for an end user who went back
		// from Zoom's page; it is used up once the flow ends.
		return s.linkFinish(c, cs, "", "session_used")
	}
	return nil
}

func (s *Server) linkInvalid(c echo.Context) error {
	return c.Render(http.StatusNotFound, "callback.html", s.page(c, "This link is not valid", map[string]any{
		"Heading": "This link is not valid",
		"Detail":  "The connect link is wrong or was deleted. Ask the application that sent you here for a new one.",
		"NoRetry": true,
	}))
}

// linkFinish sends the end user back to the application: to the success URL
// with account_id, or to the error URL with an error code. In popup mode a
// small page posts the same result to the opener's origin instead.
func (s *Server) linkFinish(c echo.Context, cs store.ConnectSession, accountID, errCode string) error {
	target, q := cs.SuccessRedirectURL, url.Values{"account_id": {accountID}}
	status := "success"
	if errCode != "" {
		target, q, status = cs.ErrorRedirectURL, url.Values{"error": {errCode}}, "error"
	}
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	merged := u.Query()
	for k, v := range q {
		merged[k] = v
	}
	u.RawQuery = merged.Encode()

	if cs.OpenerOrigin == "" {
		return c.Redirect(http.StatusSeeOther, u.String())
	}

	// The result page runs one script from this origin; the policy allows
	// exactly that.
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	return c.Render(http.StatusOK, "link_result.html", s.page(c, "Zoom connection finished", map[string]any{
		"Status":    status,
		"AccountID": accountID,
		"Error":     errCode,
		"Origin":    cs.OpenerOrigin,
		"Redirect":  u.String(),
		"Brand":     s.brand(),
	}))
}

// finishLink completes a connect-link flow after Zoom's callback: the
// account gets the session's external user as an owner.
func (s *Server) finishLink(c echo.Context, sessionID string, accountID, errCode string) error {
	ctx := context.WithoutCancel(c.Request().Context())
	cs, err := s.store.UpdateConnectSession(ctx, sessionID, func(cur store.ConnectSession) (store.ConnectSession, error) {
		cur.Status = store.ConnectCompleted
		if errCode != "" {
			cur.Status = store.ConnectFailed
		}
		cur.AccountID, cur.Error = accountID, errCode
		cur.UpdatedAt = s.now().UTC()
		return cur, nil
	})
	if err != nil {
		return err
	}
	s.log.Info("connect session finished", "session_id", cs.ID, "account_id", accountID, "error", errCode)
	return s.linkFinish(c, cs, accountID, errCode)
}

func (s *Server) brand() string {
	if s.cfg.BrandName != "" {
		return s.cfg.BrandName
	}
	return "zoombroker"
}
