package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

func testUpdate(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("applies", func(t *testing.T) {
		s := newStore(t)
		before := fullAccount("acct-1")
		mustCreate(t, s, before)

		want := before
		want.Status = store.StatusNeedsReconnect
		want.Scopes = []string{"meeting:write"}
		want.LastErrorCode = "invalid_grant"
		want.LastErrorAt = at(5 * time.Minute)
		want.Token = nil

		var seen store.Account
		got, err := s.UpdateAccount(t.Context(), "acct-1", func(a store.Account) (store.Account, error) {
			seen = a
			a.Status = want.Status
			a.Scopes = want.Scopes
			a.LastErrorCode = want.LastErrorCode
			a.LastErrorAt = want.LastErrorAt
			a.Token = nil
			return a, nil
		})
		if err != nil {
			t.Fatalf("UpdateAccount = %v; want nil error", err)
		}

		checkAccount(t, "update func argument", seen, before)
		checkAccount(t, "UpdateAccount", got, want)
		checkAccount(t, "GetAccount after update", mustGet(t, s, "acct-1"), want)
	})

	t.Run("error aborts", func(t *testing.T) {
		s := newStore(t)
		want := fullAccount("acct-1")
		mustCreate(t, s, want)
		errStop := errors.New("stop the update")

		_, err := s.UpdateAccount(t.Context(), "acct-1", func(a store.Account) (store.Account, error) {
			a.Status = store.StatusRevoked
			a.Zoom.UserID = "changed"
			a.NextRefreshAt = at(-time.Hour)
			return a, errStop
		})
		checkErr(t, "UpdateAccount(func returning an error)", err, errStop)

		checkAccount(t, "GetAccount after aborted update", mustGet(t, s, "acct-1"), want)
		if got, err := s.FindAccount(t.Context(), store.AppZoom, want.Zoom); err != nil || got.ID != "acct-1" {
			t.Errorf("FindAccount(old identity) after aborted update = %q, %v; want %q", got.ID, err, "acct-1")
		}
		due, err := s.DueAccounts(t.Context(), base, 10)
		if err != nil || len(due) != 0 {
			t.Errorf("DueAccounts after aborted update = %q, %v; want none", ids(due), err)
		}
	})

	t.Run("conflict returned", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, fullAccount("acct-1"))

		_, err := s.UpdateAccount(t.Context(), "acct-1", func(a store.Account) (store.Account, error) {
			return a, store.ErrConflict
		})
		checkErr(t, "UpdateAccount(func returning ErrConflict)", err, store.ErrConflict)
	})

	t.Run("missing", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, fullAccount("acct-1"))

		called := false
		_, err := s.UpdateAccount(t.Context(), "acct-2", func(a store.Account) (store.Account, error) {
			called = true
			return a, nil
		})
		checkErr(t, `UpdateAccount("acct-2")`, err, store.ErrNotFound)
		if called {
			t.Errorf(`UpdateAccount("acct-2") called the update func; want no call for a missing account`)
		}
		_, err = s.GetAccount(t.Context(), "acct-2")
		checkErr(t, `GetAccount("acct-2") after update`, err, store.ErrNotFound)
	})

	t.Run("id fixed", func(t *testing.T) {
		s := newStore(t)
		want := fullAccount("acct-1")
		mustCreate(t, s, want)

		_, err := s.UpdateAccount(t.Context(), "acct-1", func(a store.Account) (store.Account, error) {
			a.ID = "acct-2"
			a.Status = store.StatusRevoked
			return a, nil
		})
		if err == nil {
			t.Errorf("UpdateAccount(func changing the id) = nil error; want an error")
		}

		checkAccount(t, "GetAccount after id change", mustGet(t, s, "acct-1"), want)
		_, err = s.GetAccount(t.Context(), "acct-2")
		checkErr(t, `GetAccount("acct-2") after id change`, err, store.ErrNotFound)
	})

	t.Run("func copies", func(t *testing.T) {
		s := newStore(t)
		want := fullAccount("acct-1")
		mustCreate(t, s, want)

		_, err := s.UpdateAccount(t.Context(), "acct-1", func(a store.Account) (store.Account, error) {
			a.Scopes[0] = "changed-in-aborted-update"
			a.Token[0] = 0xaa
			return a, errors.New("abort")
		})
		if err == nil {
			t.Fatal("UpdateAccount(func returning an error) = nil error; want the error")
		}

		got := mustGet(t, s, "acct-1")
		if !slices.Equal(got.Scopes, want.Scopes) {
			t.Errorf("GetAccount.Scopes after aborted update = %q; want %q", got.Scopes, want.Scopes)
		}
		if string(got.Token) != string(want.Token) {
			t.Errorf("GetAccount.Token after aborted update = %x; want %x", got.Token, want.Token)
		}
	})
}
