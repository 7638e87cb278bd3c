package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoombroker/zoombroker/store"
)

// defaultListLimit is the page size when ListOptions.Limit is zero or less.
const defaultListLimit = 100

// insertAccount is the INSERT of every column of accountValues.
var insertAccount = "INSERT INTO accounts (" + accountColumns + ", zoom_email_folded) VALUES (" +
	placeholders(1, len(strings.Split(accountColumns, ","))+1) + ")"

// updateAccount writes every column of accountValues except the id, for
// the row whose id is $1.
var updateAccount = func() string {
	names := strings.Split(accountColumns+", zoom_email_folded", ",")
	var set []string
	for i, name := range names[1:] {
		set = append(set, strings.TrimSpace(name)+" = $"+strconv.Itoa(i+2))
	}
	return "UPDATE accounts SET " + strings.Join(set, ", ") + " WHERE id = $1"
}()

// placeholders returns "$from, ..., $to".
func placeholders(from, to int) string {
	var ps []string
	for i := from; i <= to; i++ {
		ps = append(ps, "$"+strconv.Itoa(i))
	}
	return strings.Join(ps, ", ")
}

// CreateAccount stores a new account. It returns an error wrapping
// [store.ErrAlreadyExists] if the id is taken.
func (db *DB) CreateAccount(ctx context.Context, a store.Account) error {
	if a.ID == "" {
		return errors.New("create account: id is empty")
	}

	qctx, cancel := db.deadline(ctx)
	defer cancel()
	if _, err := db.pool.Exec(qctx, insertAccount, accountValues(a)...); err != nil {
		return fmt.Errorf("create account %q: %w", a.ID, classify(ctx, err))
	}
	return nil
}

// GetAccount returns the account with the id, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetAccount(ctx context.Context, id string) (store.Account, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	a, err := scanAccount(db.pool.QueryRow(qctx, "SELECT "+accountColumns+" FROM accounts WHERE id = $1", id))
	if err != nil {
		return store.Account{}, fmt.Errorf("get account %q: %w", id, classify(ctx, err))
	}
	return a, nil
}

// FindAccount returns the non-revoked account of app with the Zoom user id
// (AppZoom) or Zoom account id (AppZoomAdmin) of zoom, through a partial
// index. It returns an error wrapping [store.ErrNotFound] when no account
// matches, also for an empty identity or an unknown app. If several
// accounts match, it returns the one with the lowest id.
func (db *DB) FindAccount(ctx context.Context, app store.App, zoom store.ZoomIdentity) (store.Account, error) {
	var column, value string
	switch app {
	case store.AppZoom:
		column, value = "zoom_user_id", zoom.UserID
	case store.AppZoomAdmin:
		column, value = "zoom_account_id", zoom.AccountID
	}
	if value == "" {
		return store.Account{}, fmt.Errorf("find %s account of zoom identity %q: %w", app, value, store.ErrNotFound)
	}

	qctx, cancel := db.deadline(ctx)
	defer cancel()
	query := "SELECT " + accountColumns + " FROM accounts WHERE app = $1 AND " + column + " = $2 AND status <> 'revoked' ORDER BY id LIMIT 1"
	a, err := scanAccount(db.pool.QueryRow(qctx, query, string(app), value))
	if err != nil {
		return store.Account{}, fmt.Errorf("find %s account of zoom identity %q: %w", app, value, classify(ctx, err))
	}
	return a, nil
}

// ListAccounts returns one page of accounts ordered by id, and the id to
// pass as ListOptions.After for the next page ("" on the last page). It
// reads one row more than the page to learn whether another page follows.
func (db *DB) ListAccounts(ctx context.Context, opts store.ListOptions) ([]store.Account, string, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}

	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	add("id > ?", opts.After)
	if f := opts.Filter; f.App != "" {
		add("app = ?", string(f.App))
	}
	if f := opts.Filter; f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f := opts.Filter; f.Email != "" {
		add("zoom_email_folded = ?", foldEmail(f.Email))
	}
	if f := opts.Filter; f.ZoomUserID != "" {
		add("zoom_user_id = ?", f.ZoomUserID)
	}
	if f := opts.Filter; f.ZoomAccountID != "" {
		add("zoom_account_id = ?", f.ZoomAccountID)
	}
	if f := opts.Filter; f.ExternalUserID != "" {
		add("owners @> ARRAY[?::text]", f.ExternalUserID)
	}
	args = append(args, limit+1)
	query := "SELECT " + accountColumns + " FROM accounts WHERE " + strings.Join(where, " AND ") +
		" ORDER BY id LIMIT $" + strconv.Itoa(len(args))

	page, err := db.queryAccounts(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list accounts after %q: %w", opts.After, err)
	}
	if len(page) > limit {
		return page[:limit], page[limit-1].ID, nil
	}
	return page, "", nil
}

