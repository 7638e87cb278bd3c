package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckInterval is the least time between two checks of the TLS files
// for a renewed certificate. A check is two stat calls on a handshake.
const certCheckInterval = 2 * time.Second

// certReloader serves the certificate in a pair of PEM files and loads it
// again when either file changes on disk, so a renewed certificate is used
// without a restart. It is safe for concurrent use.
type certReloader struct {
	certFile, keyFile string
	now               func() time.Time
	log               *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	stamp  fileStamp // of the files cert was loaded from
	failed fileStamp // of the files that last failed to load
	// statFailed is set while the files cannot be read, so that is
	// logged once.
	statFailed bool
	checkedAt  time.Time
}

// fileStamp identifies a version of the two files by modification time and
// size.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// newCertReloader loads the pair once; an error here stops startup.
func newCertReloader(certFile, keyFile string, now func() time.Time, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, now: now, log: log}
	stamp, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	r.cert, r.stamp, r.checkedAt = &cert, stamp, now()
	return r, nil
}

// tlsConfig returns the server's TLS configuration: TLS 1.2 or newer,
// with the certificate from r.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
	}
}

// getCertificate implements tls.Config.GetCertificate. A renewed pair that
// fails to load (for example a certificate written before its key) is
// logged once, and the previous certificate stays in use until the files
// change again.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	now := r.now()
	if now.Sub(r.checkedAt) < certCheckInterval {
		return r.cert, nil
	}
	r.checkedAt = now

	stamp, err := r.stat()
	if err != nil {
		if !r.statFailed {
			r.statFailed = true
			r.log.Error("check TLS certificate failed; keeping the loaded one", "err", err)
		}
		return r.cert, nil
	}
	r.statFailed = false
	if stamp == r.stamp || stamp == r.failed {
		return r.cert, nil
	}

	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.failed = stamp
		r.log.Error("reload TLS certificate failed; keeping the loaded one", "cert_file", r.certFile, "key_file", r.keyFile, "err", err)
		return r.cert, nil
	}
	r.cert, r.stamp = &cert, stamp
	r.log.Info("TLS certificate reloaded", "cert_file", r.certFile, "not_after", cert.Leaf.NotAfter)
	return r.cert, nil
}

func (r *certReloader) stat() (fileStamp, error) {
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("stat TLS certificate: %w", err)
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("stat TLS key: %w", err)
	}
	return fileStamp{certMod: ci.ModTime(), keyMod: ki.ModTime(), certSize: ci.Size(), keySize: ki.Size()}, nil
}
