package tokens

import (
	"context"
	"errors"
	mathrand "math/rand/v2"
	"sync"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// Defaults of RefresherConfig fields left zero.
const (
	DefaultRefreshInterval    = 15 * time.Second
	DefaultRefreshConcurrency = 4
	DefaultRefreshBatch       = 256

	// pruneInterval is how often the refresher deletes expired tombstones.
	pruneInterval = time.Hour
)

// RefresherConfig tunes [Service.RunRefresher].
type RefresherConfig struct {
	// Interval is the pause between two scans for due accounts. Zero
	// means DefaultRefreshInterval.
	Interval time.Duration

	// Concurrency bounds the refreshes running at once. Zero means
	// DefaultRefreshConcurrency.
	Concurrency int

	// Batch is the most due accounts read per scan. Zero means
	// DefaultRefreshBatch.
	Batch int
}

// RunRefresher renews tokens ahead of expiry until ctx is cancelled, so
// callers rarely wait for a refresh and idle accounts stay alive. Each
// account's NextRefreshAt decides when it is due; a refresh goes through
// the same single-flight group as the hand-out path, so the two never
// refresh one account at once. It returns after the running refreshes end.
func (s *Service) RunRefresher(ctx context.Context, cfg RefresherConfig) {
	interval := orDefault(cfg.Interval, DefaultRefreshInterval)
	concurrency := cfg.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultRefreshConcurrency
	}
	batch := cfg.Batch
	if batch <= 0 {
		batch = DefaultRefreshBatch
	}

	s.log.Info("refresher started", "interval", interval, "concurrency", concurrency)
	var lastPrune time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("refresher stopped")
			return
		case <-timer.C:
		}

		if now := s.now(); now.Sub(lastPrune) >= pruneInterval {
			lastPrune = now
			if _, err := s.PruneTombstones(ctx, now.Add(-s.tombstoneRetention)); err != nil {
				s.log.Error("prune tombstones failed", "err", err)
			}
			// Expired connect links are kept a day so a late click still
			// gets "expired" rather than "not valid".
			if _, err := s.store.DeleteConnectSessions(ctx, now.Add(-24*time.Hour)); err != nil {
				s.log.Error("prune connect sessions failed", "err", err)
			}
		}

		n := s.RefreshDue(ctx, concurrency, batch)
		next := interval
		if n == batch {
			// A full batch means more accounts are due: scan again soon.
			next = 0
		}
		timer.Reset(next)
	}
}

// RefreshDue refreshes up to batch accounts whose NextRefreshAt has passed,
// at most concurrency at a time, and returns how many it tried.
func (s *Service) RefreshDue(ctx context.Context, concurrency, batch int) int {
	now := s.now()
	due, err := s.store.DueAccounts(ctx, now, batch)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Error("list due accounts failed", "err", err)
		}
		return 0
	}
	if o, ok := s.observer.(RefresherObserver); ok {
		var lag time.Duration
		if len(due) > 0 {
			// DueAccounts returns the earliest first.
			lag = now.Sub(due[0].NextRefreshAt)
		}
		o.RefresherScan(now, len(due), lag)
	}

	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for _, acct := range due {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return len(due)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()

			if !s.claim(ctx, acct.ID) {
				return
			}
			// The account is no longer due once handled, so the claim can
			// go at once rather than linger until it expires.
			defer func() {
				if err := s.store.ReleaseLease(context.WithoutCancel(ctx), "claim/"+acct.ID, s.holder); err != nil {
					s.log.Warn("release claim failed", "account_id", acct.ID, "err", err)
				}
			}()

			if s.postpone(ctx, acct) {
				return
			}
			// Failures are recorded on the account with their back-off,
			// and logged by refresh, so nothing is left to do here.
			_, _ = s.refreshShared(ctx, acct.ID, acct.TokenVersion)
		}()
	}
	wg.Wait()
	return len(due)
}

// postpone moves an idle account's next refresh to its renewal date and
// reports true, or reports false when the account must be refreshed now.
//
// Zoom may invalidate the previous access token at each refresh, so
// accounts nobody asked for recently are not refreshed ahead of every
// expiry: their refresh token is only renewed every RenewEvery, and the
// next caller waits for one refresh. Accounts in use, and accounts whose
// last attempt failed, are refreshed as scheduled.
func (s *Service) postpone(ctx context.Context, acct store.Account) bool {
	now := s.now()
	if acct.TransientFailures > 0 || !acct.RefreshStartedAt.IsZero() || s.inUse(acct.ID, now) {
		return false
	}
	renew := acct.RefreshTokenIssuedAt.Add(s.renewEvery)
	if acct.RefreshTokenIssuedAt.IsZero() || !now.Before(renew) {
		return false
	}

	// Spread renewals over the last tenth of the period.
	jitter := time.Duration(mathrand.Int64N(int64(s.renewEvery)/10 + 1))
	next := renew.Add(-jitter)
	if !next.After(now) {
		next = renew
	}
	_, err := s.store.UpdateAccount(ctx, acct.ID, func(a store.Account) (store.Account, error) {
		if a.TokenVersion != acct.TokenVersion || a.TransientFailures > 0 || !a.RefreshStartedAt.IsZero() {
			return a, store.ErrConflict
		}
		a.NextRefreshAt = next
		return a, nil
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.Error("postpone idle refresh failed", "account_id", acct.ID, "err", err)
	}
	return err == nil
}

// inUse reports whether the account's token was handed out within
// IdleAfter before now, in this process.
func (s *Service) inUse(id string, now time.Time) bool {
	v, ok := s.lastHandout.Load(id)
	return ok && now.Sub(v.(time.Time)) < s.idleAfter
}

// noteHandout records a hand-out, at most once a minute per account so the
// hot path rarely writes to the map.
func (s *Service) noteHandout(id string, now time.Time) {
	if v, ok := s.lastHandout.Load(id); ok && now.Sub(v.(time.Time)) < time.Minute {
		return
	}
	s.lastHandout.Store(id, now)
}

// claimTTL is how long a background claim on a due account lasts. A claim
// only spreads work, because the refresh lease and the version check keep
// each refresh single on their own.
const claimTTL = time.Minute

// claim takes the account for this process's background refresh, so that
// replicas reading the same due list share it instead of all waiting on
// the same refresh lease. It reports false when another process has the
// claim.
func (s *Service) claim(ctx context.Context, id string) bool {
	err := s.store.AcquireLease(ctx, "claim/"+id, s.holder, s.now(), claimTTL)
	if errors.Is(err, store.ErrLeaseHeld) {
		return false
	}
	if err != nil {
		s.log.Warn("claim due account failed, refreshing anyway", "account_id", id, "err", err)
	}
	return true
}
