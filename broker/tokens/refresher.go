package tokens

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Defaults of RefresherConfig fields left zero.
const (
	DefaultRefreshInterval    = 15 * time.Second
	DefaultRefreshConcurrency = 4
	DefaultRefreshBatch       = 256
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
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("refresher stopped")
			return
		case <-timer.C:
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
	due, err := s.store.DueAccounts(ctx, s.now(), batch)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Error("list due accounts failed", "err", err)
		}
		return 0
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

			// Failures are recorded on the account with their back-off,
			// and logged by refresh, so nothing is left to do here.
			_, _ = s.refreshShared(ctx, acct.ID, acct.TokenVersion)
		}()
	}
	wg.Wait()
	return len(due)
}
