package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"time"

	"github.com/zoombroker/zoombroker/broker/tokens"
)

// handoutConns are the connection counts of benchmark 1.
var handoutConns = []int{1, 16, 64}

// handoutRun is one measured pair of broker and baseline at one connection
// count.
type handoutRun struct {
	conns    int
	broker   loadResult
	baseline loadResult
}

// benchHandout runs benchmarks 1 and 2 on one broker: hand-out throughput
// over fresh accounts against the bare net/http baseline, then 64 callers
// on one expired token.
func (r *runner) benchHandout(ctx context.Context) error {
	n, rounds := r.opts.accounts, r.opts.flightRounds
	zs := newZoomSide(n + rounds)
	defer zs.close()

	ds, err := newDataset(ctx, filepath.Join(r.dir, "handout"), zs.client, zs.cred, tokens.DefaultRefreshLead)
	if err != nil {
		return err
	}
	fresh, err := zs.issueGrants(ctx, seq(0, n), func(int) time.Duration { return 0 })
	if err != nil {
		return err
	}
	// Issued two hours ago, so the access tokens expired an hour ago at the
	// sandbox and in the broker alike.
	expired, err := zs.issueGrants(ctx, seq(n, n+rounds), func(int) time.Duration { return 2 * time.Hour })
	if err != nil {
		return err
	}
	ids, err := ds.importGrants(ctx, append(fresh, expired...))
	if err != nil {
		return err
	}
	if err := ds.close(); err != nil {
		return err
	}

	b, err := startBroker(ctx, r.brokerConfig(ds, zs, "handout"))
	if err != nil {
		return err
	}
	defer b.stop()

	if r.selected(1) {
		runs, err := r.handoutLoad(ctx, b.url, ds.apiKey.Reveal(), ids[:n], handoutConns)
		if err != nil {
			return err
		}
		r.reportHandout(runs)
		for _, run := range runs {
			if run.conns == 64 {
				r.handout64 = &run
			}
		}
	}

	if !r.selected(2) {
		return nil
	}
	return r.benchSingleFlight(ctx, b, zs, ds.apiKey.Reveal(), ids[:n], ids[n:])
}

// handoutLoad measures the broker and the baseline at each connection
// count, alternating between them so both see the same machine.
func (r *runner) handoutLoad(ctx context.Context, base, apiKey string, ids []string, conns []int) ([]handoutRun, error) {
	body, err := sampleHandout(base, apiKey, ids[0])
	if err != nil {
		return nil, err
	}
	baseline, err := startBaseline(ctx, len(body))
	if err != nil {
		return nil, err
	}
	defer baseline.stop()
	wantBaseline := baselineBody(len(body))

	var runs []handoutRun
	for _, c := range conns {
		run := handoutRun{conns: c}
		run.baseline = runLoad(ctx, loadSpec{
			conns: c, warmup: r.opts.warmup, duration: r.opts.duration,
			request: func(w, i int) (*http.Request, error) {
				return tokenRequest(baseline.url, apiKey, "acc_baselinebaselinebase")
			},
			check: checkBaselineBody(wantBaseline),
		})
		run.broker = runLoad(ctx, handoutSpec([]string{base}, apiKey, ids, c, r.opts.warmup, r.opts.duration))
		for _, res := range []loadResult{run.baseline, run.broker} {
			if res.errors > 0 || res.requests == 0 {
				return nil, fmt.Errorf("hand-out at %d connections: %d errors, %d requests; first error: %s", c, res.errors, res.requests, res.firstError)
			}
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// handoutSpec is the broker side of benchmark 1: each request is for the
// token of an account picked at random. Worker w sends to bases[w mod
// len(bases)].
func handoutSpec(bases []string, apiKey string, ids []string, conns int, warmup, duration time.Duration) loadSpec {
	rngs := make([]*rand.Rand, conns)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 42))
	}
	return loadSpec{
		conns: conns, warmup: warmup, duration: duration,
		request: func(w, i int) (*http.Request, error) {
			return tokenRequest(bases[w%len(bases)], apiKey, ids[rngs[w].IntN(len(ids))])
		},
		check: checkToken,
	}
}

var accessTokenField = []byte(`"access_token":"ey`)

// checkToken accepts a hand-out response that carries an access token.
func checkToken(body []byte) error {
	if !bytes.Contains(body, accessTokenField) {
		return errors.New("response has no access_token")
	}
	return nil
}

// sampleHandout fetches one token response, to size the baseline's body.
func sampleHandout(base, apiKey, id string) ([]byte, error) {
	req, err := tokenRequest(base, apiKey, id)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sample hand-out: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sample hand-out: status %d, %v", resp.StatusCode, err)
	}
	return body, checkToken(body)
}

func (r *runner) reportHandout(runs []handoutRun) {
	s := section{
		title: "1. Token hand-out, 1,000 accounts",
		notes: []string{
			fmt.Sprintf("`POST /v1/accounts/{id}/token` with `%s`, for an account picked at random from %s accounts whose tokens are fresh, over keep-alive connections, each worker sending its next request when the previous response is read (closed loop). Warm-up %s, then %s measured per row. The baseline is a bare net/http server in another process that returns a JSON body of the same size from memory; the same generator drives it with the same request.", tokenBody, count(r.opts.accounts), r.opts.warmup, r.opts.duration),
		},
		header: []string{"connections", "server", "requests/s", "p50", "p99", "p99.9", "throughput ratio", "p99 ratio"},
	}
	for _, run := range runs {
		b, base := run.broker, run.baseline
		s.rows = append(s.rows,
			[]string{fmt.Sprint(run.conns), "zoombroker", fmt.Sprintf("%.0f", b.rps()), ms(b.lat.quantile(0.5)), ms(b.lat.quantile(0.99)), ms(b.lat.quantile(0.999)),
				ratio(b.rps(), base.rps()), ratio(float64(b.lat.quantile(0.99)), float64(base.lat.quantile(0.99)))},
			[]string{fmt.Sprint(run.conns), "baseline", fmt.Sprintf("%.0f", base.rps()), ms(base.lat.quantile(0.5)), ms(base.lat.quantile(0.99)), ms(base.lat.quantile(0.999)), "1", "1"},
		)
		if run.conns != 64 {
			continue
		}
		tput := b.rps() / base.rps()
		r.addGoal(goal{name: "hand-out throughput, 64 connections", target: ">= 0.70 of baseline",
			measured: fmt.Sprintf("%.2f (%.0f vs %.0f requests/s)", tput, b.rps(), base.rps())}, tput >= 0.7,
			fmt.Sprintf("%.0f%% below the target", (0.7-tput)/0.7*100))
		p99 := float64(b.lat.quantile(0.99)) / float64(base.lat.quantile(0.99))
		r.addGoal(goal{name: "hand-out p99, 64 connections", target: "<= 1.5 x baseline p99",
			measured: fmt.Sprintf("%.2f x (%s vs %s)", p99, ms(b.lat.quantile(0.99)), ms(base.lat.quantile(0.99)))}, p99 <= 1.5,
			fmt.Sprintf("%.0f%% above the target", (p99-1.5)/1.5*100))
	}
	r.rep.sections = append(r.rep.sections, s)
}

// seq returns the integers from lo up to hi, excluded.
func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}
