package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

func apiKey(id string, created time.Time) store.APIKey {
	return store.APIKey{
		ID:         id,
		Name:       "key " + id,
		Hash:       []byte("sha256-of-" + id + "\x00\xff"),
		CreatedAt:  created,
		LastUsedAt: created.Add(time.Minute + 77*time.Nanosecond),
		Limits: store.Limits{
			Apps:            []store.App{store.AppZoomAdmin},
			AccountIDs:      []string{"acct-" + id, "acct-2-" + id},
			ExternalUserIDs: []string{"user@" + id},
		},
		ExpiresAt: created.Add(30*24*time.Hour + 5*time.Nanosecond),
	}
}

func checkAPIKey(t *testing.T, call string, got, want store.APIKey) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("%s.ID = %q; want %q", call, got.ID, want.ID)
	}
	if got.Name != want.Name {
		t.Errorf("%s.Name = %q; want %q", call, got.Name, want.Name)
	}
	if string(got.Hash) != string(want.Hash) {
		t.Errorf("%s.Hash = %x; want %x", call, got.Hash, want.Hash)
	}
	checkTime(t, call, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, call, "RevokedAt", got.RevokedAt, want.RevokedAt)
	checkTime(t, call, "LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	checkTime(t, call, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	if !slices.Equal(got.Limits.Apps, want.Limits.Apps) {
		t.Errorf("%s.Limits.Apps = %q; want %q", call, got.Limits.Apps, want.Limits.Apps)
	}
	if !slices.Equal(got.Limits.AccountIDs, want.Limits.AccountIDs) {
		t.Errorf("%s.Limits.AccountIDs = %q; want %q", call, got.Limits.AccountIDs, want.Limits.AccountIDs)
	}
	if !slices.Equal(got.Limits.ExternalUserIDs, want.Limits.ExternalUserIDs) {
		t.Errorf("%s.Limits.ExternalUserIDs = %q; want %q", call, got.Limits.ExternalUserIDs, want.Limits.ExternalUserIDs)
	}
}

