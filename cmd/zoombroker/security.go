package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/broker/server"
)

// Environment variables of the security settings.
const (
	envTrustedProxies = "ZOOMBROKER_TRUSTED_PROXIES"
	envTrustedHeader  = "ZOOMBROKER_TRUSTED_HEADER"
	envClientCAFile   = "ZOOMBROKER_CLIENT_CA_FILE"
	envClientCerts    = "ZOOMBROKER_CLIENT_CERTS"
	envAuditRetention = "ZOOMBROKER_AUDIT_RETENTION"
)

// defaultAuditRetention is the default of ZOOMBROKER_AUDIT_RETENTION: 90
// days.
const defaultAuditRetention = "2160h"

// Security holds the validated security settings.
type Security struct {
	// TrustedProxies are the networks of trusted reverse proxies.
	TrustedProxies []netip.Prefix

	// TrustedHeader is the SSO proxy's user header; empty disables it.
	TrustedHeader string

	// ClientCAs verifies client certificates; nil disables them.
	ClientCAs *x509.CertPool

	// ClientCerts maps certificate identities to API key ids.
	ClientCerts map[server.CertIdentity]string

	// AuditRetention is how long audit entries are kept.
	AuditRetention time.Duration
}

// headerNamePattern is the shape of an HTTP header name (RFC 9110 token).
var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

// keyIDShape is the shape of API key ids.
var keyIDShape = regexp.MustCompile(`^key_[a-z2-7]{13}$`)

// parseSecurity validates the security settings. tlsOn reports whether the
// main listener serves HTTPS, because client certificates need it.
func parseSecurity(vs values, tlsOn bool) (Security, error) {
	var sec Security
	var problems []error

	for _, f := range splitFields(vs[envTrustedProxies].text) {
		p, err := parsePrefix(f)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %q is not an IP address or CIDR network; use entries such as 10.0.0.0/24 or 192.0.2.7", vs.label(envTrustedProxies), f))
			continue
		}
		sec.TrustedProxies = append(sec.TrustedProxies, p)
	}

	sec.TrustedHeader = strings.TrimSpace(vs[envTrustedHeader].text)
	switch {
	case sec.TrustedHeader == "":
	case !headerNamePattern.MatchString(sec.TrustedHeader):
		problems = append(problems, fmt.Errorf("%s: %q is not a header name; use a name such as X-Forwarded-Email", vs.label(envTrustedHeader), sec.TrustedHeader))
	case len(sec.TrustedProxies) == 0:
		problems = append(problems, fmt.Errorf("%s is set but %s is not; the header is honoured only from trusted proxies, so set their networks too", vs.label(envTrustedHeader), envTrustedProxies))
	}

	if err := parseClientCerts(vs, tlsOn, &sec); err != nil {
		problems = append(problems, unjoin(err)...)
	}

	text := vs[envAuditRetention].text
	d, err := time.ParseDuration(text)
	if err != nil || d < time.Hour {
		problems = append(problems, fmt.Errorf("%s: %q is not a duration of at least 1h; set it to a value such as %s (90 days)", vs.label(envAuditRetention), text, defaultAuditRetention))
	}
	sec.AuditRetention = d
	return sec, errors.Join(problems...)
}

// parseClientCerts loads the client CA file and the certificate mapping.
func parseClientCerts(vs values, tlsOn bool, sec *Security) error {
	var problems []error
	caFile := vs[envClientCAFile].text
	mapping := splitFields(vs[envClientCerts].text)

	if caFile != "" {
		pool, err := loadCertPool(caFile)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("%s: %w; set it to a PEM file of the CA certificates that issue client certificates", vs.label(envClientCAFile), err))
		case !tlsOn:
			problems = append(problems, fmt.Errorf("%s is set but the broker does not serve TLS; client certificates need %s and %s", vs.label(envClientCAFile), envTLSCertFile, envTLSKeyFile))
		default:
			sec.ClientCAs = pool
		}
	}
	if len(mapping) > 0 && caFile == "" {
		problems = append(problems, fmt.Errorf("%s is set but %s is not; set the CA that issues the client certificates", vs.label(envClientCerts), envClientCAFile))
	}

	sec.ClientCerts = map[server.CertIdentity]string{}
	for _, entry := range mapping {
		i := strings.LastIndexByte(entry, '=')
		if i <= 0 {
			problems = append(problems, fmt.Errorf("%s: entry %q is not IDENTITY=KEY_ID; write entries such as spiffe://corp/billing=KEY_ID or CN=billing=KEY_ID", vs.label(envClientCerts), entry))
			continue
		}
		identity, keyID := strings.TrimSpace(entry[:i]), strings.TrimSpace(entry[i+1:])
		if !keyIDShape.MatchString(keyID) {
			problems = append(problems, fmt.Errorf("%s: %q is not an API key id; use the id that `zoombroker keys list` prints", vs.label(envClientCerts), keyID))
			continue
		}
		var id server.CertIdentity
		if cn, ok := strings.CutPrefix(identity, "CN="); ok && cn != "" {
			id.CN = cn
		} else if strings.Contains(identity, "://") {
			id.URI = identity
		} else {
			problems = append(problems, fmt.Errorf("%s: identity %q is neither a URI SAN (scheme://...) nor CN=name", vs.label(envClientCerts), identity))
			continue
		}
		if _, dup := sec.ClientCerts[id]; dup {
			problems = append(problems, fmt.Errorf("%s: identity %q appears twice; map each identity to one key", vs.label(envClientCerts), identity))
			continue
		}
		sec.ClientCerts[id] = keyID
	}
	return errors.Join(problems...)
}

// loadCertPool reads PEM certificates into a pool.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path) // #nosec G304 -- the operator names this file in the configuration
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s contains no PEM certificate", path)
	}
	return pool, nil
}

// parsePrefix accepts a CIDR network or a single address.
func parsePrefix(text string) (netip.Prefix, error) {
	if strings.Contains(text, "/") {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return netip.Prefix{}, err
		}
		// An IPv4-mapped network such as ::ffff:10.0.0.0/104 becomes the
		// IPv4 network it covers, because the server compares unmapped
		// addresses.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// splitFields splits a comma-separated setting and drops blank entries.
func splitFields(text string) []string {
	var out []string
	for _, f := range strings.Split(text, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// applyClientCA makes a TLS configuration ask for client certificates and
// verify the ones sent against the client CAs. A client without a
// certificate still connects, so browsers and key-based callers keep
// working; the server maps verified certificates to callers.
func (sec Security) applyClientCA(cfg *tls.Config) {
	if cfg == nil || sec.ClientCAs == nil {
		return
	}
	cfg.ClientCAs = sec.ClientCAs
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
}
