package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// extraUsers returns n more normal users of the sandbox's default account.
func extraUsers(n int) []zoomsandbox.User {
	var users []zoomsandbox.User
	for i := range n {
		users = append(users, zoomsandbox.User{
			ID:        fmt.Sprintf("sbxExtraUser%02d", i),
			AccountID: zoomsandbox.DefaultAccountID,
			Email:     fmt.Sprintf("extra%02d@example.com", i),
			FirstName: "Extra",
			LastName:  fmt.Sprintf("User %d", i),
		})
	}
	return users
}

// requestResult is the outcome of one request: its status, or the error that
// kept it from getting one.
type requestResult struct {
	status int
	err    error
}

// startSlowRequests connects accounts, makes the sandbox's token endpoint
// slow and sends n forced token requests spread over the accounts. It
// returns once the broker serves all n at once, and the channel that gets
// each request's status.
func startSlowRequests(t *testing.T, e *opsEnv, n int, latency time.Duration) (<-chan requestResult, []string) {
	t.Helper()
	ids := []string{e.connect(store.AppZoom, zoomsandbox.DefaultUserID), e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)}
	for i := range 2 {
		ids = append(ids, e.connect(store.AppZoom, fmt.Sprintf("sbxExtraUser%02d", i)))
	}
	e.sandbox.SetTokenLatency(latency)

	results := make(chan requestResult, n)
	var started sync.WaitGroup
	for i := range n {
		started.Add(1)
		go func() {
			started.Done()
			req, _ := http.NewRequest(http.MethodPost, e.base+"/v1/accounts/"+ids[i%len(ids)]+"/token", strings.NewReader(`{"force_refresh": true}`))
			req.Header.Set("Authorization", "Bearer "+e.apiKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- requestResult{err: err}
				return
			}
			resp.Body.Close()
			results <- requestResult{status: resp.StatusCode}
		}()
	}
	started.Wait()

	// The scrape is in flight too, hence n+1.
	deadline := time.Now().Add(waitLimit)
	for {
		got, _ := sampleValue(scrape(t, e.base+"/metrics"), "zoombroker_http_requests_in_flight")
		if got >= float64(n+1) {
			return results, ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("zoombroker_http_requests_in_flight = %v; want %d before SIGTERM", got, n+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	bin := buildBinary(t)
	e := newOpsEnv(t, extraUsers(2)...)
	e.settings[envShutdownGrace] = "20s"
	broker := start(t, bin, e.envList(), "serve")
	broker.waitHealthy(t, e.addr)

	const n = 20
	results, ids := startSlowRequests(t, e, n, 2*time.Second)
	if err := broker.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	for i := range n {
		if got := <-results; got.status != http.StatusOK {
			t.Errorf("in-flight request %d: status %d, error %v; want 200", i, got.status, got.err)
		}
	}
	// serve exits 1 when the grace period ends with requests or refreshes
	// still running, so 0 means they finished within it.
	if code := broker.wait(t); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0\nstderr:\n%s", code, broker.stderr)
	}
	logs := broker.stderr.String()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"zoombroker stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs have no %s line", want)
		}
	}
	if got, want := e.sandbox.RefreshCount(), len(ids); got != want {
		t.Errorf("refreshes at the sandbox = %d; want %d, one per account", got, want)
	}

	// The refreshed tokens were stored before the database closed: a new
	// broker serves them without refreshing again.
	e.sandbox.SetTokenLatency(0)
	again := start(t, bin, e.envList(), "serve")
	again.waitHealthy(t, e.addr)
	for _, id := range ids {
		e.token(id, "", http.StatusOK)
	}
	if got, want := e.sandbox.RefreshCount(), len(ids); got != want {
		t.Errorf("refreshes at the sandbox after restart = %d; want %d", got, want)
	}
	again.cmd.Process.Signal(syscall.SIGTERM)
	if code := again.wait(t); code != 0 {
		t.Errorf("second broker exit code = %d; want 0\nstderr:\n%s", code, again.stderr)
	}
}

func TestShutdownGraceExceeded(t *testing.T) {
	bin := buildBinary(t)
	e := newOpsEnv(t, extraUsers(2)...)
	e.settings[envShutdownGrace] = "1s"
	broker := start(t, bin, e.envList(), "serve")
	broker.waitHealthy(t, e.addr)

	results, _ := startSlowRequests(t, e, 4, 5*time.Second)
	if err := broker.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := broker.wait(t); code != exitFailure {
		t.Errorf("exit code = %d; want %d when requests outlast the grace period", code, exitFailure)
	}
	if logs := broker.stderr.String(); !strings.Contains(logs, "did not finish within 1s") {
		t.Errorf("stderr does not say the grace period ran out:\n%s", logs)
	}
	for range 4 {
		<-results
	}
}
