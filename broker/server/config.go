package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/zoombroker/zoombroker/broker/events"
	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
)

// Config holds what the HTTP server needs. Tokens, Store, BaseURL and
// CookieKeys are required.
type Config struct {
	Tokens *tokens.Service
	Store  store.Store

	// BaseURL is the public URL of the broker. The OAuth redirect URL is
	// BaseURL + /oauth/callback.
	BaseURL *url.URL

	// CookieKeys are the securecookie key pairs, newest first. Each is 64
	// bytes: a 32-byte hash key, then a 32-byte block key. Cookies are
	// written with the first and read with any.
	CookieKeys [][]byte

	// Logger receives one line per request and every handled error; nil
	// discards.
	Logger *slog.Logger

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// WebhookSecrets are the secret tokens of the Zoom apps' webhooks. An
	// app without one has no webhook endpoint.
	WebhookSecrets map[store.App]secret.Secret

	// ConnectRedirects lists the URL prefixes that connect sessions may
	// send end users back to, such as https://app.example.com/zoom/. Empty
	// means connect sessions cannot be created.
	ConnectRedirects []string

	// ConnectSessionTTL is how long a connect link stays valid; zero
	// means 15 minutes.
	ConnectSessionTTL time.Duration

	// BrandName is the company name the connect page shows; empty means
	// "zoombroker".
	BrandName string

	// Sandbox labels the console as running against the built-in Zoom
	// sandbox.
	Sandbox bool

	// Mounts serves extra handlers under path prefixes (for example the
	// sandbox under "/sandbox" in dev mode). The prefix is stripped.
	Mounts map[string]http.Handler

	// Version is shown in the console footer and in /readyz.
	Version string

	// Metrics counts requests by route and status when set; nil records
	// nothing.
	Metrics *metrics.Metrics

	// ServeMetrics serves Metrics at GET /metrics on this server. Leave it
	// false when the metrics have a listener of their own.
	ServeMetrics bool

	// ReadyChecks run on every GET /readyz after the store's Ping. Each
	// must be cheap, because orchestrators poll readiness every second.
	ReadyChecks []ReadyCheck

	// Backup streams a consistent copy of the store for GET /ops/backup;
	// nil makes that endpoint return 501.
	Backup Backuper

	// Events manages the webhook endpoints of /v1/webhooks and the
	// console's events page; nil makes those return 404.
	Events *events.Service

	// ProxyTimeout bounds one call through the Zoom API proxy, the
	// response body included. Zero means DefaultProxyTimeout.
	ProxyTimeout time.Duration

	// Security holds the audit log, trusted proxies, the SSO header,
	// client certificates and the limit on failed authentications.
	Security SecurityConfig
}

func (c Config) validate() error {
	var problems []error
	if c.Tokens == nil {
		problems = append(problems, errors.New("server: Tokens is required"))
	}
	if c.Store == nil {
		problems = append(problems, errors.New("server: Store is required"))
	}
	if c.BaseURL == nil || (c.BaseURL.Scheme != "http" && c.BaseURL.Scheme != "https") || c.BaseURL.Host == "" {
		problems = append(problems, errors.New("server: BaseURL must be an absolute http or https URL"))
	}
	if len(c.CookieKeys) == 0 {
		problems = append(problems, errors.New("server: at least one cookie key is required"))
	}
	for i, k := range c.CookieKeys {
		if len(k) != 64 {
			problems = append(problems, fmt.Errorf("server: cookie key %d has %d bytes; want 64", i+1, len(k)))
		}
	}
	return errors.Join(problems...)
}
