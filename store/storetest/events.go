package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

func webhook(id string, created time.Time) store.Webhook {
	return store.Webhook{
		ID:        id,
		URL:       "https://hooks.example.com/" + id,
		Secret:    []byte("sealed-" + id + "\x00\xff"),
		Source:    store.WebhookSourceAPI,
		CreatedAt: created,
	}
}

// pending returns a pending delivery of event to the endpoint for the
// account, due at next.
func pending(webhookID, accountID, event string, next time.Time) store.Delivery {
	return store.Delivery{
		WebhookID:     webhookID,
		AccountID:     accountID,
		EventID:       event,
		EventType:     "account.connected",
		Payload:       []byte(`{"id":"` + event + `"}`),
		CreatedAt:     next.Add(-time.Second),
		Status:        store.DeliveryPending,
		NextAttemptAt: next,
	}
}

func eventIDs(ds []store.Delivery) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.EventID)
	}
	return out
}

func mustCreateWebhooks(t *testing.T, s store.Store, hooks ...store.Webhook) {
	t.Helper()
	for _, w := range hooks {
		if err := s.CreateWebhook(t.Context(), w); err != nil {
			t.Fatalf("CreateWebhook(%q) = %v; want nil error", w.ID, err)
		}
	}
}

func mustAppend(t *testing.T, s store.Store, ds ...store.Delivery) []store.Delivery {
	t.Helper()
	got, err := s.AppendDeliveries(t.Context(), ds)
	if err != nil {
		t.Fatalf("AppendDeliveries(%q) = %v; want nil error", eventIDs(ds), err)
	}
	if len(got) != len(ds) {
		t.Fatalf("AppendDeliveries(%q) returned %d deliveries; want %d", eventIDs(ds), len(got), len(ds))
	}
	return got
}

func setStatus(t *testing.T, s store.Store, id int64, status store.DeliveryStatus, finished time.Time) {
	t.Helper()
	_, err := s.UpdateDelivery(t.Context(), id, func(d store.Delivery) (store.Delivery, error) {
		d.Status = status
		d.FinishedAt = finished
		return d, nil
	})
	if err != nil {
		t.Fatalf("UpdateDelivery(%d, status %s) = %v; want nil error", id, status, err)
	}
}

func testWebhooks(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	// Ids sort differently from creation order.
	mustCreateWebhooks(t, s, webhook("wz", at(0)), webhook("wa", at(time.Second)))

	got, err := s.GetWebhook(ctx, "wz")
	if err != nil {
		t.Fatalf(`GetWebhook("wz") = %v; want nil error`, err)
	}
	want := webhook("wz", at(0))
	if got.URL != want.URL {
		t.Errorf(`GetWebhook("wz").URL = %q; want %q`, got.URL, want.URL)
	}
	if string(got.Secret) != string(want.Secret) {
		t.Errorf(`GetWebhook("wz").Secret = %x; want %x`, got.Secret, want.Secret)
	}
	if got.Source != want.Source {
		t.Errorf(`GetWebhook("wz").Source = %q; want %q`, got.Source, want.Source)
	}
	checkTime(t, `GetWebhook("wz")`, "CreatedAt", got.CreatedAt, want.CreatedAt)

	// The returned secret belongs to the caller.
	got.Secret[0] = 'X'
	if again, _ := s.GetWebhook(ctx, "wz"); string(again.Secret) != string(want.Secret) {
		t.Errorf("GetWebhook after changing a returned secret: Secret = %x; want %x", again.Secret, want.Secret)
	}

	if err := s.CreateWebhook(ctx, webhook("wz", at(5*time.Second))); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf(`CreateWebhook(taken "wz") = %v; want ErrAlreadyExists`, err)
	}
	if _, err := s.GetWebhook(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf(`GetWebhook("missing") = %v; want ErrNotFound`, err)
	}

	list, err := s.ListWebhooks(ctx)
	if err != nil {
		t.Fatalf("ListWebhooks = %v; want nil error", err)
	}
	var listed []string
	for _, w := range list {
		listed = append(listed, w.ID)
	}
	if !slices.Equal(listed, []string{"wz", "wa"}) {
		t.Errorf("ListWebhooks = %q; want %q (creation order)", listed, []string{"wz", "wa"})
	}

	if err := s.DeleteWebhook(ctx, "wz"); err != nil {
		t.Errorf(`DeleteWebhook("wz") = %v; want nil error`, err)
	}
	if _, err := s.GetWebhook(ctx, "wz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf(`GetWebhook("wz") after delete = %v; want ErrNotFound`, err)
	}
	if err := s.DeleteWebhook(ctx, "wz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf(`DeleteWebhook("wz") twice = %v; want ErrNotFound`, err)
	}
}

