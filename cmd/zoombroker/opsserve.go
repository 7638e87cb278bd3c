package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/tokens"
)

// httpService is one listener and the handler it serves.
type httpService struct {
	name    string // "main" or "metrics", for log lines
	ln      net.Listener
	handler http.Handler
	tls     *tls.Config // nil serves plain HTTP
}

// openListeners opens the main listener, with TLS when configured, and the
// metrics listener when it has an address of its own.
func (c *cli) openListeners(cfg Config, vs values, handler http.Handler, m *metrics.Metrics, log *slog.Logger) ([]httpService, error) {
	main := httpService{name: "main", handler: handler}
	if cfg.Ops.TLS() {
		certs, err := newCertReloader(cfg.Ops.TLSCertFile, cfg.Ops.TLSKeyFile, c.now, log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", vs.label(envTLSCertFile), err)
		}
		main.tls = certs.tlsConfig()
		cfg.Security.applyClientCA(main.tls)
	}

	var err error
	main.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; set %s to a free address", cfg.Listen, unwrapPath(err), vs.label(envListen))
	}
	services := []httpService{main}

	if cfg.Ops.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.Ops.MetricsListen)
		if err != nil {
			main.ln.Close()
			return nil, fmt.Errorf("listen on %s: %w; set %s to a free address", cfg.Ops.MetricsListen, unwrapPath(err), vs.label(envMetricsListen))
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		services = append(services, httpService{name: "metrics", ln: ln, handler: mux})
	}
	return services, nil
}

// serveHTTP serves every service until ctx is done or one of them fails.
// Then it shuts all of them down: they stop accepting at once, and
// in-flight requests may run until grace has passed. It returns that
// deadline, which the rest of the shutdown shares.
func serveHTTP(ctx context.Context, services []httpService, grace time.Duration, log *slog.Logger) (time.Time, error) {
	servers := make([]*http.Server, len(services))
	served := make(chan error, len(services))
	for i, svc := range services {
		hs := &http.Server{
			Handler:           svc.handler,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			TLSConfig:         svc.tls,
		}
		servers[i] = hs
		go func() {
			var err error
			if svc.tls != nil {
				err = hs.ServeTLS(svc.ln, "", "") // the certificate comes from TLSConfig
			} else {
				err = hs.Serve(svc.ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				err = fmt.Errorf("serve HTTP on %s listener: %w", svc.name, err)
			}
			served <- err
		}()
	}

	var failed error
	select {
	case failed = <-served:
	case <-ctx.Done():
	}

	deadline := time.Now().Add(grace)
	log.Info("shutting down", "grace", grace.String())
	shutdownCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for i, hs := range servers {
		if err := hs.Shutdown(shutdownCtx); err != nil {
			hs.Close()
			failed = errors.Join(failed, fmt.Errorf("shut down %s listener: in-flight requests did not finish within %s: %w", services[i].name, grace, err))
		}
	}
	return deadline, failed
}

// waitRefreshes waits until every running refresh has stored its result,
// or until deadline. A refresh cut off after Zoom rotated the token loses
// the account, so running out of time is an error.
func waitRefreshes(ts *tokens.Service, deadline time.Time, log *slog.Logger) error {
	done := make(chan struct{})
	go func() {
		ts.Wait()
		close(done)
	}()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		log.Error("shutdown grace period ended while refreshes were running; an account whose rotated token was not stored needs reconnect")
		return errors.New("shut down: refreshes did not finish within the grace period")
	}
}
