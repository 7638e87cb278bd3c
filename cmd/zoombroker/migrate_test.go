package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
	"github.com/zoombroker/zoombroker/store/postgres"
)

// seed is what the migrate tests put into the source store.
var seedTime = time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)

func seedAccounts() []store.Account {
	var out []store.Account
	for i, status := range []store.Status{store.StatusActive, store.StatusNeedsReconnect, store.StatusRevoked} {
		out = append(out, store.Account{
			ID:             fmt.Sprintf("acc_%020d", i),
			App:            store.AppZoom,
			Zoom:           store.ZoomIdentity{UserID: fmt.Sprintf("user-%d", i), AccountID: "za", Email: fmt.Sprintf("u%d@example.com", i)},
			Status:         status,
			Scopes:         []string{"meeting:read", "user:read"},
			CreatedAt:      seedTime,
			UpdatedAt:      seedTime.Add(time.Minute),
			Token:          []byte{0x01, byte(i), 0x00, 0xff, 's', 'e', 'a', 'l'},
			TokenVersion:   int64(10 + i),
			TokenExpiresAt: seedTime.Add(time.Hour),
			NextRefreshAt:  seedTime.Add(50 * time.Minute),
		})
	}
	return out
}

// seedStore fills s with accounts, API keys, operators, a webhook endpoint
// and its deliveries.
func seedStore(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, a := range seedAccounts() {
		must(t, s.CreateAccount(ctx, a))
	}
	must(t, s.CreateAPIKey(ctx, store.APIKey{ID: "key_a", Name: "billing", Hash: []byte("hash-a"), CreatedAt: seedTime}))
	must(t, s.CreateAPIKey(ctx, store.APIKey{ID: "key_b", Name: "reports", Hash: []byte("hash-b"), CreatedAt: seedTime.Add(time.Second), RevokedAt: seedTime.Add(time.Hour)}))
	must(t, s.CreateOperator(ctx, store.Operator{Name: "alice", PasswordHash: []byte("$2a$10$alice"), CreatedAt: seedTime}))
	must(t, s.CreateWebhook(ctx, store.Webhook{ID: "wh_1", URL: "https://hooks.example.com/1", Secret: []byte("sealed-secret"), Source: store.WebhookSourceAPI, CreatedAt: seedTime}))
	var ds []store.Delivery
	for i := range 3 {
		ds = append(ds, store.Delivery{WebhookID: "wh_1", AccountID: "acc_00000000000000000000", EventID: fmt.Sprintf("evt_%d", i),
			EventType: "account.connected", Payload: []byte(`{"n":` + fmt.Sprint(i) + `}`), CreatedAt: seedTime, Status: store.DeliveryPending, NextAttemptAt: seedTime})
	}
	_, err := s.AppendDeliveries(ctx, ds)
	must(t, err)

	audit := []store.AuditEntry{
		{At: seedTime, Action: "apikey.create", Outcome: "ok", ActorType: "operator", Actor: "alice"},
		{At: seedTime.Add(time.Second), Action: "token.issue", Outcome: "ok", ActorType: "api_key", Actor: "key_a", AccountID: "acc_00000000000000000000"},
	}
	must(t, s.(store.AuditLog).AppendAudit(ctx, audit))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkSeeded checks that s holds exactly what seedStore wrote.
func checkSeeded(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, want := range seedAccounts() {
		got, err := s.GetAccount(ctx, want.ID)
		if err != nil {
			t.Errorf("GetAccount(%s) on the target = %v; want the copied account", want.ID, err)
			continue
		}
		if string(got.Token) != string(want.Token) {
			t.Errorf("copied account %s Token = %x; want the sealed bytes %x unchanged", want.ID, got.Token, want.Token)
		}
		if got.TokenVersion != want.TokenVersion || got.Status != want.Status || got.Zoom != want.Zoom {
			t.Errorf("copied account %s = version %d, %s, %+v; want %d, %s, %+v", want.ID, got.TokenVersion, got.Status, got.Zoom, want.TokenVersion, want.Status, want.Zoom)
		}
		if !got.NextRefreshAt.Equal(want.NextRefreshAt) || !slices.Equal(got.Scopes, want.Scopes) {
			t.Errorf("copied account %s NextRefreshAt, Scopes = %v, %q; want %v, %q", want.ID, got.NextRefreshAt, got.Scopes, want.NextRefreshAt, want.Scopes)
		}
	}

	keys, err := s.ListAPIKeys(ctx)
	must(t, err)
	if len(keys) != 2 || string(keys[0].Hash) != "hash-a" || !keys[1].Revoked() {
		t.Errorf("copied API keys = %v; want key_a and the revoked key_b", keys)
	}
	o, err := s.GetOperator(ctx, "alice")
	if err != nil || string(o.PasswordHash) != "$2a$10$alice" {
		t.Errorf("copied operator alice = %q, %v; want the password hash", o.PasswordHash, err)
	}
	w, err := s.GetWebhook(ctx, "wh_1")
	if err != nil || string(w.Secret) != "sealed-secret" {
		t.Errorf("copied webhook wh_1 = %v, %v; want its sealed secret", w, err)
	}
	ds, _, err := s.ListDeliveries(ctx, store.DeliveryListOptions{})
	must(t, err)
	var events []string
	for _, d := range ds {
		events = append(events, d.EventID)
	}
	if want := []string{"evt_2", "evt_1", "evt_0"}; !slices.Equal(events, want) {
		t.Errorf("copied deliveries, newest first = %q; want %q", events, want)
	}

	entries, _, err := s.(store.AuditLog).ListAudit(ctx, store.AuditListOptions{})
	must(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if want := []string{"token.issue", "apikey.create"}; !slices.Equal(actions, want) {
		t.Errorf("copied audit entries, newest first = %q; want %q", actions, want)
	}
}

// boltAt creates a bbolt store at path, lets fill write to it and closes
// it.
func boltAt(t *testing.T, path string, fill func(store.Store)) {
	t.Helper()
	db, err := bolt.Open(path, bolt.Options{})
	must(t, err)
	fill(db)
	must(t, db.Close())
}

// readBolt opens the bbolt store at path for checks and closes it after.
func readBolt(t *testing.T, path string, check func(store.Store)) {
	t.Helper()
	db, err := bolt.Open(path, bolt.Options{})
	must(t, err)
	defer db.Close()
	check(db)
}

func TestMigrateBoltToBolt(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src", dbFile), filepath.Join(dir, "dst")
	must(t, os.MkdirAll(filepath.Dir(src), 0o700))
	boltAt(t, src, func(s store.Store) { seedStore(t, s) })

	// A source data directory that exists, and a target one that does not
	// yet, written with a trailing slash.
	r := runCLI(t, nil, "", "migrate", "--from", "bolt:"+filepath.Dir(src), "--to", "bolt:"+dst+"/")
	if r.code != exitOK {
		t.Fatalf("migrate = %d; want 0 (stderr %q)", r.code, r.stderr)
	}
	for _, want := range []string{"accounts           3", "API keys           2", "operators          1", "webhook endpoints  1", "deliveries         3", "audit entries      2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("migrate stdout = %q; want it to contain %q", r.stdout, want)
		}
	}
	readBolt(t, filepath.Join(dst, dbFile), func(s store.Store) { checkSeeded(t, s) })
}

func TestMigrateNonEmptyTarget(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	boltAt(t, src, func(s store.Store) { seedStore(t, s) })
	stale := seedAccounts()[0]
	stale.Token = []byte("stale")
	other := seedAccounts()[0]
	other.ID = "acc_other0000000000000"
	boltAt(t, dst, func(s store.Store) {
		must(t, s.CreateAccount(context.Background(), stale))
		must(t, s.CreateAccount(context.Background(), other))
	})

	refused := runCLI(t, nil, "", "migrate", "--from", "bolt:"+src, "--to", "bolt:"+dst)
	if refused.code != exitFailure || !strings.Contains(refused.stderr, "already holds accounts") || !strings.Contains(refused.stderr, "--force") {
		t.Errorf("migrate into a non-empty target = %d, %q; want 1 and a message naming --force", refused.code, refused.stderr)
	}
	readBolt(t, dst, func(s store.Store) {
		if a, _ := s.GetAccount(context.Background(), stale.ID); string(a.Token) != "stale" {
			t.Errorf("target account after a refused migrate has Token %q; want it untouched", a.Token)
		}
	})

	forced := runCLI(t, nil, "", "migrate", "--from", "bolt:"+src, "--to", "bolt:"+dst, "--force")
	if forced.code != exitOK {
		t.Fatalf("migrate --force = %d; want 0 (stderr %q)", forced.code, forced.stderr)
	}
	if !strings.Contains(forced.stdout, "1 records overwritten") {
		t.Errorf("migrate --force stdout = %q; want it to count 1 overwritten record", forced.stdout)
	}
	readBolt(t, dst, func(s store.Store) {
		checkSeeded(t, s)
		if _, err := s.GetAccount(context.Background(), other.ID); err != nil {
			t.Errorf("target's own account after migrate --force = %v; want it kept", err)
		}
	})
}

func TestMigrateUsage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	boltAt(t, src, func(store.Store) {})

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no from", []string{"--to", "bolt:" + filepath.Join(dir, "x.db")}, exitUsage, "--from is required"},
		{"bad spec", []string{"--from", "mysql://root:hunter2@db/zb", "--to", "bolt:x"}, exitUsage, "--from must be"},
		{"same store", []string{"--from", "bolt:" + src, "--to", "bolt:" + src}, exitUsage, "same store"},
		{"missing source", []string{"--from", "bolt:" + filepath.Join(dir, "none.db"), "--to", "bolt:" + filepath.Join(dir, "y.db")}, exitFailure, "no database at"},
		{"postgres without url", []string{"--from", "bolt:" + src, "--to", "postgres"}, exitUsage, envDatabaseURL},
		{"positional", []string{"bolt:" + src}, exitUsage, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"migrate"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("migrate %q = %d; want %d (stderr %q)", tt.args, r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("migrate %q stderr = %q; want it to contain %q", tt.args, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr+r.stdout, "hunter2") {
				t.Errorf("migrate %q printed a password: %q", tt.args, r.stderr)
			}
		})
	}
}

