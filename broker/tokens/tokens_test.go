package tokens_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// failingStore fails UpdateAccount calls as a full disk would: after
// passing the next skip calls, it fails the next failures calls.
type failingStore struct {
	store.Store
	skip     atomic.Int32
	failures atomic.Int32
}

var errDiskFull = errors.New("disk full")

func (f *failingStore) UpdateAccount(ctx context.Context, id string, update func(store.Account) (store.Account, error)) (store.Account, error) {
	if f.skip.Add(-1) >= 0 {
		return f.Store.UpdateAccount(ctx, id, update)
	}
	if f.failures.Add(-1) >= 0 {
		return store.Account{}, errDiskFull
	}
	return f.Store.UpdateAccount(ctx, id, update)
}

type fixture struct {
	clock   func() time.Time
	svc     *tokens.Service
	sandbox *zoomsandbox.Sandbox
	store   *failingStore
	zoom    *zoom.Client
	cred    zoom.Credentials
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, 0) }

// newFixtureWith sets the sandbox's refresh token lifetime; zero means the
// sandbox's default.
func newFixtureWith(t *testing.T, refreshTTL time.Duration) *fixture {
	t.Helper()
	f := &fixture{}
	sb := zoomsandbox.New(zoomsandbox.Options{
		Apps:            []zoomsandbox.App{{Name: "Zoom", ClientID: "cid", ClientSecret: "csecret", Scopes: []string{"user:read"}}},
		Now:             func() time.Time { return f.clock() },
		RefreshTokenTTL: refreshTTL,
	})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)

	db, err := bolt.Open(filepath.Join(t.TempDir(), "z.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		t.Fatal(err)
	}

	f.sandbox, f.store, f.cred = sb, &failingStore{Store: db}, zoom.Credentials{ClientID: "cid", ClientSecret: secret.Secret("csecret")}
	f.clock = time.Now
	now := func() time.Time { return f.clock() }
	f.zoom = &zoom.Client{OAuthURL: srv.URL, APIURL: srv.URL, HTTP: &http.Client{Timeout: 5 * time.Second}, Now: now}
	f.svc, err = tokens.New(tokens.Config{Store: f.store, Sealer: sealer, Zoom: f.zoom, Apps: map[store.App]zoom.Credentials{store.AppZoom: f.cred}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// setClock replaces the clock of the service and the sandbox.
func (f *fixture) setClock(now func() time.Time) { f.clock = now }

// connect runs the code flow against the sandbox without a browser.
func (f *fixture) connect(t *testing.T) store.Account {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const redirect = "http://127.0.0.1/cb"
	verifier := "verifier-verifier-verifier-verifier-verifier-0123"
	back, err := f.sandbox.Approve(context.Background(), client, f.zoom.AuthorizeURL(f.cred, redirect, "st", verifier), zoomsandbox.DefaultUserID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.zoom.Exchange(context.Background(), f.cred, back.Query().Get("code"), redirect, verifier)
	if err != nil {
		t.Fatal(err)
	}
	user, err := f.zoom.Me(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	acct, _, err := f.svc.Connect(context.Background(), store.AppZoom, tok, user)
	if err != nil {
		t.Fatal(err)
	}
	return acct
}

func TestRotatedTokenStoreRetried(t *testing.T) {
	f := newFixture(t)
	acct := f.connect(t)

	// Two failed writes after Zoom rotated: the service must retry the
	// write rather than drop the only valid refresh token. The first
	// write, the refresh's start mark, passes.
	f.store.skip.Store(1)
	f.store.failures.Store(2)
	got, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{ForceRefresh: true})
	if err != nil {
		t.Fatalf("Token(force) = %v; want success after store retries", err)
	}
	if !got.Refreshed {
		t.Errorf("Token(force).Refreshed = false; want true")
	}
	if _, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{ForceRefresh: true}); err != nil {
		t.Errorf("second refresh = %v; want success with the stored token", err)
	}
}

func TestLostRefreshNeedsReconnect(t *testing.T) {
	f := newFixture(t)
	acct := f.connect(t)

	// The sandbox rotates and then drops the connection; the retry with
	// the old token gets invalid_grant.
	f.sandbox.DropRefreshResponses(1)
	_, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{ForceRefresh: true})
	if !errors.Is(err, tokens.ErrNeedsReconnect) {
		t.Fatalf("Token after a lost refresh = %v; want ErrNeedsReconnect", err)
	}
	a, err := f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.LastErrorCode != "refresh_lost" {
		t.Errorf("LastErrorCode = %q; want refresh_lost", a.LastErrorCode)
	}
	if n := f.sandbox.RefreshCount(); n != 2 {
		t.Errorf("refresh attempts = %d; want 2 (one retry, no loop)", n)
	}
}

func TestRejectedTokenRefreshesOnce(t *testing.T) {
	f := newFixture(t)
	acct := f.connect(t)
	cur, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{})
	if err != nil {
		t.Fatal(err)
	}

	next, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{RejectedAccessToken: cur.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessToken == cur.AccessToken {
		t.Errorf("rejected current token was handed out again")
	}

	// Reporting the old token again returns the newer one, no refresh.
	again, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{RejectedAccessToken: cur.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	if again.AccessToken != next.AccessToken {
		t.Errorf("stale report did not return the current token")
	}
	if n := f.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refreshes = %d; want 1", n)
	}
}

func TestRefresherRenewsDueAccounts(t *testing.T) {
	f := newFixture(t)
	acct := f.connect(t)
	if acct.NextRefreshAt.IsZero() || !acct.NextRefreshAt.Before(acct.TokenExpiresAt) {
		t.Fatalf("NextRefreshAt = %v; want a time before expiry %v", acct.NextRefreshAt, acct.TokenExpiresAt)
	}

	// The account is in use, so it is refreshed ahead of expiry.
	if _, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{}); err != nil {
		t.Fatal(err)
	}

	// Nothing is due yet.
	if n := f.svc.RefreshDue(context.Background(), 2, 10); n != 0 {
		t.Errorf("RefreshDue before the schedule tried %d accounts; want 0", n)
	}

	// Make the account due, as the clock would, without a caller asking.
	_, err := f.store.UpdateAccount(context.Background(), acct.ID, func(a store.Account) (store.Account, error) {
		a.NextRefreshAt = time.Now().Add(-time.Second)
		return a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.svc.RefreshDue(context.Background(), 2, 10); n != 1 {
		t.Errorf("RefreshDue tried %d accounts; want 1", n)
	}
	if n := f.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refreshes at sandbox = %d; want 1", n)
	}
	after, err := f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.TokenVersion != acct.TokenVersion+1 || after.LastRefreshedAt.IsZero() {
		t.Errorf("after the refresher: version %d, last refresh %v; want version %d and a time", after.TokenVersion, after.LastRefreshedAt, acct.TokenVersion+1)
	}
	if !after.NextRefreshAt.After(time.Now()) {
		t.Errorf("NextRefreshAt = %v; want a later schedule", after.NextRefreshAt)
	}
}

func TestIdleAccountPostponedToRenewal(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.setClock(func() time.Time { return now })
	acct := f.connect(t)

	// Three hours later nobody has asked for the token: the account is
	// idle, so the due refresh is moved to the renewal date.
	now = now.Add(3 * time.Hour)
	if n := f.svc.RefreshDue(context.Background(), 2, 10); n != 1 {
		t.Fatalf("RefreshDue tried %d accounts; want 1", n)
	}
	if n := f.sandbox.RefreshCount(); n != 0 {
		t.Errorf("refreshes of an idle account = %d; want 0", n)
	}
	a, err := f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	renew := a.RefreshTokenIssuedAt.Add(tokens.DefaultRenewEvery)
	if a.NextRefreshAt.After(renew) || a.NextRefreshAt.Before(renew.Add(-tokens.DefaultRenewEvery/10)) {
		t.Errorf("NextRefreshAt = %v; want within the last tenth before %v", a.NextRefreshAt, renew)
	}

	// At the renewal date the refresh token is renewed although the
	// account is still idle.
	now = renew.Add(time.Minute)
	f.svc.RefreshDue(context.Background(), 2, 10)
	if n := f.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refreshes at the renewal date = %d; want 1", n)
	}
}

func TestRetryAfterDelaysNextAttempt(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.setClock(func() time.Time { return now })
	acct := f.connect(t)
	f.svc.Token(context.Background(), acct.ID, tokens.Request{})

	// Zoom answers the background refresh with 429 and asks for 5 minutes.
	f.sandbox.FailRefreshes(http.StatusTooManyRequests, 1, 5*time.Minute)
	now = acct.NextRefreshAt.Add(time.Second)
	f.svc.RefreshDue(context.Background(), 2, 10)
	a, err := f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != store.StatusActive {
		t.Errorf("status after 429 = %s; want active", a.Status)
	}
	if wait := a.NextRefreshAt.Sub(now); wait < 5*time.Minute {
		t.Errorf("next attempt in %v after Retry-After: 300; want at least 5m", wait)
	}

	// Just before the wait ends nothing is sent; right after, the refresh
	// goes through.
	now = now.Add(5*time.Minute - time.Second)
	f.svc.RefreshDue(context.Background(), 2, 10)
	if _, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{MinTTL: time.Hour}); err == nil {
		t.Errorf("Token during Retry-After = nil error; want unavailable")
	}
	if n := f.sandbox.RefreshCount(); n != 1 {
		t.Errorf("refresh attempts before Retry-After passed = %d; want 1", n)
	}
	now = a.NextRefreshAt.Add(time.Second)
	f.svc.RefreshDue(context.Background(), 2, 10)
	if n := f.sandbox.RefreshCount(); n != 2 {
		t.Errorf("refresh attempts after Retry-After = %d; want 2", n)
	}
}

