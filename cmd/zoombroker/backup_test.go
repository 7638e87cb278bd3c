package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// runBinary runs a zoombroker command to its end and returns its exit
// code.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, *process) {
	t.Helper()
	p := start(t, bin, env, args...)
	return p.wait(t), p
}

// zoomAccepts reports whether the sandbox accepts the access token on its
// users/me endpoint.
func zoomAccepts(t *testing.T, e *opsEnv, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.zoomURL+"/v2/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestBackupWhileServingRestores(t *testing.T) {
	bin := buildBinary(t)
	e := newOpsEnv(t, extraUsers(1)...)
	broker := start(t, bin, e.envList(), "serve")
	broker.waitHealthy(t, e.addr)

	stable := []string{e.connect(store.AppZoom, zoomsandbox.DefaultUserID), e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)}
	churn := e.connect(store.AppZoom, "sbxExtraUser00")
	tokens := map[string]string{}
	for _, id := range stable {
		tokens[id] = e.token(id, "", http.StatusOK)
	}
	before := e.accountIDs()

	// Callers fetch tokens during the backup; one of them forces refreshes,
	// so the store is written to while the copy is taken.
	stop := make(chan struct{})
	var callers sync.WaitGroup
	var served, failed atomic.Int64
	for i := range 4 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, body := stable[i%len(stable)], ""
				if i == 3 {
					id, body = churn, `{"force_refresh": true}`
				}
				req, _ := http.NewRequest(http.MethodPost, e.base+"/v1/accounts/"+id+"/token", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.apiKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				} else {
					served.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}

	file := filepath.Join(t.TempDir(), "zoombroker-backup.db")
	code, backup := runBinary(t, bin, append(e.envList(), envAPIKey+"="+e.apiKey), "backup", file)
	close(stop)
	callers.Wait()
	if code != 0 {
		t.Fatalf("backup exit code = %d; want 0\nstderr:\n%s", code, backup.stderr)
	}
	if got := backup.stderr.String(); !strings.Contains(got, "running broker at "+e.base) {
		t.Errorf("backup stderr = %q; want it to name the running broker", got)
	}
	if served.Load() == 0 || failed.Load() != 0 {
		t.Errorf("callers during the backup: %d served, %d failed; want some served and none failed", served.Load(), failed.Load())
	}

	t.Run("file mode", func(t *testing.T) {
		info, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("backup file mode = %o; want 600", got)
		}
	})
	t.Run("tokens stay encrypted", func(t *testing.T) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, sec := range e.sandbox.IssuedSecrets() {
			if bytes.Contains(raw, []byte(sec)) {
				t.Errorf("backup contains issued secret %d in plaintext", i)
			}
		}
	})

	broker.cmd.Process.Signal(syscall.SIGTERM)
	if code := broker.wait(t); code != 0 {
		t.Fatalf("broker exit code = %d; want 0", code)
	}

	// Restore into a new data directory and serve from it.
	e.settings[envDataDir] = t.TempDir()
	if code, p := runBinary(t, bin, e.envList(), "restore", file); code != 0 {
		t.Fatalf("restore exit code = %d; want 0\nstderr:\n%s", code, p.stderr)
	}
	restored := start(t, bin, e.envList(), "serve")
	restored.waitHealthy(t, e.addr)

	if after := e.accountIDs(); !slices.Equal(after, before) {
		t.Errorf("accounts after restore = %q; want %q", after, before)
	}
	e.token(churn, "", http.StatusOK)
	for _, id := range stable {
		got := e.token(id, "", http.StatusOK)
		if got != tokens[id] {
			t.Errorf("token of %s after restore differs from the one before the backup", id)
		}
		if !zoomAccepts(t, e, got) {
			t.Errorf("Zoom rejects the restored access token of %s", id)
		}
		// The refresh token in the backup is the live one.
		if fresh := e.token(id, `{"force_refresh": true}`, http.StatusOK); !zoomAccepts(t, e, fresh) {
			t.Errorf("Zoom rejects the token refreshed after restore of %s", id)
		}
	}
}

