package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/store"
)

// Echo context keys of the caller.
const (
	// ctxClaimedKey is the id of the key a request named, set even when
	// the key turned out to be revoked or expired, for the audit log.
	ctxClaimedKey = "zoombroker.claimed_key"

	// ctxCertIdentity is the client certificate identity the caller
	// authenticated with, if any.
	ctxCertIdentity = "zoombroker.cert_identity"
)

// authenticate is requireAPIKey: it finds the caller from the bearer key,
// or from a verified client certificate when no Authorization header is
// sent. Addresses with too many failures are turned away with 429 first.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ip, now := c.RealIP(), s.now()
		if blocked, wait := s.failures.Blocked(ip, now); blocked {
			secs := retryAfterSeconds(wait)
			return &apiError{Status: http.StatusTooManyRequests, Code: "too_many_failures",
				Message: "Too many failed authentications from this address; retry after " + strconv.Itoa(secs) + " seconds.", RetryAfter: secs}
		}

		k, err := s.callerKey(c)
		if err != nil {
			if ae, ok := errorsAs[*apiError](err); ok && ae.Status == http.StatusUnauthorized {
				s.failures.Fail(ip, now)
			}
			return err
		}
		c.Set(ctxAPIKey, k)
		s.touchKey(k)
		return next(c)
	}
}

// callerKey returns the API key of the request: the bearer key, or the key
// a verified client certificate maps to.
func (s *Server) callerKey(c echo.Context) (store.APIKey, error) {
	r := c.Request()
	values := r.Header.Values(echo.HeaderAuthorization)
	if len(values) > 1 {
		return store.APIKey{}, newError(http.StatusUnauthorized, "unauthorized", "The request has %d Authorization headers; send exactly one.", len(values))
	}
	if len(values) == 0 && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return s.certKey(c, r.TLS.VerifiedChains[0][0])
	}

	scheme, key, ok := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="zoombroker"`)
		return store.APIKey{}, newError(http.StatusUnauthorized, "unauthorized", "Send an API key as \"Authorization: Bearer <key>\"; create one with `zoombroker keys create` or in the console.")
	}
	if id, ok := auth.KeyID(key); ok {
		c.Set(ctxClaimedKey, id)
	}

	k, err := auth.VerifyKey(r.Context(), s.store, key, s.now())
	return k, s.keyError(c, err)
}

// keyError turns an error of VerifyKey into the caller's 401.
func (s *Server) keyError(c echo.Context, err error) error {
	invalid := func(msg string) error {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="zoombroker", error="invalid_token"`)
		return newError(http.StatusUnauthorized, "unauthorized", "%s", msg)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrInvalidKey):
		return invalid("The API key is not valid.")
	case errors.Is(err, auth.ErrRevokedKey):
		return invalid("The API key was revoked.")
	case errors.Is(err, auth.ErrExpiredKey):
		return invalid("The API key has expired.")
	}
	return err
}

// certKey maps a verified client certificate to its API key. A URI SAN
// that is mapped wins over the subject common name.
func (s *Server) certKey(c echo.Context, cert *x509.Certificate) (store.APIKey, error) {
	id, keyID, ok := s.certMapping(cert)
	if !ok {
		return store.APIKey{}, newError(http.StatusUnauthorized, "unauthorized", "The client certificate is valid but no caller is configured for it; ask an operator to add it to ZOOMBROKER_CLIENT_CERTS.")
	}
	c.Set(ctxCertIdentity, id.String())
	c.Set(ctxClaimedKey, keyID)

	k, err := s.store.GetAPIKey(c.Request().Context(), keyID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.APIKey{}, newError(http.StatusUnauthorized, "unauthorized", "The client certificate maps to API key %s, which does not exist.", keyID)
	case err != nil:
		return store.APIKey{}, fmt.Errorf("get API key %s of client certificate %s: %w", keyID, id, err)
	case k.Revoked():
		return store.APIKey{}, s.keyError(c, auth.ErrRevokedKey)
	case k.Expired(s.now()):
		return store.APIKey{}, s.keyError(c, auth.ErrExpiredKey)
	}
	return k, nil
}