func TestOutageKeepsAccountsActive(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.setClock(func() time.Time { return now })
	acct := f.connect(t)
	first, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{})
	if err != nil {
		t.Fatal(err)
	}

	// Zoom fails every refresh with 500 for two hours of clock time, with
	// the refresher running every five minutes.
	f.sandbox.FailRefreshes(http.StatusInternalServerError, -1, 0)
	start := now
	for now.Sub(start) < 2*time.Hour {
		now = now.Add(5 * time.Minute)
		f.svc.RefreshDue(context.Background(), 2, 10)
		a, err := f.store.GetAccount(context.Background(), acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != store.StatusActive {
			t.Fatalf("status %v into the outage = %s; want active", now.Sub(start), a.Status)
		}

		// A caller asking for little life is served while the stored
		// token has it.
		got, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{MinTTL: time.Minute})
		if first.Expiry.Sub(now) >= time.Minute {
			if err != nil || got.AccessToken != first.AccessToken {
				t.Errorf("Token %v into the outage = %v; want the stored token", now.Sub(start), err)
			}
		} else if err == nil {
			t.Errorf("Token with an expired token during the outage = nil error; want unavailable")
		}
	}
	if n := f.sandbox.RefreshCount(); n > 10 {
		t.Errorf("refresh attempts during a 2h outage = %d; want back-off to keep it at most 10", n)
	}

	// After recovery the refresher renews the token with no caller asking.
	f.sandbox.ClearFailures()
	before := f.sandbox.RefreshCount()
	now = now.Add(31 * time.Minute)
	f.svc.RefreshDue(context.Background(), 2, 10)
	a, err := f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f.sandbox.RefreshCount() != before+1 || a.TransientFailures != 0 || !a.TokenExpiresAt.After(now) {
		t.Errorf("after recovery: %d refreshes, %d failures, expiry %v; want one refresh and a fresh token", f.sandbox.RefreshCount()-before, a.TransientFailures, a.TokenExpiresAt)
	}
}

