package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/metrics"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/server"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// handoutBench is a broker wired as zoombroker serve wires it (bbolt with
// fsync, metrics, audit log, JSON request log to a file) behind a real
// HTTP server on loopback, with accounts whose tokens are fresh.
type handoutBench struct {
	url    string
	apiKey string
	ids    []string
}

// newHandoutBench connects n accounts through the sandbox and imports them.
func newHandoutBench(b *testing.B, n int) *handoutBench {
	b.Helper()
	users := make([]zoomsandbox.User, n)
	for i := range users {
		users[i] = zoomsandbox.User{ID: fmt.Sprintf("u%05d", i), AccountID: fmt.Sprintf("a%05d", i), Email: fmt.Sprintf("u%05d@example.com", i), FirstName: "U", LastName: "Ser"}
	}
	cred := zoom.Credentials{ClientID: "bench", ClientSecret: secret.Secret(rand.Text())}
	sb := zoomsandbox.New(zoomsandbox.Options{
		Apps:  []zoomsandbox.App{{Name: "Zoom", ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Scopes: []string{"meeting:read:meeting", "user:read:user"}}},
		Users: users,
	})
	zs := httptest.NewServer(sb.Handler())
	b.Cleanup(zs.Close)
	zc := &zoom.Client{OAuthURL: zs.URL, APIURL: zs.URL, HTTP: &http.Client{Timeout: 10 * time.Second}}

	dir := b.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "zoombroker.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	logFile, err := os.Create(filepath.Join(dir, "broker.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	logger := slog.New(slog.NewJSONHandler(logFile, nil))

	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New(metrics.Options{Version: "bench", Accounts: db, Logger: logger})
	instrumented := m.InstrumentStore(db)
	ts, err := tokens.New(tokens.Config{Store: instrumented, Observer: m, Sealer: sealer, Zoom: zc, Apps: map[store.App]zoom.Credentials{store.AppZoom: cred}, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	al := audit.New(audit.Config{Store: db, Logger: logger})
	al.Start()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		al.Close(ctx)
	})

	hs := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + hs.Listener.Addr().String())
	cookieKey := make([]byte, 64)
	rand.Read(cookieKey)
	srv, err := server.New(server.Config{
		Tokens: ts, Store: instrumented, BaseURL: base, CookieKeys: [][]byte{cookieKey}, Logger: logger, Version: "bench",
		Metrics: m, ServeMetrics: true, Security: server.SecurityConfig{Audit: al},
	})
	if err != nil {
		b.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	b.Cleanup(hs.Close)

	k, full := auth.NewKey("bench", time.Now())
	if err := db.CreateAPIKey(context.Background(), k); err != nil {
		b.Fatal(err)
	}

	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	accounts := make([]store.Account, n)
	for i := range accounts {
		verifier := rand.Text() + rand.Text()
		back, err := sb.Approve(context.Background(), browser, zc.AuthorizeURL(cred, "http://127.0.0.1:9/cb", "st", verifier), users[i].ID)
		if err != nil {
			b.Fatal(err)
		}
		tok, err := zc.Exchange(context.Background(), cred, back.Query().Get("code"), "http://127.0.0.1:9/cb", verifier)
		if err != nil {
			b.Fatal(err)
		}
		user, err := zc.Me(context.Background(), tok.AccessToken)
		if err != nil {
			b.Fatal(err)
		}
		if accounts[i], err = ts.NewAccount(store.AppZoom, tok, user, tokens.ConnectOptions{Console: true}); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.ImportAccounts(context.Background(), accounts); err != nil {
		b.Fatal(err)
	}
	hb := &handoutBench{url: hs.URL, apiKey: full.Reveal()}
	for _, a := range accounts {
		hb.ids = append(hb.ids, a.ID)
	}
	return hb
}

// handOut sends one POST /v1/accounts/{id}/token and reads the response.
func (hb *handoutBench) handOut(client *http.Client, id string) error {
	req, err := http.NewRequest(http.MethodPost, hb.url+"/v1/accounts/"+id+"/token", strings.NewReader(`{"min_ttl_seconds": 300}`))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+hb.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// BenchmarkHandout measures POST /v1/accounts/{id}/token over loopback
// HTTP with keep-alive, round robin over 1,000 accounts: "serial" on one
// connection, "parallel" on 64. Profile it with -cpuprofile; the client
// shares the process, so look at the server's functions.
func BenchmarkHandout(b *testing.B) {
	hb := newHandoutBench(b, 1000)

	b.Run("serial", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		b.ReportAllocs()
		b.ResetTimer()
		defer reportCPU(b)()
		for i := range b.N {
			if err := hb.handOut(client, hb.ids[i%len(hb.ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("parallel", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
		var next atomic.Int64
		b.SetParallelism(32) // 64 goroutines on 2 cores
		b.ReportAllocs()
		b.ResetTimer()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				if err := hb.handOut(client, hb.ids[i%len(hb.ids)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// reportCPU reports the process's CPU time (user and system) per
// operation when the returned function runs. Other processes slow the
// wall clock of a shared machine, but not this.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
