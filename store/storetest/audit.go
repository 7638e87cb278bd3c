package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// auditLog returns the store as its audit log.
func auditLog(t *testing.T, s store.Store) store.AuditLog {
	t.Helper()
	return s
}

// auditEntry returns an entry with every field set; n makes it distinct.
func auditEntry(n int, action, actor, account string) store.AuditEntry {
	return store.AuditEntry{
		At:         at(time.Duration(n)*time.Minute + 321*time.Nanosecond),
		Action:     action,
		Outcome:    "ok",
		ActorType:  "api_key",
		Actor:      actor,
		AccountID:  account,
		RemoteAddr: fmt.Sprintf("192.0.2.%d", n),
		RequestID:  fmt.Sprintf("req-%d", n),
		Detail:     fmt.Sprintf("detail %d \u00e9\x00", n),
	}
}

func checkAuditEntry(t *testing.T, call string, got, want store.AuditEntry) {
	t.Helper()
	check := func(field, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s.%s = %q; want %q", call, field, got, want)
		}
	}
	check("Action", got.Action, want.Action)
	check("Outcome", got.Outcome, want.Outcome)
	check("ActorType", got.ActorType, want.ActorType)
	check("Actor", got.Actor, want.Actor)
	check("AccountID", got.AccountID, want.AccountID)
	check("RemoteAddr", got.RemoteAddr, want.RemoteAddr)
	check("RequestID", got.RequestID, want.RequestID)
	check("Detail", got.Detail, want.Detail)
	checkTime(t, call, "At", got.At, want.At)
}

// listAllAudit pages through every matching entry with the page size.
func listAllAudit(t *testing.T, al store.AuditLog, filter store.AuditFilter, limit int) []store.AuditEntry {
	t.Helper()
	var all []store.AuditEntry
	opts := store.AuditListOptions{Filter: filter, Limit: limit}
	for pages := 1; pages <= maxPages; pages++ {
		page, next, err := al.ListAudit(t.Context(), opts)
		if err != nil {
			t.Fatalf("ListAudit(before %d) = %v; want nil error", opts.Before, err)
		}
		if limit > 0 && len(page) > limit {
			t.Fatalf("ListAudit(before %d) returned %d entries; want at most %d", opts.Before, len(page), limit)
		}
		all = append(all, page...)
		if next == 0 {
			return all
		}
		if next == opts.Before {
			t.Fatalf("ListAudit(before %d): next is the same cursor", opts.Before)
		}
		opts.Before = next
	}
	t.Fatalf("ListAudit: still not on the last page after %d pages", maxPages)
	return nil
}

func auditActions(entries []store.AuditEntry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}