func TestTombstonesPrunedAfterRetention(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.setClock(func() time.Time { return now })
	acct := f.connect(t)
	if _, err := f.svc.Revoke(context.Background(), acct.ID, "test"); err != nil {
		t.Fatal(err)
	}

	if n, err := f.svc.PruneTombstones(context.Background(), now.Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneTombstones(before revoke) = %d, %v; want 0", n, err)
	}
	if n, err := f.svc.PruneTombstones(context.Background(), now.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("PruneTombstones(after revoke) = %d, %v; want 1", n, err)
	}
	if _, err := f.store.GetAccount(context.Background(), acct.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount(pruned) = %v; want ErrNotFound", err)
	}
}

func TestIdleAccountOutlivesRefreshTokenLifetime(t *testing.T) {
	// The sandbox lets a refresh token die after 31 days unused; an idle
	// account must be renewed before that, for a year.
	f := newFixtureWith(t, 31*24*time.Hour)
	now := time.Now()
	f.setClock(func() time.Time { return now })
	acct := f.connect(t)

	for day := 0; day < 365; day++ {
		now = now.Add(24 * time.Hour)
		f.svc.RefreshDue(context.Background(), 2, 10)
	}
	if _, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{MinTTL: time.Hour}); err != nil {
		t.Fatalf("Token after a year idle = %v; want a token", err)
	}
	if n := f.sandbox.RefreshCount(); n < 12 || n > 15 {
		t.Errorf("refreshes in a year idle = %d; want about 13 (one per 30 days, plus the caller's)", n)
	}
}

func TestInterruptedRefreshDetected(t *testing.T) {
	f := newFixture(t)
	acct := f.connect(t)

	// Zoom rotates, then every write of the result fails, as if the
	// process died before committing: the start mark stays behind.
	f.store.skip.Store(1)
	f.store.failures.Store(100)
	if _, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{ForceRefresh: true}); err == nil {
		t.Fatal("Token with every write failing = nil error; want an error")
	}
	f.store.failures.Store(0)
	a, err := f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.RefreshStartedAt.IsZero() {
		t.Fatalf("RefreshStartedAt is zero after an unfinished refresh; want the start mark")
	}

	// The next refresh finds the mark, and Zoom's invalid_grant is
	// reported as a lost refresh, not as a revoked grant.
	_, err = f.svc.Token(context.Background(), acct.ID, tokens.Request{ForceRefresh: true})
	if !errors.Is(err, tokens.ErrNeedsReconnect) {
		t.Fatalf("Token after the interrupted refresh = %v; want ErrNeedsReconnect", err)
	}
	a, err = f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.LastErrorCode != "refresh_lost" || !a.RefreshStartedAt.IsZero() {
		t.Errorf("after detection: code %q, start mark %v; want refresh_lost and no mark", a.LastErrorCode, a.RefreshStartedAt)
	}
}

func TestStartMarkClearedAfterRefresh(t *testing.T) {
	f := newFixture(t)
	acct := f.connect(t)
	if _, err := f.svc.Token(context.Background(), acct.ID, tokens.Request{ForceRefresh: true}); err != nil {
		t.Fatal(err)
	}
	a, err := f.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !a.RefreshStartedAt.IsZero() {
		t.Errorf("RefreshStartedAt = %v after a stored refresh; want zero", a.RefreshStartedAt)
	}
}
