package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

// Benchmark 3: the refresh storm.
const (
	stormLatency    = 50 * time.Millisecond
	stormRetryAfter = time.Second

	// stormCallers send hand-outs at stormCallRate requests per second in
	// all, like services that ask for tokens as jobs come in.
	stormCallers  = 8
	stormCallRate = 200

	// calibrationGrants are issued first to time the sandbox flow.
	calibrationGrants = 100
)

// stormCalls is the record of the storm callers' hand-outs.
type stormCalls struct {
	mu      sync.Mutex
	lat     []time.Duration
	errors  int
	expired int // access token already expired when it arrived
	short   int // less life left than min_ttl_seconds asked for
	first   string
}

// benchStorm connects stormAccounts accounts whose access tokens expire
// within stormWindow, lets services use them, and watches the background
// refresher renew all of them against a rate-limited, slow sandbox.
//
// Time is compressed with the sandbox clock. Each grant is issued with the
// clock set back, as if the account had been connected most of an hour
// earlier. Its token keeps Zoom's one-hour life but expires minutes after
// the broker starts.
func (r *runner) benchStorm(ctx context.Context) error {
	n, lead, window := r.opts.stormAccounts, r.opts.stormLead, r.opts.stormWindow
	zs := newZoomSide(n + calibrationGrants)
	defer zs.close()
	ds, err := newDataset(ctx, filepath.Join(r.dir, "storm"), zs.client, zs.cred, lead)
	if err != nil {
		return err
	}

	// Every account must be handed out once before its refresh falls due:
	// the broker renews ahead of expiry only the accounts in use.
	timed := time.Now()
	if _, err := zs.issueGrants(ctx, seq(n, n+calibrationGrants), func(int) time.Duration { return 0 }); err != nil {
		return err
	}
	perGrant := time.Since(timed) / calibrationGrants
	// Issuing the grants, starting the broker and handing out every
	// account once must end before the first refresh falls due.
	prepare := perGrant*time.Duration(n)*3/2 + 3*time.Second + time.Duration(n)*200*time.Microsecond
	firstDue := time.Now().Add(prepare)

	// Account i's token expires at firstDue + lead + lead/5 + i/n*window,
	// so its scheduled refresh (lead plus up to lead/5 of jitter before
	// expiry) falls after firstDue.
	expiryOf := func(i int) time.Time {
		return firstDue.Add(lead + lead/5 + time.Duration(float64(window)*float64(i)/float64(n)))
	}
	issuedAgo := zoomsandbox.DefaultAccessTokenTTL - time.Until(expiryOf(0))
	grants, err := zs.issueGrants(ctx, seq(0, n), func(i int) time.Duration {
		return zoomsandbox.DefaultAccessTokenTTL - time.Until(expiryOf(i))
	})
	if err != nil {
		return err
	}
	ids, err := ds.importGrants(ctx, grants)
	if err != nil {
		return err
	}
	if err := ds.close(); err != nil {
		return err
	}
	toks := make([]zoom.Token, n)
	for i, g := range grants {
		toks[i] = g.tok
	}
	zs.recorder.track(0, toks)

	zs.sandbox.SetTokenLatency(stormLatency)
	zs.sandbox.LimitTokenRate(r.opts.stormLimit, stormRetryAfter)
	b, err := startBroker(ctx, r.brokerConfig(ds, zs, "storm", "ZOOMBROKER_REFRESH_LEAD="+lead.String()))
	if err != nil {
		return err
	}
	defer b.stop()

	apiKey := ds.apiKey.Reveal()
	minTTL := int(lead / 2 / time.Second)
	if err := warmAll(ctx, b.url, apiKey, ids, minTTL); err != nil {
		return err
	}
	warmed := time.Now()
	if refreshes := zs.sandbox.RefreshCount(); refreshes != 0 {
		return fmt.Errorf("warm-up caused %d refreshes; the tokens were meant to be fresh", refreshes)
	}
	waitedBefore, err := scrapeRefreshedHandouts(b.url)
	if err != nil {
		return err
	}

	calls := &stormCalls{}
	callCtx, stopCalls := context.WithCancel(ctx)
	var callers sync.WaitGroup
	for w := range stormCallers {
		callers.Add(1)
		go func() {
			defer callers.Done()
			callStorm(callCtx, b.url, apiKey, ids, minTTL, w, calls)
		}()
	}

	// Stop when every account was refreshed, when the last token would
	// have expired, or when the time left is needed by later benchmarks.
	stopAt, budgeted := expiryOf(n-1), false
	if reserve := r.reserveAfterStorm(); r.deadline.Add(-reserve).Before(stopAt) {
		stopAt, budgeted = r.deadline.Add(-reserve), true
	}
	for zs.recorder.refreshedCount(n) < n && time.Now().Before(stopAt) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
	}
	ended := time.Now()
	stopCalls()
	callers.Wait()

	waitedAfter, err := scrapeRefreshedHandouts(b.url)
	if err != nil {
		return err
	}
	r.reportStorm(stormOutcome{
		accounts: n, lead: lead, window: window, minTTL: minTTL, issuedAgo: issuedAgo,
		firstDue: firstDue, warmed: warmed, ended: ended,
		calls: calls, waited: waitedAfter - waitedBefore,
		outOfBudget: budgeted && !time.Now().Before(stopAt) && zs.recorder.refreshedCount(n) < n,
		rec:         zs.recorder, limited: zs.sandbox.RateLimitedCount(),
	})
	return nil
}

