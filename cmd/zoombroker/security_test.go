package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// writeClientCA writes a CA certificate to path and returns a function
// that issues client certificates with a URI SAN from it.
func writeClientCA(t *testing.T, path string) func(uri string) tls.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test workload CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)

	return func(uri string) tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(uri)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "workload"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
}

func TestParseSecurity(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	caFile := filepath.Join(dir, "ca.pem")
	writeClientCA(t, caFile)
	withTLS := map[string]string{envTLSCertFile: certFile, envTLSKeyFile: keyFile}

	t.Run("valid", func(t *testing.T) {
		env := validEnv()
		for k, v := range withTLS {
			env[k] = v
		}
		env[envTrustedProxies] = "10.0.0.0/8, 192.0.2.7 ,::ffff:198.51.100.0/120"
		env[envTrustedHeader] = "X-Forwarded-Email"
		env[envClientCAFile] = caFile
		env[envClientCerts] = "spiffe://corp/billing=key_aaaaaaaaaaaaa,CN=reports.corp=key_bbbbbbbbbbbbb"
		env[envAuditRetention] = "720h"
		vs, err := resolveArgs(t, nil, env)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := parseConfig(vs, false)
		if err != nil {
			t.Fatalf("parseConfig() error = %v; want nil", err)
		}
		sec := cfg.Security
		wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("198.51.100.0/24")}
		if len(sec.TrustedProxies) != 3 || sec.TrustedProxies[0] != wantProxies[0] || sec.TrustedProxies[1] != wantProxies[1] || sec.TrustedProxies[2] != wantProxies[2] {
			t.Errorf("TrustedProxies = %v; want %v", sec.TrustedProxies, wantProxies)
		}
		if got := sec.ClientCerts[server.CertIdentity{URI: "spiffe://corp/billing"}]; got != "key_aaaaaaaaaaaaa" {
			t.Errorf("URI SAN maps to %q; want key_aaaaaaaaaaaaa", got)
		}
		if got := sec.ClientCerts[server.CertIdentity{CN: "reports.corp"}]; got != "key_bbbbbbbbbbbbb" {
			t.Errorf("CN maps to %q; want key_bbbbbbbbbbbbb", got)
		}
		if sec.AuditRetention != 720*time.Hour || sec.ClientCAs == nil {
			t.Errorf("AuditRetention = %s, ClientCAs set %t; want 720h and set", sec.AuditRetention, sec.ClientCAs != nil)
		}
	})

	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"bad proxy", map[string]string{envTrustedProxies: "10.0.0.0/33"}, []string{envTrustedProxies, "10.0.0.0/33"}},
		{"header without proxies", map[string]string{envTrustedHeader: "X-Forwarded-Email"}, []string{envTrustedHeader, envTrustedProxies}},
		{"header name with space", map[string]string{envTrustedProxies: "10.0.0.1", envTrustedHeader: "X Email"}, []string{"not a header name"}},
		{"client CA without TLS", map[string]string{envClientCAFile: caFile}, []string{envClientCAFile, envTLSCertFile}},
		{"client CA not PEM", map[string]string{envClientCAFile: keyFile, envTLSCertFile: certFile, envTLSKeyFile: keyFile}, []string{"no PEM certificate"}},
		{"mapping without CA", map[string]string{envClientCerts: "CN=x=key_aaaaaaaaaaaaa"}, []string{envClientCerts, envClientCAFile}},
		{"mapping to a non-key", map[string]string{envClientCAFile: caFile, envTLSCertFile: certFile, envTLSKeyFile: keyFile, envClientCerts: "CN=x=admin"}, []string{"not an API key id"}},
		{"mapping without identity kind", map[string]string{envClientCAFile: caFile, envTLSCertFile: certFile, envTLSKeyFile: keyFile, envClientCerts: "billing=key_aaaaaaaaaaaaa"}, []string{"neither a URI SAN"}},
		{"retention too short", map[string]string{envAuditRetention: "10m"}, []string{envAuditRetention, "at least 1h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			vs, err := resolveArgs(t, nil, env)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseConfig(vs, false)
			if err == nil {
				t.Fatalf("parseConfig() error = nil; want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("parseConfig() error = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestServeClientCertificate runs serve with TLS and a client CA, and calls
// the API with a workload certificate in place of a key.
func TestServeClientCertificate(t *testing.T) {
	e := newOpsEnv(t)
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	serverCert := writeCert(t, certFile, keyFile, 1)
	issue := writeClientCA(t, caFile)

	db, err := bolt.Open(filepath.Join(e.dataDir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := auth.NewKey("billing workload", time.Now())
	k.Limits.Apps = []store.App{store.AppZoom}
	if err := db.CreateAPIKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	db.Close()

	e.settings[envTLSCertFile], e.settings[envTLSKeyFile] = certFile, keyFile
	e.settings[envClientCAFile] = caFile
	e.settings[envClientCerts] = "spiffe://corp/billing=" + k.ID
	e.base = "https://" + e.addr
	roots := x509.NewCertPool()
	roots.AddCert(serverCert)
	e.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	e.serveInProcess()

	workload := issue("spiffe://corp/billing")
	withCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{workload}}}}
	resp, err := withCert.Get(e.base + "/v1/apps")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/apps with the workload certificate = %d; want 200", resp.StatusCode)
	}

	resp, err = e.client.Get(e.base + "/v1/apps")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/apps without certificate or key = %d; want 401", resp.StatusCode)
	}
	if status, _, _ := e.call(http.MethodGet, "/v1/apps", ""); status != http.StatusOK {
		t.Errorf("GET /v1/apps with the API key over mutual TLS = %d; want 200", status)
	}
}

// TestSlowHeadersCut opens a connection that never finishes its request
// headers: the server must close it once its header timeout has passed,
// instead of holding the connection open.
func TestSlowHeadersCut(t *testing.T) {
	e := newOpsEnv(t)
	e.serveInProcess()

	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: " + e.addr + "\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}

	// Generous bound: the header timeout is 5s, this only catches a
	// missing timeout.
	conn.SetReadDeadline(time.Now().Add(4 * readHeaderTimeout))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection with unfinished headers was still open after %s", 4*readHeaderTimeout)
	}
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 408") {
		t.Errorf("server sent %q to a request with unfinished headers; want nothing or 408", got)
	}
}

