package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

func testConnectSessions(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	cs := store.ConnectSession{
		ID: "cs-1", TokenHash: []byte{1, 2, 3}, App: store.AppZoomAdmin, ExternalUserID: "customer-7",
		SuccessRedirectURL: "https://app.example/ok", ErrorRedirectURL: "https://app.example/err",
		OpenerOrigin: "https://app.example", CreatedBy: "key_a", CreatedAt: at(0), ExpiresAt: at(15 * time.Minute),
		Status: store.ConnectOpen, UpdatedAt: at(0),
	}
	if err := s.CreateConnectSession(ctx, cs); err != nil {
		t.Fatalf("CreateConnectSession = %v; want nil", err)
	}
	checkErr(t, "CreateConnectSession(duplicate)", s.CreateConnectSession(ctx, cs), store.ErrAlreadyExists)

	got, err := s.GetConnectSession(ctx, "cs-1")
	if err != nil {
		t.Fatalf("GetConnectSession = %v", err)
	}
	if got.App != cs.App || got.ExternalUserID != cs.ExternalUserID || string(got.TokenHash) != string(cs.TokenHash) ||
		got.SuccessRedirectURL != cs.SuccessRedirectURL || got.ErrorRedirectURL != cs.ErrorRedirectURL ||
		got.OpenerOrigin != cs.OpenerOrigin || got.CreatedBy != cs.CreatedBy || got.Status != store.ConnectOpen {
		t.Errorf("GetConnectSession = %+v; want %+v", got, cs)
	}
	checkTime(t, "GetConnectSession", "ExpiresAt", got.ExpiresAt, cs.ExpiresAt)
	_, err = s.GetConnectSession(ctx, "missing")
	checkErr(t, "GetConnectSession(missing)", err, store.ErrNotFound)

	// Only one of two concurrent starts may win, as the handler relies on.
	errStarted := errors.New("already started")
	start := func(c store.ConnectSession) (store.ConnectSession, error) {
		if c.Status != store.ConnectOpen {
			return c, errStarted
		}
		c.Status = store.ConnectStarted
		return c, nil
	}
	if _, err := s.UpdateConnectSession(ctx, "cs-1", start); err != nil {
		t.Fatalf("first start = %v; want nil", err)
	}
	if _, err := s.UpdateConnectSession(ctx, "cs-1", start); !errors.Is(err, errStarted) {
		t.Errorf("second start = %v; want the update's error", err)
	}
	_, err = s.UpdateConnectSession(ctx, "missing", start)
	checkErr(t, "UpdateConnectSession(missing)", err, store.ErrNotFound)

	if n, err := s.DeleteConnectSessions(ctx, at(10*time.Minute)); err != nil || n != 0 {
		t.Errorf("DeleteConnectSessions(before expiry) = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteConnectSessions(ctx, at(16*time.Minute)); err != nil || n != 1 {
		t.Errorf("DeleteConnectSessions(after expiry) = %d, %v; want 1", n, err)
	}
}

func testOwners(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	a := fullAccount("acct-owned")
	a.Owners = []string{"customer-1", "customer-2"}
	a.ConsoleConnected = true
	b := fullAccount("acct-other")
	b.Zoom.UserID = "someone"
	b.Owners = []string{"customer-3"}
	mustCreate(t, s, a, b)

	got := mustGet(t, s, "acct-owned")
	if len(got.Owners) != 2 || got.Owners[0] != "customer-1" || got.Owners[1] != "customer-2" || !got.ConsoleConnected {
		t.Errorf("GetAccount owners = %q, console %t; want [customer-1 customer-2], true", got.Owners, got.ConsoleConnected)
	}

	page, _, err := s.ListAccounts(ctx, store.ListOptions{Filter: store.AccountFilter{ExternalUserID: "customer-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].ID != "acct-owned" {
		t.Errorf("ListAccounts(owner customer-2) = %d accounts; want acct-owned only", len(page))
	}
	page, _, err = s.ListAccounts(ctx, store.ListOptions{Filter: store.AccountFilter{ExternalUserID: "customer"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 {
		t.Errorf("ListAccounts(owner prefix) = %d accounts; want an exact match only", len(page))
	}
}
