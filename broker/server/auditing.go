package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/store"
)

// ctxAudited marks a request whose outcome is already in the audit log,
// so the error handler does not record it twice.
const ctxAudited = "zoombroker.audited"

// audited records the request under action when the broker rejected it
// (401, 403, 429) and, with always, also when it succeeded or failed. It
// goes before the authentication middleware, so that middleware's
// rejections reach it.
func (s *Server) audited(action string, always bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			status, detail := c.Response().Status, ""
			if err != nil {
				ae := classify(err)
				status, detail = ae.Status, ae.Message
			}
			outcome := outcomeOf(status)
			if outcome != audit.OutcomeDenied && !always {
				return err
			}
			s.record(c, store.AuditEntry{Action: action, Outcome: outcome, Detail: detail})
			c.Set(ctxAudited, true)
			return err
		}
	}
}

// outcomeOf maps a response status to an audit outcome.
func outcomeOf(status int) string {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusTooManyRequests:
		return audit.OutcomeDenied
	case status < 400:
		return audit.OutcomeOK
	}
	return audit.OutcomeFailed
}

// record fills in the time, the client address, the request id, the actor
// and the account of the request, and queues the entry. Fields already set
// in e are kept.
func (s *Server) record(c echo.Context, e store.AuditEntry) {
	if s.cfg.Security.Audit == nil {
		return
	}
	e.At = s.now().UTC()
	e.RemoteAddr = c.RealIP()
	e.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if e.AccountID == "" {
		if id := c.Param("id"); accountIDPattern.MatchString(id) {
			e.AccountID = id
		}
	}
	if e.ActorType == "" {
		e.ActorType, e.Actor = actorOf(c)
	}
	if cert, ok := c.Get(ctxCertIdentity).(string); ok {
		e.Detail = joinDetail("client certificate "+cert, e.Detail)
	}
	s.cfg.Security.Audit.Record(e)
}

// actorOf returns who made the request: the API key, the signed-in
// operator, the key a rejected request named, or an anonymous caller.
func actorOf(c echo.Context) (string, string) {
	if k, ok := c.Get(ctxAPIKey).(store.APIKey); ok {
		return audit.ActorAPIKey, k.ID
	}
	if op, ok := c.Get(ctxOperator).(string); ok {
		return audit.ActorOperator, op
	}
	// A rejected key's id is recorded only in the shape the broker issues,
	// so a hostile header cannot put arbitrary text in the log.
	if id, ok := c.Get(ctxClaimedKey).(string); ok && keyIDPattern.MatchString(id) {
		return audit.ActorAPIKey, id
	}
	return audit.ActorAnonymous, ""
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// auditRejection records a 401, 403 or 429 that no route-level audited
// middleware recorded, such as a console form with a failed CSRF check.
func (s *Server) auditRejection(c echo.Context, ae *apiError) {
	if outcomeOf(ae.Status) != audit.OutcomeDenied {
		return
	}
	if done, _ := c.Get(ctxAudited).(bool); done {
		return
	}
	action := audit.ActionConsole
	if isAPI(c) {
		action = audit.ActionAPI
	}
	s.record(c, store.AuditEntry{Action: action, Outcome: audit.OutcomeDenied, Detail: ae.Message + " (" + c.Request().Method + " " + c.Path() + ")"})
	c.Set(ctxAudited, true)
}

// recordConnect records a connect or reconnect from the OAuth callback. Its
// actor is the connect link that started the flow, else the signed-in
// operator.
func (s *Server) recordConnect(c echo.Context, acct store.Account, reconnected bool, linkSessionID string) {
	e := store.AuditEntry{Action: audit.ActionAccountConnect, Outcome: audit.OutcomeOK, AccountID: acct.ID, Detail: "app " + string(acct.App)}
	if reconnected {
		e.Action = audit.ActionAccountReconnect
	}
	switch sess, ok := s.currentSession(c); {
	case linkSessionID != "":
		e.ActorType, e.Actor = audit.ActorLink, linkSessionID
	case ok:
		e.ActorType, e.Actor = audit.ActorOperator, sess.Operator
	}
	s.record(c, e)
}