func testAppendDeliveries(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateWebhooks(t, s, webhook("w1", at(0)))

	first := mustAppend(t, s, pending("w1", "a1", "e1", at(0)), pending("w1", "a1", "e2", at(0)))
	second := mustAppend(t, s, pending("w1", "a2", "e3", at(0)))
	all := append(first, second...)
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Errorf("AppendDeliveries IDs = %d then %d; want increasing IDs", all[i-1].ID, all[i].ID)
		}
	}

	got, err := s.UpdateDelivery(ctx, first[0].ID, func(d store.Delivery) (store.Delivery, error) { return d, nil })
	if err != nil {
		t.Fatalf("UpdateDelivery(%d, no change) = %v; want nil error", first[0].ID, err)
	}
	want := pending("w1", "a1", "e1", at(0))
	if got.WebhookID != want.WebhookID || got.AccountID != want.AccountID {
		t.Errorf("stored delivery ids = %q, %q; want %q, %q", got.WebhookID, got.AccountID, want.WebhookID, want.AccountID)
	}
	if got.EventID != want.EventID || got.EventType != want.EventType {
		t.Errorf("stored event = %q %q; want %q %q", got.EventID, got.EventType, want.EventID, want.EventType)
	}
	if string(got.Payload) != string(want.Payload) {
		t.Errorf("stored Payload = %q; want %q", got.Payload, want.Payload)
	}
	if got.Status != store.DeliveryPending {
		t.Errorf("stored Status = %q; want %q", got.Status, store.DeliveryPending)
	}
	checkTime(t, "stored delivery", "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "stored delivery", "NextAttemptAt", got.NextAttemptAt, want.NextAttemptAt)

	// One delivery to a missing endpoint appends nothing.
	_, err = s.AppendDeliveries(ctx, []store.Delivery{pending("w1", "a3", "e4", at(0)), pending("gone", "a3", "e5", at(0))})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AppendDeliveries(missing endpoint) = %v; want ErrNotFound", err)
	}
	listed, _, err := s.ListDeliveries(ctx, store.DeliveryListOptions{})
	if err != nil {
		t.Fatalf("ListDeliveries = %v; want nil error", err)
	}
	if !slices.Equal(eventIDs(listed), []string{"e3", "e2", "e1"}) {
		t.Errorf("ListDeliveries after a failed append = %q; want %q", eventIDs(listed), []string{"e3", "e2", "e1"})
	}
}

