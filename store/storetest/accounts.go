package storetest

import (
	"testing"

	"github.com/zoombroker/zoombroker/store"
)

func testAccounts(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("round trip", func(t *testing.T) {
		s := newStore(t)
		want := fullAccount("acct-1")
		mustCreate(t, s, want)

		checkAccount(t, "GetAccount", mustGet(t, s, "acct-1"), want)
	})

	t.Run("zero fields", func(t *testing.T) {
		s := newStore(t)
		want := store.Account{ID: "acct-min", App: store.AppZoomAdmin, Status: store.StatusNeedsReconnect}
		mustCreate(t, s, want)

		checkAccount(t, "GetAccount", mustGet(t, s, "acct-min"), want)
	})

	t.Run("get missing", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, fullAccount("acct-1"))

		_, err := s.GetAccount(t.Context(), "acct-2")
		checkErr(t, `GetAccount("acct-2")`, err, store.ErrNotFound)
	})

	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		first := fullAccount("acct-1")
		mustCreate(t, s, first)

		second := fullAccount("acct-1")
		second.App = store.AppZoomAdmin
		second.Zoom.UserID = "someone-else"
		err := s.CreateAccount(t.Context(), second)
		checkErr(t, `CreateAccount("acct-1") again`, err, store.ErrAlreadyExists)

		checkAccount(t, "GetAccount after duplicate", mustGet(t, s, "acct-1"), first)
	})

	t.Run("delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, fullAccount("acct-1"), fullAccount("acct-2"))

		if err := s.DeleteAccount(t.Context(), "acct-1"); err != nil {
			t.Fatalf(`DeleteAccount("acct-1") = %v; want nil error`, err)
		}
		_, err := s.GetAccount(t.Context(), "acct-1")
		checkErr(t, `GetAccount("acct-1") after delete`, err, store.ErrNotFound)

		err = s.DeleteAccount(t.Context(), "acct-1")
		checkErr(t, `DeleteAccount("acct-1") again`, err, store.ErrNotFound)
		err = s.DeleteAccount(t.Context(), "never-created")
		checkErr(t, `DeleteAccount("never-created")`, err, store.ErrNotFound)

		checkAccount(t, `GetAccount("acct-2")`, mustGet(t, s, "acct-2"), fullAccount("acct-2"))
	})

	t.Run("create after delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, fullAccount("acct-1"))
		if err := s.DeleteAccount(t.Context(), "acct-1"); err != nil {
			t.Fatal(err)
		}

		again := fullAccount("acct-1")
		again.Zoom.Email = "new@example.com"
		mustCreate(t, s, again)
		checkAccount(t, "GetAccount", mustGet(t, s, "acct-1"), again)
	})

	t.Run("copies", func(t *testing.T) {
		s := newStore(t)
		want := fullAccount("acct-1")

		input := fullAccount("acct-1")
		mustCreate(t, s, input)
		input.Scopes[0] = "changed-after-create"
		input.Token[0] = 0xee

		got := mustGet(t, s, "acct-1")
		got.Scopes[0] = "changed-after-get"
		got.Token[0] = 0xdd

		checkAccount(t, "GetAccount after changing slices", mustGet(t, s, "acct-1"), want)

		page, _, err := s.ListAccounts(t.Context(), store.ListOptions{})
		if err != nil || len(page) != 1 {
			t.Fatalf("ListAccounts = %d accounts, %v; want 1, nil error", len(page), err)
		}
		page[0].Scopes[0] = "changed-after-list"
		page[0].Token[0] = 0xcc

		found, err := s.FindAccount(t.Context(), store.AppZoom, want.Zoom)
		if err != nil {
			t.Fatalf("FindAccount = %v; want nil error", err)
		}
		found.Scopes[0] = "changed-after-find"
		found.Token[0] = 0xbb

		checkAccount(t, "GetAccount after changing list and find results", mustGet(t, s, "acct-1"), want)
	})
}
