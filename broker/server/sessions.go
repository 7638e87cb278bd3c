package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/store"
)

// maxHeaderUserLength bounds the user name taken from the trusted header,
// in bytes: an email address is at most 254.
const maxHeaderUserLength = 254

// untrustedHeaderLogged is the Unix time in nanoseconds when a trusted
// header from an untrusted address was last logged, so a client that
// sends it on every request cannot flood the log.
var untrustedHeaderLogged atomic.Int64

// requireSession lets a signed-in operator through and sends anyone else
// to the sign-in page. In trusted-header mode, a request from a trusted
// proxy that names a user signs that user in first.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, ok := s.currentSession(c)
		if user, found := s.trustedHeaderUser(c); found && (!ok || !sess.SSO || sess.Operator != user) {
			var err error
			if sess, err = s.startSession(c, user, 0, true); err != nil {
				return err
			}
			ok = true
			c.Set(ctxOperator, user)
			s.record(c, store.AuditEntry{Action: audit.ActionSignIn, Outcome: audit.OutcomeOK, Detail: "signed in by the trusted header " + s.cfg.Security.TrustedHeader})
			s.log.Info("operator signed in by trusted header", "operator", user, "remote_ip", c.RealIP())
		}
		if !ok {
			if c.Request().Method == http.MethodGet {
				return c.Redirect(http.StatusSeeOther, "/signin?next="+c.Request().URL.EscapedPath())
			}
			return c.Redirect(http.StatusSeeOther, "/signin")
		}
		c.Set(ctxOperator, sess.Operator)
		return next(c)
	}
}

// currentSession returns the session of the request's cookie if it has not
// expired and, for a local operator, the operator still exists and has not
// signed out since.
func (s *Server) currentSession(c echo.Context) (session, bool) {
	var sess session
	if !s.readCookie(c, sessionCookie, &sess) || !s.now().Before(sess.Expires) {
		return session{}, false
	}
	if sess.SSO {
		// Such a session ends when the mode is switched off.
		return sess, s.cfg.Security.TrustedHeader != ""
	}

	op, err := s.store.GetOperator(c.Request().Context(), sess.Operator)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("check session failed; treating it as signed out", "operator", sess.Operator, "err", err)
		}
		return session{}, false
	}
	if op.SessionEpoch != sess.Epoch {
		return session{}, false
	}
	return sess, true
}

// startSession sets the session cookie of a new sign-in.
func (s *Server) startSession(c echo.Context, operator string, epoch int64, sso bool) (session, error) {
	sess := session{Operator: operator, Expires: s.now().Add(sessionTTL), Epoch: epoch, SSO: sso}
	if err := s.setCookie(c, sessionCookie, "/", sess, sessionTTL); err != nil {
		return session{}, err
	}
	return sess, nil
}

// trustedHeaderUser returns the user the trusted header names. The header
// counts only when the mode is on and the request's direct peer is a
// trusted proxy. From anywhere else it is ignored and logged.
func (s *Server) trustedHeaderUser(c echo.Context) (string, bool) {
	name := s.cfg.Security.TrustedHeader
	if name == "" {
		return "", false
	}
	values := c.Request().Header.Values(name)
	if len(values) == 0 {
		return "", false
	}
	if !s.fromTrustedProxy(c) {
		now := s.now().UnixNano()
		if last := untrustedHeaderLogged.Load(); now-last >= int64(time.Minute) && untrustedHeaderLogged.CompareAndSwap(last, now) {
			s.log.Warn("trusted header ignored: the request did not come from a trusted proxy", "header", name, "peer", c.Request().RemoteAddr)
		}
		return "", false
	}
	user := strings.TrimSpace(values[0])
	if len(values) > 1 || !validHeaderUser(user) {
		s.log.Warn("trusted header ignored: it must appear once and name a user", "header", name, "values", len(values), "remote_ip", c.RealIP())
		return "", false
	}
	return user, true
}

