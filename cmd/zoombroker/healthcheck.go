package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthcheckTimeout bounds the whole health check.
const healthcheckTimeout = 3 * time.Second

const healthcheckUsage = `Usage: zoombroker healthcheck [--listen ADDR] [--tls-cert-file FILE]

Sends GET /healthz to the broker on this host, at the port of its listen
address (ZOOMBROKER_LISTEN), over HTTPS when ZOOMBROKER_TLS_CERT_FILE is set.
Exits 0 when the broker answers 200 within 3 seconds, else 1. It is meant
for container health checks, where the image has no shell or curl.
`

func (c *cli) healthcheck(ctx context.Context, args []string) error {
	flags := newFlagSet("healthcheck")
	sf := addSettingFlags(flags, envListen, envTLSCertFile)
	positional, err := c.parseFlags(flags, "healthcheck", healthcheckUsage, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return &usageError{topic: "healthcheck", msg: fmt.Sprintf("healthcheck takes no arguments, got %q", positional[0])}
	}
	vs, err := sf.resolve(c.env)
	if err != nil {
		return err
	}

	target, err := healthzURL(vs[envListen].text, vs[envTLSCertFile].text != "")
	if err != nil {
		return fmt.Errorf("%s: %w", vs.label(envListen), err)
	}
	client := &http.Client{
		Timeout: healthcheckTimeout,
		Transport: &http.Transport{
			// The check sends no credential and reads only the status; the
			// certificate names the public host, not the loopback address.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // #nosec G402
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: GET %s returned %s", target, resp.Status)
	}
	fmt.Fprintln(c.stdout, "ok")
	return nil
}

// healthzURL returns the /healthz URL of a broker listening on listen, with
// a loopback host in place of an address that means all interfaces.
func healthzURL(listen string, https bool) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%q is not a host:port address", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz", nil
}