func testAudit(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("append list", func(t *testing.T) {
		al := auditLog(t, newStore(t))
		want := []store.AuditEntry{
			auditEntry(1, "a1", "key_a", "acc_1"),
			auditEntry(2, "a2", "key_b", "acc_2"),
			auditEntry(3, "a3", "alice", ""),
		}
		if err := al.AppendAudit(t.Context(), want[:2]); err != nil {
			t.Fatalf("AppendAudit = %v; want nil error", err)
		}
		if err := al.AppendAudit(t.Context(), want[2:]); err != nil {
			t.Fatalf("AppendAudit = %v; want nil error", err)
		}
		if err := al.AppendAudit(t.Context(), nil); err != nil {
			t.Errorf("AppendAudit(nil) = %v; want nil error", err)
		}

		got, next, err := al.ListAudit(t.Context(), store.AuditListOptions{})
		if err != nil {
			t.Fatalf("ListAudit = %v; want nil error", err)
		}
		if next != 0 {
			t.Errorf("ListAudit next = %d; want 0 on the only page", next)
		}
		if want := []string{"a3", "a2", "a1"}; !slices.Equal(auditActions(got), want) {
			t.Fatalf("ListAudit actions = %q; want %q, newest first", auditActions(got), want)
		}
		for i, e := range got {
			checkAuditEntry(t, fmt.Sprintf("ListAudit[%d]", i), e, want[len(want)-1-i])
		}
		if !(got[0].ID > got[1].ID && got[1].ID > got[2].ID && got[2].ID > 0) {
			t.Errorf("ListAudit IDs = %d, %d, %d; want positive and falling", got[0].ID, got[1].ID, got[2].ID)
		}
	})

	t.Run("pages", func(t *testing.T) {
		al := auditLog(t, newStore(t))
		var entries []store.AuditEntry
		for i := range 23 {
			entries = append(entries, auditEntry(i, fmt.Sprintf("action-%02d", i), "key_a", "acc_1"))
		}
		if err := al.AppendAudit(t.Context(), entries); err != nil {
			t.Fatal(err)
		}

		got := listAllAudit(t, al, store.AuditFilter{}, 5)
		if len(got) != 23 {
			t.Fatalf("ListAudit over all pages = %d entries; want 23", len(got))
		}
		for i, e := range got {
			if want := fmt.Sprintf("action-%02d", 22-i); e.Action != want {
				t.Errorf("entry %d action = %q; want %q", i, e.Action, want)
			}
		}

		page, _, err := al.ListAudit(t.Context(), store.AuditListOptions{Before: got[20].ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"action-01", "action-00"}; !slices.Equal(auditActions(page), want) {
			t.Errorf("ListAudit(before the 3rd oldest) = %q; want %q", auditActions(page), want)
		}
	})

	t.Run("filters", func(t *testing.T) {
		al := auditLog(t, newStore(t))
		entries := []store.AuditEntry{
			auditEntry(0, "token.issue", "key_a", "acc_1"),
			auditEntry(1, "token.issue", "key_b", "acc_2"),
			auditEntry(2, "account.revoke", "alice", "acc_1"),
			auditEntry(3, "token.issue", "key_a", "acc_2"),
			auditEntry(4, "signin", "alice", ""),
		}
		if err := al.AppendAudit(t.Context(), entries); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name   string
			filter store.AuditFilter
			want   []string // request ids, newest first
		}{
			{"action", store.AuditFilter{Action: "token.issue"}, []string{"req-3", "req-1", "req-0"}},
			{"actor", store.AuditFilter{Actor: "alice"}, []string{"req-4", "req-2"}},
			{"account", store.AuditFilter{AccountID: "acc_1"}, []string{"req-2", "req-0"}},
			{"action and actor", store.AuditFilter{Action: "token.issue", Actor: "key_a"}, []string{"req-3", "req-0"}},
			{"since", store.AuditFilter{Since: at(3 * time.Minute)}, []string{"req-4", "req-3"}},
			{"until", store.AuditFilter{Until: at(time.Minute + 321*time.Nanosecond)}, []string{"req-0"}},
			{"no match", store.AuditFilter{Actor: "nobody"}, []string{}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got := listAllAudit(t, al, tc.filter, 2)
				ids := []string{}
				for _, e := range got {
					ids = append(ids, e.RequestID)
				}
				if !slices.Equal(ids, tc.want) {
					t.Errorf("ListAudit(%+v) = %q; want %q", tc.filter, ids, tc.want)
				}
			})
		}
	})

	t.Run("prune", func(t *testing.T) {
		al := auditLog(t, newStore(t))
		var entries []store.AuditEntry
		for i := range 10 {
			entries = append(entries, auditEntry(i, "token.issue", "key_a", "acc_1"))
		}
		if err := al.AppendAudit(t.Context(), entries); err != nil {
			t.Fatal(err)
		}

		n, err := al.PruneAudit(t.Context(), at(4*time.Minute))
		if err != nil {
			t.Fatalf("PruneAudit = %v; want nil error", err)
		}
		if n != 4 {
			t.Errorf("PruneAudit removed %d; want 4", n)
		}
		left := listAllAudit(t, al, store.AuditFilter{}, 0)
		if len(left) != 6 {
			t.Fatalf("entries after PruneAudit = %d; want 6", len(left))
		}
		if got, want := left[len(left)-1].RequestID, "req-4"; got != want {
			t.Errorf("oldest entry after PruneAudit = %q; want %q", got, want)
		}

		n, err = al.PruneAudit(t.Context(), at(4*time.Minute))
		if err != nil || n != 0 {
			t.Errorf("PruneAudit again = %d, %v; want 0, nil", n, err)
		}

		if err := al.AppendAudit(t.Context(), []store.AuditEntry{auditEntry(20, "later", "key_a", "")}); err != nil {
			t.Fatal(err)
		}
		newest, _, err := al.ListAudit(t.Context(), store.AuditListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(newest) != 1 || newest[0].ID <= left[0].ID {
			t.Errorf("entry appended after pruning has ID %v; want above %d", newest, left[0].ID)
		}
	})
}