func testDueDeliveries(t *testing.T, newStore func(t *testing.T) store.Store) {
	start := base.Truncate(time.Microsecond)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	now := start.In(time.FixedZone("UTC-08:00", -8*3600))

	s := newStore(t)
	mustCreateWebhooks(t, s, webhook("w1", at(0)), webhook("w2", at(0)))
	d := mustAppend(t, s,
		pending("w1", "a1", "w1a1-first", at(-time.Minute)),
		pending("w1", "a1", "w1a1-second", at(-2*time.Minute)),
		pending("w1", "a2", "w1a2-now", at(0)),
		pending("w2", "a1", "w2a1-earliest", at(-time.Hour)),
		pending("w2", "a2", "w2a2-future", at(time.Microsecond)),
		pending("w2", "a2", "w2a2-behind-future", at(-time.Hour)),
	)

	check := func(t *testing.T, limit int, want []string) {
		t.Helper()
		got, err := s.DueDeliveries(t.Context(), now, limit)
		if err != nil {
			t.Fatalf("DueDeliveries(now, %d) = %v; want nil error", limit, err)
		}
		if !slices.Equal(eventIDs(got), want) {
			t.Errorf("DueDeliveries(now, %d) = %q; want %q", limit, eventIDs(got), want)
		}
	}

	// Only the first pending delivery of each queue is due, even when a
	// later one has an earlier NextAttemptAt.
	check(t, 10, []string{"w2a1-earliest", "w1a1-first", "w1a2-now"})
	check(t, 2, []string{"w2a1-earliest", "w1a1-first"})

	// A finished delivery frees the next one of its queue, and no other.
	setStatus(t, s, d[0].ID, store.DeliveryDelivered, at(0))
	check(t, 10, []string{"w2a1-earliest", "w1a1-second", "w1a2-now"})
	setStatus(t, s, d[4].ID, store.DeliveryFailed, at(0))
	// Equal NextAttemptAt: the lower ID comes first.
	check(t, 10, []string{"w2a1-earliest", "w2a2-behind-future", "w1a1-second", "w1a2-now"})

	// Deleting an endpoint drops its queues.
	if err := s.DeleteWebhook(t.Context(), "w2"); err != nil {
		t.Fatalf(`DeleteWebhook("w2") = %v; want nil error`, err)
	}
	check(t, 10, []string{"w1a1-second", "w1a2-now"})
	listed, _, err := s.ListDeliveries(t.Context(), store.DeliveryListOptions{WebhookID: "w2"})
	if err != nil {
		t.Fatalf("ListDeliveries(w2) = %v; want nil error", err)
	}
	if len(listed) != 0 {
		t.Errorf("ListDeliveries(w2) after DeleteWebhook = %q; want none", eventIDs(listed))
	}

	if _, err := s.DueDeliveries(t.Context(), now, 0); err == nil {
		t.Error("DueDeliveries(now, 0) = nil error; want an error for a limit that is not positive")
	}
}

