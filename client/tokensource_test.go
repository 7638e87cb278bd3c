package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/client"
	"github.com/zoombroker/zoombroker/internal/brokertest"
	"github.com/zoombroker/zoombroker/store"
)

// countingTransport counts the requests that reach the broker's token
// endpoint.
type countingTransport struct {
	tokenCalls atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/token") {
		c.tokenCalls.Add(1)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// usersMe calls the sandbox's /v2/users/me and returns the status and the
// user id.
func usersMe(t *testing.T, hc *http.Client, zoomURL string) (int, string) {
	t.Helper()
	resp, err := hc.Get(zoomURL + "/v2/users/me")
	if err != nil {
		// Errorf, not Fatalf: some callers run in other goroutines.
		t.Errorf("GET /v2/users/me: %v", err)
		return 0, ""
	}
	defer resp.Body.Close()
	var me struct {
		ID string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	return resp.StatusCode, me.ID
}

func TestTokenSourceRotations(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{})
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)

	counter := &countingTransport{}
	zb := b.Client()
	zb.HTTP = &http.Client{Transport: counter, Timeout: 10 * time.Second}
	ts := zb.TokenSource(id, client.WithClock(b.Clock.Now))
	hc := oauth2.NewClient(context.Background(), ts)

	seen := map[string]bool{}
	const rotations, callsPerToken = 3, 5
	for round := 0; round <= rotations; round++ {
		for call := range callsPerToken {
			status, user := usersMe(t, hc, b.ZoomURL)
			if status != http.StatusOK {
				t.Fatalf("round %d call %d: GET /v2/users/me = %d; want 200", round, call, status)
			}
			if user != zoomsandbox.DefaultUserID {
				t.Errorf("round %d call %d: user id = %q; want %q", round, call, user, zoomsandbox.DefaultUserID)
			}
		}
		tok, err := ts.Token()
		if err != nil {
			t.Fatalf("round %d: Token() = %v", round, err)
		}
		seen[tok.AccessToken] = true

		// Zoom's tokens live 3599 s: after 56 minutes less than the
		// default 5 minutes are left, so the source must get a new one.
		b.Clock.Advance(56 * time.Minute)
	}

	if got := b.Sandbox.RefreshCount(); got != rotations {
		t.Errorf("refreshes at the sandbox = %d; want %d", got, rotations)
	}
	if len(seen) != rotations+1 {
		t.Errorf("distinct access tokens = %d; want %d", len(seen), rotations+1)
	}
	// One broker call per token: the source reused each token for every
	// call of its round.
	if got := counter.tokenCalls.Load(); got != rotations+1 {
		t.Errorf("token requests to the broker = %d; want %d", got, rotations+1)
	}
}

func TestTokenSourceConcurrent(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{})
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)

	counter := &countingTransport{}
	zb := b.Client()
	zb.HTTP = &http.Client{Transport: counter, Timeout: 10 * time.Second}
	ts := zb.TokenSource(id, client.WithClock(b.Clock.Now))

	var wg sync.WaitGroup
	tokens := make([]string, 20)
	for i := range tokens {
		wg.Go(func() {
			tok, err := ts.Token()
			if err != nil {
				t.Errorf("Token() = %v; want nil error", err)
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Wait()

	for i, tok := range tokens {
		if tok != tokens[0] {
			t.Errorf("token %d differs from token 0; want one shared token", i)
		}
	}
	if got := counter.tokenCalls.Load(); got != 1 {
		t.Errorf("token requests to the broker = %d; want 1", got)
	}
}

func TestTokenSourceExpiry(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{})
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)

	ts := b.Client().TokenSource(id, client.WithClock(b.Clock.Now), client.WithMinTTL(10*time.Minute))
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("Token() = %v", err)
	}
	acct, err := b.Client().GetAccount(t.Context(), id)
	if err != nil {
		t.Fatalf("GetAccount = %v", err)
	}
	if want := acct.TokenExpiresAt.Add(-10 * time.Minute); !tok.Expiry.Equal(want) {
		t.Errorf("Token().Expiry = %v; want %v (broker expiry minus the min TTL)", tok.Expiry, want)
	}
	if tok.Type() != "Bearer" {
		t.Errorf("Token().Type() = %q; want Bearer", tok.Type())
	}
}

func TestTransportInvalidatedToken(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{})
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	ts := b.Client().TokenSource(id, client.WithClock(b.Clock.Now))
	hc := &http.Client{Transport: &client.Transport{Source: ts}, Timeout: 10 * time.Second}

	if status, _ := usersMe(t, hc, b.ZoomURL); status != http.StatusOK {
		t.Fatalf("GET /v2/users/me = %d; want 200", status)
	}

	invalidate := func() {
		t.Helper()
		tok, err := ts.Token()
		if err != nil {
			t.Fatalf("Token() = %v", err)
		}
		b.Sandbox.InvalidateAccessToken(tok.AccessToken)
	}

	t.Run("get", func(t *testing.T) {
		invalidate()
		before := b.Sandbox.RefreshCount()
		if status, user := usersMe(t, hc, b.ZoomURL); status != http.StatusOK || user != zoomsandbox.DefaultUserID {
			t.Errorf("GET /v2/users/me after invalidation = %d, user %q; want 200, %q", status, user, zoomsandbox.DefaultUserID)
		}
		if got := b.Sandbox.RefreshCount() - before; got != 1 {
			t.Errorf("refreshes = %d; want 1", got)
		}
	})

	t.Run("post replays body", func(t *testing.T) {
		invalidate()
		resp, err := hc.Post(b.ZoomURL+"/v2/users/me/meetings", "application/json", strings.NewReader(`{"topic":"Replayed","duration":15}`))
		if err != nil {
			t.Fatalf("POST meetings: %v", err)
		}
		defer resp.Body.Close()
		var m struct {
			Topic string `json:"topic"`
		}
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("POST meetings after invalidation = %d; want 201", resp.StatusCode)
		}
		if m.Topic != "Replayed" {
			t.Errorf("created meeting topic = %q; want %q", m.Topic, "Replayed")
		}
	})

	t.Run("body without GetBody", func(t *testing.T) {
		invalidate()
		req, _ := http.NewRequest(http.MethodPost, b.ZoomURL+"/v2/users/me/meetings", io.NopCloser(strings.NewReader(`{"topic":"Once"}`)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST meetings: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST with a body that cannot replay = %d; want Zoom's 401", resp.StatusCode)
		}
		if !strings.Contains(string(body), `"code":124`) {
			t.Errorf("401 body = %s; want Zoom's whole body with code 124", body)
		}

		// The rejected token was reported, so the next call has the new
		// one.
		if status, _ := usersMe(t, hc, b.ZoomURL); status != http.StatusOK {
			t.Errorf("GET /v2/users/me after the 401 = %d; want 200", status)
		}
	})

	t.Run("concurrent callers share one refresh", func(t *testing.T) {
		invalidate()
		before := b.Sandbox.RefreshCount()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if status, _ := usersMe(t, hc, b.ZoomURL); status != http.StatusOK {
					t.Errorf("concurrent GET /v2/users/me = %d; want 200", status)
				}
			})
		}
		wg.Wait()
		if got := b.Sandbox.RefreshCount() - before; got != 1 {
			t.Errorf("refreshes = %d; want 1", got)
		}
	})
}
