package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// defaultListLimit is the page size when ListOptions.Limit is zero or less.
const defaultListLimit = 100

// CreateAccount stores a new account. It returns an error wrapping
// [store.ErrAlreadyExists] if the id is taken.
func (db *DB) CreateAccount(ctx context.Context, a store.Account) error {
	if a.ID == "" {
		return errors.New("create account: id is empty")
	}

	err := db.update(ctx, func(tx *bbolt.Tx) error {
		accounts := tx.Bucket(bucketAccounts)
		if accounts.Get([]byte(a.ID)) != nil {
			return store.ErrAlreadyExists
		}
		return putAccount(tx, a)
	})
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.ID, err)
	}
	return nil
}

// GetAccount returns the account with the id, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetAccount(ctx context.Context, id string) (store.Account, error) {
	var a store.Account
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		a, err = db.readAccount(tx, id)
		return err
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("get account %q: %w", id, err)
	}
	return a, nil
}

// FindAccount returns the non-revoked account of app with the Zoom user id
// (AppZoom) or Zoom account id (AppZoomAdmin) of zoom. It seeks the
// identity index and returns an error wrapping [store.ErrNotFound] when no
// account matches, also for an empty identity or an unknown app. If several
// accounts match, it returns the one with the lowest id.
func (db *DB) FindAccount(ctx context.Context, app store.App, zoom store.ZoomIdentity) (store.Account, error) {
	value := identityValue(app, zoom)
	var a store.Account
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if value == "" {
			return store.ErrNotFound
		}

		prefix := identityPrefix(app, value)
		k, _ := tx.Bucket(bucketIdentity).Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return store.ErrNotFound
		}

		var err error
		a, err = getAccount(tx, string(k[len(prefix):]))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("identity index names a missing account: %w", err)
		}
		return err
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("find %s account of zoom identity %q: %w", app, value, err)
	}
	return a, nil
}

// ListAccounts returns one page of accounts ordered by id, and the id to
// pass as ListOptions.After for the next page ("" on the last page).
//
// A filter on an external user id, Zoom user id, Zoom account id or email
// reads only the accounts with that value, through the filter index.
//
// NOTE: a filter on app or status alone makes it scan the accounts after
// opts.After until the page is full and one more match is found, skipping
// records without the value by a byte search and decoding only the
// filtered fields of the rest. With no filter it decodes only the accounts
// it returns.
func (db *DB) ListAccounts(ctx context.Context, opts store.ListOptions) ([]store.Account, string, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}

	var (
		page []store.Account
		next string
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if prefix := indexedPrefix(opts.Filter); prefix != nil {
			var err error
			page, next, err = listIndexed(tx, prefix, opts, limit)
			return err
		}

		pre := newPrefilter(opts.Filter)
		c := tx.Bucket(bucketAccounts).Cursor()
		k, v := c.First()
		if opts.After != "" {
			k, v = c.Seek([]byte(opts.After))
			if k != nil && string(k) == opts.After {
				k, v = c.Next()
			}
		}

		for ; k != nil; k, v = c.Next() {
			if !pre.mayMatch(v) {
				continue
			}
			ok, err := matches(opts.Filter, v)
			if err != nil {
				return fmt.Errorf("account %q: %w", k, err)
			}
			if !ok {
				continue
			}

			// One more match after a full page: the page is not the last.
			if len(page) == limit {
				next = page[len(page)-1].ID
				return nil
			}

			a, err := decodeAccount(v)
			if err != nil {
				return fmt.Errorf("account %q: %w", k, err)
			}
			page = append(page, a)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list accounts after %q: %w", opts.After, err)
	}
	return page, next, nil
}

// UpdateAccount reads the account, calls update with it and stores the
// result in one write transaction, with its indexes. update runs exactly
// once in this backend. An error from update aborts the transaction and is
// returned unwrapped. A changed id is an error, and nothing is written. It
// returns an error wrapping [store.ErrNotFound] if the account does not
// exist.
func (db *DB) UpdateAccount(ctx context.Context, id string, update func(store.Account) (store.Account, error)) (store.Account, error) {
	var (
		next      store.Account
		updateErr error
	)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getAccount(tx, id)
		if err != nil {
			return err
		}

		next, updateErr = update(old)
		if updateErr != nil {
			return updateErr
		}
		if next.ID != id {
			return fmt.Errorf("update changed the id to %q; the id of an account cannot change", next.ID)
		}

		if err := deleteIndexes(tx, old); err != nil {
			return err
		}
		return putAccount(tx, next)
	})
	if updateErr != nil {
		return store.Account{}, updateErr
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("update account %q: %w", id, err)
	}
	return fromRecord(toRecord(next)), nil
}