func keyIDs(keys []store.APIKey) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func testAPIKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("create get list", func(t *testing.T) {
		s := newStore(t)
		// Ids sort differently from creation order.
		keys := []store.APIKey{apiKey("kz", at(0)), apiKey("ka", at(time.Second)), apiKey("km", at(2*time.Second))}
		for _, k := range keys {
			if err := s.CreateAPIKey(t.Context(), k); err != nil {
				t.Fatalf("CreateAPIKey(%q) = %v; want nil error", k.ID, err)
			}
		}

		got, err := s.GetAPIKey(t.Context(), "ka")
		if err != nil {
			t.Fatalf(`GetAPIKey("ka") = %v; want nil error`, err)
		}
		checkAPIKey(t, `GetAPIKey("ka")`, got, keys[1])

		_, err = s.GetAPIKey(t.Context(), "missing")
		checkErr(t, `GetAPIKey("missing")`, err, store.ErrNotFound)

		list, err := s.ListAPIKeys(t.Context())
		if err != nil {
			t.Fatalf("ListAPIKeys = %v; want nil error", err)
		}
		if want := []string{"kz", "ka", "km"}; !slices.Equal(keyIDs(list), want) {
			t.Fatalf("ListAPIKeys = %q; want %q in creation order", keyIDs(list), want)
		}
		for i, k := range list {
			checkAPIKey(t, fmt.Sprintf("ListAPIKeys[%d]", i), k, keys[i])
		}
	})

	t.Run("duplicates", func(t *testing.T) {
		s := newStore(t)
		first := apiKey("k1", at(0))
		if err := s.CreateAPIKey(t.Context(), first); err != nil {
			t.Fatal(err)
		}

		sameID := apiKey("k1", at(time.Second))
		sameID.Hash = []byte("another hash")
		checkErr(t, "CreateAPIKey(same id)", s.CreateAPIKey(t.Context(), sameID), store.ErrAlreadyExists)

		sameHash := apiKey("k2", at(time.Second))
		sameHash.Hash = first.Hash
		checkErr(t, "CreateAPIKey(same hash)", s.CreateAPIKey(t.Context(), sameHash), store.ErrAlreadyExists)

		list, err := s.ListAPIKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Fatalf("ListAPIKeys after duplicates = %q; want only k1", keyIDs(list))
		}
		checkAPIKey(t, "ListAPIKeys[0]", list[0], first)
	})

	t.Run("update", func(t *testing.T) {
		s := newStore(t)
		k := apiKey("k1", at(0))
		if err := s.CreateAPIKey(t.Context(), k); err != nil {
			t.Fatal(err)
		}

		revokedAt := at(time.Hour)
		got, err := s.UpdateAPIKey(t.Context(), "k1", func(k store.APIKey) (store.APIKey, error) {
			k.RevokedAt = revokedAt
			k.Limits.Apps = []store.App{store.AppZoom, store.AppZoomAdmin}
			k.Limits.ExternalUserIDs = nil
			k.ExpiresAt = time.Time{}
			return k, nil
		})
		if err != nil {
			t.Fatalf("UpdateAPIKey(revoke) = %v; want nil error", err)
		}
		want := k
		want.RevokedAt = revokedAt
		want.Limits.Apps = []store.App{store.AppZoom, store.AppZoomAdmin}
		want.Limits.ExternalUserIDs = nil
		want.ExpiresAt = time.Time{}
		checkAPIKey(t, "UpdateAPIKey", got, want)

		stored, err := s.GetAPIKey(t.Context(), "k1")
		if err != nil {
			t.Fatal(err)
		}
		checkAPIKey(t, "GetAPIKey after revoke", stored, want)
		if !stored.Revoked() {
			t.Errorf("GetAPIKey after revoke: Revoked() = false; want true")
		}

		_, err = s.UpdateAPIKey(t.Context(), "missing", func(k store.APIKey) (store.APIKey, error) { return k, nil })
		checkErr(t, `UpdateAPIKey("missing")`, err, store.ErrNotFound)

		errStop := errors.New("stop")
		_, err = s.UpdateAPIKey(t.Context(), "k1", func(k store.APIKey) (store.APIKey, error) {
			k.Name = "changed"
			return k, errStop
		})
		checkErr(t, "UpdateAPIKey(func returning an error)", err, errStop)

		_, err = s.UpdateAPIKey(t.Context(), "k1", func(k store.APIKey) (store.APIKey, error) {
			k.ID = "k2"
			return k, nil
		})
		if err == nil {
			t.Errorf("UpdateAPIKey(func changing the id) = nil error; want an error")
		}

		stored, err = s.GetAPIKey(t.Context(), "k1")
		if err != nil {
			t.Fatal(err)
		}
		checkAPIKey(t, "GetAPIKey after rejected updates", stored, want)
	})

	t.Run("copies", func(t *testing.T) {
		s := newStore(t)
		k := apiKey("k1", at(0))
		want := apiKey("k1", at(0))
		if err := s.CreateAPIKey(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		k.Hash[0] = 'X'
		k.Limits.AccountIDs[0] = "changed by the caller"

		got, err := s.GetAPIKey(t.Context(), "k1")
		if err != nil {
			t.Fatal(err)
		}
		got.Hash[0] = 'Y'
		got.Limits.Apps[0] = store.AppZoom
		got.Limits.ExternalUserIDs[0] = "changed by the caller"

		got, err = s.GetAPIKey(t.Context(), "k1")
		if err != nil {
			t.Fatal(err)
		}
		checkAPIKey(t, "GetAPIKey after changing slices", got, want)
	})
}

func checkOperator(t *testing.T, call string, got, want store.Operator) {
	t.Helper()
	if got.Name != want.Name {
		t.Errorf("%s.Name = %q; want %q", call, got.Name, want.Name)
	}
	if string(got.PasswordHash) != string(want.PasswordHash) {
		t.Errorf("%s.PasswordHash = %q; want %q", call, got.PasswordHash, want.PasswordHash)
	}
	checkTime(t, call, "CreatedAt", got.CreatedAt, want.CreatedAt)
	if got.SessionEpoch != want.SessionEpoch {
		t.Errorf("%s.SessionEpoch = %d; want %d", call, got.SessionEpoch, want.SessionEpoch)
	}
}

