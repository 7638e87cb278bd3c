package server

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/store"
)

var keyIDPattern = regexp.MustCompile(`^key_[a-z2-7]{13}$`)

func (s *Server) keysPage(c echo.Context) error {
	return s.renderKeys(c, http.StatusOK, map[string]any{"Notice": notices[c.QueryParam("done")]})
}

func (s *Server) renderKeys(c echo.Context, status int, data map[string]any) error {
	keys, err := s.store.ListAPIKeys(c.Request().Context())
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	data["Keys"] = keys
	data["Now"] = s.now()
	data["Apps"] = store.Apps
	return c.Render(status, "keys.html", s.page(c, "API keys", data))
}

func (s *Server) createKey(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if err := auth.CheckKeyName(name); err != nil {
		return s.renderKeys(c, http.StatusBadRequest, map[string]any{"Error": err.Error()})
	}
	now := s.now()
	limits, expires, err := keyFormLimits(c, now)
	if err != nil {
		return s.renderKeys(c, http.StatusBadRequest, map[string]any{"Error": err.Error()})
	}

	k, full := auth.NewKey(name, now)
	k.Limits, k.ExpiresAt = limits, expires
	if err := auth.CreateKey(c.Request().Context(), s.store, k, now); err != nil {
		return err
	}
	s.record(c, store.AuditEntry{Action: audit.ActionKeyCreate, Outcome: audit.OutcomeOK, Detail: keyDetail(k)})
	s.log.Info("API key created", "key_id", k.ID, "limits", k.Limits.String(), "operator", c.Get(ctxOperator))
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.renderKeys(c, http.StatusOK, map[string]any{"NewKey": full.Reveal(), "NewKeyID": k.ID})
}

// keyFormLimits reads the limits and the expiry of the console's key form.
// Apps come as checkboxes; no box checked means every app.
func keyFormLimits(c echo.Context, now time.Time) (store.Limits, time.Time, error) {
	form, err := c.FormParams()
	if err != nil {
		return store.Limits{}, time.Time{}, fmt.Errorf("the form could not be read")
	}
	apps, err := auth.ParseApps(strings.Join(form["apps"], ","))
	if err != nil {
		return store.Limits{}, time.Time{}, err
	}
	if len(apps) == len(store.Apps) {
		apps = nil
	}
	accounts, err := auth.ParseAccountIDs(form.Get("accounts"))
	if err != nil {
		return store.Limits{}, time.Time{}, err
	}
	users, err := auth.ParseExternalUserIDs(form.Get("external_users"))
	if err != nil {
		return store.Limits{}, time.Time{}, err
	}
	expires, err := auth.ParseExpiry(form.Get("expires"), now)
	if err != nil {
		return store.Limits{}, time.Time{}, err
	}
	return store.Limits{Apps: apps, AccountIDs: accounts, ExternalUserIDs: users}, expires, nil
}

// keyDetail describes a key's limits and expiry for the audit log.
func keyDetail(k store.APIKey) string {
	d := "key " + k.ID + ", name " + strconv.Quote(k.Name) + ", " + k.Limits.String()
	if !k.ExpiresAt.IsZero() {
		d += ", expires " + k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return d
}

func (s *Server) revokeKey(c echo.Context) error {
	id := c.Param("id")
	if !keyIDPattern.MatchString(id) {
		return newError(http.StatusBadRequest, "invalid_key_id", "Key id %s is not valid.", quote(id))
	}
	now := s.now().UTC()
	_, err := s.store.UpdateAPIKey(c.Request().Context(), id, func(k store.APIKey) (store.APIKey, error) {
		if k.RevokedAt.IsZero() {
			k.RevokedAt = now
		}
		return k, nil
	})
	if err != nil {
		return err
	}
	s.record(c, store.AuditEntry{Action: audit.ActionKeyRevoke, Outcome: audit.OutcomeOK, Detail: "key " + id})
	s.log.Info("API key revoked", "key_id", id, "operator", c.Get(ctxOperator))
	return c.Redirect(http.StatusSeeOther, "/keys?done=key_revoked")
}
