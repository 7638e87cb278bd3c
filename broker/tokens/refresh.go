package tokens

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
)

// storeRetries bounds the attempts to store a rotated token. Zoom has
// already invalidated the old refresh token at that point, so giving up
// early loses the account.
const storeRetries = 5

// leaseMargin is added to ZoomTimeout for the refresh lease, so a lease
// outlives the refresh it guards. leasePoll is how often a waiting replica
// checks the account.
const (
	leaseMargin = 15 * time.Second
	leasePoll   = 50 * time.Millisecond
)

// refresh runs one refresh of the account at Zoom and stores the result. It
// must only run inside the single-flight group of refreshShared.
func (s *Service) refresh(ctx context.Context, id string, seenVersion int64) (refreshResult, error) {
	// The lease keeps other replicas sharing the store from refreshing
	// this account at the same time; within one process the single-flight
	// group already does.
	lease := "refresh/" + id
	if res, done, err := s.acquireLease(ctx, lease, id, seenVersion); done || err != nil {
		return res, err
	}
	defer func() {
		if err := s.store.ReleaseLease(context.WithoutCancel(ctx), lease, s.holder); err != nil {
			s.log.Warn("release refresh lease failed", "account_id", id, "err", err)
		}
	}()

	acct, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return refreshResult{}, fmt.Errorf("get account %s: %w", id, err)
	}
	if err := usable(acct); err != nil {
		return refreshResult{}, err
	}
	rec, err := s.record(acct)
	if err != nil {
		return refreshResult{}, err
	}
	if acct.TokenVersion != seenVersion {
		return refreshResult{account: acct, record: rec}, nil
	}

	now := s.now()
	if acct.TransientFailures > 0 && now.Before(acct.NextRefreshAt) {
		// An earlier failure set a back-off (or Zoom sent Retry-After):
		// do not call Zoom harder than it asked.
		return refreshResult{}, &UnavailableError{RetryAfter: acct.NextRefreshAt.Sub(now), Err: errors.New(acct.LastError)}
	}

	cred, ok := s.Credentials(acct.App)
	if !ok {
		return refreshResult{}, fmt.Errorf("refresh account %s: %w: %s", id, ErrAppNotConfigured, acct.App)
	}

	// An earlier refresh of this token that never stored its outcome may
	// already have rotated it at Zoom; an invalid_grant then means the
	// refresh was lost, not that the user revoked the grant.
	interrupted := !acct.RefreshStartedAt.IsZero()
	if interrupted {
		s.log.Warn("resuming a refresh interrupted by a stop", "account_id", id, "started_at", acct.RefreshStartedAt)
	}
	if acct, err = s.markRefreshStarted(ctx, acct); err != nil {
		return refreshResult{}, err
	}

	started := time.Now()
	tok, err := s.zoom.Refresh(ctx, cred, rec.RefreshToken)
	lost := interrupted
	var zerr *zoom.Error
	if errors.As(err, &zerr) && zerr.OutcomeUnknown {
		// The request may have rotated the token at Zoom although no
		// response came back. Try once more with the same token: if Zoom
		// did rotate, this gives invalid_grant and the refresh is lost.
		s.log.Warn("refresh outcome unknown, retrying once", "account_id", id, "err", err)
		tok, err = s.zoom.Refresh(ctx, cred, rec.RefreshToken)
		lost = true
	}
	latency := time.Since(started)
	if err != nil {
		outcome := OutcomeTransient
		if errors.Is(err, zoom.ErrInvalidGrant) {
			outcome = OutcomeInvalidGrant
		}
		s.observer.Refresh(acct.App, outcome, latency)
		return refreshResult{}, s.recordFailure(ctx, acct, err, lost)
	}
	s.observer.Refresh(acct.App, OutcomeSuccess, latency)

	return s.storeRefreshed(ctx, acct, tok)
}

