package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/broker/events"
	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/store"
)

// eventsWiring holds the account events service and the Zoom API proxy's
// time limit, which serve passes to buildServer.
type eventsWiring struct {
	svc          *events.Service
	proxyTimeout time.Duration
	done         chan struct{}
}

// startEvents parses ZOOMBROKER_WEBHOOKS and ZOOMBROKER_PROXY_TIMEOUT,
// builds the events service and writes the configured endpoints to the
// store. Its deliverer starts with run.
func (c *cli) startEvents(ctx context.Context, cfg Config, vs values, db store.Store, log *slog.Logger, m *metrics.Metrics) (*eventsWiring, error) {
	var problems []error
	endpoints, err := parseWebhookEndpoints(vs[envWebhooks].text)
	if err != nil {
		problems = append(problems, fmt.Errorf("%s: %w", vs.label(envWebhooks), err))
	}
	text := vs[envProxyTimeout].text
	if text == "" {
		text = settingFor(envProxyTimeout).def
	}
	proxyTimeout, err := time.ParseDuration(text)
	if err != nil || proxyTimeout < time.Second {
		problems = append(problems, fmt.Errorf("%s: %q is not a duration of at least 1s; set it to a value such as %s", vs.label(envProxyTimeout), text, settingFor(envProxyTimeout).def))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}

	sealer, err := seal.New(cfg.EncryptionKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envEncryptionKey, err)
	}
	svc, err := events.New(events.Config{Store: db, Sealer: sealer, Endpoints: endpoints, Now: c.now, Logger: log, Delivered: m.EventDelivered})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vs.label(envWebhooks), err)
	}
	if err := svc.SyncEndpoints(ctx); err != nil {
		return nil, err
	}
	return &eventsWiring{svc: svc, proxyTimeout: proxyTimeout, done: make(chan struct{})}, nil
}

// run delivers events until ctx ends; wait returns after it stopped.
func (w *eventsWiring) run(ctx context.Context) {
	go func() {
		defer close(w.done)
		w.svc.Run(ctx)
	}()
}

func (w *eventsWiring) wait() { <-w.done }

// parseWebhookEndpoints reads "URL|SECRET" entries separated by commas or
// white space. A URL that contains a comma, a space or "|" must
// percent-encode it.
func parseWebhookEndpoints(text string) ([]events.Endpoint, error) {
	var out []events.Endpoint
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	for i, f := range fields {
		u, sec, ok := strings.Cut(f, "|")
		switch {
		case !ok || sec == "":
			return nil, fmt.Errorf("entry %d has no secret; write URL|SECRET", i+1)
		case len(sec) < 16:
			return nil, fmt.Errorf("entry %d: the secret has %d characters; use at least 16", i+1, len(sec))
		}
		if err := events.CheckURL(u); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		out = append(out, events.Endpoint{URL: u, Secret: secret.Secret(sec)})
	}
	return out, nil
}
