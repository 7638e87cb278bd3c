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
	"path/filepath"
	"syscall"
	"time"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// Limits of the HTTP server.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownGrace     = 30 * time.Second
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

	dbPath := filepath.Join(cfg.DataDir, dbFile)
	db, err := bolt.Open(dbPath, bolt.Options{LockTimeout: serveLockTimeout})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("another zoombroker is using %s; stop it or use its console, or set %s to another directory", dbPath, vs.label(envDataDir))
	}
	if err != nil {
		return fmt.Errorf("open database: %w", err)
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

	handler, ts, err := c.buildServer(cfg, db, log, mounts)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; set %s to a free address", cfg.Listen, unwrapPath(err), vs.label(envListen))
	}
	if dev != nil {
		dev.printCredentials(c.stdout, cfg.BaseURL.String())
	}
	logStart(log, cfg, ln.Addr().String())

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The refresher stops with the signal; a refresh it started runs to
	// its own timeout so a rotated token is still stored.
	refresherDone := make(chan struct{})
	go func() {
		defer close(refresherDone)
		ts.RunRefresher(ctx, tokens.RefresherConfig{})
	}()

	err = serveHTTP(ctx, ln, handler, log)
	stop()
	<-refresherDone
	ts.Wait()
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
	if cfg.DataDir != "" {
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
func (c *cli) buildServer(cfg Config, db store.Store, log *slog.Logger, mounts map[string]http.Handler) (http.Handler, *tokens.Service, error) {
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
	ts, err := tokens.New(tokens.Config{
		Store:  db,
		Sealer: sealer,
		Zoom:   zc,
		Apps:   cfg.Apps,
		Now:    c.now,
		Logger: log,
		// One refresh may be retried once when its outcome is unknown.
		ZoomTimeout:        2 * cfg.ZoomTimeout,
		RefreshLead:        cfg.Lifecycle.RefreshLead,
		RenewEvery:         cfg.Lifecycle.RenewEvery,
		TombstoneRetention: cfg.Lifecycle.TombstoneRetention,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start token service: %w", err)
	}

	srv, err := server.New(server.Config{
		Tokens:     ts,
		Store:      db,
		BaseURL:    cfg.BaseURL,
		CookieKeys: cfg.CookieKeys,
		Logger:     log,
		Now:        c.now,
		Sandbox:    cfg.Dev,

		WebhookSecrets: cfg.Lifecycle.WebhookSecrets,
		Mounts:         mounts,
		Version:        versionString(),
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
	)

	if !isLoopback(cfg.Listen) && cfg.BaseURL.Scheme != "https" {
		log.Warn("listening on a non-loopback address without TLS; put a TLS-terminating proxy in front and set "+
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

// serveHTTP serves until ctx is done, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", "grace", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		hs.Close()
		return fmt.Errorf("shut down HTTP server: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	return nil
}