func testUpdateDelivery(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateWebhooks(t, s, webhook("w1", at(0)))
	d := mustAppend(t, s, pending("w1", "a1", "e1", at(0)))[0]

	_, err := s.UpdateDelivery(ctx, d.ID, func(d store.Delivery) (store.Delivery, error) {
		d.Attempts = 3
		d.NextAttemptAt = at(time.Hour + 123*time.Nanosecond)
		d.LastAttemptAt = at(time.Minute)
		d.LastStatusCode = 503
		d.LastError = "endpoint returned 503"
		return d, nil
	})
	if err != nil {
		t.Fatalf("UpdateDelivery(%d) = %v; want nil error", d.ID, err)
	}
	listed, _, err := s.ListDeliveries(ctx, store.DeliveryListOptions{})
	if err != nil || len(listed) != 1 {
		t.Fatalf("ListDeliveries = %d deliveries, %v; want 1, nil error", len(listed), err)
	}
	got := listed[0]
	if got.Attempts != 3 {
		t.Errorf("Attempts = %d; want 3", got.Attempts)
	}
	if got.LastStatusCode != 503 {
		t.Errorf("LastStatusCode = %d; want 503", got.LastStatusCode)
	}
	if got.LastError != "endpoint returned 503" {
		t.Errorf("LastError = %q; want %q", got.LastError, "endpoint returned 503")
	}
	checkTime(t, "updated delivery", "NextAttemptAt", got.NextAttemptAt, at(time.Hour+123*time.Nanosecond))
	checkTime(t, "updated delivery", "LastAttemptAt", got.LastAttemptAt, at(time.Minute))
	checkTime(t, "updated delivery", "FinishedAt", got.FinishedAt, time.Time{})

	changes := []struct {
		name   string
		change func(*store.Delivery)
	}{
		{"id", func(d *store.Delivery) { d.ID++ }},
		{"webhook", func(d *store.Delivery) { d.WebhookID = "w2" }},
		{"account", func(d *store.Delivery) { d.AccountID = "a2" }},
		{"event", func(d *store.Delivery) { d.EventID = "e2" }},
		{"payload", func(d *store.Delivery) { d.Payload = []byte("{}") }},
	}
	for _, tc := range changes {
		_, err := s.UpdateDelivery(ctx, d.ID, func(d store.Delivery) (store.Delivery, error) {
			tc.change(&d)
			d.Attempts = 99
			return d, nil
		})
		if err == nil {
			t.Errorf("UpdateDelivery(change %s) = nil error; want an error", tc.name)
		}
	}
	if again, _, _ := s.ListDeliveries(ctx, store.DeliveryListOptions{}); again[0].Attempts != 3 {
		t.Errorf("Attempts after rejected updates = %d; want 3", again[0].Attempts)
	}

	stop := errors.New("stop")
	if _, err := s.UpdateDelivery(ctx, d.ID, func(store.Delivery) (store.Delivery, error) { return store.Delivery{}, stop }); !errors.Is(err, stop) {
		t.Errorf("UpdateDelivery(update fails) = %v; want the update's error", err)
	}
	if _, err := s.UpdateDelivery(ctx, d.ID+1000, func(d store.Delivery) (store.Delivery, error) { return d, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateDelivery(missing) = %v; want ErrNotFound", err)
	}
}

func testListDeliveries(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateWebhooks(t, s, webhook("w1", at(0)), webhook("w2", at(0)))
	for _, e := range []string{"e1", "e2", "e3", "e4", "e5"} {
		mustAppend(t, s, pending("w1", "a1", e, at(0)))
	}
	mustAppend(t, s, pending("w2", "a1", "other", at(0)))

	var all []string
	opts := store.DeliveryListOptions{WebhookID: "w1", Limit: 2}
	for pages := 1; ; pages++ {
		page, next, err := s.ListDeliveries(ctx, opts)
		if err != nil {
			t.Fatalf("ListDeliveries page %d = %v; want nil error", pages, err)
		}
		if len(page) > 2 {
			t.Fatalf("ListDeliveries page %d has %d deliveries; want at most 2", pages, len(page))
		}
		all = append(all, eventIDs(page)...)
		if next == 0 {
			break
		}
		if pages > 10 {
			t.Fatal("ListDeliveries: still not on the last page after 10 pages")
		}
		opts.Before = next
	}
	want := []string{"e5", "e4", "e3", "e2", "e1"}
	if !slices.Equal(all, want) {
		t.Errorf("ListDeliveries(w1) in pages of 2 = %q; want %q", all, want)
	}
}

func testDeleteDeliveries(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateWebhooks(t, s, webhook("w1", at(0)))
	d := mustAppend(t, s,
		pending("w1", "a1", "delivered-old", at(0)),
		pending("w1", "a1", "failed-old", at(0)),
		pending("w1", "a1", "delivered-new", at(0)),
		pending("w1", "a1", "pending", at(-48*time.Hour)),
	)
	setStatus(t, s, d[0].ID, store.DeliveryDelivered, at(-2*time.Hour))
	setStatus(t, s, d[1].ID, store.DeliveryFailed, at(-2*time.Hour))
	setStatus(t, s, d[2].ID, store.DeliveryDelivered, at(0))

	n, err := s.DeleteDeliveries(ctx, at(-time.Hour))
	if err != nil {
		t.Fatalf("DeleteDeliveries = %v; want nil error", err)
	}
	if n != 2 {
		t.Errorf("DeleteDeliveries = %d; want 2", n)
	}
	listed, _, err := s.ListDeliveries(ctx, store.DeliveryListOptions{})
	if err != nil {
		t.Fatalf("ListDeliveries = %v; want nil error", err)
	}
	if want := []string{"pending", "delivered-new"}; !slices.Equal(eventIDs(listed), want) {
		t.Errorf("ListDeliveries after DeleteDeliveries = %q; want %q", eventIDs(listed), want)
	}
}

// testEvents covers the webhook endpoints and the delivery outbox.
func testEvents(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("endpoints", func(t *testing.T) { testWebhooks(t, newStore) })
	t.Run("append", func(t *testing.T) { testAppendDeliveries(t, newStore) })
	t.Run("due", func(t *testing.T) { testDueDeliveries(t, newStore) })
	t.Run("update", func(t *testing.T) { testUpdateDelivery(t, newStore) })
	t.Run("list", func(t *testing.T) { testListDeliveries(t, newStore) })
	t.Run("delete finished", func(t *testing.T) { testDeleteDeliveries(t, newStore) })
}
