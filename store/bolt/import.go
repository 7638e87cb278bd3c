package bolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// ImportAccounts stores new accounts, with their index entries, in one
// write transaction: one fsync for the whole slice instead of one per
// account, which is what makes loading many thousands of accounts fast.
// It is all or nothing. An empty id, an id that is taken, or an id that
// appears twice in accounts stores none of them, and the error wraps
// [store.ErrAlreadyExists] for the last two.
//
// The transaction holds every changed page in memory until it commits, so
// callers should pass tens of thousands of accounts at a time rather than
// millions.
func (db *DB) ImportAccounts(ctx context.Context, accounts []store.Account) error {
	// Each bucket gets its keys in order. bbolt inserts into a node's
	// sorted slice, so keys in random order cost time quadratic in the
	// number that land in one node, which is all of them while a bucket
	// is still empty.
	var entries []entry
	seen := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		if a.ID == "" {
			return fmt.Errorf("import %d accounts: id is empty", len(accounts))
		}
		if seen[a.ID] {
			return fmt.Errorf("import %d accounts: account %q appears twice: %w", len(accounts), a.ID, store.ErrAlreadyExists)
		}
		seen[a.ID] = true
		es, err := accountEntries(a)
		if err != nil {
			return fmt.Errorf("import %d accounts: account %q: %w", len(accounts), a.ID, err)
		}
		entries = append(entries, es...)
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := bytes.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})

	err := db.update(ctx, func(tx *bbolt.Tx) error {
		existing := tx.Bucket(bucketAccounts)
		for _, e := range entries {
			if bytes.Equal(e.bucket, bucketAccounts) && existing.Get(e.key) != nil {
				return fmt.Errorf("account %q: %w", e.key, store.ErrAlreadyExists)
			}
			if err := tx.Bucket(e.bucket).Put(e.key, e.value); err != nil {
				return fmt.Errorf("put %q in %s: %w", e.key, e.bucket, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import %d accounts: %w", len(accounts), err)
	}
	return nil
}
