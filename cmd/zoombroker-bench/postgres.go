package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/postgres"
)

// pgReplicas is the number of brokers that share the database.
const pgReplicas = 3

// benchPostgres repeats the hand-out benchmark against three brokers that
// share one PostgreSQL database, in a schema of its own that it drops at
// the end.
func (r *runner) benchPostgres(ctx context.Context) error {
	if r.opts.databaseURL == "" {
		r.notRun(5, "Not run: no database was given. Set -database-url or ZOOMBROKER_TEST_DATABASE_URL to a PostgreSQL URL whose user may create schemas.")
		return nil
	}
	dbURL, drop, err := benchSchema(ctx, r.opts.databaseURL)
	if err != nil {
		return err
	}
	defer drop()

	n := r.opts.accounts
	zs := newZoomSide(n)
	defer zs.close()
	grants, err := zs.issueGrants(ctx, seq(0, n), func(int) time.Duration { return 0 })
	if err != nil {
		return err
	}
	ids, apiKey, keyText, err := loadPostgres(ctx, dbURL, zs, grants)
	if err != nil {
		return err
	}

	var bases []string
	for i := range pgReplicas {
		name := fmt.Sprintf("postgres-%d", i+1)
		dataDir := filepath.Join(r.dir, name)
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return err
		}
		b, err := startBroker(ctx, brokerConfig{
			binary: r.binary, dataDir: dataDir,
			zoomURL: zs.server.URL, clientID: zs.cred.ClientID, clientSecret: zs.cred.ClientSecret,
			encryptionKey: keyText,
			env:           []string{"ZOOMBROKER_DATABASE_URL=" + dbURL},
			logPath:       filepath.Join(r.dir, name+".log"),
		})
		if err != nil {
			return err
		}
		defer b.stop()
		bases = append(bases, b.url)
	}

	runs, err := r.replicaLoad(ctx, bases, apiKey, ids)
	if err != nil {
		return err
	}
	r.reportPostgres(runs)
	return nil
}

// benchSchema creates a schema for the run and returns a URL that uses it
// and a function that drops it.
func benchSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", postgres.Describe(base), err)
	}
	defer conn.Close(ctx)
	schema := "zoombroker_bench_" + strings.ToLower(rand.Text()[:10])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			fmt.Fprintf(os.Stderr, "drop schema %s: %v\n", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "drop schema %s: %v\n", schema, err)
		}
	}

	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("parse database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// loadPostgres stores the grants as accounts and an API key, and returns
// the account ids, the full API key and the encryption key text.
func loadPostgres(ctx context.Context, dbURL string, zs *zoomSide, grants []grant) ([]string, string, secret.Secret, error) {
	db, err := postgres.Open(ctx, dbURL, postgres.Options{})
	if err != nil {
		return nil, "", "", fmt.Errorf("open %s: %w", postgres.Describe(dbURL), err)
	}
	defer db.Close()
	key, text, err := seal.GenerateKey("k1")
	if err != nil {
		return nil, "", "", err
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		return nil, "", "", err
	}
	svc, err := tokens.New(tokens.Config{Store: db, Sealer: sealer, Zoom: zs.client, Apps: map[store.App]zoom.Credentials{store.AppZoom: zs.cred}})
	if err != nil {
		return nil, "", "", err
	}

	ids := make([]string, len(grants))
	for i, g := range grants {
		acct, err := svc.NewAccount(store.AppZoom, g.tok, g.user, tokens.ConnectOptions{Console: true})
		if err != nil {
			return nil, "", "", err
		}
		if err := db.CreateAccount(ctx, acct); err != nil {
			return nil, "", "", err
		}
		ids[i] = acct.ID
	}
	k, full := auth.NewKey("zoombroker-bench", time.Now())
	if err := db.CreateAPIKey(ctx, k); err != nil {
		return nil, "", "", err
	}
	return ids, full.Reveal(), text, nil
}

// replicaLoad is benchmark 1 with the workers spread over the replicas:
// worker w talks to replica w mod pgReplicas.
func (r *runner) replicaLoad(ctx context.Context, bases []string, apiKey string, ids []string) ([]handoutRun, error) {
	body, err := sampleHandout(bases[0], apiKey, ids[0])
	if err != nil {
		return nil, err
	}
	baseline, err := startBaseline(ctx, len(body))
	if err != nil {
		return nil, err
	}
	defer baseline.stop()
	want := baselineBody(len(body))

	var runs []handoutRun
	for _, c := range handoutConns {
		run := handoutRun{conns: c}
		run.baseline = runLoad(ctx, loadSpec{conns: c, warmup: r.opts.warmup, duration: r.opts.duration,
			request: func(int, int) (*http.Request, error) {
				return tokenRequest(baseline.url, apiKey, "acc_baselinebaselinebase")
			},
			check: checkBaselineBody(want)})
		spec := handoutSpec(bases, apiKey, ids, c, r.opts.warmup, r.opts.duration)
		run.broker = runLoad(ctx, spec)
		for _, res := range []loadResult{run.baseline, run.broker} {
			if res.errors > 0 || res.requests == 0 {
				return nil, fmt.Errorf("hand-out at %d connections: %d errors, %d requests; first error: %s", c, res.errors, res.requests, res.firstError)
			}
		}
		runs = append(runs, run)
	}
	return runs, nil
}

func (r *runner) reportPostgres(runs []handoutRun) {
	s := section{
		title:  "5. PostgreSQL, three replicas",
		notes:  []string{fmt.Sprintf("Benchmark 1 against three brokers sharing one PostgreSQL database on this machine (a schema of its own, dropped afterwards): %s accounts, each worker on one replica, round robin. Same request, warm-up and duration as benchmark 1, and a baseline measured in between.", count(r.opts.accounts))},
		header: []string{"connections", "server", "requests/s", "p50", "p99", "p99.9", "throughput ratio", "p99 ratio"},
	}
	for _, run := range runs {
		b, base := run.broker, run.baseline
		s.rows = append(s.rows,
			[]string{fmt.Sprint(run.conns), "3 x zoombroker", fmt.Sprintf("%.0f", b.rps()), ms(b.lat.quantile(0.5)), ms(b.lat.quantile(0.99)), ms(b.lat.quantile(0.999)),
				ratio(b.rps(), base.rps()), ratio(float64(b.lat.quantile(0.99)), float64(base.lat.quantile(0.99)))},
			[]string{fmt.Sprint(run.conns), "baseline", fmt.Sprintf("%.0f", base.rps()), ms(base.lat.quantile(0.5)), ms(base.lat.quantile(0.99)), ms(base.lat.quantile(0.999)), "1", "1"},
		)
	}
	r.rep.sections = append(r.rep.sections, s)
}
