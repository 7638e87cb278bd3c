package events_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/events"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

const hookSecret = "receiver-secret-0123456789"

// outbox is an events service over a bbolt file that a test can stop and
// start again, as a broker restart would.
type outbox struct {
	t      *testing.T
	path   string
	sealer *seal.Sealer
	clock  *clock
	cfg    events.Config

	db     *bolt.DB
	svc    *events.Service
	cancel context.CancelFunc
	done   chan struct{}
}

func newOutbox(t *testing.T, cfg events.Config) *outbox {
	t.Helper()
	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	o := &outbox{
		t:      t,
		path:   filepath.Join(t.TempDir(), "zoombroker.db"),
		sealer: sealer,
		clock:  &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		cfg:    cfg,
	}
	o.open()
	t.Cleanup(o.close)
	return o
}

// open opens the store and builds the service; start runs its deliverer.
func (o *outbox) open() {
	o.t.Helper()
	db, err := bolt.Open(o.path, bolt.Options{})
	if err != nil {
		o.t.Fatalf("open store: %v", err)
	}
	cfg := o.cfg
	cfg.Store, cfg.Sealer, cfg.Now = db, o.sealer, o.clock.Now
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	svc, err := events.New(cfg)
	if err != nil {
		o.t.Fatalf("events.New = %v", err)
	}
	o.db, o.svc = db, svc
}

func (o *outbox) start() {
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done = cancel, make(chan struct{})
	go func() {
		defer close(o.done)
		o.svc.Run(ctx)
	}()
}

// close stops the deliverer, waiting for its requests, and closes the
// store. Closing twice does nothing.
func (o *outbox) close() {
	if o.cancel != nil {
		o.cancel()
		<-o.done
		o.cancel = nil
	}
	if o.db != nil {
		o.db.Close()
		o.db = nil
	}
}

// restart stops everything and opens the same file with a new service.
func (o *outbox) restart() {
	o.close()
	o.open()
	o.start()
}

// deliveries returns every delivery, oldest first.
func (o *outbox) deliveries() []store.Delivery {
	o.t.Helper()
	ds, _, err := o.db.ListDeliveries(context.Background(), store.DeliveryListOptions{Limit: 1000})
	if err != nil {
		o.t.Fatalf("ListDeliveries = %v", err)
	}
	slices.Reverse(ds)
	return ds
}

// expectedOrder returns, per account, the event ids in the order they
// were appended.
func (o *outbox) expectedOrder() map[string][]string {
	out := map[string][]string{}
	for _, d := range o.deliveries() {
		out[d.AccountID] = append(out[d.AccountID], d.EventID)
	}
	return out
}

func (o *outbox) allDelivered() bool {
	for _, d := range o.deliveries() {
		if d.Status != store.DeliveryDelivered {
			return false
		}
	}
	return true
}

func account(id string) store.Account {
	return store.Account{
		ID:     id,
		App:    store.AppZoom,
		Status: store.StatusActive,
		Zoom:   store.ZoomIdentity{UserID: "user-" + id, AccountID: "zacct", Email: id + "@example.com"},
		Token:  []byte("sealed token bytes that must never leave the broker"),
	}
}

// emit records kinds in turn for each account, interleaving the accounts.
func (o *outbox) emit(accounts []string, kinds []string) {
	o.t.Helper()
	for _, kind := range kinds {
		for _, id := range accounts {
			if err := o.svc.AccountEvent(context.Background(), kind, account(id)); err != nil {
				o.t.Fatalf("AccountEvent(%s, %s) = %v", kind, id, err)
			}
			o.clock.Advance(time.Second)
		}
	}
}

var allKinds = []string{tokens.EventConnected, tokens.EventNeedsReconnect, tokens.EventReconnected, tokens.EventRevoked, tokens.EventDeauthorized}