// UpdateAccount locks the account's row, calls update with it and writes
// the result in one transaction. update runs again after a serialization
// failure or a deadlock. An error from update rolls back and is returned
// unwrapped. A changed id is an error, and nothing is written. It returns
// an error wrapping [store.ErrNotFound] if the account does not exist.
func (db *DB) UpdateAccount(ctx context.Context, id string, update func(store.Account) (store.Account, error)) (store.Account, error) {
	var next store.Account
	err := db.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		old, err := scanAccount(tx.QueryRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}

		next, err = update(old)
		if err != nil {
			return &updateFuncError{err}
		}
		if next.ID != id {
			return fmt.Errorf("update changed the id to %q; the id of an account cannot change", next.ID)
		}
		_, err = tx.Exec(ctx, updateAccount, accountValues(next)...)
		return err
	})
	if err != nil {
		if ue, ok := errors.AsType[*updateFuncError](err); ok {
			return store.Account{}, ue.err
		}
		return store.Account{}, fmt.Errorf("update account %q: %w", id, classify(ctx, err))
	}
	return normalizeAccount(next), nil
}

// normalizeAccount returns a as a read would return it: times in UTC to
// the microsecond, and slices of its own.
func normalizeAccount(a store.Account) store.Account {
	a.Scopes = append([]string(nil), a.Scopes...)
	a.Owners = append([]string(nil), a.Owners...)
	if a.Token != nil {
		a.Token = append([]byte{}, a.Token...)
	}
	for _, t := range []*time.Time{&a.CreatedAt, &a.UpdatedAt, &a.TokenExpiresAt, &a.RefreshTokenIssuedAt,
		&a.LastRefreshedAt, &a.NextRefreshAt, &a.RefreshStartedAt, &a.LastErrorAt, &a.RevokedAt} {
		*t = storedTime(*t)
	}
	return a
}

// storedTime returns t as it reads back from a timestamptz column.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// DeleteAccount removes the account. It returns an error wrapping
// [store.ErrNotFound] if the account does not exist.
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	tag, err := db.pool.Exec(qctx, "DELETE FROM accounts WHERE id = $1", id)
	switch {
	case err != nil:
		return fmt.Errorf("delete account %q: %w", id, classify(ctx, err))
	case tag.RowsAffected() == 0:
		return fmt.Errorf("delete account %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// DueAccounts returns up to limit active accounts whose NextRefreshAt is
// set and not after now, earliest first, by reading the partial index
// accounts_due in order. limit must be positive.
//
// It claims nothing: replicas that call it at the same time get the same
// accounts. The token service claims each account with a short lease row
// before handling it, and the refresh lease makes sure each account is
// refreshed once.
func (db *DB) DueAccounts(ctx context.Context, now time.Time, limit int) ([]store.Account, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("due accounts: limit %d; want a positive number", limit)
	}

	due, err := db.queryAccounts(ctx, dueAccountsQuery, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("due accounts at %s: %w", now.UTC().Format(time.RFC3339Nano), err)
	}
	return due, nil
}

// dueAccountsQuery matches the partial index accounts_due, so PostgreSQL
// reads the due accounts in order and stops after the limit.
var dueAccountsQuery = "SELECT " + accountColumns + ` FROM accounts
	WHERE status = 'active' AND next_refresh_at IS NOT NULL AND next_refresh_at <= $1
	ORDER BY next_refresh_at, id LIMIT $2`

// queryAccounts runs a query that selects accountColumns and returns the
// rows.
func (db *DB) queryAccounts(ctx context.Context, query string, args ...any) ([]store.Account, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	rows, err := db.pool.Query(qctx, query, args...)
	if err != nil {
		return nil, classify(ctx, err)
	}
	accounts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Account, error) { return scanAccount(row) })
	if err != nil {
		return nil, classify(ctx, err)
	}
	return accounts, nil
}
