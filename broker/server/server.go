package server

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/templates"
)

// maxBodyBytes limits every request body.
const maxBodyBytes = 64 << 10

// Server serves the API, the console and the connect flow.
type Server struct {
	cfg    Config
	tokens *tokens.Service
	store  store.Store
	log    *slog.Logger
	now    func() time.Time
	codecs []securecookie.Codec
	pages  *template.Template
	secure bool // the base URL is https, so cookies get the Secure flag
	echo   *echo.Echo

	// replays remembers accepted Zoom webhook signatures.
	replays replayGuard

	// keyUse remembers when each API key's use was last written.
	keyUse sync.Map // key id -> time.Time

	// notReady is set while /readyz fails, so only changes are logged.
	notReady atomic.Bool

	// failures limits failed authentications per client address.
	failures *auth.FailureLimiter
}

// New validates cfg and builds the server's routes.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pages, err := templates.Parse()
	if err != nil {
		return nil, fmt.Errorf("server: parse templates: %w", err)
	}

	s := &Server{
		cfg:    cfg,
		tokens: cfg.Tokens,
		store:  cfg.Store,
		log:    cfg.Logger,
		now:    cfg.Now,
		pages:  pages,
		secure: cfg.BaseURL.Scheme == "https",

		failures: newFailureLimiter(cfg.Security),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var pairs [][]byte
	for _, k := range cfg.CookieKeys {
		pairs = append(pairs, k[:32], k[32:])
	}
	s.codecs = securecookie.CodecsFromPairs(pairs...)
	for _, c := range s.codecs {
		// Our own payloads carry their expiry; this bound only stops
		// very old cookies early.
		c.(*securecookie.SecureCookie).MaxAge(int((24 * time.Hour).Seconds()))
	}

	s.echo = s.routes()
	return s, nil
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Renderer = s
	// The direct peer, unless trusted proxies are configured.
	e.IPExtractor = s.ipExtractor()

	// Metrics first, so they see the status the inner middleware wrote.
	e.Use(s.cfg.Metrics.Middleware())
	e.Use(middleware.Recover())
	e.Use(s.requestID)
	e.Use(s.logRequests())
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: fmt.Sprintf("%dB", maxBodyBytes),
		// The Zoom API proxy streams bodies of any size, and so do the
		// handlers mounted under their own prefixes (the dev sandbox
		// standing in for Zoom).
		Skipper: func(c echo.Context) bool { return isProxyPath(c) || s.isMounted(c) },
	}))
	e.Use(s.securityHeaders)

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.ready)
	s.registerOps(e)
	for prefix, h := range s.cfg.Mounts {
		e.Any(prefix+"/*", echo.WrapHandler(http.StripPrefix(prefix, h)))
	}

	s.registerAPI(e.Group("/v1"))
	e.POST("/webhooks/zoom/:app", s.zoomWebhook, s.audited(audit.ActionZoomWebhook, false))
	s.registerConsole(e)
	return e
}

// securityHeaders sets the headers every response carries. The policy
// allows no inline script, and no page may be framed.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		if !strings.HasPrefix(c.Request().URL.Path, "/sandbox/") {
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' "+s.formTargets()+"; frame-ancestors 'none'; base-uri 'none'")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// formTargets lists the origins a console form may post to besides our own:
// the Zoom OAuth origin, because Connect Account redirects there.
func (s *Server) formTargets() string {
	return s.tokens.OAuthOrigin()
}

// Render implements echo.Renderer. It renders into a buffer first, so a
// template error never sends half a page.
func (s *Server) Render(w io.Writer, name string, data any, c echo.Context) error {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

func (s *Server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		// The path only: the callback's query carries the code and state.
		LogURIPath:   true,
		LogMethod:    true,
		LogStatus:    true,
		LogLatency:   true,
		LogRequestID: true,
		LogRemoteIP:  true,
		LogError:     true,
		HandleError:  true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []any{"method", v.Method, "path", v.URIPath, "route", c.Path(), "status", v.Status, "latency_ms", v.Latency.Milliseconds(), "request_id", v.RequestID, "remote_ip", v.RemoteIP}
			if v.Error != nil && v.Status >= 500 {
				attrs = append(attrs, "err", v.Error)
			}
			s.log.Info("request", attrs...)
			return nil
		},
	})
}

// isAPI reports whether the request is for the JSON API.
func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/v1" || strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/webhooks/") || strings.HasPrefix(p, "/ops/")
}

func errorsAs[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}

// isMounted reports whether the request is for a handler in Config.Mounts.
func (s *Server) isMounted(c echo.Context) bool {
	for prefix := range s.cfg.Mounts {
		if strings.HasPrefix(c.Request().URL.Path, prefix+"/") {
			return true
		}
	}
	return false
}