// markRefreshStarted records, durably, that a refresh is about to be sent,
// and schedules the account for after the lease would expire, so that if
// this process dies the refresher of any process resumes it.
func (s *Service) markRefreshStarted(ctx context.Context, acct store.Account) (store.Account, error) {
	now := s.now().UTC()
	updated, err := s.store.UpdateAccount(ctx, acct.ID, func(a store.Account) (store.Account, error) {
		if a.TokenVersion != acct.TokenVersion {
			return a, store.ErrConflict
		}
		if a.RefreshStartedAt.IsZero() {
			a.RefreshStartedAt = now
		}
		a.NextRefreshAt = now.Add(s.zoomTimeout + leaseMargin)
		return a, nil
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("record refresh start of account %s: %w", acct.ID, err)
	}
	return updated, nil
}

// acquireLease takes the account's refresh lease. While another holder has
// it, it polls the account: when the token version moves, that holder has
// refreshed, and done is true with the new token.
func (s *Service) acquireLease(ctx context.Context, lease, id string, seenVersion int64) (res refreshResult, done bool, err error) {
	for {
		err := s.store.AcquireLease(ctx, lease, s.holder, s.now(), s.zoomTimeout+leaseMargin)
		if err == nil {
			return refreshResult{}, false, nil
		}
		if !errors.Is(err, store.ErrLeaseHeld) {
			return refreshResult{}, true, fmt.Errorf("acquire refresh lease of account %s: %w", id, err)
		}

		acct, err := s.store.GetAccount(ctx, id)
		if err != nil {
			return refreshResult{}, true, fmt.Errorf("get account %s: %w", id, err)
		}
		if acct.TokenVersion != seenVersion || acct.Status != store.StatusActive {
			if err := usable(acct); err != nil {
				return refreshResult{}, true, err
			}
			rec, err := s.record(acct)
			return refreshResult{account: acct, record: rec}, true, err
		}

		select {
		case <-ctx.Done():
			return refreshResult{}, true, &UnavailableError{RetryAfter: time.Second, Err: fmt.Errorf("wait for refresh lease of account %s: %w", id, ctx.Err())}
		case <-time.After(leasePoll):
		}
	}
}

// storeRefreshed writes the rotated pair with a compare-and-swap on the
// token version, retrying transient store failures.
func (s *Service) storeRefreshed(ctx context.Context, acct store.Account, tok zoom.Token) (refreshResult, error) {
	rec := tokenRecord{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, IssuedAt: tok.IssuedAt, Scopes: tok.Scopes}
	blob, err := s.sealRecord(acct.ID, rec)
	if err != nil {
		return refreshResult{}, err
	}

	var updated store.Account
	for attempt := 1; ; attempt++ {
		updated, err = s.store.UpdateAccount(ctx, acct.ID, func(a store.Account) (store.Account, error) {
			if a.TokenVersion != acct.TokenVersion {
				return a, store.ErrConflict
			}
			now := s.now().UTC()
			a.Token = blob
			a.TokenVersion++
			a.TokenExpiresAt = tok.Expiry
			a.RefreshTokenIssuedAt = tok.IssuedAt
			a.LastRefreshedAt = now
			a.UpdatedAt = now
			a.NextRefreshAt = s.schedule(tok.Expiry)
			a.RefreshStartedAt = time.Time{}
			if len(tok.Scopes) > 0 {
				a.Scopes = tok.Scopes
			}
			clearFailure(&a)
			return a, nil
		})
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) || attempt == storeRetries {
			break
		}
		s.log.Error("store refreshed token failed, retrying", "account_id", acct.ID, "attempt", attempt, "err", err)
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
	if err != nil {
		// Zoom rotated the refresh token and the new one is not stored:
		// the account cannot be refreshed again. This is the one window
		// no ordering of writes can close.
		s.log.Error("rotated token not stored, account will need reconnect", "account_id", acct.ID, "err", err)
		return refreshResult{}, fmt.Errorf("store refreshed token of account %s: %w", acct.ID, err)
	}

	s.cache.Store(updated.ID, cachedRecord{version: updated.TokenVersion, record: rec})
	s.lastRefresh.Store(updated.ID, time.Now())
	s.log.Info("token refreshed", "account_id", acct.ID, "app", string(acct.App), "expires_at", tok.Expiry)
	return refreshResult{account: updated, record: rec, didRefresh: true}, nil
}

// recordFailure stores the outcome of a failed refresh on the account and
// returns the error for the caller.
func (s *Service) recordFailure(ctx context.Context, acct store.Account, cause error, lost bool) error {
	now := s.now().UTC()
	var zerr *zoom.Error
	errors.As(cause, &zerr)

	if errors.Is(cause, zoom.ErrInvalidGrant) {
		code, message := "invalid_grant", "Zoom rejected the refresh token: connect the account again."
		if lost {
			code, message = "refresh_lost", "A refresh was sent to Zoom but its outcome was lost (no response, or the broker stopped before storing it), and Zoom rejected the old token: connect the account again."
		}
		updated, err := s.store.UpdateAccount(ctx, acct.ID, func(a store.Account) (store.Account, error) {
			if a.TokenVersion != acct.TokenVersion {
				return a, store.ErrConflict
			}
			a.Status = store.StatusNeedsReconnect
			a.RefreshStartedAt = time.Time{}
			a.LastErrorCode = code
			a.LastError = message
			a.LastErrorAt = now
			a.NextRefreshAt = time.Time{}
			a.UpdatedAt = now
			return a, nil
		})
		if err != nil {
			s.log.Error("refresh rejected, and storing needs_reconnect failed", "account_id", acct.ID, "app", string(acct.App), "code", code, "err", err)
		} else {
			s.log.Warn("refresh rejected, account needs reconnect", "account_id", acct.ID, "app", string(acct.App), "code", code)
			s.emit(ctx, EventNeedsReconnect, updated)
		}
		return fmt.Errorf("refresh account %s: %w", acct.ID, ErrNeedsReconnect)
	}

	code, message := "zoom_unavailable", "Zoom could not be reached or failed; the broker will retry."
	var wait time.Duration
	if zerr != nil {
		code = zerr.Code
		if code == "" {
			code = fmt.Sprintf("http_%d", zerr.Status)
		}
		message = plainReason(zerr)
		wait = zerr.RetryAfter
	}

	updated, err := s.store.UpdateAccount(ctx, acct.ID, func(a store.Account) (store.Account, error) {
		a.TransientFailures++
		a.RefreshStartedAt = time.Time{}
		backoff := s.backoff(a.TransientFailures)
		if wait > backoff {
			backoff = wait
		}
		a.LastErrorCode = code
		a.LastError = message
		a.LastErrorAt = now
		a.NextRefreshAt = now.Add(backoff)
		a.UpdatedAt = now
		return a, nil
	})
	retry := wait
	if err == nil {
		retry = updated.NextRefreshAt.Sub(now)
	}
	if retry < time.Second {
		retry = time.Second
	}
	s.log.Warn("refresh failed, will retry", "account_id", acct.ID, "app", string(acct.App), "code", code, "retry_in", retry, "err", cause)
	return &UnavailableError{RetryAfter: retry, Err: fmt.Errorf("refresh account %s: %w", acct.ID, cause)}
}

// backoff returns the wait after the n-th transient failure in a row:
// BackoffBase doubled per failure, at most BackoffLimit, with up to 20%
// random jitter so accounts that failed together retry apart.
func (s *Service) backoff(n int) time.Duration {
	d := s.backoffBase
	for i := 1; i < n && d < s.backoffLimit; i++ {
		d *= 2
	}
	if d > s.backoffLimit {
		d = s.backoffLimit
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return d - jitter
}

// plainReason describes a Zoom failure for operators, without secrets.
func plainReason(e *zoom.Error) string {
	switch {
	case e.Status == 429:
		return "Zoom answered 429 Too Many Requests; the broker waits as Zoom asked."
	case e.Status >= 500:
		return fmt.Sprintf("Zoom answered %d; the broker will retry.", e.Status)
	case e.Code == "timeout":
		return "Zoom did not answer in time; the broker will retry."
	case e.Code == "network_error":
		return "Zoom could not be reached; the broker will retry."
	case e.Code == "malformed_response":
		return "Zoom's response could not be parsed; the broker will retry."
	case e.Code == "invalid_client":
		return "Zoom rejected the app's client id or secret: check the app's credentials."
	}
	return fmt.Sprintf("Zoom rejected the refresh (%s); the broker will retry.", e.Code)
}
