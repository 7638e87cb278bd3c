package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/store"
)

// ctxAPIKey is the echo context key of the authenticated API key.
const ctxAPIKey = "zoombroker.api_key"

func (s *Server) registerAPI(g *echo.Group) {
	// Route-level middleware rather than g.Use: echo's Group.Use adds
	// catch-all routes that would turn every 405 into a 404.
	key := s.requireAPIKey
	g.GET("/apps", s.listApps, key)
	g.GET("/accounts", s.listAccounts, key)
	g.GET("/accounts/:id", s.getAccount, key)
	g.DELETE("/accounts/:id", s.deleteAccount, key)
	g.POST("/accounts/:id/token", s.issueToken, markArrival, key)
}

// requireAPIKey authenticates the caller with "Authorization: Bearer KEY".
func (s *Server) requireAPIKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if n := len(c.Request().Header.Values(echo.HeaderAuthorization)); n > 1 {
			return newError(http.StatusUnauthorized, "unauthorized", "The request has %d Authorization headers; send exactly one.", n)
		}
		header := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, key, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="zoombroker"`)
			return newError(http.StatusUnauthorized, "unauthorized", "Send an API key as \"Authorization: Bearer <key>\"; create one with `zoombroker keys create` or in the console.")
		}

		k, err := auth.VerifyKey(c.Request().Context(), s.store, strings.TrimSpace(key))
		switch {
		case errors.Is(err, auth.ErrInvalidKey):
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="zoombroker", error="invalid_token"`)
			return newError(http.StatusUnauthorized, "unauthorized", "The API key is not valid.")
		case errors.Is(err, auth.ErrRevokedKey):
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="zoombroker", error="invalid_token"`)
			return newError(http.StatusUnauthorized, "unauthorized", "The API key was revoked.")
		case err != nil:
			return err
		}
		c.Set(ctxAPIKey, k)
		s.touchKey(k)
		return next(c)
	}
}

// appView is one app in GET /v1/apps.
type appView struct {
	App         store.App `json:"app"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Configured  bool      `json:"configured"`
}

func (s *Server) apps() []appView {
	var out []appView
	for _, app := range store.Apps {
		_, ok := s.tokens.Credentials(app)
		out = append(out, appView{App: app, Name: appName(app), Description: appDescription(app), Configured: ok})
	}
	return out
}

func (s *Server) listApps(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"apps": s.apps()})
}

// accountView is the JSON of an account. It never carries a token.
type accountView struct {
	ID                   string     `json:"id"`
	App                  store.App  `json:"app"`
	Status               string     `json:"status"`
	Zoom                 zoomView   `json:"zoom"`
	Scopes               []string   `json:"scopes"`
	CreatedAt            time.Time  `json:"created_at"`
	UpdatedAt            time.Time  `json:"updated_at"`
	TokenExpiresAt       *time.Time `json:"token_expires_at"`
	LastRefreshedAt      *time.Time `json:"last_refreshed_at"`
	RefreshTokenIssuedAt *time.Time `json:"refresh_token_issued_at"`
	NextRefreshAt        *time.Time `json:"next_refresh_at"`
	LastError            *errorView `json:"last_error"`
	RevokedAt            *time.Time `json:"revoked_at,omitempty"`
	RevokeReason         string     `json:"revoke_reason,omitempty"`
}

type zoomView struct {
	UserID      string `json:"user_id"`
	AccountID   string `json:"account_id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

type errorView struct {
	Code    string     `json:"code"`
	Message string     `json:"message"`
	At      *time.Time `json:"at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func viewAccount(a store.Account) accountView {
	v := accountView{
		ID:                   a.ID,
		App:                  a.App,
		Status:               string(a.Status),
		Zoom:                 zoomView{UserID: a.Zoom.UserID, AccountID: a.Zoom.AccountID, Email: a.Zoom.Email, DisplayName: a.Zoom.DisplayName},
		Scopes:               a.Scopes,
		CreatedAt:            a.CreatedAt.UTC(),
		UpdatedAt:            a.UpdatedAt.UTC(),
		TokenExpiresAt:       timePtr(a.TokenExpiresAt),
		LastRefreshedAt:      timePtr(a.LastRefreshedAt),
		RefreshTokenIssuedAt: timePtr(a.RefreshTokenIssuedAt),
		NextRefreshAt:        timePtr(a.NextRefreshAt),
		RevokedAt:            timePtr(a.RevokedAt),
		RevokeReason:         a.RevokeReason,
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if a.LastErrorCode != "" {
		v.LastError = &errorView{Code: a.LastErrorCode, Message: a.LastError, At: timePtr(a.LastErrorAt)}
	}
	return v
}

// touchKey records that the key was used, at most once a minute per key and
// off the request path, so the hand-out does not wait for a disk write.
func (s *Server) touchKey(k store.APIKey) {
	now := s.now().UTC()
	if now.Sub(k.LastUsedAt) < time.Minute {
		return
	}
	if last, ok := s.keyUse.Load(k.ID); ok && now.Sub(last.(time.Time)) < time.Minute {
		return
	}
	s.keyUse.Store(k.ID, now)

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := s.store.UpdateAPIKey(ctx, k.ID, func(k store.APIKey) (store.APIKey, error) {
			k.LastUsedAt = now
			return k, nil
		})
		if err != nil {
			s.log.Warn("record API key use failed", "key_id", k.ID, "err", err)
		}
	}()
}