// DeleteAccount removes the account and its index entries. It returns an
// error wrapping [store.ErrNotFound] if the account does not exist.
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getAccount(tx, id)
		if err != nil {
			return err
		}
		if err := deleteIndexes(tx, old); err != nil {
			return err
		}
		return tx.Bucket(bucketAccounts).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete account %q: %w", id, err)
	}
	return nil
}

// DueAccounts returns up to limit active accounts whose NextRefreshAt is
// set and not after now, earliest first. It reads the refresh index from
// its start and stops at the first account that is not due, so its cost
// does not grow with the accounts that are not due. limit must be positive.
func (db *DB) DueAccounts(ctx context.Context, now time.Time, limit int) ([]store.Account, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("due accounts: limit %d; want a positive number", limit)
	}

	end := dueTime(now)
	var due []store.Account
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && len(due) < limit; k, _ = c.Next() {
			if len(k) <= dueTimeLen {
				return fmt.Errorf("refresh index key %x is too short", k)
			}
			if bytes.Compare(k[:dueTimeLen], end[:]) > 0 {
				return nil
			}

			a, err := getAccount(tx, string(k[dueTimeLen:]))
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("refresh index names a missing account: %w", err)
			}
			if err != nil {
				return err
			}
			due = append(due, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due accounts at %s: %w", now.UTC().Format(time.RFC3339Nano), err)
	}
	return due, nil
}

// getAccount reads and decodes one account inside tx.
func getAccount(tx *bbolt.Tx, id string) (store.Account, error) {
	v := tx.Bucket(bucketAccounts).Get([]byte(id))
	if v == nil {
		return store.Account{}, store.ErrNotFound
	}
	return decodeAccount(v)
}

// decodeAccount decodes a stored account. json.Unmarshal copies out of v,
// so the result outlives the transaction.
func decodeAccount(v []byte) (store.Account, error) {
	var r accountRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Account{}, fmt.Errorf("decode account record: %w", err)
	}
	return fromRecord(r), nil
}

// putAccount writes the account record and adds its index entries. The
// caller removes the entries of the previous version first.
func putAccount(tx *bbolt.Tx, a store.Account) error {
	entries, err := accountEntries(a)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := tx.Bucket(e.bucket).Put(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// entry is one key and value to put in a bucket.
type entry struct {
	bucket, key, value []byte
}

// accountEntries returns the record of a and its index entries: every
// key that putAccount writes.
func accountEntries(a store.Account) ([]entry, error) {
	v, err := json.Marshal(toRecord(a))
	if err != nil {
		return nil, fmt.Errorf("encode account record: %w", err)
	}
	entries := []entry{{bucketAccounts, []byte(a.ID), v}}
	if k := identityKey(a); k != nil {
		entries = append(entries, entry{bucketIdentity, k, nil})
	}
	if k := dueKey(a); k != nil {
		entries = append(entries, entry{bucketDue, k, nil})
	}
	for _, k := range filterKeys(a) {
		entries = append(entries, entry{bucketFilter, k, nil})
	}
	return entries, nil
}

// deleteIndexes removes the index entries of a stored account.
func deleteIndexes(tx *bbolt.Tx, a store.Account) error {
	if k := identityKey(a); k != nil {
		if err := tx.Bucket(bucketIdentity).Delete(k); err != nil {
			return err
		}
	}
	if k := dueKey(a); k != nil {
		if err := tx.Bucket(bucketDue).Delete(k); err != nil {
			return err
		}
	}
	return deleteFilterIndex(tx, a)
}

// matches reports whether the stored account v passes the filter. It
// decodes only the filtered fields, and nothing when the filter is empty.
func matches(f store.AccountFilter, v []byte) (bool, error) {
	if f == (store.AccountFilter{}) {
		return true, nil
	}

	var r accountFilterFields
	if err := json.Unmarshal(v, &r); err != nil {
		return false, fmt.Errorf("decode account record: %w", err)
	}
	switch {
	case f.App != "" && string(f.App) != r.App:
		return false, nil
	case f.Status != "" && string(f.Status) != r.Status:
		return false, nil
	case f.Email != "" && !strings.EqualFold(f.Email, r.ZoomEmail):
		return false, nil
	case f.ZoomUserID != "" && f.ZoomUserID != r.ZoomUserID:
		return false, nil
	case f.ZoomAccountID != "" && f.ZoomAccountID != r.ZoomAccountID:
		return false, nil
	case f.ExternalUserID != "" && !slices.Contains(r.Owners, f.ExternalUserID):
		return false, nil
	}
	return true, nil
}