func testOperators(t *testing.T, newStore func(t *testing.T) store.Store) {
	operator := func(name string) store.Operator {
		return store.Operator{Name: name, PasswordHash: []byte("$2a$10$hash-of-" + name), CreatedAt: at(time.Duration(len(name)) * time.Second), SessionEpoch: int64(len(name))}
	}

	t.Run("create get list", func(t *testing.T) {
		s := newStore(t)
		for _, name := range []string{"bob", "alice", "carol"} {
			if err := s.CreateOperator(t.Context(), operator(name)); err != nil {
				t.Fatalf("CreateOperator(%q) = %v; want nil error", name, err)
			}
		}

		got, err := s.GetOperator(t.Context(), "alice")
		if err != nil {
			t.Fatalf(`GetOperator("alice") = %v; want nil error`, err)
		}
		checkOperator(t, `GetOperator("alice")`, got, operator("alice"))

		_, err = s.GetOperator(t.Context(), "dave")
		checkErr(t, `GetOperator("dave")`, err, store.ErrNotFound)

		list, err := s.ListOperators(t.Context())
		if err != nil {
			t.Fatalf("ListOperators = %v; want nil error", err)
		}
		var names []string
		for _, o := range list {
			names = append(names, o.Name)
		}
		if want := []string{"alice", "bob", "carol"}; !slices.Equal(names, want) {
			t.Fatalf("ListOperators = %q; want %q", names, want)
		}
		checkOperator(t, "ListOperators[1]", list[1], operator("bob"))
	})

	t.Run("duplicate", func(t *testing.T) {
		s := newStore(t)
		if err := s.CreateOperator(t.Context(), operator("alice")); err != nil {
			t.Fatal(err)
		}

		again := operator("alice")
		again.PasswordHash = []byte("other")
		checkErr(t, `CreateOperator("alice") again`, s.CreateOperator(t.Context(), again), store.ErrAlreadyExists)

		got, err := s.GetOperator(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		checkOperator(t, "GetOperator after duplicate", got, operator("alice"))
	})

	t.Run("update", func(t *testing.T) {
		s := newStore(t)
		if err := s.CreateOperator(t.Context(), operator("alice")); err != nil {
			t.Fatal(err)
		}
		want := operator("alice")
		want.PasswordHash = []byte("$2a$10$new-hash")
		want.SessionEpoch++

		got, err := s.UpdateOperator(t.Context(), "alice", func(o store.Operator) (store.Operator, error) {
			o.PasswordHash = want.PasswordHash
			o.SessionEpoch++
			return o, nil
		})
		if err != nil {
			t.Fatalf("UpdateOperator = %v; want nil error", err)
		}
		checkOperator(t, "UpdateOperator", got, want)

		_, err = s.UpdateOperator(t.Context(), "bob", func(o store.Operator) (store.Operator, error) { return o, nil })
		checkErr(t, `UpdateOperator("bob")`, err, store.ErrNotFound)

		errStop := errors.New("stop")
		_, err = s.UpdateOperator(t.Context(), "alice", func(o store.Operator) (store.Operator, error) {
			o.PasswordHash = []byte("aborted")
			return o, errStop
		})
		checkErr(t, "UpdateOperator(func returning an error)", err, errStop)

		_, err = s.UpdateOperator(t.Context(), "alice", func(o store.Operator) (store.Operator, error) {
			o.Name = "mallory"
			return o, nil
		})
		if err == nil {
			t.Errorf("UpdateOperator(func changing the name) = nil error; want an error")
		}

		stored, err := s.GetOperator(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		checkOperator(t, "GetOperator after rejected updates", stored, want)
		_, err = s.GetOperator(t.Context(), "mallory")
		checkErr(t, `GetOperator("mallory")`, err, store.ErrNotFound)
	})
}

func testPingClose(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	mustCreate(t, s, fullAccount("acct-1"))

	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v; want nil error", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v; want nil error", err)
	}
}
