package bolt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/storetest"
)

// openTemp opens a store in a new file under t.TempDir and closes it when
// the test ends.
func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "zoombroker.db"), Options{})
	if err != nil {
		t.Fatalf("Open = %v; want nil error", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close = %v; want nil error", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestOpenLocked(t *testing.T) {
	db := openTemp(t)

	_, err := Open(db.Path(), Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open = %v; want an error wrapping store.ErrLocked", err)
	}
	if !strings.Contains(err.Error(), db.Path()) {
		t.Errorf("second Open error = %q; want it to name %s", err, db.Path())
	}
}

func TestOpenAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zoombroker.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := store.Account{ID: "acct-1", App: store.AppZoom, Status: store.StatusActive, Zoom: store.ZoomIdentity{UserID: "u1"}, NextRefreshAt: time.Unix(100, 0)}
	if err := db.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close = %v; want nil error", err)
	}

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after Close = %v; want nil error", err)
	}
	t.Cleanup(func() { db.Close() })

	if _, err := db.GetAccount(t.Context(), "acct-1"); err != nil {
		t.Errorf("GetAccount after reopen = %v; want nil error", err)
	}
	if _, err := db.FindAccount(t.Context(), store.AppZoom, a.Zoom); err != nil {
		t.Errorf("FindAccount after reopen = %v; want nil error", err)
	}
	due, err := db.DueAccounts(t.Context(), time.Unix(200, 0), 10)
	if err != nil || len(due) != 1 {
		t.Errorf("DueAccounts after reopen = %d accounts, %v; want 1", len(due), err)
	}
}

// setSchemaVersion writes version into the meta bucket of the file at path,
// which no DB may have open.
func setSchemaVersion(t *testing.T, path, version string) {
	t.Helper()
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()

	err = bdb.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(version))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenSchema(t *testing.T) {
	tests := []struct {
		name    string
		version string
		hint    string
	}{
		{"newer", "3", "schema version 3 is newer"},
		{"invalid", "one", "invalid"},
		{"zero", "0", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "zoombroker.db")
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			setSchemaVersion(t, path, tt.version)

			db, err = Open(path, Options{LockTimeout: 100 * time.Millisecond})
			if err == nil {
				db.Close()
				t.Fatalf("Open(schema %q) = nil error; want an error", tt.version)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("Open(schema %q) = %q; want it to contain %q", tt.version, err, tt.hint)
			}
			if errors.Is(err, store.ErrLocked) {
				t.Errorf("Open(schema %q) = %q; want no ErrLocked", tt.version, err)
			}

			// A failed Open releases the lock and writes nothing.
			setSchemaVersion(t, path, "1")
		})
	}
}

func TestOpenForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	bdb, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("widgets"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	db, err := Open(path, Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open(file of another program) = nil error; want an error")
	}
	if !strings.Contains(err.Error(), "not a zoombroker store") {
		t.Errorf("Open(file of another program) = %q; want it to say %q", err, "not a zoombroker store")
	}
}

func TestOpenNotBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "text.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}

	db, err := Open(path, Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open(text file) = nil error; want an error")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open(text file) = %q; want it to name %s", err, path)
	}
}

func TestFileMode(t *testing.T) {
	db := openTemp(t)

	info, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v; want -rw-------", got)
	}
}

func TestMetaBucket(t *testing.T) {
	db := openTemp(t)

	err := db.bdb.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %q is missing after Open", name)
			}
		}
		if got, want := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)), strconv.Itoa(SchemaVersion); got != want {
			t.Errorf("meta schema_version = %q; want %q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriteTo(t *testing.T) {
	db := openTemp(t)
	want := []string{"acct-1", "acct-2", "acct-3"}
	for _, id := range want {
		a := store.Account{ID: id, App: store.AppZoom, Status: store.StatusActive, Token: []byte("sealed " + id)}
		if err := db.CreateAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}

	var buf bytes.Buffer
	n, err := db.WriteTo(&buf)
	if err != nil {
		t.Fatalf("WriteTo = %v; want nil error", err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo = %d bytes; want the %d bytes written", n, buf.Len())
	}

	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	backup, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(backup) = %v; want nil error", err)
	}
	t.Cleanup(func() { backup.Close() })

	page, _, err := backup.ListAccounts(t.Context(), store.ListOptions{})
	if err != nil {
		t.Fatalf("backup ListAccounts = %v; want nil error", err)
	}
	var got []string
	for _, a := range page {
		got = append(got, a.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("backup ListAccounts = %q; want %q", got, want)
	}
	if len(page) > 0 && string(page[0].Token) != "sealed acct-1" {
		t.Errorf("backup Token = %q; want %q", page[0].Token, "sealed acct-1")
	}

	err = backup.bdb.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("backup check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDueIndexOrder(t *testing.T) {
	times := []time.Time{
		time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(-1, 0),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		prev, cur := dueTime(times[i-1]), dueTime(times[i])
		if bytes.Compare(prev[:], cur[:]) > 0 {
			t.Errorf("dueTime(%v) = %x sorts after dueTime(%v) = %x; want time order", times[i-1], prev, times[i], cur)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	db := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	err := db.CreateAccount(ctx, store.Account{ID: "acct-1"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateAccount(canceled ctx) = %v; want context.Canceled", err)
	}
	if _, err := db.GetAccount(t.Context(), "acct-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount after canceled create = %v; want store.ErrNotFound", err)
	}
}

func TestOpenDropsStaleLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.AcquireLease(context.Background(), "refresh/a", "dead-process", now, time.Hour); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AcquireLease(context.Background(), "refresh/a", "new-process", now, time.Hour); err != nil {
		t.Errorf("AcquireLease after reopening = %v; want the stale lease gone", err)
	}
}