// reserveAfterStorm is the time the benchmarks after the storm need.
func (r *runner) reserveAfterStorm() time.Duration {
	var d time.Duration
	if r.selected(4) {
		d += 150 * time.Second
		if r.opts.short {
			d = 20 * time.Second
		}
	}
	if r.selected(5) && r.opts.databaseURL != "" {
		d += 8 * (r.opts.duration + r.opts.warmup)
	}
	return d
}

// warmAll hands out every account once, 16 at a time, so the broker counts
// all of them as in use.
func warmAll(ctx context.Context, base, apiKey string, ids []string, minTTL int) error {
	client := newLoadClient(16)
	defer client.CloseIdleConnections()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr atomic.Value
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				if _, err := handOut(client, base, apiKey, ids[i], minTTL); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}

// issuedToken is the part of a hand-out response the storm checks.
type issuedToken struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// handOut requests one token with min_ttl_seconds and returns its expiry.
func handOut(client *http.Client, base, apiKey, id string, minTTL int) (issuedToken, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/accounts/"+id+"/token", strings.NewReader(fmt.Sprintf(`{"min_ttl_seconds": %d}`, minTTL)))
	if err != nil {
		return issuedToken{}, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return issuedToken{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return issuedToken{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return issuedToken{}, fmt.Errorf("hand-out of %s: status %d", id, resp.StatusCode)
	}
	var tok issuedToken
	if err := json.Unmarshal(body, &tok); err != nil {
		return issuedToken{}, fmt.Errorf("hand-out of %s: %w", id, err)
	}
	return tok, nil
}

// callStorm is one caller: it requests the token of a random account at
// its share of stormCallRate until ctx ends.
func callStorm(ctx context.Context, base, apiKey string, ids []string, minTTL, w int, calls *stormCalls) {
	client := newLoadClient(1)
	defer client.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	tick := time.NewTicker(time.Second * stormCallers / stormCallRate)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sent := time.Now()
		tok, err := handOut(client, base, apiKey, ids[rng.IntN(len(ids))], minTTL)
		arrived := time.Now()

		calls.mu.Lock()
		switch {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			calls.errors++
			if calls.first == "" {
				calls.first = err.Error()
			}
		default:
			calls.lat = append(calls.lat, arrived.Sub(sent))
			if !tok.ExpiresAt.After(arrived) {
				calls.expired++
			}
			if tok.ExpiresAt.Sub(arrived) < time.Duration(minTTL)*time.Second {
				calls.short++
			}
		}
		calls.mu.Unlock()
	}
}

// scrapeRefreshedHandouts returns the broker's count of hand-outs that
// waited for a refresh at Zoom.
func scrapeRefreshedHandouts(base string) (int, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "zoombroker_token_requests_total{") || !strings.Contains(line, `outcome="refreshed"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("scrape metrics: %q: %w", line, err)
		}
		total += int(v)
	}
	return total, sc.Err()
}

// stormOutcome is everything the storm report needs.
type stormOutcome struct {
	accounts int
	lead     time.Duration
	window   time.Duration
	minTTL   int

	// issuedAgo is how far the sandbox clock was set back for the first
	// account's grant.
	issuedAgo time.Duration

	firstDue, warmed, ended time.Time

	calls  *stormCalls
	waited int

	// outOfBudget is true when the storm was stopped to leave time for
	// the later benchmarks before every account was refreshed.
	outOfBudget bool
	rec         *tokenRecorder
	limited     int
}

func (r *runner) reportStorm(o stormOutcome) {
	rec := o.rec
	rec.mu.Lock()
	stats := rec.stats
	refreshed, late := 0, 0
	var minLead, lastLead time.Duration
	var firstAt, lastAt time.Time
	for i := range o.accounts {
		at := rec.refreshedAt[i]
		if at.IsZero() {
			continue
		}
		refreshed++
		if rec.lead[i] <= 0 {
			late++
		}
		if refreshed == 1 || rec.lead[i] < minLead {
			minLead = rec.lead[i]
		}
		if firstAt.IsZero() || at.Before(firstAt) {
			firstAt = at
		}
		if at.After(lastAt) {
			lastAt, lastLead = at, rec.lead[i]
		}
	}
	peak, peakLimited := 0, 0
	for _, sec := range rec.perSecond {
		peak = max(peak, sec[0])
		peakLimited = max(peakLimited, sec[1])
	}
	rec.mu.Unlock()

	o.calls.mu.Lock()
	lat := newLatencies(o.calls.lat)
	calls := o.calls
	o.calls.mu.Unlock()

	span := lastAt.Sub(firstAt)
	s := section{
		title: "3. Refresh storm",
		notes: []string{
			fmt.Sprintf("%s accounts whose access tokens expire within %s of each other. Zoom's tokens live an hour; the sandbox issued these with its clock set back, as if the accounts had been connected %s before the broker started, so their refreshes fall due right away instead of an hour later. The window is %.0f times shorter than 10 minutes, so the broker must refresh %.0f times faster than for tokens that expire over 10 minutes. The broker runs with `ZOOMBROKER_REFRESH_LEAD=%s` and its default refresher (4 refreshes at a time).", count(o.accounts), o.window, o.issuedAgo.Round(time.Minute), float64(10*time.Minute)/float64(o.window), float64(10*time.Minute)/float64(o.window), o.lead),
			fmt.Sprintf("The sandbox's token endpoint answers after %s and returns 429 with `Retry-After: %d` to every token request beyond %d in one second. Every account was handed out once before the first refresh fell due, because the broker renews ahead of expiry only accounts in use. Then %d callers asked for random accounts' tokens at %d requests per second in all, with `min_ttl_seconds` %d, until every account was refreshed.", ms(stormLatency), int(stormRetryAfter/time.Second), r.opts.stormLimit, stormCallers, stormCallRate, o.minTTL),
		},
		header: []string{"measure", "value"},
		rows: [][]string{
			{"accounts refreshed", fmt.Sprintf("%s of %s", count(refreshed), count(o.accounts))},
			{"refreshes after the old token expired", count(late)},
			{"first to last refresh", span.Round(time.Second).String()},
			{"refreshes per second (average)", fmt.Sprintf("%.1f", float64(refreshed)/max(span.Seconds(), 1e-9))},
			{"refresh requests in the busiest second", fmt.Sprint(peak)},
			{"answered 429", fmt.Sprintf("%s (sandbox count %s)", count(stats.limited), count(o.limited))},
			{"other failed refresh requests", count(stats.failed)},
			{"retries of a rate-limited refresh token", count(stats.retries)},
			{"retries sooner than Retry-After", count(stats.early)},
			{"shortest wait before such a retry", stats.minGap.Round(time.Millisecond).String()},
			{"least lead over expiry at refresh", minLead.Round(time.Second).String()},
			{"lead of the last account refreshed", lastLead.Round(time.Second).String()},
			{"hand-outs during the storm", count(len(lat))},
			{"hand-outs that waited for a refresh (broker metric)", count(o.waited)},
			{"hand-out p50 / p99 / max", fmt.Sprintf("%s / %s / %s", ms(lat.quantile(0.5)), ms(lat.quantile(0.99)), ms(lat.highest()))},
			{"tokens handed out already expired", count(calls.expired)},
			{"tokens with less life than min_ttl_seconds", count(calls.short)},
			{"failed hand-outs", count(calls.errors)},
		},
	}
	if calls.first != "" {
		s.notes = append(s.notes, "First failed hand-out: "+calls.first)
	}
	if o.outOfBudget {
		s.notes = append(s.notes, "NOTE: the storm was stopped before every account was refreshed, to leave the later benchmarks their share of -budget; raise -budget or lower -storm-accounts.")
	}
	if o.warmed.After(o.firstDue) {
		s.notes = append(s.notes, fmt.Sprintf("NOTE: the warm-up ended %s after the first refresh fell due, so some accounts were still idle when due.", o.warmed.Sub(o.firstDue).Round(time.Millisecond)))
	}
	r.rep.sections = append(r.rep.sections, s)

	r.addGoal(goal{name: "storm: callers waiting for a refresh", target: "none",
		measured: count(o.waited)}, o.waited == 0, fmt.Sprintf("%s hand-outs waited", count(o.waited)))
	r.addGoal(goal{name: "storm: expired tokens handed out", target: "none",
		measured: count(calls.expired)}, calls.expired == 0 && refreshed == o.accounts,
		fmt.Sprintf("%s expired, %s accounts not refreshed", count(calls.expired), count(o.accounts-refreshed)))
	r.addGoal(goal{name: "storm: backs off on 429", target: "no retry sooner than Retry-After",
		measured: fmt.Sprintf("%s early of %s retries; %s 429s", count(stats.early), count(stats.retries), count(stats.limited))},
		stats.early == 0, fmt.Sprintf("%s retries came sooner", count(stats.early)))
	fmt.Fprintf(os.Stderr, "storm: %d refreshed in %s, %d 429s\n", refreshed, span.Round(time.Second), stats.limited)
}
