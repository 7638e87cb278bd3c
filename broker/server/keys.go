package server

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

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
	return c.Render(status, "keys.html", s.page(c, "API keys", data))
}

func (s *Server) createKey(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if err := auth.CheckKeyName(name); err != nil {
		return s.renderKeys(c, http.StatusBadRequest, map[string]any{"Error": err.Error()})
	}

	k, full := auth.NewKey(name, s.now())
	if err := s.store.CreateAPIKey(c.Request().Context(), k); err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	s.log.Info("API key created", "key_id", k.ID, "operator", c.Get(ctxOperator))
	return s.renderKeys(c, http.StatusOK, map[string]any{"NewKey": full.Reveal(), "NewKeyID": k.ID})
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
	s.log.Info("API key revoked", "key_id", id, "operator", c.Get(ctxOperator))
	return c.Redirect(http.StatusSeeOther, "/keys?done=key_revoked")
}
