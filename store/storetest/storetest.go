package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// Run runs the conformance suite. Every subtest calls newStore for a fresh,
// empty store. newStore registers the store's cleanup with t.Cleanup, and
// that cleanup must tolerate a store the suite has already closed: the
// close subtest calls Close itself.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("accounts", func(t *testing.T) { testAccounts(t, newStore) })
	t.Run("find", func(t *testing.T) { testFind(t, newStore) })
	t.Run("list", func(t *testing.T) { testList(t, newStore) })
	t.Run("update", func(t *testing.T) { testUpdate(t, newStore) })
	t.Run("cas", func(t *testing.T) { testCAS(t, newStore) })
	t.Run("concurrent update", func(t *testing.T) { testConcurrentUpdate(t, newStore) })
	t.Run("list while writing", func(t *testing.T) { testListWhileWriting(t, newStore) })
	t.Run("contention", func(t *testing.T) { testContention(t, newStore) })
	t.Run("due", func(t *testing.T) { testDue(t, newStore) })
	t.Run("api keys", func(t *testing.T) { testAPIKeys(t, newStore) })
	t.Run("operators", func(t *testing.T) { testOperators(t, newStore) })
	t.Run("leases", func(t *testing.T) { testLeases(t, newStore) })
	t.Run("connect sessions", func(t *testing.T) { testConnectSessions(t, newStore) })
	t.Run("owners", func(t *testing.T) { testOwners(t, newStore) })
	t.Run("webhooks", func(t *testing.T) { testEvents(t, newStore) })
	t.Run("audit", func(t *testing.T) { testAudit(t, newStore) })
	t.Run("ping and close", func(t *testing.T) { testPingClose(t, newStore) })
}

// zone is a fixed non-UTC zone: the suite writes times in it and expects
// them back in UTC.
var zone = time.FixedZone("UTC+05:30", 5*3600+30*60)

// base is the suite's reference time, with nanoseconds that a backend may
// drop.
var base = time.Date(2025, time.March, 14, 15, 9, 26, 535897932, zone)

// at returns base moved by d.
func at(d time.Duration) time.Time { return base.Add(d) }

// fullAccount returns an account with every field set to a distinct value.
func fullAccount(id string) store.Account {
	return store.Account{
		ID:  id,
		App: store.AppZoom,
		Zoom: store.ZoomIdentity{
			UserID:      "user-" + id,
			AccountID:   "zacct-" + id,
			Email:       id + "@example.com",
			DisplayName: "Display " + id,
		},
		Status:               store.StatusActive,
		Scopes:               []string{"meeting:read", "user:read", "recording:read"},
		CreatedAt:            at(-72 * time.Hour),
		UpdatedAt:            at(-time.Hour),
		Token:                []byte{0x01, 0x00, 0xff, 'x', 0x80, 0x7f},
		TokenVersion:         7,
		TokenExpiresAt:       at(time.Hour + 123*time.Nanosecond),
		RefreshTokenIssuedAt: at(-2*time.Hour + 999*time.Nanosecond),
		LastRefreshedAt:      at(-2 * time.Hour),
		NextRefreshAt:        at(45 * time.Minute),
		RefreshStartedAt:     at(-5 * time.Minute),
		LastErrorCode:        "zoom_unavailable",
		LastError:            "zoom returned 503",
		LastErrorAt:          at(-3 * time.Hour),
		TransientFailures:    3,
		RevokedAt:            at(-4 * time.Hour),
		RevokeReason:         "test value",
	}
}

func mustCreate(t *testing.T, s store.Store, accounts ...store.Account) {
	t.Helper()
	for _, a := range accounts {
		if err := s.CreateAccount(t.Context(), a); err != nil {
			t.Fatalf("CreateAccount(%q) = %v; want nil error", a.ID, err)
		}
	}
}

func mustGet(t *testing.T, s store.Store, id string) store.Account {
	t.Helper()
	a, err := s.GetAccount(t.Context(), id)
	if err != nil {
		t.Fatalf("GetAccount(%q) = %v; want nil error", id, err)
	}
	return a
}

