package events_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/events"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/client"
	"github.com/zoombroker/zoombroker/internal/brokertest"
	"github.com/zoombroker/zoombroker/store"
)

func TestEventTypes(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{Events: &events.Config{PollInterval: 10 * time.Millisecond}})
	zb := b.Client()
	r := newReceiver(t, hookSecret, b.Clock.Now)
	down := newReceiver(t, hookSecret, b.Clock.Now)
	down.down.Store(true)
	for _, u := range []string{r.srv.URL + "/events", down.srv.URL + "/events"} {
		if _, err := zb.CreateWebhook(t.Context(), client.WebhookOptions{URL: u, Secret: secret.Secret(hookSecret)}); err != nil {
			t.Fatalf("CreateWebhook(%s) = %v", u, err)
		}
	}

	user := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	if again := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID); again != user {
		t.Fatalf("reconnect gave account %s; want %s", again, user)
	}
	b.Sandbox.Deauthorize(zoomsandbox.DefaultUserID, brokertest.ZoomClientID)
	if _, err := zb.Token(t.Context(), user, client.TokenOptions{ForceRefresh: true}); err == nil {
		t.Fatal("Token after the grant died = nil error; want needs_reconnect")
	}
	b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	if _, err := zb.DeleteAccount(t.Context(), user); err != nil {
		t.Fatalf("DeleteAccount = %v", err)
	}
	admin := b.Connect(store.AppZoom, zoomsandbox.DefaultAdminUserID)
	b.Deauthorize(store.AppZoom, zoomsandbox.DefaultAdminUserID)

	want := map[string][]string{
		user:  {client.EventConnected, client.EventReconnected, client.EventNeedsReconnect, client.EventReconnected, client.EventRevoked},
		admin: {client.EventConnected, client.EventDeauthorized},
	}
	waitFor(t, "7 events at the endpoint", 20*time.Second, func() bool { return len(r.received()) >= 7 })

	got := map[string][]string{}
	evs := r.received()
	for _, ev := range evs {
		got[ev.Account.ID] = append(got[ev.Account.ID], ev.Type)
	}
	for id, types := range want {
		if !slices.Equal(got[id], types) {
			t.Errorf("event types of %s = %q; want %q", id, got[id], types)
		}
	}
	if rej := r.rejections(); len(rej) > 0 {
		t.Errorf("verification failures = %q; want none", rej)
	}

	wantStatus := map[string]string{
		client.EventConnected:      client.StatusActive,
		client.EventReconnected:    client.StatusActive,
		client.EventNeedsReconnect: client.StatusNeedsReconnect,
		client.EventRevoked:        client.StatusRevoked,
		client.EventDeauthorized:   client.StatusRevoked,
	}
	ids := map[string]bool{}
	r.mu.Lock()
	headers := slices.Clone(r.headers)
	r.mu.Unlock()
	for i, ev := range evs {
		if ev.Account.Status != wantStatus[ev.Type] {
			t.Errorf("%s event: account status = %q; want %q", ev.Type, ev.Account.Status, wantStatus[ev.Type])
		}
		if !strings.HasPrefix(ev.ID, "evt_") || ids[ev.ID] {
			t.Errorf("%s event id = %q; want a new evt_ id", ev.Type, ev.ID)
		}
		ids[ev.ID] = true
		if ev.CreatedAt.IsZero() {
			t.Errorf("%s event created_at is zero; want the event time", ev.Type)
		}
		if got := headers[i].Get(events.HeaderEventType); got != ev.Type {
			t.Errorf("%s header = %q; want %q", events.HeaderEventType, got, ev.Type)
		}
		if got := headers[i].Get(events.HeaderEventID); got != ev.ID {
			t.Errorf("%s header = %q; want %q", events.HeaderEventID, got, ev.ID)
		}
	}

	// No secret in any body.
	leaks := append(b.Sandbox.IssuedSecrets(), b.APIKey, hookSecret)
	for _, body := range r.rawBodies() {
		for _, s := range leaks {
			if strings.Contains(string(body), s) {
				t.Errorf("event body contains a secret (%.6s...); want none", s)
			}
		}
	}

	// The account has the same fields as in the API.
	var last map[string]json.RawMessage
	bodies := r.rawBodies()
	json.Unmarshal(bodies[len(bodies)-1], &last)
	var inEvent map[string]any
	json.Unmarshal(last["account"], &inEvent)
	inAPI := getJSON(t, b, "/v1/accounts/"+admin)
	if k1, k2 := slices.Sorted(maps.Keys(inEvent)), slices.Sorted(maps.Keys(inAPI)); !slices.Equal(k1, k2) {
		t.Errorf("account fields in the event = %q; want those of GET /v1/accounts/{id}: %q", k1, k2)
	}

	// The console lists the deliveries and the failures.
	page := consolePage(t, b, "/events")
	if n := strings.Count(page, `data-status="delivered"`); n != 7 {
		t.Errorf("/events shows %d delivered rows; want 7", n)
	}
	if !strings.Contains(page, `data-status="pending"`) || !strings.Contains(page, "HTTP 503") {
		t.Error("/events does not show the pending delivery to the failing endpoint with its HTTP 503")
	}
	if !strings.Contains(page, `href="/events"`) {
		t.Error("/events page has no Events link in the header")
	}
}

func TestHandoutWithHangingEndpoint(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{Events: &events.Config{PollInterval: 10 * time.Millisecond, Timeout: time.Minute}})
	zb := b.Client()
	r := newReceiver(t, hookSecret, b.Clock.Now)
	r.hang.Store(true)
	if _, err := zb.CreateWebhook(t.Context(), client.WebhookOptions{URL: r.srv.URL, Secret: secret.Secret(hookSecret)}); err != nil {
		t.Fatal(err)
	}

	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	waitFor(t, "a delivery hanging at the endpoint", 10*time.Second, func() bool { return r.inFlight.Load() > 0 })
	for i := range 5 {
		if _, err := zb.Token(t.Context(), id, client.TokenOptions{ForceRefresh: i%2 == 0}); err != nil {
			t.Errorf("Token %d while the endpoint hangs = %v; want a token", i, err)
		}
	}
}

func getJSON(t *testing.T, b *brokertest.Broker, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+b.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out
}

func consolePage(t *testing.T, b *brokertest.Broker, path string) string {
	t.Helper()
	resp, err := b.Browser().Get(b.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200", path, resp.StatusCode)
	}
	return string(body)
}