func TestOutageAndRestart(t *testing.T) {
	o := newOutbox(t, events.Config{BackoffBase: time.Second, BackoffLimit: time.Minute})
	r := newReceiver(t, hookSecret, o.clock.Now)
	r.down.Store(true)
	if _, _, err := o.svc.CreateWebhook(t.Context(), r.srv.URL+"/hook", secret.Secret(hookSecret)); err != nil {
		t.Fatalf("CreateWebhook = %v", err)
	}

	accounts := []string{"acc_a", "acc_b", "acc_c"}
	o.emit(accounts, allKinds)
	want := o.expectedOrder()
	o.start()

	// While the endpoint is down, only the first event of each account is
	// tried: the later ones wait behind it.
	waitFor(t, "first attempt of each account", 10*time.Second, func() bool {
		tried := 0
		for _, d := range o.deliveries() {
			if d.Attempts > 0 {
				tried++
			}
		}
		return tried == len(accounts)
	})
	for _, d := range o.deliveries() {
		head := d.EventID == want[d.AccountID][0]
		switch {
		case head && d.LastStatusCode != 503:
			t.Errorf("first delivery of %s: LastStatusCode = %d; want 503", d.AccountID, d.LastStatusCode)
		case head && !d.NextAttemptAt.After(o.clock.Now()):
			t.Errorf("first delivery of %s: NextAttemptAt = %v; want after now", d.AccountID, d.NextAttemptAt)
		case head && d.LastError == "":
			t.Errorf("first delivery of %s: LastError is empty; want the failure", d.AccountID)
		case !head && d.Attempts != 0:
			t.Errorf("delivery %s of %s: Attempts = %d; want 0 while an earlier event of the account fails", d.EventType, d.AccountID, d.Attempts)
		}
	}

	// The broker restarts on the same file, and the endpoint comes back.
	o.restart()
	r.down.Store(false)
	o.clock.Advance(2 * time.Minute)
	o.svc.Wake()
	waitFor(t, "every delivery delivered", 20*time.Second, o.allDelivered)

	got := firstByAccount(r.received())
	for _, id := range accounts {
		if !slices.Equal(got[id], want[id]) {
			t.Errorf("events of %s in arrival order = %q; want %q", id, got[id], want[id])
		}
	}
	if rej := r.rejections(); len(rej) > 0 {
		t.Errorf("verification failures = %q; want none", rej)
	}
}

func TestRestartMidOutage(t *testing.T) {
	// Events recorded before a restart that no deliverer ever tried are
	// sent by the next process, in order.
	o := newOutbox(t, events.Config{})
	r := newReceiver(t, hookSecret, o.clock.Now)
	if _, _, err := o.svc.CreateWebhook(t.Context(), r.srv.URL, secret.Secret(hookSecret)); err != nil {
		t.Fatal(err)
	}
	o.emit([]string{"acc_a", "acc_b"}, allKinds[:3])
	want := o.expectedOrder()

	o.restart()
	waitFor(t, "every delivery delivered", 20*time.Second, o.allDelivered)
	got := firstByAccount(r.received())
	for id, ids := range want {
		if !slices.Equal(got[id], ids) {
			t.Errorf("events of %s = %q; want %q", id, got[id], ids)
		}
	}
}

func TestGiveUp(t *testing.T) {
	var mu sync.Mutex
	outcomes := map[string]int{}
	o := newOutbox(t, events.Config{BackoffBase: time.Second, BackoffLimit: time.Minute, RetryFor: time.Hour, Delivered: func(outcome string) {
		mu.Lock()
		outcomes[outcome]++
		mu.Unlock()
	}})
	r := newReceiver(t, hookSecret, o.clock.Now)
	r.down.Store(true)
	if _, _, err := o.svc.CreateWebhook(t.Context(), r.srv.URL, secret.Secret(hookSecret)); err != nil {
		t.Fatal(err)
	}
	o.emit([]string{"acc_a"}, allKinds[:1])
	o.start()
	waitFor(t, "first attempt", 10*time.Second, func() bool { return o.deliveries()[0].Attempts > 0 })

	// A second event 50 minutes later waits behind the first.
	o.clock.Advance(50 * time.Minute)
	o.emit([]string{"acc_a"}, allKinds[1:2])

	// Past RetryFor the first event fails for good at its next attempt,
	// and the second, younger one is tried next.
	o.clock.Advance(15 * time.Minute)
	o.svc.Wake()
	waitFor(t, "first delivery failed, second tried", 10*time.Second, func() bool {
		ds := o.deliveries()
		return ds[0].Status == store.DeliveryFailed && ds[1].Attempts > 0
	})

	r.down.Store(false)
	o.clock.Advance(2 * time.Minute)
	o.svc.Wake()
	waitFor(t, "second delivered", 10*time.Second, func() bool { return o.deliveries()[1].Status == store.DeliveryDelivered })
	mu.Lock()
	if outcomes["failed"] != 1 || outcomes["delivered"] != 1 || outcomes["retry"] < 1 {
		t.Errorf("Delivered outcomes = %v; want one failed, one delivered and at least one retry", outcomes)
	}
	mu.Unlock()

	first := o.deliveries()[0]
	if first.FinishedAt.IsZero() {
		t.Error("failed delivery FinishedAt is zero; want when the broker gave up")
	}
	if first.LastError == "" {
		t.Error("failed delivery LastError is empty; want the last failure")
	}
	if got := len(r.received()); got != 1 {
		t.Errorf("events received = %d; want 1", got)
	}
}