// certMapping returns the configured identity of cert and its key id.
func (s *Server) certMapping(cert *x509.Certificate) (CertIdentity, string, bool) {
	for _, u := range cert.URIs {
		id := CertIdentity{URI: u.String()}
		if keyID, ok := s.cfg.Security.ClientCerts[id]; ok {
			return id, keyID, true
		}
	}
	id := CertIdentity{CN: cert.Subject.CommonName}
	if keyID, ok := s.cfg.Security.ClientCerts[id]; ok && id.CN != "" {
		return id, keyID, true
	}
	return CertIdentity{}, "", false
}

// callerLimits returns the limits of the authenticated caller.
func callerLimits(c echo.Context) store.Limits {
	k, _ := c.Get(ctxAPIKey).(store.APIKey)
	return k.Limits
}

// forbidden is the 403 of a request outside the caller's limits.
func forbidden(format string, args ...any) *apiError {
	return newError(http.StatusForbidden, "forbidden", format, args...)
}

// requireAccountAccess checks the :id account against the caller's limits.
// An id outside the account list is rejected without a read, so a limited
// key learns nothing about other accounts. An app or owner limit reads the
// account, and a missing account is left to the handler's 404.
func (s *Server) requireAccountAccess(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limits := callerLimits(c)
		if limits.Unlimited() {
			return next(c)
		}
		id, err := accountID(c)
		if err != nil {
			return err
		}
		if !limits.AllowsAccountID(id) {
			return forbidden("This API key may not use account %s.", id)
		}
		if len(limits.Apps) == 0 && len(limits.ExternalUserIDs) == 0 {
			return next(c)
		}

		a, err := s.store.GetAccount(c.Request().Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			return next(c)
		}
		if err != nil {
			return fmt.Errorf("get account %s for the key's limits: %w", id, err)
		}
		if !limits.AllowsAccount(a) {
			return forbidden("This API key may not use account %s.", id)
		}
		return next(c)
	}
}

// requireUnlimited lets only callers without limits through: the audit
// log, webhooks and backups span every account.
func (s *Server) requireUnlimited(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !callerLimits(c).Unlimited() {
			return forbidden("This endpoint needs an API key without app or account limits.")
		}
		return next(c)
	}
}

// keyMayConnect reports whether a caller with limits l may create a connect
// session for app and the external user. A key limited to account ids may
// not: the account a link connects does not exist yet.
func keyMayConnect(l store.Limits, app store.App, externalUserID string) bool {
	return len(l.AccountIDs) == 0 && l.AllowsApp(app) && l.AllowsExternalUser(externalUserID)
}

// keyMayRemoveOwner reports whether a caller with limits l may remove an
// external user from every account. Removal spans all apps and accounts of
// that user, so app and account limits must not narrow the key.
//
// NOTE: an app-limited key cannot remove its users; that needs a removal
// filtered by app in the token service.
func keyMayRemoveOwner(l store.Limits, externalUserID string) bool {
	return len(l.AccountIDs) == 0 && l.AllowsApp(store.AppZoom) && l.AllowsApp(store.AppZoomAdmin) && l.AllowsExternalUser(externalUserID)
}

// narrowToLimits refuses a list filter that names an app or external user
// outside the limits, and narrows an open filter to the one app or
// external user the limits allow, so the store skips the rest. The caller
// still drops accounts outside the limits from each page, which can then
// hold fewer accounts than asked for.
func narrowToLimits(l store.Limits, f *store.AccountFilter) error {
	if f.App != "" && !l.AllowsApp(f.App) {
		return forbidden("This API key may not list accounts of app %s.", f.App)
	}
	if f.ExternalUserID != "" && !l.AllowsExternalUser(f.ExternalUserID) {
		return forbidden("This API key may not list accounts of external user %s.", quote(f.ExternalUserID))
	}
	if f.App == "" && len(l.Apps) == 1 {
		f.App = l.Apps[0]
	}
	if f.ExternalUserID == "" && len(l.ExternalUserIDs) == 1 {
		f.ExternalUserID = l.ExternalUserIDs[0]
	}
	return nil
}

// retryAfterSeconds rounds a wait up to whole seconds for Retry-After, at
// least 1.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
