package postgres

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// proxy forwards TCP connections from a loopback port to the test
// database, and can cut them to imitate a lost database.
type proxy struct {
	t      *testing.T
	addr   string // where clients connect
	target string // the database's host:port

	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
	blackout bool // accept, but forward nothing
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen(addr string) {
	p.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("proxy listen on %s: %v", addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go p.serve(ln)
}

func (p *proxy) serve(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, client)
		blackout := p.blackout
		p.mu.Unlock()
		if blackout {
			continue // hold the connection open and send nothing
		}

		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, server)
		p.mu.Unlock()
		go func() { io.Copy(server, client); server.Close() }()
		go func() { io.Copy(client, server); client.Close() }()
	}
}

// cut closes the listener and every connection, so new connections are
// refused and open ones break.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens on the same address again.
func (p *proxy) restore() {
	p.t.Helper()
	p.listen(p.addr)
}

// urlThrough returns u with its host replaced by the proxy's address.
func (p *proxy) urlThrough(u string) string {
	p.t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		p.t.Fatal(err)
	}
	parsed.Host = p.addr
	return parsed.String()
}

// dbAddr returns the host:port of the test database URL.
func dbAddr(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	host, port := parsed.Hostname(), parsed.Port()
	if host == "" {
		t.Skipf("%s has no host; the connection loss tests need a TCP address", envTestURL)
	}
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(host, port)
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestLostConnection(t *testing.T) {
	u := newSchema(t)
	p := newProxy(t, dbAddr(t, u))
	db := openURL(t, p.urlThrough(u), Options{QueryTimeout: 2 * time.Second, ConnectTimeout: time.Second})
	want := store.Account{ID: "acct-1", App: store.AppZoom, Status: store.StatusActive, Token: []byte("sealed")}
	if err := db.CreateAccount(t.Context(), want); err != nil {
		t.Fatal(err)
	}

	p.cut()

	if err := db.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping with the database gone = %v; want an error wrapping store.ErrUnavailable", err)
	}
	_, err := db.GetAccount(t.Context(), "acct-1")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetAccount with the database gone = %v; want an error wrapping store.ErrUnavailable", err)
	}
	if errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount with the database gone = %v; want no ErrNotFound", err)
	}
	_, err = db.UpdateAccount(t.Context(), "acct-1", func(a store.Account) (store.Account, error) { return a, nil })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateAccount with the database gone = %v; want an error wrapping store.ErrUnavailable", err)
	}
	if err := db.AcquireLease(t.Context(), "refresh/acct-1", "me", time.Now(), time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("AcquireLease with the database gone = %v; want an error wrapping store.ErrUnavailable", err)
	}

	p.restore()

	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping after the database came back = %v; want nil error", err)
	}
	got, err := db.GetAccount(t.Context(), "acct-1")
	if err != nil || string(got.Token) != "sealed" {
		t.Errorf("GetAccount after the database came back = %q, %v; want the stored account", got.Token, err)
	}
}

func TestQueryTimeout(t *testing.T) {
	u := newSchema(t)
	p := newProxy(t, dbAddr(t, u))
	db := openURL(t, p.urlThrough(u), Options{QueryTimeout: 300 * time.Millisecond, ConnectTimeout: 300 * time.Millisecond})

	// The server stops responding. Open connections break, and new ones
	// connect but get no reply.
	p.cut()
	p.mu.Lock()
	p.blackout = true
	p.mu.Unlock()
	p.restore()

	if err := db.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping with a silent database = %v; want an error wrapping store.ErrUnavailable", err)
	}
	_, err := db.GetAccount(t.Context(), "acct-1")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetAccount with a silent database = %v; want an error wrapping store.ErrUnavailable", err)
	}

	// Closing the silent connections first keeps Close from waiting for
	// their goodbye messages.
	p.cut()
}