func TestKeysCreateWithLimits(t *testing.T) {
	env := map[string]string{envDataDir: t.TempDir()}

	created := runCLI(t, env, "", "keys", "create", "--name", "reports", "--apps", "zoom_admin", "--accounts", "acc_aaaaaaaaaaaaaaaaaaaa", "--expires", "720h")
	if created.code != exitOK {
		t.Fatalf("keys create with limits = %d; want 0 (stderr %q)", created.code, created.stderr)
	}
	listed := runCLI(t, env, "", "keys", "list")
	row := strings.Fields(strings.Split(listed.stdout, "\n")[1])
	if got, want := strings.Join(row[2:4], " "), "apps=zoom_admin accounts=acc_aaaaaaaaaaaaaaaaaaaa"; got != want {
		t.Errorf("keys list LIMITS = %q; want %q", got, want)
	}
	if got, want := row[5], "2026-03-31T12:00:00Z"; got != want {
		t.Errorf("keys list EXPIRES = %q; want %q", got, want)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"unknown app", []string{"--apps", "teams"}, "--apps"},
		{"malformed account", []string{"--accounts", "acc_1"}, "--accounts"},
		{"past expiry", []string{"--expires", "2020-01-01T00:00:00Z"}, "not in the future"},
		{"expiry not a time", []string{"--expires", "soon"}, "--expires"},
	}
	for _, tc := range bad {
		res := runCLI(t, env, "", append([]string{"keys", "create", "--name", "x"}, tc.args...)...)
		if res.code != exitUsage || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%s: keys create = %d %q; want 2 and a message naming %s", tc.name, res.code, res.stderr, tc.want)
		}
	}
}
