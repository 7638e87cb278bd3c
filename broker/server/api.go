package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/store"
)

// ctxAPIKey is the echo context key of the authenticated API key.
const ctxAPIKey = "zoombroker.api_key"

func (s *Server) registerAPI(g *echo.Group) {
	// Route-level middleware rather than g.Use: echo's Group.Use adds
	// catch-all routes that would turn every 405 into a 404. On each
	// route the audit comes first, so that it records rejections, then the
	// key, then the key's limits.
	key, acct, unlimited := s.requireAPIKey, s.requireAccountAccess, s.requireUnlimited
	rejections := func(action string) echo.MiddlewareFunc { return s.audited(action, false) }
	all := func(action string) echo.MiddlewareFunc { return s.audited(action, true) }
	g.GET("/apps", s.listApps, rejections(audit.ActionAppList), key)
	g.GET("/accounts", s.listAccounts, rejections(audit.ActionAccountList), key)
	g.GET("/accounts/:id", s.getAccount, rejections(audit.ActionAccountGet), key, acct)
	g.DELETE("/accounts/:id", s.deleteAccount, all(audit.ActionAccountRevoke), key, acct)
	g.POST("/accounts/:id/token", s.issueToken, markArrival, all(audit.ActionTokenIssue), key, acct)
	g.DELETE("/accounts", s.removeOwner, all(audit.ActionConnectLink), key)
	g.POST("/connect-sessions", s.createConnectSession, all(audit.ActionConnectLink), key)
	g.Any("/accounts/:id/zoom/*", s.proxyZoom, markBrokerOrigin, rejections(audit.ActionZoomProxy), key, acct)
	g.GET("/webhooks", s.listWebhooks, rejections(audit.ActionWebhookManage), key, unlimited)
	g.POST("/webhooks", s.createWebhook, all(audit.ActionWebhookManage), key, unlimited)
	g.DELETE("/webhooks/:id", s.deleteWebhook, all(audit.ActionWebhookManage), key, unlimited)
	g.GET("/audit", s.listAudit, rejections(audit.ActionAuditList), key, unlimited)
}

// requireAPIKey authenticates the caller with "Authorization: Bearer KEY"
// or a client certificate; see authenticate.
func (s *Server) requireAPIKey(next echo.HandlerFunc) echo.HandlerFunc {
	return s.authenticate(next)
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
	limits := callerLimits(c)
	apps := []appView{}
	for _, a := range s.apps() {
		if limits.AllowsApp(a.App) {
			apps = append(apps, a)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"apps": apps})
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
	Owners               []string   `json:"external_user_ids"`
	ConsoleConnected     bool       `json:"console_connected"`
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
	v.Owners = a.Owners
	v.ConsoleConnected = a.ConsoleConnected
	if v.Owners == nil {
		v.Owners = []string{}
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
