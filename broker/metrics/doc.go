// Package metrics collects zoombroker's Prometheus metrics and serves them
// in the text exposition format.
//
// Every metric name starts with zoombroker_, next to the standard go_ and
// process_ metrics of client_golang. Labels take values from small fixed
// sets: the app, an outcome, an operation or route template, an HTTP method
// and status code. No label ever carries an account id, an email or any
// other value that grows with the number of accounts or callers.
//
// A [Metrics] is created once per process and handed to the parts it
// measures: it implements the token service's observers, wraps the store
// with [Metrics.InstrumentStore] and the HTTP server with
// [Metrics.Middleware]. All its methods are safe for concurrent use and
// accept a nil receiver, which records nothing, so callers need no checks.
package metrics
