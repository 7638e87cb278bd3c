package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the serial
// number, and its key, as PEM files, and returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "zoombroker test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	// The key first, so a reader that sees the new certificate also finds
	// its key.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// servedSerial opens a new TLS connection and returns the serial number of
// the certificate the server presented.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestServeTLSReloadsCertificate(t *testing.T) {
	e := newOpsEnv(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)

	roots := x509.NewCertPool()
	roots.AddCert(first)
	clientTLS := &tls.Config{RootCAs: roots}
	e.settings[envTLSCertFile] = certFile
	e.settings[envTLSKeyFile] = keyFile
	e.base = "https://" + e.addr
	e.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS}}
	logs := e.serveInProcess()

	if got := servedSerial(t, e.addr, clientTLS); got != 1 {
		t.Fatalf("served certificate serial = %d; want 1", got)
	}
	if status, _, b := e.call(http.MethodGet, "/v1/apps", ""); status != http.StatusOK {
		t.Errorf("GET /v1/apps over HTTPS = %d; want 200: %s", status, b)
	}

	t.Run("old protocol", func(t *testing.T) {
		old := &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}
		if conn, err := tls.Dial("tcp", e.addr, old); err == nil {
			conn.Close()
			t.Errorf("TLS 1.1 handshake succeeded; want it rejected")
		}
	})

	t.Run("plain HTTP", func(t *testing.T) {
		resp, err := http.Get("http://" + e.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP GET /healthz = 200; want the TLS listener to refuse it")
			}
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		res := runCLI(t, map[string]string{envListen: e.addr, envTLSCertFile: certFile}, "", "healthcheck")
		if res.code != 0 {
			t.Errorf("healthcheck exit code = %d; want 0: %s", res.code, res.stderr)
		}
	})

	t.Run("renewed", func(t *testing.T) {
		second := writeCert(t, certFile, keyFile, 2)
		roots.AddCert(second)
		deadline := time.Now().Add(waitLimit)
		for servedSerial(t, e.addr, clientTLS) != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the renewed certificate was not served within %s", waitLimit)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(logs.String(), `"msg":"TLS certificate reloaded"`) {
			t.Errorf("logs have no line for the reload")
		}
	})

	t.Run("broken renewal", func(t *testing.T) {
		if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(certCheckInterval + 100*time.Millisecond)
		if got := servedSerial(t, e.addr, clientTLS); got != 2 {
			t.Errorf("served certificate serial after a broken renewal = %d; want 2, the last good one", got)
		}
		if !strings.Contains(logs.String(), `"msg":"reload TLS certificate failed; keeping the loaded one"`) {
			t.Errorf("logs have no line for the failed reload")
		}
	})
}

func TestHealthcheck(t *testing.T) {
	e := newOpsEnv(t)
	e.serveInProcess()

	tests := []struct {
		name     string
		listen   string
		wantCode int
	}{
		{name: "running", listen: e.addr, wantCode: 0},
		{name: "all interfaces", listen: "0.0.0.0:" + strings.Split(e.addr, ":")[1], wantCode: 0},
		{name: "nothing listening", listen: freeAddr(t), wantCode: exitFailure},
		{name: "bad address", listen: "nowhere", wantCode: exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, map[string]string{envListen: tt.listen}, "", "healthcheck")
			if res.code != tt.wantCode {
				t.Errorf("healthcheck on %s exit code = %d; want %d: %s", tt.listen, res.code, tt.wantCode, res.stderr)
			}
		})
	}
}

func TestParseOpsErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	otherKey := filepath.Join(dir, "other-key.pem")
	writeCert(t, filepath.Join(dir, "other-cert.pem"), otherKey, 2)

	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{name: "cert without key", set: map[string]string{envTLSCertFile: certFile}, want: []string{envTLSCertFile, envTLSKeyFile, "set both"}},
		{name: "key without cert", set: map[string]string{envTLSKeyFile: keyFile}, want: []string{envTLSKeyFile, envTLSCertFile}},
		{name: "key of another cert", set: map[string]string{envTLSCertFile: certFile, envTLSKeyFile: otherKey}, want: []string{"cannot load"}},
		{name: "missing cert file", set: map[string]string{envTLSCertFile: filepath.Join(dir, "missing.pem"), envTLSKeyFile: keyFile}, want: []string{"cannot load", "no such file"}},
		{name: "grace not duration", set: map[string]string{envShutdownGrace: "30"}, want: []string{envShutdownGrace, "positive duration"}},
		{name: "grace zero", set: map[string]string{envShutdownGrace: "0s"}, want: []string{envShutdownGrace}},
		{name: "metrics listen bad", set: map[string]string{envMetricsListen: "9090"}, want: []string{envMetricsListen, "host:port"}},
		{name: "metrics listen same", set: map[string]string{envMetricsListen: defaultListen}, want: []string{envMetricsListen, "main listen address"}},
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

func TestParseOpsTLSBaseURL(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	env := validEnv()
	env[envTLSCertFile], env[envTLSKeyFile] = certFile, keyFile

	vs, err := resolveArgs(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(vs, false)
	if err != nil {
		t.Fatalf("parseConfig() error = %v; want nil", err)
	}
	if got, want := cfg.BaseURL.String(), "https://127.0.0.1:8080"; got != want {
		t.Errorf("BaseURL = %q; want %q", got, want)
	}
	if got, want := cfg.Ops.ShutdownGrace, 30*time.Second; got != want {
		t.Errorf("ShutdownGrace = %v; want %v", got, want)
	}
}

func TestPlainHTTPWarning(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		base   string
		tls    bool
		want   bool
	}{
		{name: "loopback", listen: "127.0.0.1:8080", base: "http://127.0.0.1:8080", want: false},
		{name: "localhost", listen: "localhost:8080", base: "http://localhost:8080", want: false},
		{name: "ipv6 loopback", listen: "[::1]:8080", base: "http://[::1]:8080", want: false},
		{name: "all interfaces", listen: "0.0.0.0:8080", base: "http://localhost:8080", want: true},
		{name: "empty host", listen: ":8080", base: "http://localhost:8080", want: true},
		{name: "all interfaces with TLS", listen: "0.0.0.0:8080", base: "https://localhost:8080", tls: true, want: false},
		{name: "behind https proxy", listen: "0.0.0.0:8080", base: "https://zb.example.com", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			env[envListen], env[envBaseURL] = tt.listen, tt.base
			vs, err := resolveArgs(t, nil, env)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := parseConfig(vs, false)
			if err != nil {
				t.Fatal(err)
			}
			if tt.tls {
				cfg.Ops.TLSCertFile, cfg.Ops.TLSKeyFile = "cert.pem", "key.pem"
			}
			if got := plainHTTPExposed(cfg); got != tt.want {
				t.Errorf("plainHTTPExposed(listen %s, base %s, tls %t) = %t; want %t", tt.listen, tt.base, tt.tls, got, tt.want)
			}
		})
	}
}
