package zoom_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

type fixture struct {
	sandbox *zoomsandbox.Sandbox
	client  *zoom.Client
	cred    zoom.Credentials
	now     time.Time
}

const redirect = "http://127.0.0.1:9/oauth/callback"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	f.sandbox = zoomsandbox.New(zoomsandbox.Options{
		Apps: []zoomsandbox.App{{Name: "Zoom", ClientID: "cid", ClientSecret: "csecret", Scopes: []string{"meeting:read", "user:read"}, RedirectURIs: []string{redirect}}},
		Now:  func() time.Time { return f.now },
	})
	srv := httptest.NewServer(f.sandbox.Handler())
	t.Cleanup(srv.Close)
	f.client = &zoom.Client{OAuthURL: srv.URL, APIURL: srv.URL, HTTP: &http.Client{Timeout: 5 * time.Second}, Now: func() time.Time { return f.now }}
	f.cred = zoom.Credentials{ClientID: "cid", ClientSecret: secret.Secret("csecret")}
	return f
}

func (f *fixture) grant(t *testing.T) zoom.Token {
	t.Helper()
	verifier := "a-verifier-that-is-long-enough-for-pkce-0123456789"
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	back, err := f.sandbox.Approve(context.Background(), client, f.client.AuthorizeURL(f.cred, redirect, "state-1", verifier), zoomsandbox.DefaultUserID)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Query().Get("state"); got != "state-1" {
		t.Fatalf("state = %q; want state-1", got)
	}
	tok, err := f.client.Exchange(context.Background(), f.cred, back.Query().Get("code"), redirect, verifier)
	if err != nil {
		t.Fatalf("Exchange = %v", err)
	}
	return tok
}

func TestExchangeParsesZoomResponse(t *testing.T) {
	f := newFixture(t)
	tok := f.grant(t)
	if want := f.now.Add(3599 * time.Second); !tok.Expiry.Equal(want) {
		t.Errorf("Expiry = %v; want %v (broker clock + expires_in)", tok.Expiry, want)
	}
	if len(tok.Scopes) != 2 || tok.Scopes[0] != "meeting:read" {
		t.Errorf("Scopes = %v; want [meeting:read user:read]", tok.Scopes)
	}
	if tok.RefreshToken.Empty() || tok.AccessToken.Empty() {
		t.Errorf("token lacks an access or refresh token")
	}

	u, err := f.client.Me(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != zoomsandbox.DefaultUserID || u.AccountID != zoomsandbox.DefaultAccountID || u.Email == "" || u.Name() == "" {
		t.Errorf("Me() = %+v; want the sandbox's default user", u)
	}
}

func TestRefreshErrorsClassified(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fixture, tok *zoom.Token)
		is      error
		unknown bool
		retry   time.Duration
	}{
		{"rotated token", func(f *fixture, tok *zoom.Token) {
			if _, err := f.client.Refresh(context.Background(), f.cred, tok.RefreshToken); err != nil {
				panic(err)
			}
		}, zoom.ErrInvalidGrant, false, 0},
		{"server error", func(f *fixture, _ *zoom.Token) { f.sandbox.FailRefreshes(500, 1, 0) }, zoom.ErrTransient, false, 0},
		{"rate limited", func(f *fixture, _ *zoom.Token) { f.sandbox.FailRefreshes(429, 1, 7*time.Second) }, zoom.ErrTransient, false, 7 * time.Second},
		{"bad secret", func(f *fixture, _ *zoom.Token) { f.cred.ClientSecret = "wrong" }, zoom.ErrClient, false, 0},
		{"dropped answer", func(f *fixture, _ *zoom.Token) { f.sandbox.DropRefreshResponses(1) }, zoom.ErrTransient, true, 0},
		{"unreachable", func(f *fixture, _ *zoom.Token) { f.client.OAuthURL = "http://127.0.0.1:1" }, zoom.ErrTransient, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.grant(t)
			tc.setup(f, &tok)

			_, err := f.client.Refresh(context.Background(), f.cred, tok.RefreshToken)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Refresh() = %v; want %v", err, tc.is)
			}
			var zerr *zoom.Error
			if !errors.As(err, &zerr) {
				t.Fatalf("Refresh() error is %T; want *zoom.Error", err)
			}
			if zerr.OutcomeUnknown != tc.unknown {
				t.Errorf("OutcomeUnknown = %t; want %t", zerr.OutcomeUnknown, tc.unknown)
			}
			if zerr.RetryAfter != tc.retry {
				t.Errorf("RetryAfter = %v; want %v", zerr.RetryAfter, tc.retry)
			}
		})
	}
}

func TestUnparsableAnswerIsTransient(t *testing.T) {
	// Zoom is known to answer some requests with XML or HTML; the status
	// alone must not decide.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte("<error>busy</error>"))
	}))
	defer srv.Close()
	c := &zoom.Client{OAuthURL: srv.URL, APIURL: srv.URL}
	_, err := c.Refresh(context.Background(), zoom.Credentials{ClientID: "a", ClientSecret: "b"}, "rt")
	if !errors.Is(err, zoom.ErrTransient) {
		t.Errorf("Refresh() on XML = %v; want a transient error", err)
	}
}

func TestErrorTextHasNoSecrets(t *testing.T) {
	f := newFixture(t)
	tok := f.grant(t)
	f.cred.ClientSecret = "wrong-secret-value"
	_, err := f.client.Refresh(context.Background(), f.cred, tok.RefreshToken)
	for _, s := range append(f.sandbox.IssuedSecrets(), "wrong-secret-value") {
		if err != nil && contains(err.Error(), s) {
			t.Errorf("error text contains a secret: %v", err)
		}
	}
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }
