package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zoombroker/zoombroker/store"
)

// Bounds of the account scan.
const (
	// DefaultAccountsScanInterval is the least time between two scans when
	// Options.AccountsScanInterval is zero.
	DefaultAccountsScanInterval = 15 * time.Second

	// scanCostFactor stretches the interval to this many times the last
	// scan's duration, so scanning takes at most about a tenth of the time
	// however large the store grows.
	scanCostFactor = 10

	// scanTimeout bounds one scan; a scan that runs out keeps the previous
	// values.
	scanTimeout = 60 * time.Second

	// scanPage is the page size of the scan.
	scanPage = 500
)

// allStatuses are the statuses the account gauge reports, zero counts
// included, so every series exists from the first scrape.
var allStatuses = []store.Status{store.StatusActive, store.StatusNeedsReconnect, store.StatusRevoked}

// accountCollector reports the accounts by app and status and the oldest
// refresh token of each app. It reads them from the store at scrape time,
// but at most once per interval: other scrapes get the last result.
//
// NOTE: a scan reads every account record, which takes seconds on a store
// with a million accounts. Three things bound it: one scan runs at a time,
// scans are at least max(interval, 10 x the last scan's duration) apart,
// and one scan stops after scanTimeout. The scrape that triggers a scan
// waits for it; zoombroker_accounts_scan_timestamp_seconds shows how old
// the values are.
type accountCollector struct {
	store    store.Store
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	accounts   *prometheus.Desc
	oldest     *prometheus.Desc
	scannedAt  *prometheus.Desc
	scanTime   *prometheus.Desc
	scanErrors prometheus.Counter

	mu       sync.Mutex
	last     accountScan
	lastTook time.Duration
	nextScan time.Time
}

// accountScan is the result of one scan.
type accountScan struct {
	at     time.Time
	counts map[store.App]map[store.Status]int

	// oldestIssued is the earliest RefreshTokenIssuedAt of the active
	// accounts of each app.
	oldestIssued map[store.App]time.Time
}

func newAccountCollector(opts Options) *accountCollector {
	c := &accountCollector{
		store:    opts.Accounts,
		interval: opts.AccountsScanInterval,
		now:      opts.Now,
		log:      opts.Logger,
		accounts: prometheus.NewDesc(namespace+"_accounts",
			"Connected accounts by app and status, as of the last account scan.", []string{"app", "status"}, nil),
		oldest: prometheus.NewDesc(namespace+"_oldest_refresh_token_age_seconds",
			"Age of the oldest refresh token among the active accounts of each app, as of the last account scan.", []string{"app"}, nil),
		scannedAt: prometheus.NewDesc(namespace+"_accounts_scan_timestamp_seconds",
			"Unix time of the last successful account scan.", nil, nil),
		scanTime: prometheus.NewDesc(namespace+"_accounts_scan_duration_seconds",
			"How long the last account scan took.", nil, nil),
		scanErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "accounts_scan_errors_total",
			Help: "Account scans that failed; the account gauges then keep their previous values."}),
	}
	if c.interval <= 0 {
		c.interval = DefaultAccountsScanInterval
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *accountCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.accounts
	ch <- c.oldest
	ch <- c.scannedAt
	ch <- c.scanTime
	c.scanErrors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *accountCollector) Collect(ch chan<- prometheus.Metric) {
	scan, took := c.current()
	c.scanErrors.Collect(ch)
	if scan.at.IsZero() {
		return // no scan has succeeded yet
	}

	for _, app := range store.Apps {
		for _, status := range allStatuses {
			ch <- prometheus.MustNewConstMetric(c.accounts, prometheus.GaugeValue, float64(scan.counts[app][status]), string(app), string(status))
		}
		age := 0.0
		if issued, ok := scan.oldestIssued[app]; ok {
			age = max(scan.at.Sub(issued), 0).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, string(app))
	}
	ch <- prometheus.MustNewConstMetric(c.scannedAt, prometheus.GaugeValue, float64(scan.at.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.scanTime, prometheus.GaugeValue, took.Seconds())
}

// current returns the last scan, scanning first when the interval has
// passed.
func (c *accountCollector) current() (accountScan, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()

	now := c.now()
	if now.Before(c.nextScan) {
		return c.last, c.lastTook
	}

	ctx, cancel := context.WithTimeout(context.Background(), scanTimeout)
	defer cancel()
	// The scan's own duration uses the monotonic clock, not c.now.
	started := time.Now()
	scan, err := scanAccounts(ctx, c.store, now)
	took := time.Since(started)

	c.nextScan = now.Add(max(c.interval, scanCostFactor*took))
	if err != nil {
		c.scanErrors.Inc()
		c.log.Error("scan accounts for metrics failed", "err", err)
		return c.last, c.lastTook
	}
	c.last, c.lastTook = scan, took
	return c.last, c.lastTook
}

// scanAccounts reads every account page by page.
func scanAccounts(ctx context.Context, st store.Store, now time.Time) (accountScan, error) {
	scan := accountScan{
		at:           now,
		counts:       map[store.App]map[store.Status]int{},
		oldestIssued: map[store.App]time.Time{},
	}
	for _, app := range store.Apps {
		scan.counts[app] = map[store.Status]int{}
	}

	after := ""
	for {
		page, next, err := st.ListAccounts(ctx, store.ListOptions{After: after, Limit: scanPage})
		if err != nil {
			return accountScan{}, err
		}
		for _, a := range page {
			if scan.counts[a.App] == nil {
				continue // an app this broker does not know
			}
			scan.counts[a.App][a.Status]++
			if a.Status != store.StatusActive || a.RefreshTokenIssuedAt.IsZero() {
				continue
			}
			if oldest, ok := scan.oldestIssued[a.App]; !ok || a.RefreshTokenIssuedAt.Before(oldest) {
				scan.oldestIssued[a.App] = a.RefreshTokenIssuedAt
			}
		}
		if next == "" {
			return scan, nil
		}
		after = next
	}
}