// validHeaderUser reports whether a user name from the trusted header is
// 1 to maxHeaderUserLength bytes of valid UTF-8 without control or space
// characters.
func validHeaderUser(user string) bool {
	if user == "" || len(user) > maxHeaderUserLength || !utf8.ValidString(user) {
		return false
	}
	return strings.IndexFunc(user, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) < 0
}

// signIn checks an operator's name and password. An address with too many
// failures gets 429 before the password is checked.
func (s *Server) signIn(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	ip, now := c.RealIP(), s.now()
	attempted := printableName(name)

	if blocked, wait := s.failures.Blocked(ip, now); blocked {
		secs := retryAfterSeconds(wait)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		s.record(c, store.AuditEntry{Action: audit.ActionSignIn, Outcome: audit.OutcomeDenied, ActorType: audit.ActorOperator, Actor: attempted, Detail: "too many failed sign-ins from this address"})
		return c.Render(http.StatusTooManyRequests, "signin.html", s.page(c, "Sign in", map[string]any{
			"Next": next, "Name": name, "Error": fmt.Sprintf("Too many failed sign-ins from this address. Wait %d seconds, then try again.", secs),
		}))
	}

	op, err := s.store.GetOperator(c.Request().Context(), name)
	var hash []byte
	switch {
	case err == nil:
		hash = op.PasswordHash
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("get operator: %w", err)
	}
	if err := auth.CheckPassword(hash, password); err != nil {
		s.failures.Fail(ip, now)
		s.log.Warn("sign-in failed", "operator", attempted, "remote_ip", ip)
		s.record(c, store.AuditEntry{Action: audit.ActionSignIn, Outcome: audit.OutcomeDenied, ActorType: audit.ActorOperator, Actor: attempted, Detail: "wrong name or password"})
		return c.Render(http.StatusUnauthorized, "signin.html", s.page(c, "Sign in", map[string]any{
			"Next": next, "Name": name, "Error": "The name or the password is wrong.",
		}))
	}

	if _, err := s.startSession(c, op.Name, op.SessionEpoch, false); err != nil {
		return err
	}
	c.Set(ctxOperator, op.Name)
	s.record(c, store.AuditEntry{Action: audit.ActionSignIn, Outcome: audit.OutcomeOK})
	s.log.Info("operator signed in", "operator", op.Name, "remote_ip", ip)
	return c.Redirect(http.StatusSeeOther, next)
}

// signOut ends the session. For a local operator it increments the stored
// session epoch, which ends every session of the operator, in every
// browser, also one whose cookie was copied.
func (s *Server) signOut(c echo.Context) error {
	sess, ok := s.currentSession(c)
	s.clearCookie(c, sessionCookie, "/")
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/signin")
	}

	c.Set(ctxOperator, sess.Operator)
	if !sess.SSO {
		_, err := s.store.UpdateOperator(c.Request().Context(), sess.Operator, func(o store.Operator) (store.Operator, error) {
			o.SessionEpoch++
			return o, nil
		})
		if err != nil {
			return fmt.Errorf("end sessions of operator %s: %w", sess.Operator, err)
		}
	}
	s.record(c, store.AuditEntry{Action: audit.ActionSignOut, Outcome: audit.OutcomeOK})
	s.log.Info("operator signed out", "operator", sess.Operator, "remote_ip", c.RealIP())
	return c.Redirect(http.StatusSeeOther, "/signin")
}

// printableName returns a name typed into the sign-in form in a form safe
// for the audit log: at most 64 characters, control characters dropped.
func printableName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if utf8.RuneCountInString(name) > 64 {
		name = string([]rune(name)[:64]) + "..."
	}
	return name
}

// revokeDetail describes a revoke's outcome at Zoom for the audit log.
func revokeDetail(zoomErr error) string {
	if zoomErr != nil {
		return "tokens deleted; Zoom did not confirm the revoke"
	}
	return ""
}
