package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// testCA issues client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a client certificate with the common name and URI SANs.
func (ca *testCA) issue(t *testing.T, cn string, uris ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		must(t, err)
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// certClient returns a client of the TLS test broker that presents cert.
func (e *env) certClient(cert *tls.Certificate) *http.Client {
	base := e.broker.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		// Sent whatever CAs the server names, so a certificate of another
		// CA reaches the server's verification.
		base.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return &http.Client{Transport: base, Timeout: 10 * time.Second}
}

func TestClientCertificates(t *testing.T) {
	ca := newTestCA(t, "corp workload CA")
	rogue := newTestCA(t, "someone else's CA")
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	billing, _ := auth.NewKey("billing workload", now)
	adminOnly, _ := auth.NewKey("reports workload", now)
	adminOnly.Limits.Apps = []store.App{store.AppZoomAdmin}
	revoked, _ := auth.NewKey("retired workload", now)
	revoked.RevokedAt = now

	var al *audit.Log
	e := newEnv(t,
		withTLS(&tls.Config{ClientCAs: ca.pool, ClientAuth: tls.VerifyClientCertIfGiven}),
		withAudit(&al),
		withConfig(func(e *env, cfg *server.Config) {
			cfg.Security.ClientCerts = map[server.CertIdentity]string{
				{URI: "spiffe://corp/billing"}: billing.ID,
				{CN: "reports"}:                adminOnly.ID,
				{URI: "spiffe://corp/retired"}: revoked.ID,
			}
		}))
	for _, k := range []store.APIKey{billing, adminOnly, revoked} {
		must(t, e.store.CreateAPIKey(context.Background(), k))
	}
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)

	billingCert := ca.issue(t, "billing", "spiffe://corp/billing")
	reportsCert := ca.issue(t, "reports")
	retiredCert := ca.issue(t, "retired", "spiffe://corp/retired")
	unmappedCert := ca.issue(t, "stranger", "spiffe://corp/stranger")
	rogueCert := rogue.issue(t, "billing", "spiffe://corp/billing")

	tests := []struct {
		name       string
		cert       *tls.Certificate
		key        string
		path       string
		wantStatus int
	}{
		{"URI SAN maps to its key", &billingCert, "", "/v1/accounts/" + id + "/token", http.StatusOK},
		{"CN maps to a limited key", &reportsCert, "", "/v1/accounts/" + id + "/token", http.StatusForbidden},
		{"revoked key", &retiredCert, "", "/v1/accounts/" + id + "/token", http.StatusUnauthorized},
		{"unmapped certificate", &unmappedCert, "", "/v1/accounts/" + id + "/token", http.StatusUnauthorized},
		{"no certificate and no key", nil, "", "/v1/accounts/" + id + "/token", http.StatusUnauthorized},
		{"key without certificate", nil, e.apiKey, "/v1/accounts/" + id + "/token", http.StatusOK},
		{"key wins over certificate", &reportsCert, e.apiKey, "/v1/accounts/" + id + "/token", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.broker.URL+tc.path, nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := e.certClient(tc.cert).Do(req)
			must(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("POST %s = %d %s; want %d", tc.path, resp.StatusCode, body, tc.wantStatus)
			}
		})
	}

	t.Run("certificate of another CA", func(t *testing.T) {
		resp, err := e.certClient(&rogueCert).Get(e.broker.URL + "/v1/apps")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET /v1/apps with a certificate of an unknown CA = %d; want the handshake to fail", resp.StatusCode)
		}
	})

	t.Run("audited with the identity", func(t *testing.T) {
		var found bool
		for _, en := range auditEntries(t, e, al) {
			if en.Action == audit.ActionTokenIssue && en.Actor == billing.ID && en.Outcome == audit.OutcomeOK {
				found = strings.Contains(en.Detail, "client certificate spiffe://corp/billing")
				break
			}
		}
		if !found {
			t.Errorf("no token.issue entry by %s naming its certificate", billing.ID)
		}
	})
}