func mustUpdate(t *testing.T, s store.Store, id string, change func(*store.Account)) store.Account {
	t.Helper()
	a, err := s.UpdateAccount(t.Context(), id, func(a store.Account) (store.Account, error) {
		change(&a)
		return a, nil
	})
	if err != nil {
		t.Fatalf("UpdateAccount(%q) = %v; want nil error", id, err)
	}
	return a
}

// checkTime reports a time that is not want to the microsecond, or not in
// UTC.
func checkTime(t *testing.T, call, field string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s.%s = %v; want the zero time", call, field, got)
		}
		return
	}

	if d := got.Sub(want); d <= -time.Microsecond || d >= time.Microsecond {
		t.Errorf("%s.%s = %v; want %v to the microsecond", call, field, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s.%s location = %v; want UTC", call, field, got.Location())
	}
}

// checkAccount compares every field of got with want, one check each.
func checkAccount(t *testing.T, call string, got, want store.Account) {
	t.Helper()
	check := func(field string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s.%s = %v; want %v", call, field, got, want)
		}
	}

	check("ID", got.ID, want.ID)
	check("App", got.App, want.App)
	check("Zoom.UserID", got.Zoom.UserID, want.Zoom.UserID)
	check("Zoom.AccountID", got.Zoom.AccountID, want.Zoom.AccountID)
	check("Zoom.Email", got.Zoom.Email, want.Zoom.Email)
	check("Zoom.DisplayName", got.Zoom.DisplayName, want.Zoom.DisplayName)
	check("Status", got.Status, want.Status)
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("%s.Scopes = %q; want %q", call, got.Scopes, want.Scopes)
	}
	if string(got.Token) != string(want.Token) {
		t.Errorf("%s.Token = %x; want %x", call, got.Token, want.Token)
	}
	check("TokenVersion", got.TokenVersion, want.TokenVersion)
	check("LastErrorCode", got.LastErrorCode, want.LastErrorCode)
	check("LastError", got.LastError, want.LastError)
	check("TransientFailures", got.TransientFailures, want.TransientFailures)
	check("RevokeReason", got.RevokeReason, want.RevokeReason)

	checkTime(t, call, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, call, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	checkTime(t, call, "TokenExpiresAt", got.TokenExpiresAt, want.TokenExpiresAt)
	checkTime(t, call, "RefreshTokenIssuedAt", got.RefreshTokenIssuedAt, want.RefreshTokenIssuedAt)
	checkTime(t, call, "LastRefreshedAt", got.LastRefreshedAt, want.LastRefreshedAt)
	checkTime(t, call, "NextRefreshAt", got.NextRefreshAt, want.NextRefreshAt)
	checkTime(t, call, "LastErrorAt", got.LastErrorAt, want.LastErrorAt)
	checkTime(t, call, "RefreshStartedAt", got.RefreshStartedAt, want.RefreshStartedAt)
	checkTime(t, call, "RevokedAt", got.RevokedAt, want.RevokedAt)
}

// checkErr reports err unless it wraps want.
func checkErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v; want an error wrapping %q", call, err, want)
	}
}

// ids returns the ids of accounts in order.
func ids(accounts []store.Account) []string {
	out := make([]string, 0, len(accounts))
	for _, a := range accounts {
		out = append(out, a.ID)
	}
	return out
}

// listAll pages through every account matching filter with the page size
// and returns them with the number of pages.
func listAll(ctx context.Context, s store.Store, filter store.AccountFilter, limit int) ([]store.Account, int, error) {
	var all []store.Account
	opts := store.ListOptions{Filter: filter, Limit: limit}
	for pages := 1; pages <= maxPages; pages++ {
		page, next, err := s.ListAccounts(ctx, opts)
		if err != nil {
			return nil, pages, fmt.Errorf("list page %d after %q: %w", pages, opts.After, err)
		}
		if limit > 0 && len(page) > limit {
			return nil, pages, fmt.Errorf("list page %d after %q: %d accounts; want at most %d", pages, opts.After, len(page), limit)
		}

		all = append(all, page...)
		if next == "" {
			return all, pages, nil
		}
		if next == opts.After {
			return nil, pages, fmt.Errorf("list page %d after %q: next is the same cursor", pages, opts.After)
		}
		opts.After = next
	}
	return nil, maxPages, fmt.Errorf("list: still not on the last page after %d pages", maxPages)
}

// maxPages stops listAll on a backend whose cursor never ends.
const maxPages = 10000
