package bolt

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

func TestDecodeCacheFollowsWrites(t *testing.T) {
	db := openTemp(t)
	a := store.Account{ID: "acc-1", App: store.AppZoom, Status: store.StatusActive, Token: []byte("v1"), TokenVersion: 1, Scopes: []string{"a"}}
	if err := db.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetAccount(t.Context(), a.ID); err != nil { // fills the cache
		t.Fatal(err)
	}

	if _, err := db.UpdateAccount(t.Context(), a.ID, func(a store.Account) (store.Account, error) {
		a.Token, a.TokenVersion = []byte("v2"), 2
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetAccount(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Token) != "v2" || got.TokenVersion != 2 {
		t.Errorf("GetAccount after update = token %q, version %d; want v2, 2", got.Token, got.TokenVersion)
	}

	if err := db.DeleteAccount(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetAccount(t.Context(), a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount after delete = %v; want an error wrapping store.ErrNotFound", err)
	}
}

func TestDecodeCacheReturnsCopies(t *testing.T) {
	db := openTemp(t)
	a := store.Account{ID: "acc-1", App: store.AppZoom, Status: store.StatusActive, Token: []byte("token"), Scopes: []string{"a"}, Owners: []string{"o"}}
	if err := db.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // a miss, then a hit
		got, err := db.GetAccount(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Token) != "token" || got.Scopes[0] != "a" || got.Owners[0] != "o" {
			t.Fatalf("GetAccount read %d = %q %v %v; want the stored values", i+1, got.Token, got.Scopes, got.Owners)
		}
		got.Token[0], got.Scopes[0], got.Owners[0] = 'X', "changed", "changed"
	}

	k := store.APIKey{ID: "key-1", Name: "k", Hash: []byte("hash"), Limits: store.Limits{AccountIDs: []string{"acc-1"}}}
	if err := db.CreateAPIKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := db.GetAPIKey(t.Context(), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Hash) != "hash" || got.Limits.AccountIDs[0] != "acc-1" {
			t.Fatalf("GetAPIKey read %d = %q %v; want the stored values", i+1, got.Hash, got.Limits.AccountIDs)
		}
		got.Hash[0], got.Limits.AccountIDs[0] = 'X', "changed"
	}
}

func TestDecodeCacheBounded(t *testing.T) {
	c := newDecodeCache(32, func(s string) string { return s })
	decode := func(b []byte) (string, error) { return string(b), nil }
	for i := range 1000 {
		id := fmt.Sprintf("id-%d", i)
		if got, _ := c.decode(id, []byte(id), decode); got != id {
			t.Fatalf("decode(%s) = %q; want %q", id, got, id)
		}
	}
	total := 0
	for i := range c.shards {
		total += len(c.shards[i].entries)
	}
	if total > 32 {
		t.Errorf("cache entries after 1000 ids = %d; want at most 32", total)
	}

	// A changed value under a cached id is decoded again.
	c.decode("id-x", []byte("old"), decode)
	if got, _ := c.decode("id-x", []byte("new"), decode); got != "new" {
		t.Errorf("decode(id-x, new) = %q; want new", got)
	}
}

func TestDecodeCacheConcurrent(t *testing.T) {
	db := openTemp(t)
	a := store.Account{ID: "acc-1", App: store.AppZoom, Status: store.StatusActive, NextRefreshAt: time.Unix(1, 0)}
	if err := db.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 4 {
		go func() {
			var err error
			for range 200 {
				if _, err = db.GetAccount(t.Context(), a.ID); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for i := range 50 {
		if _, err := db.UpdateAccount(t.Context(), a.ID, func(a store.Account) (store.Account, error) {
			a.TokenVersion = int64(i + 1)
			return a, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Errorf("GetAccount during updates = %v; want nil error", err)
		}
	}
	got, err := db.GetAccount(t.Context(), a.ID)
	if err != nil || got.TokenVersion != 50 {
		t.Errorf("GetAccount after updates = version %d, %v; want 50", got.TokenVersion, err)
	}
}