func TestConcurrencyBound(t *testing.T) {
	o := newOutbox(t, events.Config{Concurrency: 2})
	r := newReceiver(t, hookSecret, o.clock.Now)
	r.delay = 20 * time.Millisecond
	if _, _, err := o.svc.CreateWebhook(t.Context(), r.srv.URL, secret.Secret(hookSecret)); err != nil {
		t.Fatal(err)
	}
	var accounts []string
	for i := range 8 {
		accounts = append(accounts, fmt.Sprintf("acc_%d", i))
	}
	o.emit(accounts, allKinds[:1])
	o.start()
	waitFor(t, "every delivery delivered", 20*time.Second, o.allDelivered)
	if got := r.maxFlight.Load(); got > 2 {
		t.Errorf("requests in flight at once = %d; want at most 2", got)
	}
}

func TestAccountEventDoesNotSend(t *testing.T) {
	o := newOutbox(t, events.Config{})
	r := newReceiver(t, hookSecret, o.clock.Now)
	r.hang.Store(true)
	if _, _, err := o.svc.CreateWebhook(t.Context(), r.srv.URL, secret.Secret(hookSecret)); err != nil {
		t.Fatal(err)
	}

	// With a hanging endpoint and a running deliverer, recording events
	// still returns: it only writes to the store.
	o.start()
	o.emit([]string{"acc_a", "acc_b", "acc_c"}, allKinds)
	if got := len(o.deliveries()); got != 15 {
		t.Errorf("deliveries in the outbox = %d; want 15", got)
	}
}

func TestNoEndpoints(t *testing.T) {
	o := newOutbox(t, events.Config{})
	o.emit([]string{"acc_a"}, allKinds)
	if got := len(o.deliveries()); got != 0 {
		t.Errorf("deliveries without endpoints = %d; want 0", got)
	}
}

func TestConfiguredEndpoints(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	r := newReceiver(t, "configured-secret-0123", c.Now)
	o := newOutbox(t, events.Config{Endpoints: []events.Endpoint{{URL: r.srv.URL + "/cfg", Secret: "configured-secret-0123"}}})
	o.clock = c
	o.close()
	o.open()
	if err := o.svc.SyncEndpoints(t.Context()); err != nil {
		t.Fatalf("SyncEndpoints = %v", err)
	}
	hooks, _ := o.db.ListWebhooks(t.Context())
	if len(hooks) != 1 || hooks[0].Source != store.WebhookSourceConfig || hooks[0].Secret != nil {
		t.Fatalf("webhooks after sync = %v; want one configured endpoint without a stored secret", hooks)
	}

	o.start()
	o.emit([]string{"acc_a"}, allKinds[:1])
	waitFor(t, "delivered", 10*time.Second, o.allDelivered)
	if got := len(r.received()); got != 1 {
		t.Errorf("events at the configured endpoint = %d; want 1", got)
	}

	// Removed from the configuration: gone from the store at the next
	// start.
	o.close()
	o.cfg.Endpoints = nil
	o.open()
	if err := o.svc.SyncEndpoints(t.Context()); err != nil {
		t.Fatalf("SyncEndpoints = %v", err)
	}
	if hooks, _ := o.db.ListWebhooks(t.Context()); len(hooks) != 0 {
		t.Errorf("webhooks after removal from the configuration = %v; want none", hooks)
	}
}
