package server

import (
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
)

// SecurityConfig holds the server's hardening settings. The zero value
// trusts no proxy, has no SSO header and no client certificates, limits
// failed authentications with the defaults of [auth.NewFailureLimiter],
// and records no audit entries.
type SecurityConfig struct {
	// Audit receives the audit entries; nil records none.
	Audit *audit.Log

	// TrustedProxies are the networks of reverse proxies in front of the
	// broker. A request from one of them is attributed to the address
	// that the proxies put in X-Forwarded-For; any other request to its
	// direct peer. Empty trusts no proxy.
	TrustedProxies []netip.Prefix

	// TrustedHeader names a request header, such as X-Forwarded-Email,
	// that an SSO proxy sets to the signed-in user. The console accepts it
	// in place of a password only on requests whose direct peer is in
	// TrustedProxies. Empty disables the mode.
	TrustedHeader string

	// ClientCerts maps the identity of a verified TLS client certificate
	// to the id of the API key whose limits, expiry and revocation the
	// caller gets. The TLS listener verifies the certificate; the server
	// only reads the verified chain.
	ClientCerts map[CertIdentity]string

	// Failures limits failed authentications (API keys, client
	// certificates and console sign-ins) per client address; nil means
	// one with the defaults of [auth.NewFailureLimiter].
	Failures *auth.FailureLimiter
}

// CertIdentity names a client certificate: by a URI SAN (such as a
// SPIFFE id) or, when URI is empty, by the subject common name.
type CertIdentity struct {
	URI string
	CN  string
}

// String returns the identity as the configuration writes it.
func (id CertIdentity) String() string {
	if id.URI != "" {
		return id.URI
	}
	return "CN=" + id.CN
}

// newFailureLimiter returns the configured limiter of failed
// authentications, or one with the defaults.
func newFailureLimiter(cfg SecurityConfig) *auth.FailureLimiter {
	if cfg.Failures != nil {
		return cfg.Failures
	}
	return auth.NewFailureLimiter(0, 0, 0)
}

// ipExtractor returns how the server finds a request's client address:
// the direct peer, or with trusted proxies the nearest address in
// X-Forwarded-For that is not one of them. echo trusts loopback and
// private networks by default, so those defaults are switched off and
// only the configured networks count.
func (s *Server) ipExtractor() echo.IPExtractor {
	prefixes := s.cfg.Security.TrustedProxies
	if len(prefixes) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range prefixes {
		bits := 128
		if p.Addr().Is4() {
			bits = 32
		}
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// fromTrustedProxy reports whether the request's direct peer is in one of
// the trusted proxy networks.
func (s *Server) fromTrustedProxy(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range s.cfg.Security.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
