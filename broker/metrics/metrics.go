package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zoombroker/zoombroker/store"
)

// namespace prefixes every metric name.
const namespace = "zoombroker"

// Options configures [New]. The zero value is usable: it leaves out the
// account gauges.
type Options struct {
	// Version is exported as the version label of zoombroker_build_info.
	Version string

	// Accounts is the store the account gauges read at scrape time; nil
	// leaves those gauges out. Pass the store itself, not the one
	// InstrumentStore returns, so the scans do not count as store
	// operations.
	Accounts store.Store

	// AccountsScanInterval is the least time between two scans of
	// Accounts; scrapes in between get the previous result. Zero means
	// DefaultAccountsScanInterval. See [Options.Accounts] and the account
	// collector for how the scan is bounded.
	AccountsScanInterval time.Duration

	// Now is the clock for refresh-token ages; nil means time.Now.
	Now func() time.Time

	// Logger receives failed account scans; nil discards.
	Logger *slog.Logger
}

// Metrics holds zoombroker's metrics and the registry that serves them. A
// nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	tokenRequests *prometheus.CounterVec
	tokenDuration *prometheus.HistogramVec

	refreshes       *prometheus.CounterVec
	refreshDuration *prometheus.HistogramVec

	refresherScans    prometheus.Counter
	refresherDue      prometheus.Gauge
	refresherLag      prometheus.Gauge
	refresherLastScan prometheus.Gauge

	webhookVerifications *prometheus.CounterVec
	eventDeliveries      *prometheus.CounterVec

	storeDuration *prometheus.HistogramVec

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpInFlight prometheus.Gauge
}

// Bucket bounds of the latency histograms, in seconds.
var (
	// handoutBuckets cover a hand-out from the cache (well under a
	// millisecond) up to one that waits for a slow refresh at Zoom.
	handoutBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

	// zoomBuckets cover a refresh at Zoom up to twice the default Zoom
	// timeout of 15s, the most one refresh with its retry can take.
	zoomBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30}

	// storeBuckets cover a read from bbolt's memory map up to an fsync on a
	// slow disk or a round trip to a remote database.
	storeBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

	// httpBuckets cover every route, the token hand-out included.
	httpBuckets = handoutBuckets
)

// New creates the metrics and registers them, with the Go runtime and
// process collectors, on a registry of their own.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := factory{reg: m.reg}

	build := f.gaugeVec("build_info", "Always 1; the version label names the running zoombroker.", "version")
	build.WithLabelValues(opts.Version).Set(1)

	m.tokenRequests = f.counterVec("token_requests_total",
		"Token hand-outs (POST /v1/accounts/{id}/token) by app and outcome.", "app", "outcome")
	m.tokenDuration = f.histogramVec("token_request_duration_seconds",
		"Time to serve a token hand-out, refresh included, by app.", handoutBuckets, "app")

	m.refreshes = f.counterVec("refreshes_total",
		"Refresh calls at Zoom by app and outcome (success, transient, invalid_grant).", "app", "outcome")
	m.refreshDuration = f.histogramVec("zoom_refresh_duration_seconds",
		"Time Zoom took to answer a refresh, its one retry included, by app.", zoomBuckets, "app")

	m.refresherScans = f.counter("refresher_scans_total", "Scans of the background refresher for due accounts.")
	m.refresherDue = f.gauge("refresher_due_accounts",
		"Accounts the last refresher scan found due, at most the refresher's batch size.")
	m.refresherLag = f.gauge("refresher_lag_seconds",
		"How long past its scheduled refresh time the most overdue account was at the last scan; 0 when none was due.")
	m.refresherLastScan = f.gauge("refresher_last_scan_timestamp_seconds", "Unix time of the last refresher scan.")

	m.webhookVerifications = f.counterVec("webhook_verifications_total",
		"Incoming Zoom webhooks by app and verification result.", "app", "result")
	m.eventDeliveries = f.counterVec("event_deliveries_total",
		"Attempts to deliver account events to subscribers, by outcome.", "outcome")

	m.storeDuration = f.histogramVec("store_operation_duration_seconds",
		"Time of one store call by operation and result (ok, not_found, conflict, error).", storeBuckets, "operation", "result")

	m.httpRequests = f.counterVec("http_requests_total",
		"HTTP requests by method, route template and status code.", "method", "route", "status")
	m.httpDuration = f.histogramVec("http_request_duration_seconds",
		"Time to serve an HTTP request by method and route template.", httpBuckets, "method", "route")
	m.httpInFlight = f.gauge("http_requests_in_flight", "HTTP requests being served.")

	if opts.Accounts != nil {
		m.reg.MustRegister(newAccountCollector(opts))
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format, or in another
// format the scraper requests.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry the metrics are registered on, so other
// packages can add collectors of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// factory creates metrics with the zoombroker namespace and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// appLabel returns the app as a label value, or "unknown" for anything
// that is not a known app, so a label never takes an unbounded value.
func appLabel(app store.App) string {
	if app.Valid() {
		return string(app)
	}
	return "unknown"
}

// oneOf returns v when it is in allowed, else "other".
func oneOf(v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return "other"
}