// pgSchemaURL returns a URL of ZOOMBROKER_TEST_DATABASE_URL whose
// connections use a new empty schema, dropped when the test ends. It
// skips the test when the variable is not set.
func pgSchemaURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ZOOMBROKER_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("ZOOMBROKER_TEST_DATABASE_URL is not set; set it to a PostgreSQL URL (.ci/run does) to run the PostgreSQL tests")
	}
	schema := "zbcmd_" + strings.ToLower(rand.Text()[:12])
	conn, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgres.Describe(base), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
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
	must(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestMigrateRoundTrip(t *testing.T) {
	pgURL := pgSchemaURL(t)
	dir := t.TempDir()
	src, back := filepath.Join(dir, "src.db"), filepath.Join(dir, "back.db")
	boltAt(t, src, func(s store.Store) { seedStore(t, s) })
	secretFile := filepath.Join(dir, "database-url")
	must(t, os.WriteFile(secretFile, []byte(pgURL+"\n"), 0o600))
	env := map[string]string{envDatabaseURL + fileSuffix: secretFile}

	there := runCLI(t, env, "", "migrate", "--from", "bolt:"+src, "--to", "postgres")
	if there.code != exitOK {
		t.Fatalf("migrate bolt to postgres = %d; want 0 (stderr %q)", there.code, there.stderr)
	}
	password := ""
	if u, err := url.Parse(pgURL); err == nil {
		password, _ = u.User.Password()
	}
	if password != "" && strings.Contains(there.stdout+there.stderr, password) {
		t.Errorf("migrate printed the database password: %q", there.stdout)
	}
	db, err := postgres.Open(context.Background(), pgURL, postgres.Options{})
	must(t, err)
	checkSeeded(t, db)
	db.Close()

	again := runCLI(t, env, "", "migrate", "--from", "bolt:"+src, "--to", "postgres")
	if again.code != exitFailure || !strings.Contains(again.stderr, "already holds") {
		t.Errorf("second migrate into postgres = %d, %q; want 1 and a refusal", again.code, again.stderr)
	}

	home := runCLI(t, nil, "", "migrate", "--from", "postgres:"+pgURL, "--to", "bolt:"+back)
	if home.code != exitOK {
		t.Fatalf("migrate postgres to bolt = %d; want 0 (stderr %q)", home.code, home.stderr)
	}
	readBolt(t, back, func(s store.Store) { checkSeeded(t, s) })
}
