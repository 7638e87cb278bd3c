package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// racers is how many goroutines compete in each contention subtest, as
// replicas sharing one store would.
const racers = 16

// race runs fn in racers goroutines that start together and returns their
// errors by index.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner reports unless exactly one error is nil and every other one
// wraps lost. It returns the winner's index.
func oneWinner(t *testing.T, what string, errs []error, lost error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: racers %d and %d both won; want exactly one winner", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lost):
			t.Errorf("%s: racer %d = %v; want nil or an error wrapping %q", what, i, err, lost)
		}
	}
	if winner < 0 {
		t.Errorf("%s: no racer won; want exactly one", what)
	}
	return winner
}

func testContention(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("lease race", func(t *testing.T) {
		s := newStore(t)
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		holder := func(i int) string { return fmt.Sprintf("replica-%d", i) }
		acquire := func(at time.Time) []error {
			return race(func(i int) error { return s.AcquireLease(t.Context(), "refresh/acct-1", holder(i), at, time.Minute) })
		}

		first := oneWinner(t, "free lease", acquire(now), store.ErrLeaseHeld)
		if first < 0 {
			return
		}
		if err := s.ReleaseLease(t.Context(), "refresh/acct-1", holder(first)); err != nil {
			t.Fatalf("ReleaseLease(winner) = %v; want nil error", err)
		}

		second := oneWinner(t, "released lease", acquire(now.Add(time.Second)), store.ErrLeaseHeld)
		if second < 0 {
			return
		}

		// Without a release, the lease frees itself at its expiry.
		oneWinner(t, "expired lease", acquire(now.Add(time.Second+time.Minute)), store.ErrLeaseHeld)
	})

	t.Run("create race", func(t *testing.T) {
		s := newStore(t)
		candidate := func(i int) store.Account {
			a := fullAccount("acct-1")
			a.Zoom.DisplayName = fmt.Sprintf("racer %d", i)
			a.Token = []byte(fmt.Sprintf("sealed-by-%d", i))
			return a
		}

		errs := race(func(i int) error { return s.CreateAccount(t.Context(), candidate(i)) })

		winner := oneWinner(t, "CreateAccount of one id", errs, store.ErrAlreadyExists)
		if winner >= 0 {
			checkAccount(t, "GetAccount after the race", mustGet(t, s, "acct-1"), candidate(winner))
		}
	})

	t.Run("refresh race", func(t *testing.T) {
		// The refresh protocol across replicas: each takes the lease,
		// rereads the account and stores a new token with a
		// compare-and-swap on the version it read before the race.
		s := newStore(t)
		mustCreate(t, s, fullAccount("acct-1"))
		now := base

		for round := range 5 {
			read := mustGet(t, s, "acct-1").TokenVersion
			token := func(i int) []byte { return []byte(fmt.Sprintf("round-%d-racer-%d", round, i)) }
			var stored sync.Map // racer index -> true when its CAS won
			errs := race(func(i int) error {
				holder := fmt.Sprintf("replica-%d", i)
				if err := s.AcquireLease(t.Context(), "refresh/acct-1", holder, now, time.Minute); err != nil {
					return err
				}
				defer s.ReleaseLease(t.Context(), "refresh/acct-1", holder)
				if err := refresh(t, s, "acct-1", read, token(i)); err != nil {
					return err
				}
				stored.Store(i, true)
				return nil
			})

			for i, err := range errs {
				if err != nil && !errors.Is(err, store.ErrLeaseHeld) && !errors.Is(err, store.ErrConflict) {
					t.Errorf("round %d: racer %d = %v; want nil, ErrLeaseHeld or ErrConflict", round, i, err)
				}
			}
			var winners []int
			stored.Range(func(k, _ any) bool { winners = append(winners, k.(int)); return true })
			if len(winners) != 1 {
				t.Fatalf("round %d: racers %v stored a token; want exactly one", round, winners)
			}
			got := mustGet(t, s, "acct-1")
			if got.TokenVersion != read+1 {
				t.Errorf("round %d: TokenVersion = %d; want %d", round, got.TokenVersion, read+1)
			}
			if string(got.Token) != string(token(winners[0])) {
				t.Errorf("round %d: Token = %q; want the winner's %q", round, got.Token, token(winners[0]))
			}
		}
	})

	t.Run("list while creating and deleting", func(t *testing.T) {
		testListWhileChurning(t, newStore)
	})
}

// testListWhileChurning pages through accounts while other goroutines
// create and delete accounts between them. Every account that exists for
// the whole listing must appear exactly once, and pages must stay in id
// order.
func testListWhileChurning(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	const stable = 200
	var want []string
	for i := range stable {
		id := fmt.Sprintf("acct-%03d-stable", i)
		want = append(want, id)
		mustCreate(t, s, identityAccount(id, store.AppZoom, fmt.Sprintf("u%d", i), "za", store.StatusActive))
	}

	done := make(chan struct{})
	var writers sync.WaitGroup
	defer func() {
		close(done)
		writers.Wait()
	}()
	for w := range 4 {
		writers.Go(func() {
			// The loop count is bounded, so a writer ends even if done is
			// never closed.
			for n := range 2000 {
				select {
				case <-done:
					return
				default:
				}
				// "acct-017-churn-2-35" sorts between the stable accounts
				// 017 and 018.
				id := fmt.Sprintf("acct-%03d-churn-%d-%d", n%stable, w, n)
				if err := s.CreateAccount(t.Context(), identityAccount(id, store.AppZoom, "churn", "za", store.StatusActive)); err != nil {
					t.Errorf("CreateAccount(%q) = %v; want nil error", id, err)
					return
				}
				if err := s.DeleteAccount(t.Context(), id); err != nil {
					t.Errorf("DeleteAccount(%q) = %v; want nil error", id, err)
					return
				}
			}
		})
	}

	for round := range 3 {
		got, _, err := listAll(t.Context(), s, store.AccountFilter{}, 7)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		all := ids(got)
		if !slices.IsSorted(all) {
			t.Errorf("round %d: list is not in id order: %q", round, all)
		}
		if len(slices.Compact(slices.Clone(all))) != len(all) {
			t.Errorf("round %d: list returned an id twice", round)
		}

		var stableSeen []string
		for _, id := range all {
			if slices.Contains(want, id) {
				stableSeen = append(stableSeen, id)
			}
		}
		if !slices.Equal(stableSeen, want) {
			t.Errorf("round %d: list returned %d of the %d accounts that existed throughout; want all of them once", round, len(stableSeen), stable)
		}
	}
}
