package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zoombroker/zoombroker/store"
)

func testList(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("filters", func(t *testing.T) {
		s := newStore(t)
		alice := identityAccount("a1", store.AppZoom, "u-alice", "za-1", store.StatusActive)
		alice.Zoom.Email = "alice@example.com"
		aliceAdmin := identityAccount("a2", store.AppZoomAdmin, "u-alice", "za-1", store.StatusActive)
		aliceAdmin.Zoom.Email = "Alice@Example.com"
		bob := identityAccount("b1", store.AppZoom, "u-bob", "za-1", store.StatusNeedsReconnect)
		bob.Zoom.Email = "bob@example.com"
		carol := identityAccount("c1", store.AppZoom, "u-carol", "za-2", store.StatusRevoked)
		carol.Zoom.Email = "carol@example.org"
		dave := identityAccount("d1", store.AppZoomAdmin, "u-dave", "za-2", store.StatusNeedsReconnect)
		dave.Zoom.Email = "alice@example.com.evil"
		mustCreate(t, s, dave, carol, bob, aliceAdmin, alice)

		tests := []struct {
			name   string
			filter store.AccountFilter
			want   []string
		}{
			{"none", store.AccountFilter{}, []string{"a1", "a2", "b1", "c1", "d1"}},
			{"app zoom", store.AccountFilter{App: store.AppZoom}, []string{"a1", "b1", "c1"}},
			{"app zoom_admin", store.AccountFilter{App: store.AppZoomAdmin}, []string{"a2", "d1"}},
			{"status active", store.AccountFilter{Status: store.StatusActive}, []string{"a1", "a2"}},
			{"status needs_reconnect", store.AccountFilter{Status: store.StatusNeedsReconnect}, []string{"b1", "d1"}},
			{"status revoked", store.AccountFilter{Status: store.StatusRevoked}, []string{"c1"}},
			{"email exact", store.AccountFilter{Email: "bob@example.com"}, []string{"b1"}},
			{"email any case", store.AccountFilter{Email: "ALICE@example.COM"}, []string{"a1", "a2"}},
			{"email prefix no match", store.AccountFilter{Email: "alice@example"}, nil},
			{"email substring no match", store.AccountFilter{Email: "example.com"}, nil},
			{"zoom user id", store.AccountFilter{ZoomUserID: "u-alice"}, []string{"a1", "a2"}},
			{"zoom user id case sensitive", store.AccountFilter{ZoomUserID: "U-ALICE"}, nil},
			{"zoom account id", store.AccountFilter{ZoomAccountID: "za-2"}, []string{"c1", "d1"}},
			{"app and status", store.AccountFilter{App: store.AppZoom, Status: store.StatusActive}, []string{"a1"}},
			{"account id and status", store.AccountFilter{ZoomAccountID: "za-1", Status: store.StatusNeedsReconnect}, []string{"b1"}},
			{"no match", store.AccountFilter{ZoomUserID: "nobody"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, next, err := s.ListAccounts(t.Context(), store.ListOptions{Filter: tt.filter})
				if err != nil {
					t.Fatalf("ListAccounts(%+v) = %v; want nil error", tt.filter, err)
				}
				if !slices.Equal(ids(got), tt.want) {
					t.Errorf("ListAccounts(%+v) = %q; want %q", tt.filter, ids(got), tt.want)
				}
				if next != "" {
					t.Errorf("ListAccounts(%+v) next = %q; want \"\" on the only page", tt.filter, next)
				}
			})
		}
	})

	t.Run("pages", func(t *testing.T) {
		s := newStore(t)
		const n = 250
		var want, wantAdmin []string
		order := rand.New(rand.NewPCG(1, 2)).Perm(n)
		for _, i := range order {
			a := identityAccount(fmt.Sprintf("acct-%03d", i), store.AppZoom, fmt.Sprintf("u%d", i), "za", store.StatusActive)
			if i%3 == 0 {
				a.App = store.AppZoomAdmin
			}
			mustCreate(t, s, a)
		}
		for i := range n {
			want = append(want, fmt.Sprintf("acct-%03d", i))
			if i%3 == 0 {
				wantAdmin = append(wantAdmin, fmt.Sprintf("acct-%03d", i))
			}
		}

		tests := []struct {
			name      string
			filter    store.AccountFilter
			limit     int
			want      []string
			wantPages int
		}{
			{"limit 7", store.AccountFilter{}, 7, want, 36},
			{"limit 50 exact multiple", store.AccountFilter{}, 50, want, 5},
			{"limit 1000", store.AccountFilter{}, 1000, want, 1},
			{"default limit", store.AccountFilter{}, 0, want, 3},
			{"filtered limit 9", store.AccountFilter{App: store.AppZoomAdmin}, 9, wantAdmin, 10},
			{"filtered exact multiple", store.AccountFilter{App: store.AppZoomAdmin}, 28, wantAdmin, 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, pages, err := listAll(t.Context(), s, tt.filter, tt.limit)
				if err != nil {
					t.Fatalf("list all with limit %d: %v", tt.limit, err)
				}
				if !slices.Equal(ids(got), tt.want) {
					t.Errorf("list all with limit %d = %d ids %q; want %d ids in id order", tt.limit, len(got), ids(got), len(tt.want))
				}
				if pages != tt.wantPages {
					t.Errorf("list all with limit %d took %d pages; want %d, with next \"\" on the last full page", tt.limit, pages, tt.wantPages)
				}
			})
		}
	})

	t.Run("default limit", func(t *testing.T) {
		s := newStore(t)
		for i := range 150 {
			mustCreate(t, s, identityAccount(fmt.Sprintf("acct-%03d", i), store.AppZoom, "u", "za", store.StatusActive))
		}

		for _, limit := range []int{0, -1} {
			page, next, err := s.ListAccounts(t.Context(), store.ListOptions{Limit: limit})
			if err != nil {
				t.Fatalf("ListAccounts(limit %d) = %v; want nil error", limit, err)
			}
			if len(page) != 100 {
				t.Errorf("ListAccounts(limit %d) = %d accounts; want 100", limit, len(page))
			}
			if next == "" {
				t.Errorf("ListAccounts(limit %d) next = \"\"; want a cursor, 50 accounts remain", limit)
			}
		}
	})

	t.Run("after missing id", func(t *testing.T) {
		s := newStore(t)
		for _, id := range []string{"a", "c", "e"} {
			mustCreate(t, s, identityAccount(id, store.AppZoom, "u", "za", store.StatusActive))
		}

		got, next, err := s.ListAccounts(t.Context(), store.ListOptions{After: "b"})
		if err != nil {
			t.Fatalf(`ListAccounts(after "b") = %v; want nil error`, err)
		}
		if want := []string{"c", "e"}; !slices.Equal(ids(got), want) {
			t.Errorf(`ListAccounts(after "b") = %q; want %q`, ids(got), want)
		}
		if next != "" {
			t.Errorf(`ListAccounts(after "b") next = %q; want ""`, next)
		}
	})

	t.Run("empty store", func(t *testing.T) {
		s := newStore(t)

		got, next, err := s.ListAccounts(t.Context(), store.ListOptions{})
		if err != nil || len(got) != 0 || next != "" {
			t.Errorf("ListAccounts on an empty store = %d accounts, next %q, %v; want 0, \"\", nil", len(got), next, err)
		}
	})
}