// newBoltFile writes a bbolt file with the buckets and values given.
func newBoltFile(t *testing.T, buckets map[string]map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for name, kv := range buckets {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for k, v := range kv {
				if err := b.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRestoreRejects(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		file string
		want string
	}{
		{name: "not bbolt", file: garbage, want: "not a bbolt database"},
		{name: "missing file", file: filepath.Join(t.TempDir(), "missing.db"), want: "no such file"},
		{name: "other bbolt file", file: newBoltFile(t, map[string]map[string]string{"things": {"a": "b"}}), want: "no meta bucket"},
		{name: "newer schema", file: newBoltFile(t, map[string]map[string]string{"meta": {"schema_version": "99"}, "accounts": {}}),
			want: "schema version 99 is newer"},
		{name: "bad schema", file: newBoltFile(t, map[string]map[string]string{"meta": {"schema_version": "x"}, "accounts": {}}),
			want: "schema version \"x\" is invalid"},
		{name: "no accounts", file: newBoltFile(t, map[string]map[string]string{"meta": {"schema_version": "1"}}),
			want: "no accounts bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			current := []byte("the current database")
			if err := os.WriteFile(filepath.Join(dir, dbFile), current, 0o600); err != nil {
				t.Fatal(err)
			}

			res := runCLI(t, map[string]string{envDataDir: dir}, "", "restore", tt.file)
			if res.code != exitFailure {
				t.Errorf("restore exit code = %d; want %d", res.code, exitFailure)
			}
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("restore stderr = %q; want it to contain %q", res.stderr, tt.want)
			}
			got, err := os.ReadFile(filepath.Join(dir, dbFile))
			if err != nil || !bytes.Equal(got, current) {
				t.Errorf("current database changed after a rejected restore (err %v)", err)
			}
			if _, err := os.Stat(filepath.Join(dir, dbFile+".bak")); err == nil {
				t.Errorf("restore left a .bak file after rejecting the backup")
			}
		})
	}
}

func TestBackupRestoreOffline(t *testing.T) {
	src := t.TempDir()
	db, err := bolt.Open(filepath.Join(src, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.CreateOperator(ctx, store.Operator{Name: "alice", PasswordHash: []byte("hash")}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	file := filepath.Join(t.TempDir(), "backup.db")
	res := runCLI(t, map[string]string{envDataDir: src}, "", "backup", file)
	if res.code != 0 {
		t.Fatalf("backup exit code = %d; want 0: %s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, fmt.Sprintf("schema version %d", bolt.SchemaVersion)) {
		t.Errorf("backup stderr = %q; want the schema version", res.stderr)
	}

	// Restoring over an existing database keeps it as .bak.
	dst := t.TempDir()
	other := newBoltFile(t, map[string]map[string]string{"meta": {"schema_version": "1"}, "accounts": {}})
	old, _ := os.ReadFile(other)
	os.WriteFile(filepath.Join(dst, dbFile), old, 0o600)

	res = runCLI(t, map[string]string{envDataDir: dst}, "", "restore", file)
	if res.code != 0 {
		t.Fatalf("restore exit code = %d; want 0: %s", res.code, res.stderr)
	}
	if bak, err := os.ReadFile(filepath.Join(dst, dbFile+".bak")); err != nil || !bytes.Equal(bak, old) {
		t.Errorf("%s.bak = the previous database? err %v; want it kept", dbFile, err)
	}

	restored, err := bolt.Open(filepath.Join(dst, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := restored.GetOperator(ctx, "alice"); err != nil {
		t.Errorf("GetOperator(alice) after restore = %v; want the operator from the backup", err)
	}
}

func TestBackupNeedsKeyWhileRunning(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() // holds the lock, as a running broker does

	res := runCLI(t, map[string]string{envDataDir: dir}, "", "backup", filepath.Join(t.TempDir(), "b.db"))
	if res.code != exitFailure {
		t.Errorf("backup exit code = %d; want %d", res.code, exitFailure)
	}
	if !strings.Contains(res.stderr, envAPIKey) {
		t.Errorf("backup stderr = %q; want it to name %s", res.stderr, envAPIKey)
	}

	valid := newBoltFile(t, map[string]map[string]string{"meta": {"schema_version": "1"}, "accounts": {}})
	res = runCLI(t, map[string]string{envDataDir: dir}, "", "restore", valid)
	if res.code != exitFailure || !strings.Contains(res.stderr, "the broker is running") {
		t.Errorf("restore while locked = %d, %q; want %d and a message to stop the broker", res.code, res.stderr, exitFailure)
	}
}
