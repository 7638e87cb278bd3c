package tokens_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// grant runs the code flow against the sandbox and returns the tokens and
// the user, without storing anything.
func (f *fixture) grant(t *testing.T, userID string) (zoom.Token, zoom.User) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const redirect = "http://127.0.0.1/cb"
	verifier := "verifier-verifier-verifier-verifier-verifier-0123"
	back, err := f.sandbox.Approve(context.Background(), client, f.zoom.AuthorizeURL(f.cred, redirect, "st", verifier), userID)
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
	return tok, user
}

func TestNewAccountHandsOut(t *testing.T) {
	f := newFixture(t)
	tok, user := f.grant(t, zoomsandbox.DefaultUserID)

	acct, err := f.svc.NewAccount(store.AppZoom, tok, user, tokens.ConnectOptions{Owner: "ext-1"})
	if err != nil {
		t.Fatalf("NewAccount = %v; want nil error", err)
	}
	if acct.Status != store.StatusActive || acct.TokenVersion != 1 {
		t.Errorf("NewAccount = status %s, version %d; want active, 1", acct.Status, acct.TokenVersion)
	}
	if acct.Zoom.UserID != user.ID || len(acct.Owners) != 1 || acct.Owners[0] != "ext-1" {
		t.Errorf("NewAccount = user %q, owners %v; want %q, [ext-1]", acct.Zoom.UserID, acct.Owners, user.ID)
	}
	earliest, latest := tok.Expiry.Add(-tokens.DefaultRefreshLead*6/5), tok.Expiry.Add(-tokens.DefaultRefreshLead)
	if acct.NextRefreshAt.Before(earliest) || acct.NextRefreshAt.After(latest) {
		t.Errorf("NewAccount NextRefreshAt = %v; want between %v and %v", acct.NextRefreshAt, earliest, latest)
	}

	if err := f.store.CreateAccount(t.Context(), acct); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Token(t.Context(), acct.ID, tokens.Request{MinTTL: time.Minute})
	if err != nil {
		t.Fatalf("Token = %v; want nil error", err)
	}
	if got.AccessToken != tok.AccessToken {
		t.Errorf("Token returned another access token than the one imported")
	}
	if got.Refreshed {
		t.Errorf("Token Refreshed = true; want false for a fresh imported token")
	}
	if n := f.sandbox.RefreshCount(); n != 0 {
		t.Errorf("sandbox refreshes = %d; want 0", n)
	}
}

func TestNewAccountRefreshes(t *testing.T) {
	f := newFixture(t)
	tok, user := f.grant(t, zoomsandbox.DefaultUserID)
	acct, err := f.svc.NewAccount(store.AppZoom, tok, user, tokens.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateAccount(t.Context(), acct); err != nil {
		t.Fatal(err)
	}

	// The imported refresh token is the live one at Zoom.
	got, err := f.svc.Token(t.Context(), acct.ID, tokens.Request{ForceRefresh: true})
	if err != nil {
		t.Fatalf("Token(force) = %v; want nil error", err)
	}
	if !got.Refreshed {
		t.Errorf("Token(force) Refreshed = false; want true")
	}
	if n := f.sandbox.RefreshCount(); n != 1 {
		t.Errorf("sandbox refreshes = %d; want 1", n)
	}
}

func TestNewAccountFoundByConnect(t *testing.T) {
	f := newFixture(t)
	tok, user := f.grant(t, zoomsandbox.DefaultUserID)
	acct, err := f.svc.NewAccount(store.AppZoom, tok, user, tokens.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateAccount(t.Context(), acct); err != nil {
		t.Fatal(err)
	}

	tok, user = f.grant(t, zoomsandbox.DefaultUserID)
	again, reconnected, err := f.svc.Connect(t.Context(), store.AppZoom, tok, user)
	if err != nil {
		t.Fatal(err)
	}
	if !reconnected || again.ID != acct.ID {
		t.Errorf("Connect after import = %s, reconnected %t; want %s, true", again.ID, reconnected, acct.ID)
	}
}
