package storetest

import (
	"fmt"
	"testing"

	"github.com/zoombroker/zoombroker/store"
)

// identityAccount returns a minimal account of app with the Zoom identity.
func identityAccount(id string, app store.App, userID, accountID string, status store.Status) store.Account {
	return store.Account{
		ID:     id,
		App:    app,
		Status: status,
		Zoom:   store.ZoomIdentity{UserID: userID, AccountID: accountID, Email: id + "@example.com"},
		Token:  []byte("sealed-" + id),
	}
}

func testFind(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("match", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s,
			identityAccount("user-app", store.AppZoom, "u1", "za1", store.StatusActive),
			identityAccount("admin-app", store.AppZoomAdmin, "u9", "za9", store.StatusActive),
			identityAccount("reconnect", store.AppZoom, "u2", "za1", store.StatusNeedsReconnect),
			identityAccount("revoked", store.AppZoom, "u3", "za1", store.StatusRevoked),
			identityAccount("revoked-admin", store.AppZoomAdmin, "u4", "za4", store.StatusRevoked),
		)

		tests := []struct {
			name   string
			app    store.App
			zoom   store.ZoomIdentity
			wantID string // "" means ErrNotFound
		}{
			{"zoom by user id", store.AppZoom, store.ZoomIdentity{UserID: "u1"}, "user-app"},
			{"zoom ignores account id", store.AppZoom, store.ZoomIdentity{UserID: "u1", AccountID: "other"}, "user-app"},
			{"zoom other user", store.AppZoom, store.ZoomIdentity{UserID: "u5", AccountID: "za1"}, ""},
			{"zoom needs reconnect found", store.AppZoom, store.ZoomIdentity{UserID: "u2"}, "reconnect"},
			{"zoom revoked not found", store.AppZoom, store.ZoomIdentity{UserID: "u3"}, ""},
			{"zoom user of admin app", store.AppZoom, store.ZoomIdentity{UserID: "u9"}, ""},
			{"admin by account id", store.AppZoomAdmin, store.ZoomIdentity{AccountID: "za9"}, "admin-app"},
			{"admin ignores user id", store.AppZoomAdmin, store.ZoomIdentity{UserID: "someone", AccountID: "za9"}, "admin-app"},
			{"admin by user id only", store.AppZoomAdmin, store.ZoomIdentity{UserID: "u9"}, ""},
			{"admin account of user app", store.AppZoomAdmin, store.ZoomIdentity{AccountID: "za1"}, ""},
			{"admin revoked not found", store.AppZoomAdmin, store.ZoomIdentity{AccountID: "za4"}, ""},
			{"empty identity", store.AppZoom, store.ZoomIdentity{}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				call := fmt.Sprintf("FindAccount(%s, %+v)", tt.app, tt.zoom)
				got, err := s.FindAccount(t.Context(), tt.app, tt.zoom)
				if tt.wantID == "" {
					checkErr(t, call, err, store.ErrNotFound)
					return
				}
				if err != nil {
					t.Fatalf("%s = %v; want account %q", call, err, tt.wantID)
				}
				if got.ID != tt.wantID {
					t.Errorf("%s = %q; want %q", call, got.ID, tt.wantID)
				}
			})
		}
	})

	t.Run("full record", func(t *testing.T) {
		s := newStore(t)
		want := fullAccount("acct-1")
		mustCreate(t, s, want)

		got, err := s.FindAccount(t.Context(), store.AppZoom, store.ZoomIdentity{UserID: want.Zoom.UserID})
		if err != nil {
			t.Fatalf("FindAccount = %v; want nil error", err)
		}
		checkAccount(t, "FindAccount", got, want)
	})

	t.Run("index follows update", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s,
			identityAccount("user-app", store.AppZoom, "u1", "za1", store.StatusActive),
			identityAccount("admin-app", store.AppZoomAdmin, "u9", "za9", store.StatusActive),
		)

		mustUpdate(t, s, "user-app", func(a *store.Account) { a.Zoom.UserID = "u1-new" })
		mustUpdate(t, s, "admin-app", func(a *store.Account) { a.Zoom.AccountID = "za9-new" })

		_, err := s.FindAccount(t.Context(), store.AppZoom, store.ZoomIdentity{UserID: "u1"})
		checkErr(t, "FindAccount(old user id)", err, store.ErrNotFound)
		_, err = s.FindAccount(t.Context(), store.AppZoomAdmin, store.ZoomIdentity{AccountID: "za9"})
		checkErr(t, "FindAccount(old account id)", err, store.ErrNotFound)

		if got, err := s.FindAccount(t.Context(), store.AppZoom, store.ZoomIdentity{UserID: "u1-new"}); err != nil || got.ID != "user-app" {
			t.Errorf("FindAccount(new user id) = %q, %v; want %q", got.ID, err, "user-app")
		}
		if got, err := s.FindAccount(t.Context(), store.AppZoomAdmin, store.ZoomIdentity{AccountID: "za9-new"}); err != nil || got.ID != "admin-app" {
			t.Errorf("FindAccount(new account id) = %q, %v; want %q", got.ID, err, "admin-app")
		}
	})

	t.Run("index follows app change", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, identityAccount("acct", store.AppZoom, "u1", "za1", store.StatusActive))

		mustUpdate(t, s, "acct", func(a *store.Account) { a.App = store.AppZoomAdmin })

		_, err := s.FindAccount(t.Context(), store.AppZoom, store.ZoomIdentity{UserID: "u1"})
		checkErr(t, "FindAccount(zoom, u1) after app change", err, store.ErrNotFound)
		if got, err := s.FindAccount(t.Context(), store.AppZoomAdmin, store.ZoomIdentity{AccountID: "za1"}); err != nil || got.ID != "acct" {
			t.Errorf("FindAccount(zoom_admin, za1) = %q, %v; want %q", got.ID, err, "acct")
		}
	})

	t.Run("revoke and restore", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, identityAccount("acct", store.AppZoom, "u1", "za1", store.StatusActive))
		identity := store.ZoomIdentity{UserID: "u1"}

		mustUpdate(t, s, "acct", func(a *store.Account) { a.Status = store.StatusRevoked })
		_, err := s.FindAccount(t.Context(), store.AppZoom, identity)
		checkErr(t, "FindAccount after revoke", err, store.ErrNotFound)

		mustUpdate(t, s, "acct", func(a *store.Account) { a.Status = store.StatusActive })
		if got, err := s.FindAccount(t.Context(), store.AppZoom, identity); err != nil || got.ID != "acct" {
			t.Errorf("FindAccount after restore = %q, %v; want %q", got.ID, err, "acct")
		}
	})

	t.Run("gone after delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, identityAccount("acct", store.AppZoom, "u1", "za1", store.StatusActive))
		if err := s.DeleteAccount(t.Context(), "acct"); err != nil {
			t.Fatal(err)
		}

		_, err := s.FindAccount(t.Context(), store.AppZoom, store.ZoomIdentity{UserID: "u1"})
		checkErr(t, "FindAccount after delete", err, store.ErrNotFound)
	})

	t.Run("revoked beside active", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s,
			identityAccount("a-old", store.AppZoom, "u1", "za1", store.StatusRevoked),
			identityAccount("b-new", store.AppZoom, "u1", "za1", store.StatusActive),
		)

		got, err := s.FindAccount(t.Context(), store.AppZoom, store.ZoomIdentity{UserID: "u1"})
		if err != nil || got.ID != "b-new" {
			t.Errorf("FindAccount(u1) = %q, %v; want the active account %q", got.ID, err, "b-new")
		}
	})
}
