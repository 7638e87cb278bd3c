package client

import (
	"context"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// Defaults of a TokenSource.
const (
	// DefaultMinTTL is the least life a TokenSource's token has left.
	DefaultMinTTL = 5 * time.Minute

	// DefaultTokenTimeout bounds the broker call of TokenSource.Token,
	// which has no context of its own.
	DefaultTokenTimeout = 30 * time.Second

	// maxBrokerMinTTL is the largest min_ttl_seconds the broker accepts.
	maxBrokerMinTTL = 3300 * time.Second
)

// expiryDelta is the margin golang.org/x/oauth2 applies to Token.Expiry
// (its defaultExpiryDelta, 10 seconds in v0.38). A TokenSource applies the
// same margin, so that it and the oauth2.Transport in front of it agree on
// when a token is used up.
const expiryDelta = 10 * time.Second

// TokenSource hands out one account's access tokens from the broker. It
// implements oauth2.TokenSource, so oauth2.NewClient(ctx, ts) calls Zoom
// with it. It is safe for concurrent use: callers share one cached token
// and one broker call at a time.
//
// The Expiry of its tokens is the time after which it stops handing the
// token out: the broker's expiry minus MinTTL. It requests a new token 10
// seconds before that, as oauth2.ReuseTokenSource would.
//
// Zoom may invalidate a token before it expires, when the broker
// refreshes it. oauth2.Transport then returns Zoom's 401 to its caller;
// use [Transport] to recover from that automatically.
type TokenSource struct {
	client    *Client
	accountID string
	minTTL    time.Duration
	timeout   time.Duration
	now       func() time.Time

	// lock is a one-slot semaphore that a waiting caller can abandon when
	// its context ends. It guards tok.
	lock chan struct{}
	tok  *oauth2.Token
}

// TokenSourceOption configures a TokenSource.
type TokenSourceOption func(*TokenSource)

// WithMinTTL sets the least life a handed-out token has left; the default
// is DefaultMinTTL. Values above 55 minutes make every call ask the
// broker, because Zoom's tokens live an hour.
func WithMinTTL(d time.Duration) TokenSourceOption {
	return func(s *TokenSource) { s.minTTL = d }
}

// WithTokenTimeout bounds the broker call of Token; the default is
// DefaultTokenTimeout.
func WithTokenTimeout(d time.Duration) TokenSourceOption {
	return func(s *TokenSource) { s.timeout = d }
}

// WithClock sets the clock that decides when a token is used up; the
// default is time.Now.
func WithClock(now func() time.Time) TokenSourceOption {
	return func(s *TokenSource) { s.now = now }
}

// TokenSource returns a source of the account's access tokens.
func (c *Client) TokenSource(accountID string, opts ...TokenSourceOption) *TokenSource {
	s := &TokenSource{
		client:    c,
		accountID: accountID,
		minTTL:    DefaultMinTTL,
		timeout:   DefaultTokenTimeout,
		now:       time.Now,
		lock:      make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	s.minTTL = max(s.minTTL, 0)
	return s
}

// AccountID returns the account the source hands out tokens for.
func (s *TokenSource) AccountID() string { return s.accountID }

// Token implements oauth2.TokenSource. Its broker call has its own timeout
// and no caller's context.
func (s *TokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.TokenContext(ctx)
}

// TokenContext returns the cached token while it has MinTTL left, and
// otherwise requests one with enough life from the broker. ctx bounds the wait
// and the broker call.
func (s *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()

	if s.fresh() {
		return copyToken(s.tok), nil
	}
	return s.fetch(ctx, TokenOptions{})
}

// Rejected reports a token that Zoom rejected with 401 and code 124, and
// returns a newer one: the broker refreshes once for all its callers if
// the rejected token is still the account's current token.
func (s *TokenSource) Rejected(ctx context.Context, accessToken string) (*oauth2.Token, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()

	if s.tok != nil && s.tok.AccessToken != accessToken && s.fresh() {
		// Another caller already replaced the rejected token.
		return copyToken(s.tok), nil
	}
	return s.fetch(ctx, TokenOptions{RejectedAccessToken: secret.Secret(accessToken)})
}

// fetch requests a token from the broker and caches it. The caller holds the
// lock.
func (s *TokenSource) fetch(ctx context.Context, opts TokenOptions) (*oauth2.Token, error) {
	// Ask for a little more than the cache needs, so a token fresh from
	// the broker is fresh here too.
	opts.MinTTL = min(s.minTTL+expiryDelta+5*time.Second, maxBrokerMinTTL)
	t, err := s.client.Token(ctx, s.accountID, opts)
	if err != nil {
		s.tok = nil
		return nil, err
	}
	s.tok = &oauth2.Token{
		AccessToken: t.AccessToken.Reveal(),
		TokenType:   "Bearer",
		Expiry:      t.ExpiresAt.Add(-s.minTTL),
	}
	return copyToken(s.tok), nil
}

// fresh reports whether the cached token is still to be handed out. The
// caller holds the lock.
func (s *TokenSource) fresh() bool {
	return s.tok != nil && s.now().Before(s.tok.Expiry.Add(-expiryDelta))
}

func (s *TokenSource) acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *TokenSource) release() { <-s.lock }

func copyToken(t *oauth2.Token) *oauth2.Token {
	c := *t
	return &c
}
