package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// startServe runs serve in process with the settings and returns a
// function that stops it and returns its exit code.
func (e *opsEnv) startServe(settings map[string]string) (*syncBuffer, func() int) {
	e.t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	c := &cli{stdin: strings.NewReader(""), stdout: logs, stderr: logs, env: mapEnv(settings), now: time.Now}
	exited := make(chan int, 1)
	go func() { exited <- c.run(ctx, []string{"serve"}) }()

	stopped := false
	stop := func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		return <-exited
	}
	e.t.Cleanup(func() { stop() })

	deadline := time.Now().Add(waitLimit)
	for {
		if resp, err := e.client.Get(e.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logs, stop
			}
		}
		select {
		case code := <-exited:
			e.t.Fatalf("serve exited with %d before /healthz returned 200:\n%s", code, logs)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET /healthz did not return 200 within %s:\n%s", waitLimit, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runWithTimeout runs a command in process and fails the test if it does
// not return within waitLimit.
func runWithTimeout(t *testing.T, settings map[string]string, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		var out, errOut syncBuffer
		c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, env: mapEnv(settings), now: time.Now}
		code := c.run(context.Background(), args)
		done <- result{code: code, stdout: out.String(), stderr: errOut.String()}
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(waitLimit):
		t.Fatalf("zoombroker %s did not return within %s", strings.Join(args, " "), waitLimit)
		return result{}
	}
}

// recordKeys opens the stopped broker's bbolt file and returns each
// account's token key id and token version.
func recordKeys(t *testing.T, dataDir string) (map[string]string, map[string]int64) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accts, _, err := db.ListAccounts(context.Background(), store.ListOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	keys, versions := map[string]string{}, map[string]int64{}
	for _, a := range accts {
		id, err := seal.KeyID(a.Token)
		if err != nil {
			t.Fatalf("account %s: %v", a.ID, err)
		}
		keys[a.ID], versions[a.ID] = id, a.TokenVersion
	}
	return keys, versions
}

func newKeyText(t *testing.T, id string) string {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	return id + ":" + base64.StdEncoding.EncodeToString(b)
}

// TestRotateKeysThenDropOldKey connects accounts under key k1, moves every
// record to k2 with rotate-keys, and shows that a broker with only k2
// still hands out the stored tokens and refreshes at the sandbox.
func TestRotateKeysThenDropOldKey(t *testing.T) {
	e := newOpsEnv(t)
	k1 := e.settings[envEncryptionKey]
	k2 := newKeyText(t, "k2")

	_, stop := e.startServe(e.settings)
	user := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	admin := e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	before := map[string]string{user: e.token(user, "", http.StatusOK), admin: e.token(admin, "", http.StatusOK)}

	bothKeys := maps.Clone(e.settings)
	bothKeys[envEncryptionKey] = k2 + "," + k1
	t.Run("refused while the broker runs", func(t *testing.T) {
		r := runWithTimeout(t, bothKeys, "rotate-keys")
		if r.code != exitFailure || !strings.Contains(r.stderr, "locked") {
			t.Errorf("rotate-keys on a running broker = %d %q; want 1 and a message that the file is locked", r.code, r.stderr)
		}
	})
	if code := stop(); code != 0 {
		t.Fatalf("serve exit code = %d; want 0", code)
	}
	keysBefore, versionsBefore := recordKeys(t, e.dataDir)

	onlyK2 := maps.Clone(e.settings)
	onlyK2[envEncryptionKey] = k2
	t.Run("startup names the missing key", func(t *testing.T) {
		r := runWithTimeout(t, onlyK2, "serve")
		if r.code != exitFailure {
			t.Fatalf("serve with only k2 = %d; want 1", r.code)
		}
		if !strings.Contains(r.stderr, `2 token records are sealed with key id "k1"`) {
			t.Errorf("serve error = %q; want it to name key k1 and 2 records", r.stderr)
		}
	})

	r := runWithTimeout(t, bothKeys, "rotate-keys")
	if r.code != exitOK {
		t.Fatalf("rotate-keys = %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "Sealed 2 token records again with key k2") {
		t.Errorf("rotate-keys output = %q; want it to count 2 records", r.stderr)
	}
	keysAfter, versionsAfter := recordKeys(t, e.dataDir)
	for id := range keysBefore {
		if keysBefore[id] != "k1" || keysAfter[id] != "k2" {
			t.Errorf("account %s key id: %s before, %s after; want k1, then k2", id, keysBefore[id], keysAfter[id])
		}
		if versionsAfter[id] != versionsBefore[id] {
			t.Errorf("account %s token version: %d before, %d after; want it kept", id, versionsBefore[id], versionsAfter[id])
		}
	}
	if again := runWithTimeout(t, bothKeys, "rotate-keys"); !strings.Contains(again.stderr, "Sealed 0 token records again with key k2; 2 already used it") {
		t.Errorf("second rotate-keys output = %q; want nothing left to do", again.stderr)
	}

	// The old key is gone: every account still serves its stored token
	// and refreshes with its stored refresh token.
	_, stop = e.startServe(onlyK2)
	for _, id := range []string{user, admin} {
		if got := e.token(id, "", http.StatusOK); got != before[id] {
			t.Errorf("account %s after rotation hands out another token; want the stored one", id)
		}
		if got := e.token(id, `{"force_refresh": true}`, http.StatusOK); got == before[id] {
			t.Errorf("account %s force_refresh after rotation returned the old token; want a refreshed one", id)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exit code = %d; want 0", code)
	}
}

// TestRotateKeysOnline rotates on PostgreSQL while a broker that already
// seals with k2 runs and hands out tokens, then restarts it with k2 alone.
func TestRotateKeysOnline(t *testing.T) {
	dbURL := pgSchemaURL(t)
	e := newOpsEnv(t)
	copyCredentialsToPostgres(t, e, dbURL)
	e.settings[envDatabaseURL] = dbURL
	k1, k2 := e.settings[envEncryptionKey], newKeyText(t, "k2")

	_, stop := e.startServe(e.settings)
	user := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	admin := e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	if code := stop(); code != 0 {
		t.Fatalf("serve exit code = %d; want 0", code)
	}

	bothKeys := maps.Clone(e.settings)
	bothKeys[envEncryptionKey] = k2 + "," + k1
	_, stop = e.startServe(bothKeys)
	r := runWithTimeout(t, bothKeys, "rotate-keys")
	if r.code != exitOK || !strings.Contains(r.stderr, "Sealed 2 token records again with key k2") {
		t.Fatalf("rotate-keys while the broker runs = %d %q; want 0 and 2 records sealed again", r.code, r.stderr)
	}
	for _, id := range []string{user, admin} {
		e.token(id, "", http.StatusOK)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exit code = %d; want 0", code)
	}

	onlyK2 := maps.Clone(e.settings)
	onlyK2[envEncryptionKey] = k2
	_, stop = e.startServe(onlyK2)
	for _, id := range []string{user, admin} {
		e.token(id, `{"force_refresh": true}`, http.StatusOK)
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exit code = %d; want 0", code)
	}
}

// copyCredentialsToPostgres copies the operator and the API key that
// newOpsEnv put in the bbolt file into the PostgreSQL database.
func copyCredentialsToPostgres(t *testing.T, e *opsEnv, dbURL string) {
	t.Helper()
	src, err := bolt.Open(filepath.Join(e.dataDir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := openPostgres(context.Background(), values{envDatabaseURL: {text: dbURL, source: envDatabaseURL}})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	op, err := src.GetOperator(context.Background(), opsOperator)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.CreateOperator(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	keys, err := src.ListAPIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := dst.CreateAPIKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
}
