package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/storetest"
)

// envTestURL names the database the tests create their schemas in.
const envTestURL = "ZOOMBROKER_TEST_DATABASE_URL"

// testURL returns the test database URL, or skips the test without one.
func testURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(envTestURL)
	if u == "" {
		t.Skipf("%s is not set; set it to a PostgreSQL URL whose user may create schemas (.ci/run starts a server and sets it) to run the PostgreSQL tests", envTestURL)
	}
	return u
}

// newSchema creates an empty schema with a random name, drops it when the
// test ends, and returns a URL whose connections use it.
func newSchema(t *testing.T) string {
	t.Helper()
	base := testURL(t)
	schema := "zbtest_" + strings.ToLower(rand.Text()[:12])

	admin, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connect to %s: %v", Describe(base), err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", envTestURL)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openURL opens the store at u and closes it when the test ends.
func openURL(t *testing.T, u string, opts Options) *DB {
	t.Helper()
	db, err := Open(t.Context(), u, opts)
	if err != nil {
		t.Fatalf("Open = %v; want nil error", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openURL(t, newSchema(t), Options{}) })
}

func TestMigrationFiles(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations = %v; want nil error", err)
	}
	if got := ms[len(ms)-1].version; got != SchemaVersion {
		t.Errorf("last migration version = %d; want SchemaVersion %d", got, SchemaVersion)
	}
}

func TestMigrateOnce(t *testing.T) {
	u := newSchema(t)
	first := openURL(t, u, Options{})
	if err := first.CreateOperator(t.Context(), store.Operator{Name: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	second := openURL(t, u, Options{})

	v, err := second.Version(t.Context())
	if err != nil || v != SchemaVersion {
		t.Errorf("Version after two Opens = %d, %v; want %d", v, err, SchemaVersion)
	}
	if _, err := second.GetOperator(t.Context(), "alice"); err != nil {
		t.Errorf("GetOperator after the second Open = %v; want the operator the first one stored", err)
	}
	checkMigrationRows(t, second)
}

// checkMigrationRows checks that schema_migrations has one row per version.
func checkMigrationRows(t *testing.T, db *DB) {
	t.Helper()
	var rows, distinct int
	err := db.pool.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&rows, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if rows != SchemaVersion || distinct != SchemaVersion {
		t.Errorf("schema_migrations has %d rows with %d versions; want %d of each", rows, distinct, SchemaVersion)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	u := newSchema(t)

	// Without the advisory lock, the CREATE TABLE statements of the
	// replicas would collide and most Opens would fail.
	const replicas = 8
	dbs := make([]*DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { dbs[i], errs[i] = Open(t.Context(), u, Options{}) })
	}
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of %d at once = %v; want nil error", i, replicas, err)
			continue
		}
		defer dbs[i].Close()
	}
	if dbs[0] != nil {
		checkMigrationRows(t, dbs[0])
	}
}

func TestNewerSchema(t *testing.T) {
	u := newSchema(t)
	db := openURL(t, u, Options{})
	newer := SchemaVersion + 1
	if _, err := db.pool.Exec(t.Context(), "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')", newer); err != nil {
		t.Fatal(err)
	}

	again, err := Open(t.Context(), u, Options{})
	if err == nil {
		again.Close()
		t.Fatalf("Open of a database with schema version %d = nil error; want an error", newer)
	}
	for _, want := range []string{fmt.Sprintf("schema version %d", newer), fmt.Sprintf("version %d, the newest this zoombroker supports", SchemaVersion)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error = %q; want it to contain %q", err, want)
		}
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open error = %q; want no ErrUnavailable for a schema problem", err)
	}
}

func TestOpenInvalidURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"not postgres", "mysql://user:hunter2secret@localhost/db"},
		{"bad port", "postgres://user:hunter2secret@localhost:notaport/db"},
		{"bad parameter", "postgres://user:hunter2secret@localhost/db?sslmode=sometimes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.url, Options{})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) = nil error; want an error", tt.name)
			}
			if strings.Contains(err.Error(), "hunter2secret") {
				t.Errorf("Open(%s) error = %q; want no password in it", tt.name, err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"full", "postgres://zb:s3cret@db.example.com:5433/zoombroker?sslmode=require", "host db.example.com:5433 database zoombroker"},
		{"postgresql scheme", "postgresql://db/zb", "host db database zb"},
		{"no host", "postgres:///zb", "host default host database zb"},
		{"other scheme", "mysql://a:b@c/d", "invalid database URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Describe(tt.url); got != tt.want {
				t.Errorf("Describe(%q) = %q; want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	// A port that was free a moment ago refuses connections.
	addr := closedAddr(t)
	db, err := Open(t.Context(), "postgres://zb:pw@"+addr+"/zb?sslmode=disable", Options{ConnectTimeout: 2 * time.Second, MigrateTimeout: 5 * time.Second})
	if err == nil {
		db.Close()
		t.Fatal("Open(closed port) = nil error; want an error")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open(closed port) = %v; want an error wrapping store.ErrUnavailable", err)
	}
}

func TestPruneAuditOrder(t *testing.T) {
	db := openURL(t, newSchema(t), Options{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The third entry is newer than the cutoff and the fourth older: pruning
	// stops at the third, so the fourth waits for a later cutoff.
	var entries []store.AuditEntry
	for i, at := range []time.Duration{0, time.Minute, time.Hour, 2 * time.Minute} {
		entries = append(entries, store.AuditEntry{At: base.Add(at), Action: fmt.Sprintf("action.%d", i)})
	}
	if err := db.AppendAudit(t.Context(), entries); err != nil {
		t.Fatal(err)
	}

	n, err := db.PruneAudit(t.Context(), base.Add(30*time.Minute))
	if err != nil || n != 2 {
		t.Errorf("PruneAudit(+30m) = %d, %v; want 2", n, err)
	}
	left, _, err := db.ListAudit(t.Context(), store.AuditListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range left {
		actions = append(actions, e.Action)
	}
	if want := []string{"action.3", "action.2"}; !slices.Equal(actions, want) {
		t.Errorf("entries after PruneAudit = %q; want %q", actions, want)
	}
}

func TestDueAccountsIndex(t *testing.T) {
	db := openURL(t, newSchema(t), Options{})
	conn, err := db.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()

	// With sequential scans priced out, the plan shows whether an index
	// can serve the query at all, whatever the table's size.
	if _, err := conn.Exec(t.Context(), "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "RESET enable_seqscan")
	rows, err := conn.Query(t.Context(), "EXPLAIN "+dueAccountsQuery, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "accounts_due") {
		t.Errorf("plan of the DueAccounts query does not use the index accounts_due:\n%s", plan)
	}
	if strings.Contains(plan, "Sort") {
		t.Errorf("plan of the DueAccounts query sorts; want the index order:\n%s", plan)
	}
}
