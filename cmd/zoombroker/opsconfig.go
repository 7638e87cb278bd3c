package main

import (
	"crypto/tls"
	"fmt"
	"time"
)

// Environment variables of the operations settings.
const (
	envMetricsListen = "ZOOMBROKER_METRICS_LISTEN"
	envShutdownGrace = "ZOOMBROKER_SHUTDOWN_GRACE"
	envTLSCertFile   = "ZOOMBROKER_TLS_CERT_FILE"
	envTLSKeyFile    = "ZOOMBROKER_TLS_KEY_FILE"
)

// defaultShutdownGrace is the default of ZOOMBROKER_SHUTDOWN_GRACE.
const defaultShutdownGrace = "30s"

// Ops holds the settings for running the broker in production: where the
// metrics are served, how long shutdown may take and the TLS files.
type Ops struct {
	// MetricsListen is the address of a listener for /metrics alone;
	// empty serves /metrics on the main listener.
	MetricsListen string

	// ShutdownGrace bounds the wait for in-flight requests and refreshes
	// after SIGTERM or SIGINT.
	ShutdownGrace time.Duration

	// TLSCertFile and TLSKeyFile are PEM files; both set serves HTTPS on
	// the main listener, neither serves plain HTTP.
	TLSCertFile string
	TLSKeyFile  string
}

// TLS reports whether the main listener serves HTTPS.
func (o Ops) TLS() bool { return o.TLSCertFile != "" }

// parseOps validates the operations settings. The TLS files are loaded
// once here, so a wrong path or a key that does not match the certificate
// stops startup with the setting's name.
func parseOps(vs values, listen string) (Ops, error) {
	o := Ops{
		MetricsListen: vs[envMetricsListen].text,
		TLSCertFile:   vs[envTLSCertFile].text,
		TLSKeyFile:    vs[envTLSKeyFile].text,
	}
	var problems []error

	if o.MetricsListen != "" {
		if err := checkListen(vs.label(envMetricsListen), o.MetricsListen); err != nil {
			problems = append(problems, err)
		} else if o.MetricsListen == listen {
			problems = append(problems, fmt.Errorf("%s: %q is also the main listen address; leave it unset to serve /metrics there, or give it another port",
				vs.label(envMetricsListen), o.MetricsListen))
		}
	}

	text := vs[envShutdownGrace].text
	grace, err := time.ParseDuration(text)
	if err != nil || grace <= 0 {
		problems = append(problems, fmt.Errorf("%s: %q is not a positive duration; set it to a value such as %s",
			vs.label(envShutdownGrace), text, defaultShutdownGrace))
	}
	o.ShutdownGrace = grace

	switch {
	case o.TLSCertFile == "" && o.TLSKeyFile == "":
	case o.TLSCertFile == "":
		problems = append(problems, fmt.Errorf("%s is set but %s is not; set both to serve HTTPS, or neither", vs.label(envTLSKeyFile), envTLSCertFile))
	case o.TLSKeyFile == "":
		problems = append(problems, fmt.Errorf("%s is set but %s is not; set both to serve HTTPS, or neither", vs.label(envTLSCertFile), envTLSKeyFile))
	default:
		if _, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile); err != nil {
			problems = append(problems, fmt.Errorf("%s and %s: cannot load the certificate and key: %w; set them to PEM files of a certificate and its private key",
				vs.label(envTLSCertFile), vs.label(envTLSKeyFile), err))
		}
	}
	return o, joinProblems(problems)
}
