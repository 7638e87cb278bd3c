package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// scheduled returns an account of status with the NextRefreshAt.
func scheduled(id string, status store.Status, next time.Time) store.Account {
	a := identityAccount(id, store.AppZoom, "u-"+id, "za", status)
	a.NextRefreshAt = next
	return a
}

func testDue(t *testing.T, newStore func(t *testing.T) store.Store) {
	// The schedule is whole microseconds, so an account due exactly now
	// stays due in a backend that rounds to the microsecond. now is in
	// another zone than the schedule, so a backend that compares wall
	// clocks instead of instants fails.
	start := base.Truncate(time.Microsecond)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	now := start.In(time.FixedZone("UTC-08:00", -8*3600))

	setup := func(t *testing.T) store.Store {
		s := newStore(t)
		mustCreate(t, s,
			scheduled("d1", store.StatusActive, at(-3*time.Minute)),
			scheduled("d2", store.StatusActive, at(-time.Minute)),
			scheduled("d3-now", store.StatusActive, at(0)),
			scheduled("d4-future", store.StatusActive, at(time.Microsecond)),
			scheduled("d5-unset", store.StatusActive, time.Time{}),
			scheduled("d6-reconnect", store.StatusNeedsReconnect, at(-5*time.Minute)),
			scheduled("d7-revoked", store.StatusRevoked, at(-5*time.Minute)),
			scheduled("d8-earliest", store.StatusActive, at(-10*time.Minute).UTC()),
			scheduled("d9-far-future", store.StatusActive, at(10*365*24*time.Hour)),
		)
		return s
	}

	checkDue := func(t *testing.T, s store.Store, limit int, want []string) {
		t.Helper()
		got, err := s.DueAccounts(t.Context(), now, limit)
		if err != nil {
			t.Fatalf("DueAccounts(now, %d) = %v; want nil error", limit, err)
		}
		if !slices.Equal(ids(got), want) {
			t.Errorf("DueAccounts(now, %d) = %q; want %q", limit, ids(got), want)
		}
	}

	t.Run("due only", func(t *testing.T) {
		s := setup(t)
		checkDue(t, s, 100, []string{"d8-earliest", "d1", "d2", "d3-now"})
	})

	t.Run("limit", func(t *testing.T) {
		s := setup(t)
		checkDue(t, s, 2, []string{"d8-earliest", "d1"})
		checkDue(t, s, 1, []string{"d8-earliest"})
	})

	t.Run("full record", func(t *testing.T) {
		s := newStore(t)
		want := fullAccount("acct-1")
		want.NextRefreshAt = at(-time.Second)
		mustCreate(t, s, want)

		got, err := s.DueAccounts(t.Context(), now, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("DueAccounts = %q, %v; want [acct-1]", ids(got), err)
		}
		checkAccount(t, "DueAccounts[0]", got[0], want)
	})

	t.Run("follows updates", func(t *testing.T) {
		s := setup(t)

		mustUpdate(t, s, "d8-earliest", func(a *store.Account) { a.NextRefreshAt = at(time.Hour) })
		mustUpdate(t, s, "d1", func(a *store.Account) { a.Status = store.StatusNeedsReconnect })
		mustUpdate(t, s, "d4-future", func(a *store.Account) { a.NextRefreshAt = at(-20 * time.Minute) })
		mustUpdate(t, s, "d6-reconnect", func(a *store.Account) { a.Status = store.StatusActive })
		mustUpdate(t, s, "d3-now", func(a *store.Account) { a.NextRefreshAt = time.Time{} })
		if err := s.DeleteAccount(t.Context(), "d2"); err != nil {
			t.Fatal(err)
		}

		checkDue(t, s, 100, []string{"d4-future", "d6-reconnect"})
	})

	t.Run("later now", func(t *testing.T) {
		s := setup(t)
		later := now.Add(11 * 365 * 24 * time.Hour)

		got, err := s.DueAccounts(t.Context(), later, 100)
		if err != nil {
			t.Fatalf("DueAccounts(later, 100) = %v; want nil error", err)
		}
		want := []string{"d8-earliest", "d1", "d2", "d3-now", "d4-future", "d9-far-future"}
		if !slices.Equal(ids(got), want) {
			t.Errorf("DueAccounts(later, 100) = %q; want %q", ids(got), want)
		}
	})

	t.Run("before 1970", func(t *testing.T) {
		s := newStore(t)
		old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
		mustCreate(t, s,
			scheduled("recent", store.StatusActive, at(-time.Hour)),
			scheduled("old", store.StatusActive, old),
		)

		checkDue(t, s, 10, []string{"old", "recent"})
	})
}
