package events_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/client"
)

// clock is a settable clock shared by the service and the receiver.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// receiver is a webhook endpoint that verifies every delivery with
// client.VerifyEvent. While down it returns 503 and records nothing.
type receiver struct {
	srv    *httptest.Server
	secret string
	now    func() time.Time

	down      atomic.Bool
	hang      atomic.Bool   // block until the request is cancelled or the test ends
	stop      chan struct{} // closed when the test ends
	requests  atomic.Int64
	inFlight  atomic.Int64
	maxFlight atomic.Int64
	delay     time.Duration

	mu       sync.Mutex
	events   []client.Event
	headers  []http.Header
	bodies   [][]byte
	rejected []string // why deliveries failed verification
}

func newReceiver(t *testing.T, secret string, now func() time.Time) *receiver {
	t.Helper()
	r := &receiver{secret: secret, now: now, stop: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	// Runs before Close, which waits for hanging handlers.
	t.Cleanup(func() { close(r.stop) })
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	n := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	for {
		m := r.maxFlight.Load()
		if n <= m || r.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}

	if r.hang.Load() {
		select {
		case <-req.Context().Done():
		case <-r.stop:
		}
		return
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	if r.down.Load() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}

	body, _ := io.ReadAll(req.Body)
	ev, err := client.VerifyEvent(r.secret, req.Header, body, r.now())
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.rejected = append(r.rejected, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.events = append(r.events, ev)
	r.headers = append(r.headers, req.Header.Clone())
	r.bodies = append(r.bodies, body)
	w.WriteHeader(http.StatusNoContent)
}

// received returns the verified events so far.
func (r *receiver) received() []client.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.Event(nil), r.events...)
}

// rejections returns the verification failures so far.
func (r *receiver) rejections() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.rejected...)
}

// rawBodies returns the bodies of the verified events.
func (r *receiver) rawBodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

// firstByAccount returns, per account, the event ids in the order they
// first arrived; a repeated delivery does not count again.
func firstByAccount(evs []client.Event) map[string][]string {
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, ev := range evs {
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		out[ev.Account.ID] = append(out[ev.Account.ID], ev.ID)
	}
	return out
}

// waitFor polls cond every 10 ms until it holds or the bound passes.
func waitFor(t *testing.T, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s", what, bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
