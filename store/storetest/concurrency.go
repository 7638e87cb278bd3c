package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/zoombroker/zoombroker/store"
)

// refresh is the compare-and-swap a refresher runs: it stores token only if
// the account still has the TokenVersion the refresher read.
func refresh(t *testing.T, s store.Store, id string, readVersion int64, token []byte) error {
	_, err := s.UpdateAccount(t.Context(), id, func(a store.Account) (store.Account, error) {
		if a.TokenVersion != readVersion {
			return a, store.ErrConflict
		}
		a.Token = token
		a.TokenVersion++
		return a, nil
	})
	return err
}

func testCAS(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	mustCreate(t, s, fullAccount("acct-1"))

	for round := range 20 {
		// Both refreshers read before either writes, as when two replicas
		// see the same expired token.
		read := mustGet(t, s, "acct-1").TokenVersion
		tokens := [2][]byte{[]byte(fmt.Sprintf("token-%d-a", round)), []byte(fmt.Sprintf("token-%d-b", round))}

		var errs [2]error
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() { errs[i] = refresh(t, s, "acct-1", read, tokens[i]) })
		}
		wg.Wait()

		winners := 0
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				winner = i
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d: refresher %d = %v; want nil or ErrConflict", round, i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d refreshers won; want exactly 1", round, winners)
		}

		got := mustGet(t, s, "acct-1")
		if got.TokenVersion != read+1 {
			t.Errorf("round %d: TokenVersion = %d; want %d", round, got.TokenVersion, read+1)
		}
		if string(got.Token) != string(tokens[winner]) {
			t.Errorf("round %d: Token = %q; want the winner's %q", round, got.Token, tokens[winner])
		}
	}
}

func testConcurrentUpdate(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	a := fullAccount("acct-1")
	a.TransientFailures = 0
	mustCreate(t, s, a)

	const n = 50
	results := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := s.UpdateAccount(t.Context(), "acct-1", func(a store.Account) (store.Account, error) {
				a.TransientFailures++
				return a, nil
			})
			if err != nil {
				t.Errorf("UpdateAccount %d = %v; want nil error", i, err)
			}
			results[i] = a.TransientFailures
		})
	}
	wg.Wait()

	if got := mustGet(t, s, "acct-1").TransientFailures; got != n {
		t.Errorf("TransientFailures after %d concurrent increments = %d; want %d", n, got, n)
	}

	// Serialized updates return every count from 1 to n exactly once.
	seen := make(map[int]bool, n)
	for i, r := range results {
		if r < 1 || r > n || seen[r] {
			t.Errorf("UpdateAccount %d returned TransientFailures %d; want a unique value in 1..%d", i, r, n)
		}
		seen[r] = true
	}
}

func testListWhileWriting(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	const n = 300
	for i := range n {
		mustCreate(t, s, identityAccount(fmt.Sprintf("acct-%03d", i), store.AppZoom, fmt.Sprintf("u%d", i), "za", store.StatusActive))
	}

	done := make(chan struct{})
	var writers sync.WaitGroup
	// Stop the writers before the store's cleanup runs, also when a check
	// below ends the test early.
	defer func() {
		close(done)
		writers.Wait()
	}()

	for w := range 4 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			// The loop count is bounded, so a writer ends even if done is
			// never closed.
			for range 5000 {
				select {
				case <-done:
					return
				default:
				}
				id := fmt.Sprintf("acct-%03d", rng.IntN(n))
				name := fmt.Sprintf("name %d", rng.IntN(1000))
				_, err := s.UpdateAccount(t.Context(), id, func(a store.Account) (store.Account, error) {
					a.TransientFailures++
					a.LastError = fmt.Sprintf("writer %d", w)
					a.Zoom.DisplayName = name
					return a, nil
				})
				if err != nil {
					t.Errorf("UpdateAccount(%q) = %v; want nil error", id, err)
					return
				}
			}
		})
	}

	for round := range 3 {
		got, _, err := listAll(t.Context(), s, store.AccountFilter{}, 25)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}

		count := make(map[string]int, n)
		for _, a := range got {
			count[a.ID]++
		}
		for i := range n {
			id := fmt.Sprintf("acct-%03d", i)
			if count[id] != 1 {
				t.Errorf("round %d: list saw %q %d times; want 1", round, id, count[id])
			}
		}
		if len(got) != n {
			t.Errorf("round %d: list returned %d accounts; want %d", round, len(got), n)
		}
	}
}
