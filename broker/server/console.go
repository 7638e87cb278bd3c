package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/templates"
)

// ctxOperator is the echo context key of the signed-in operator's name.
const ctxOperator = "zoombroker.operator"

func (s *Server) registerConsole(e *echo.Echo) {
	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf",
		CookieName:     "zb_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.secure,
		CookieSameSite: http.SameSiteLaxMode,
		CookieMaxAge:   int(sessionTTL.Seconds()),
	})
	signedIn := s.requireSession

	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(templates.Static()))))
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/accounts") })
	e.GET("/signin", s.signInPage, csrf)
	e.POST("/signin", s.signIn, csrf)
	e.POST("/signout", s.signOut, csrf)

	e.GET("/accounts", s.accountsPage, csrf, signedIn)
	e.GET("/accounts/:id", s.accountPage, csrf, signedIn)
	e.POST("/accounts/:id/revoke", s.revokeAccount, csrf, signedIn)
	e.POST("/accounts/:id/reconnect", s.reconnectAccount, csrf, signedIn)
	e.POST("/connect/:app", s.startConnect, csrf, signedIn)
	e.GET("/oauth/callback", s.callback)
	e.GET("/connect", s.linkPage)
	e.POST("/connect/start", s.linkStart)

	e.GET("/keys", s.keysPage, csrf, signedIn)
	e.POST("/keys", s.createKey, csrf, signedIn)
	e.POST("/keys/:id/revoke", s.revokeKey, csrf, signedIn)

	e.GET("/events", s.eventsPage, csrf, signedIn)
	e.GET("/audit", s.auditPage, csrf, signedIn)
}

// page collects what every template needs.
func (s *Server) page(c echo.Context, title string, data map[string]any) map[string]any {
	if data == nil {
		data = map[string]any{}
	}
	data["Title"] = title
	data["Sandbox"] = s.cfg.Sandbox
	data["Version"] = s.cfg.Version
	if op, ok := c.Get(ctxOperator).(string); ok {
		data["Operator"] = op
	}
	if tok, ok := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string); ok {
		data["CSRF"] = tok
	}
	return data
}

// safeNext returns next if it is a path on this console, else "/accounts":
// a return-to value must never send the browser to another site.
func safeNext(next string) string {
	// Browsers drop tabs and newlines from URLs and read a backslash as a
	// slash, so "/\t/evil.example" would leave the site: such characters
	// anywhere reject the value.
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/accounts"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/accounts"
	}
	return next
}

func (s *Server) signInPage(c echo.Context) error {
	return c.Render(http.StatusOK, "signin.html", s.page(c, "Sign in", map[string]any{"Next": safeNext(c.QueryParam("next"))}))
}

// notices are the messages a redirect may ask a page to show. Only these
// fixed texts can appear, so a crafted link cannot put words on the page.
var notices = map[string]string{
	"connected":   "Account connected.",
	"reconnected": "Account reconnected: the existing account got the new grant.",
	"other_user":  "Zoom signed in a different user than the account being reconnected, so a new account was connected. The old account still needs a reconnect with its own Zoom user.",
	"revoked":     "Account revoked.",
	"key_revoked": "API key revoked.",
}

func (s *Server) accountsPage(c echo.Context) error {
	ctx := c.Request().Context()
	var rows []accountRow
	after := ""
	for {
		page, next, err := s.store.ListAccounts(ctx, store.ListOptions{After: after, Limit: 500})
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		for _, a := range page {
			rows = append(rows, s.row(a))
		}
		// TODO: page the console list; it reads at most 5,000 accounts
		// because one HTML page is no place for more.
		if next == "" || len(rows) >= 5000 {
			break
		}
		after = next
	}
	return c.Render(http.StatusOK, "accounts.html", s.page(c, "Connected accounts", map[string]any{
		"Accounts": rows,
		"Apps":     s.apps(),
		"Notice":   notices[c.QueryParam("done")],
	}))
}

func (s *Server) accountPage(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	a, err := s.store.GetAccount(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "account.html", s.page(c, "Account "+a.ID, map[string]any{
		"Account": s.row(a),
		"Notice":  notices[c.QueryParam("done")],
	}))
}

func (s *Server) revokeAccount(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	a, err := s.store.GetAccount(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		return c.Render(http.StatusOK, "revoke.html", s.page(c, "Revoke account", map[string]any{"Account": s.row(a)}))
	}

	op := c.Get(ctxOperator).(string)
	res, err := s.tokens.Revoke(c.Request().Context(), id, "revoked in the console by "+op)
	if err != nil {
		s.record(c, store.AuditEntry{Action: audit.ActionAccountRevoke, Outcome: audit.OutcomeFailed, Detail: classify(err).Message})
		return err
	}
	s.record(c, store.AuditEntry{Action: audit.ActionAccountRevoke, Outcome: audit.OutcomeOK, Detail: revokeDetail(res.ZoomError)})
	if res.ZoomError != nil {
		return c.Render(http.StatusOK, "account.html", s.page(c, "Account "+id, map[string]any{
			"Account": s.row(res.Account),
			"Warning": "The tokens were deleted here, but Zoom could not confirm the revoke. The user can remove the app at Zoom.",
		}))
	}
	return c.Redirect(http.StatusSeeOther, "/accounts/"+id+"?done=revoked")
}

// accountRow is an account as the console shows it.
type accountRow struct {
	store.Account
	AppName        string
	ExpiresIn      string
	RefreshAge     string
	NeedsReconnect bool
	Revoked        bool
}

func (s *Server) row(a store.Account) accountRow {
	now := s.now()
	r := accountRow{Account: a, AppName: appName(a.App), NeedsReconnect: a.Status == store.StatusNeedsReconnect, Revoked: a.Status == store.StatusRevoked}
	if !a.TokenExpiresAt.IsZero() {
		r.ExpiresIn = humanDuration(a.TokenExpiresAt.Sub(now))
	}
	if !a.RefreshTokenIssuedAt.IsZero() {
		r.RefreshAge = humanDuration(a.RefreshTokenIssuedAt.Sub(now))
	}
	return r
}

// humanDuration prints d rounded for people: "in 52m", "3h ago".
func humanDuration(d time.Duration) string {
	past := d < 0
	if past {
		d = -d
	}
	var text string
	switch {
	case d < time.Minute:
		text = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		text = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		text = fmt.Sprintf("%dh", int(d.Hours()))
	default:
		text = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if past {
		return text + " ago"
	}
	return "in " + text
}

func appName(a store.App) string {
	if a == store.AppZoomAdmin {
		return "Zoom Admin"
	}
	return "Zoom"
}

func appDescription(a store.App) string {
	if a == store.AppZoomAdmin {
		return "Account-level scopes, for admins: users, reports and everything across the Zoom account."
	}
	return "User-managed scopes, for non-admins: their own meetings, webinars and recordings."
}
