package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

// Identity of the Zoom app that every benchmark registers at its sandbox.
const (
	benchClientID = "bench-zoom"

	// benchRedirect is never contacted: grants are issued without a browser,
	// and Approve does not follow the redirect.
	benchRedirect = "http://127.0.0.1:9/oauth/callback"
)

// shiftedClock is the sandbox's clock: the wall clock minus an offset. A
// positive offset issues tokens "in the past", as if the account had been
// connected that long ago, so their expiry comes sooner without changing
// Zoom's one-hour token life.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time { return time.Now().Add(-time.Duration(c.offset.Load())) }

func (c *shiftedClock) set(d time.Duration) { c.offset.Store(int64(d)) }

// zoomSide is a benchmark's imitation of Zoom: the sandbox on an httptest
// server on 127.0.0.1, inside this process, behind a recorder of token
// requests.
type zoomSide struct {
	sandbox *zoomsandbox.Sandbox
	server  *httptest.Server
	clock   *shiftedClock
	cred    zoom.Credentials

	// client is the broker's own Zoom client on the sandbox's clock. It
	// issues grants as the broker's callback does.
	client *zoom.Client
	users  []zoomsandbox.User

	recorder *tokenRecorder
}

// newZoomSide starts a sandbox with n users, each in a Zoom account of
// their own.
func newZoomSide(n int) *zoomSide {
	users := make([]zoomsandbox.User, n)
	for i := range users {
		users[i] = zoomsandbox.User{
			ID:        fmt.Sprintf("benchUser%07d", i),
			AccountID: fmt.Sprintf("benchAcct%07d", i),
			Email:     fmt.Sprintf("user%07d@example.com", i),
			FirstName: "Bench",
			LastName:  fmt.Sprintf("User %d", i),
		}
	}

	z := &zoomSide{clock: &shiftedClock{}, users: users}
	z.cred = zoom.Credentials{ClientID: benchClientID, ClientSecret: secret.Secret(rand.Text())}
	z.sandbox = zoomsandbox.New(zoomsandbox.Options{
		Apps: []zoomsandbox.App{{
			Name: "Zoom", ClientID: z.cred.ClientID, ClientSecret: z.cred.ClientSecret,
			Scopes: []string{"meeting:read:meeting", "meeting:write:meeting", "user:read:user"},
		}},
		Users: users,
		Now:   z.clock.Now,
	})
	z.recorder = newTokenRecorder(z.sandbox.Handler())
	z.server = httptest.NewServer(z.recorder)
	z.client = &zoom.Client{
		OAuthURL: z.server.URL,
		APIURL:   z.server.URL,
		HTTP:     &http.Client{Timeout: 30 * time.Second},
		Now:      z.clock.Now,
	}
	return z
}

func (z *zoomSide) close() { z.server.Close() }

// grant is what the connect flow obtains for one user: the tokens and the
// identity from /v2/users/me.
type grant struct {
	tok  zoom.Token
	user zoom.User
}

// issueGrants runs the code flow for each user index, the way a browser and
// the broker's callback would (consent page, Allow, code exchange,
// /v2/users/me), with the sandbox clock set back by offset(i). Users are
// taken in chunks of equal offset, so the clock never changes within a
// flow.
func (z *zoomSide) issueGrants(ctx context.Context, users []int, offset func(i int) time.Duration) ([]grant, error) {
	grants := make([]grant, len(users))
	browser := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	const chunk, workers = 100, 8

	for start := 0; start < len(users); start += chunk {
		end := min(start+chunk, len(users))
		z.clock.set(offset(start))

		var (
			wg       sync.WaitGroup
			next     atomic.Int64
			firstErr atomic.Value
		)
		next.Store(int64(start))
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= end || ctx.Err() != nil {
						return
					}
					g, err := z.issueOne(ctx, browser, z.users[users[i]].ID)
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					grants[i] = g
				}
			}()
		}
		wg.Wait()
		if err, ok := firstErr.Load().(error); ok {
			z.clock.set(0)
			return nil, err
		}
	}
	z.clock.set(0)
	return grants, ctx.Err()
}

func (z *zoomSide) issueOne(ctx context.Context, browser *http.Client, userID string) (grant, error) {
	verifier := rand.Text() + rand.Text()
	authorize := z.client.AuthorizeURL(z.cred, benchRedirect, "bench-state", verifier)
	back, err := z.sandbox.Approve(ctx, browser, authorize, userID)
	if err != nil {
		return grant{}, fmt.Errorf("issue grant for %s: %w", userID, err)
	}
	tok, err := z.client.Exchange(ctx, z.cred, back.Query().Get("code"), benchRedirect, verifier)
	if err != nil {
		return grant{}, fmt.Errorf("issue grant for %s: %w", userID, err)
	}
	user, err := z.client.Me(ctx, tok.AccessToken)
	if err != nil {
		return grant{}, fmt.Errorf("issue grant for %s: %w", userID, err)
	}
	return grant{tok: tok, user: user}, nil
}
