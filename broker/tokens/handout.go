package tokens

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/store"
)

// Request describes what a caller needs from [Service.Token].
type Request struct {
	// MinTTL is the least life the returned token must have left.
	MinTTL time.Duration

	// ForceRefresh asks for a new token even if the current one has
	// MinTTL left. Concurrent forced requests share one refresh.
	ForceRefresh bool

	// Arrived is when the caller's request arrived, on the wall clock with
	// its monotonic reading; zero means when Token is called. A forced
	// refresh is skipped when a refresh of the account finished after
	// this moment, so a burst of forced requests causes one refresh.
	Arrived time.Time

	// RejectedAccessToken is a token Zoom rejected (401, code 124). If it is
	// still the current token the service refreshes; otherwise it returns
	// the newer token it already has.
	RejectedAccessToken secret.Secret
}

// Issued is an access token handed to a caller.
type Issued struct {
	AccountID   string
	App         store.App
	AccessToken secret.Secret
	Expiry      time.Time
	Scopes      []string

	// Refreshed is true when this request waited for a refresh at Zoom.
	Refreshed bool
}

// Token returns an access token for the account with at least req.MinTTL
// left, refreshing at Zoom first when needed. Errors: store.ErrNotFound,
// ErrNeedsReconnect, ErrRevoked, ErrAppNotConfigured and
// *UnavailableError.
func (s *Service) Token(ctx context.Context, id string, req Request) (Issued, error) {
	// Durations for metrics use the monotonic clock, not s.now, which
	// tests may stop.
	started := time.Now()
	var app store.App
	got, err := s.token(ctx, id, req, &app)
	if h, ok := s.observer.(HandoutObserver); ok {
		h.Handout(app, handoutOutcome(got, err), time.Since(started))
	}
	return got, err
}

// token is Token without the measurement. It sets *app once the account
// is read.
func (s *Service) token(ctx context.Context, id string, req Request, app *store.App) (Issued, error) {
	acct, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return Issued{}, fmt.Errorf("get account %s: %w", id, err)
	}
	*app = acct.App
	if err := usable(acct); err != nil {
		return Issued{}, err
	}
	rec, err := s.record(acct)
	if err != nil {
		return Issued{}, err
	}

	s.noteHandout(acct.ID, s.now())

	arrived := req.Arrived
	if arrived.IsZero() {
		arrived = time.Now()
	}
	force := req.ForceRefresh && !s.refreshedSince(acct.ID, arrived)
	if !req.RejectedAccessToken.Empty() {
		// Only the current token can be reported stale; an older one means
		// the caller simply has not seen the newer token yet.
		force = subtle.ConstantTimeCompare([]byte(req.RejectedAccessToken.Reveal()), []byte(rec.AccessToken.Reveal())) == 1
	}
	if !force && s.hasLife(rec, req.MinTTL) {
		return issued(acct, rec, false), nil
	}

	refreshed, err := s.refreshShared(ctx, acct.ID, acct.TokenVersion)
	if err != nil {
		var unavailable *UnavailableError
		if errors.As(err, &unavailable) && s.hasLife(rec, req.MinTTL) {
			// A forced refresh failed for now; the stored token still
			// has the life the caller asked for.
			return issued(acct, rec, false), nil
		}
		return Issued{}, err
	}
	return issued(refreshed.account, refreshed.record, refreshed.didRefresh), nil
}

func (s *Service) hasLife(rec tokenRecord, minTTL time.Duration) bool {
	return rec.Expiry.Sub(s.now()) >= minTTL
}

func usable(acct store.Account) error {
	switch acct.Status {
	case store.StatusNeedsReconnect:
		return fmt.Errorf("account %s: %w", acct.ID, ErrNeedsReconnect)
	case store.StatusRevoked:
		return fmt.Errorf("account %s: %w", acct.ID, ErrRevoked)
	}
	return nil
}

func issued(acct store.Account, rec tokenRecord, refreshed bool) Issued {
	return Issued{
		AccountID:   acct.ID,
		App:         acct.App,
		AccessToken: rec.AccessToken,
		Expiry:      rec.Expiry,
		Scopes:      rec.Scopes,
		Refreshed:   refreshed,
	}
}

// refreshResult is the outcome of one shared refresh, returned to every
// caller that waited for it.
type refreshResult struct {
	account    store.Account
	record     tokenRecord
	didRefresh bool
}

// refreshShared refreshes the account unless its token version moved past
// seenVersion (then someone else already refreshed). Concurrent callers for
// one account share one call.
func (s *Service) refreshShared(ctx context.Context, id string, seenVersion int64) (refreshResult, error) {
	ch := s.flight.DoChan(id, func() (any, error) {
		s.inflight.Add(1)
		defer s.inflight.Done()

		// The refresh must finish even if the first caller goes away:
		// abandoning it after Zoom rotated the token would lose the
		// account.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.zoomTimeout)
		defer cancel()
		return s.refresh(rctx, id, seenVersion)
	})
	select {
	case <-ctx.Done():
		return refreshResult{}, &UnavailableError{RetryAfter: time.Second, Err: ctx.Err()}
	case res := <-ch:
		if res.Err != nil {
			return refreshResult{}, res.Err
		}
		return res.Val.(refreshResult), nil
	}
}

// refreshedSince reports whether a refresh of the account finished after t.
// Both times come from time.Now, so the comparison uses the monotonic clock
// and does not depend on the service's clock.
func (s *Service) refreshedSince(id string, t time.Time) bool {
	v, ok := s.lastRefresh.Load(id)
	return ok && v.(time.Time).After(t)
}
