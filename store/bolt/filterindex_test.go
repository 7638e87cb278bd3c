package bolt

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// indexed returns five accounts; the odd ones share owner "shared" and
// email domain case.
func indexed() []store.Account {
	var out []store.Account
	for i := range 5 {
		a := store.Account{
			ID: fmt.Sprintf("acc-%d", i), App: store.AppZoom, Status: store.StatusActive,
			Zoom:   store.ZoomIdentity{UserID: fmt.Sprintf("u%d", i), AccountID: "za", Email: fmt.Sprintf("User%d@Example.com", i)},
			Owners: []string{fmt.Sprintf("own-%d", i)},
		}
		if i%2 == 1 {
			a.Owners = append(a.Owners, "shared")
		}
		if i == 3 {
			a.App = store.AppZoomAdmin
		}
		out = append(out, a)
	}
	return out
}

func ids(accounts []store.Account) []string {
	var out []string
	for _, a := range accounts {
		out = append(out, a.ID)
	}
	return out
}

func TestListByIndexedField(t *testing.T) {
	db := openTemp(t)
	if err := db.ImportAccounts(t.Context(), indexed()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter store.AccountFilter
		want   []string
	}{
		{"external user", store.AccountFilter{ExternalUserID: "shared"}, []string{"acc-1", "acc-3"}},
		{"external user and app", store.AccountFilter{ExternalUserID: "shared", App: store.AppZoomAdmin}, []string{"acc-3"}},
		{"zoom user", store.AccountFilter{ZoomUserID: "u2"}, []string{"acc-2"}},
		{"zoom account", store.AccountFilter{ZoomAccountID: "za"}, []string{"acc-0", "acc-1", "acc-2", "acc-3", "acc-4"}},
		{"email, other case", store.AccountFilter{Email: "USER4@example.COM"}, []string{"acc-4"}},
		{"email, long s folds to s", store.AccountFilter{Email: "Uſer4@example.com"}, []string{"acc-4"}},
		{"no match", store.AccountFilter{ExternalUserID: "nobody"}, nil},
		{"value is a prefix", store.AccountFilter{ExternalUserID: "own-"}, nil},
		{"status filter too", store.AccountFilter{ZoomAccountID: "za", Status: store.StatusRevoked}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, next, err := db.ListAccounts(t.Context(), store.ListOptions{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page); !slices.Equal(got, tc.want) || next != "" {
				t.Errorf("ListAccounts(%+v) = %v, next %q; want %v, next \"\"", tc.filter, got, next, tc.want)
			}
		})
	}
}

func TestListIndexedPages(t *testing.T) {
	db := openTemp(t)
	if err := db.ImportAccounts(t.Context(), indexed()); err != nil {
		t.Fatal(err)
	}
	var got []string
	after := ""
	for range 10 {
		page, next, err := db.ListAccounts(t.Context(), store.ListOptions{Filter: store.AccountFilter{ZoomAccountID: "za"}, After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(page)...)
		if next == "" {
			break
		}
		after = next
	}
	if want := []string{"acc-0", "acc-1", "acc-2", "acc-3", "acc-4"}; !slices.Equal(got, want) {
		t.Errorf("pages of 2 = %v; want %v", got, want)
	}
}

func TestFilterIndexFollowsWrites(t *testing.T) {
	db := openTemp(t)
	if err := db.ImportAccounts(t.Context(), indexed()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateAccount(t.Context(), "acc-1", func(a store.Account) (store.Account, error) {
		a.Owners = []string{"new-owner"}
		a.Zoom.Email = "changed@example.com"
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAccount(t.Context(), "acc-3"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		filter store.AccountFilter
		want   []string
	}{
		{"removed owner", store.AccountFilter{ExternalUserID: "shared"}, nil},
		{"added owner", store.AccountFilter{ExternalUserID: "new-owner"}, []string{"acc-1"}},
		{"old email", store.AccountFilter{Email: "user1@example.com"}, nil},
		{"new email", store.AccountFilter{Email: "changed@example.com"}, []string{"acc-1"}},
		{"deleted account", store.AccountFilter{ZoomUserID: "u3"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, _, err := db.ListAccounts(t.Context(), store.ListOptions{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page); !slices.Equal(got, tc.want) {
				t.Errorf("ListAccounts(%+v) = %v; want %v", tc.filter, got, tc.want)
			}
		})
	}
}

func TestMigrateSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zoombroker.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ImportAccounts(t.Context(), indexed()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Turn the file into what schema 1 wrote: no filter index.
	bdb, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketFilter); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("1"))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(schema 1 file) = %v; want nil error", err)
	}
	t.Cleanup(func() { db.Close() })
	page, _, err := db.ListAccounts(t.Context(), store.ListOptions{Filter: store.AccountFilter{ExternalUserID: "shared"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(page), []string{"acc-1", "acc-3"}; !slices.Equal(got, want) {
		t.Errorf("ListAccounts(external user) after migration = %v; want %v", got, want)
	}
	db.bdb.View(func(tx *bbolt.Tx) error {
		if got := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); got != "2" {
			t.Errorf("schema_version after migration = %q; want \"2\"", got)
		}
		return nil
	})
}

func TestFoldCase(t *testing.T) {
	words := []string{"user@example.com", "USER@EXAMPLE.COM", "Uſer@example.com", "\u212aelvin", "kelvin", "Straße", "STRASSE", "ǅemal", "ǆemal", "Σίσυφος", "ΣΊΣΥΦΟΣ", "", "é", "É"}
	for _, a := range words {
		for _, b := range words {
			if got, want := foldCase(a) == foldCase(b), strings.EqualFold(a, b); got != want {
				t.Errorf("foldCase(%q) == foldCase(%q) is %t; want %t, as strings.EqualFold", a, b, got, want)
			}
		}
	}
}
