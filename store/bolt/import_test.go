package bolt

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

func importable(n int) []store.Account {
	accounts := make([]store.Account, n)
	for i := range accounts {
		// Out of key order on purpose: ImportAccounts sorts.
		accounts[i] = store.Account{
			ID:            fmt.Sprintf("acc-%03d", n-i),
			App:           store.AppZoom,
			Status:        store.StatusActive,
			Zoom:          store.ZoomIdentity{UserID: fmt.Sprintf("user-%d", n-i)},
			Token:         []byte{1, 2, 3},
			TokenVersion:  1,
			NextRefreshAt: time.Unix(int64(1000+i), 0),
		}
	}
	return accounts
}

func TestImportAccounts(t *testing.T) {
	db := openTemp(t)
	accounts := importable(50)
	if err := db.ImportAccounts(t.Context(), accounts); err != nil {
		t.Fatalf("ImportAccounts = %v; want nil error", err)
	}

	got, err := db.GetAccount(t.Context(), "acc-007")
	if err != nil {
		t.Fatalf("GetAccount(acc-007) = %v; want nil error", err)
	}
	if got.Zoom.UserID != "user-7" || string(got.Token) != "\x01\x02\x03" {
		t.Errorf("GetAccount(acc-007) = user %q, token %x; want user-7, 010203", got.Zoom.UserID, got.Token)
	}

	found, err := db.FindAccount(t.Context(), store.AppZoom, store.ZoomIdentity{UserID: "user-12"})
	if err != nil || found.ID != "acc-012" {
		t.Errorf("FindAccount(user-12) = %q, %v; want acc-012", found.ID, err)
	}

	due, err := db.DueAccounts(t.Context(), time.Unix(1004, 0), 100)
	if err != nil || len(due) != 5 {
		t.Fatalf("DueAccounts(1004) = %d accounts, %v; want 5", len(due), err)
	}
	if due[0].ID != "acc-050" {
		t.Errorf("DueAccounts(1004)[0] = %q; want acc-050, the earliest", due[0].ID)
	}

	page, _, err := db.ListAccounts(t.Context(), store.ListOptions{Limit: 500})
	if err != nil || len(page) != 50 {
		t.Errorf("ListAccounts = %d accounts, %v; want 50", len(page), err)
	}
}

func TestImportAccountsAllOrNothing(t *testing.T) {
	tests := []struct {
		name     string
		accounts func(t *testing.T, db *DB) []store.Account
		want     error
	}{
		{"taken id", func(t *testing.T, db *DB) []store.Account {
			if err := db.CreateAccount(t.Context(), importable(1)[0]); err != nil {
				t.Fatal(err)
			}
			return importable(3)
		}, store.ErrAlreadyExists},
		{"id twice", func(*testing.T, *DB) []store.Account {
			accounts := importable(3)
			return append(accounts, accounts[1])
		}, store.ErrAlreadyExists},
		{"empty id", func(*testing.T, *DB) []store.Account {
			accounts := importable(3)
			accounts[2].ID = ""
			return accounts
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTemp(t)
			accounts := tc.accounts(t, db)
			before, _, err := db.ListAccounts(t.Context(), store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}

			err = db.ImportAccounts(t.Context(), accounts)
			if err == nil {
				t.Fatalf("ImportAccounts = nil; want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("ImportAccounts = %v; want an error wrapping %v", err, tc.want)
			}

			after, _, err := db.ListAccounts(t.Context(), store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("accounts after failed import = %d; want %d, the count before", len(after), len(before))
			}
		})
	}
}
