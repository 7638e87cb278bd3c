package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
)

// Limits of the HTTP server.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// dbFile is the name of the bbolt file in the data directory.
const dbFile = "zoombroker.db"

// serveLockTimeout bounds the wait for the bbolt file lock at startup, so
// a second broker on the same data directory fails fast.
const serveLockTimeout = time.Second

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := newFlagSet("serve")
	devFlag := fs.Bool("dev", false, "run against the built-in Zoom sandbox")
	sf := addSettingFlags(fs)
	positional, err := c.parseFlags(fs, "serve", serveUsage(), args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return &usageError{topic: "serve", msg: fmt.Sprintf("serve takes no arguments, got %q", positional[0])}
	}

	cfg, vs, err := c.loadConfig(sf, *devFlag)
	if err != nil {
		return err
	}
	log := newLogger(c.stderr, cfg.LogFormat)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}

	db, err := openServeStore(ctx, cfg, vs, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close database failed", "err", err)
		}
	}()

	var dev *devMode
	var mounts map[string]http.Handler
	if cfg.Dev {
		dev, err = startDevMode(ctx, &cfg, db, log, c.now)
		if err != nil {
			return err
		}
		mounts = map[string]http.Handler{sandboxPrefix: dev.sandbox.Handler()}
	}

	m := metrics.New(metrics.Options{Version: versionString(), Accounts: db, Now: c.now, Logger: log})
	ops := opsWiring{metrics: m, backup: onlineBackup(db), ready: []server.ReadyCheck{schemaCheck(db)}}
	sec, err := c.startSecurity(ctx, cfg, db, log, m)
	if err != nil {
		return err
	}
	defer sec.close()
	ev, err := c.startEvents(ctx, cfg, vs, db, log, m)
	if err != nil {
		return err
	}
	handler, ts, err := c.buildServer(cfg, db, log, mounts, ops, sec, ev)
	if err != nil {
		return err
	}

	services, err := c.openListeners(cfg, vs, handler, m, log)
	if err != nil {
		return err
	}
	if dev != nil {
		dev.printCredentials(c.stdout, cfg.BaseURL.String())
	}
	logStart(log, cfg, services[0].ln.Addr().String())

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The refresher stops with the signal; a refresh it started runs to
	// its own timeout so a rotated token is still stored.
	refresherDone := make(chan struct{})
	go func() {
		defer close(refresherDone)
		ts.RunRefresher(ctx, tokens.RefresherConfig{})
	}()
	ev.run(ctx)

	deadline, err := serveHTTP(ctx, services, cfg.Ops.ShutdownGrace, log)
	stop()
	<-refresherDone
	ev.wait()
	err = errors.Join(err, waitRefreshes(ts, deadline, log))
	if err != nil {
		return err
	}
	log.Info("zoombroker stopped")
	return nil
}

// loadConfig resolves and validates the settings and checks the data
// directory, reporting every problem at once.
func (c *cli) loadConfig(sf *settingFlags, dev bool) (Config, values, error) {
	// A setting that could not be read would also show up as missing, so
	// those problems are reported alone.
	vs, err := sf.resolve(c.env)
	if err != nil {
		return Config{}, nil, joinProblems(unjoin(err))
	}

	var problems []error
	cfg, err := parseConfig(vs, dev)
	if err != nil {
		problems = append(problems, unjoin(err)...)
	}
	// PostgreSQL replaces the data directory, except in dev mode, which
	// keeps its generated keys there.
	if cfg.DataDir != "" && (dev || !usesPostgres(vs)) {
		if err := checkDataDir(vs, cfg.DataDir); err != nil {
			problems = append(problems, err)
		}
	}
	return cfg, vs, joinProblems(problems)
}

// unjoin returns the errors that err joins, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// buildServer wires the sealer, the Zoom client, the token service and the
// HTTP server.
func (c *cli) buildServer(cfg Config, db store.Store, log *slog.Logger, mounts map[string]http.Handler, ops opsWiring, sec *securityWiring, ev *eventsWiring) (http.Handler, *tokens.Service, error) {
	sealer, err := seal.New(cfg.EncryptionKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", envEncryptionKey, err)
	}

	zc := &zoom.Client{
		OAuthURL: cfg.ZoomOAuthURL,
		APIURL:   cfg.ZoomAPIURL,
		HTTP:     &http.Client{Timeout: cfg.ZoomTimeout},
		Now:      c.now,
	}
	// The token service and the server see the store through the metrics
	// decorator; readiness and backups use the store itself.
	instrumented := ops.metrics.InstrumentStore(db)
	ts, err := tokens.New(tokens.Config{
		Store:    instrumented,
		Observer: ops.metrics,
		Sealer:   sealer,
		Zoom:     zc,
		Apps:     cfg.Apps,
		Now:      c.now,
		Logger:   log,
		// One refresh may be retried once when its outcome is unknown.
		ZoomTimeout:        2 * cfg.ZoomTimeout,
		RefreshLead:        cfg.Lifecycle.RefreshLead,
		RenewEvery:         cfg.Lifecycle.RenewEvery,
		TombstoneRetention: cfg.Lifecycle.TombstoneRetention,
		Events:             ev.svc,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start token service: %w", err)
	}

	srv, err := server.New(server.Config{
		Tokens:     ts,
		Store:      instrumented,
		BaseURL:    cfg.BaseURL,
		CookieKeys: cfg.CookieKeys,
		Logger:     log,
		Now:        c.now,
		Sandbox:    cfg.Dev,

		WebhookSecrets:    cfg.Lifecycle.WebhookSecrets,
		ConnectRedirects:  cfg.Lifecycle.ConnectRedirects,
		ConnectSessionTTL: cfg.Lifecycle.ConnectSessionTTL,
		BrandName:         cfg.Lifecycle.BrandName,
		Mounts:            mounts,
		Version:           versionString(),

		Metrics:      ops.metrics,
		ServeMetrics: cfg.Ops.MetricsListen == "",
		ReadyChecks:  append(ops.ready, keysCheck(sealer)),
		Backup:       ops.backup,

		Security: sec.server,

		Events:       ev.svc,
		ProxyTimeout: ev.proxyTimeout,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start HTTP server: %w", err)
	}
	return srv.Handler(), ts, nil
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// logStart logs where the broker listens and which apps are configured,
// and warns when plain HTTP is reachable from other hosts.
func logStart(log *slog.Logger, cfg Config, addr string) {
	configured, missing := []string{}, []string{}
	for _, app := range store.Apps {
		if _, ok := cfg.Apps[app]; ok {
			configured = append(configured, string(app))
		} else {
			missing = append(missing, string(app))
		}
	}
	log.Info("zoombroker started",
		"version", versionString(),
		"listen", cfg.Listen,
		"addr", addr,
		"base_url", cfg.BaseURL.String(),
		"data_dir", cfg.DataDir,
		"zoom_oauth_url", cfg.ZoomOAuthURL,
		"apps_configured", configured,
		"apps_not_configured", missing,
		"dev", cfg.Dev,
		"tls", cfg.Ops.TLS(),
		"metrics_listen", cfg.Ops.MetricsListen,
	)

	if plainHTTPExposed(cfg) {
		log.Warn("listening on a non-loopback address without TLS, so tokens cross the network in clear text; set "+
			envTLSCertFile+" and "+envTLSKeyFile+", or put a TLS-terminating proxy in front and set "+
			envBaseURL+" to its https URL", "listen", cfg.Listen)
	}
}

// isLoopback reports whether the listen address accepts connections only
// from this host.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
