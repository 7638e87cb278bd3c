package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/zoombroker/zoombroker/store"
)

const apiKeyColumns = `id, name, hash, created_at, revoked_at, last_used_at, expires_at,
	limit_apps, limit_account_ids, limit_external_user_ids`

func apiKeyValues(k store.APIKey) []any {
	apps := []string{}
	for _, a := range k.Limits.Apps {
		apps = append(apps, string(a))
	}
	return []any{
		k.ID, k.Name, k.Hash, nullTime(k.CreatedAt), nullTime(k.RevokedAt), nullTime(k.LastUsedAt), nullTime(k.ExpiresAt),
		apps, nonNil(k.Limits.AccountIDs), nonNil(k.Limits.ExternalUserIDs),
	}
}

// nonNil returns s, or an empty slice for nil, for a NOT NULL array column.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nilIfEmpty returns nil for an empty slice, as the bbolt backend reads one.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var (
		k                               store.APIKey
		created, revoked, used, expires pgtype.Timestamptz
		apps, accounts, users           []string
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &created, &revoked, &used, &expires, &apps, &accounts, &users); err != nil {
		return store.APIKey{}, err
	}
	k.CreatedAt = timeOf(created)
	k.RevokedAt = timeOf(revoked)
	k.LastUsedAt = timeOf(used)
	k.ExpiresAt = timeOf(expires)
	for _, a := range apps {
		k.Limits.Apps = append(k.Limits.Apps, store.App(a))
	}
	k.Limits.AccountIDs = nilIfEmpty(accounts)
	k.Limits.ExternalUserIDs = nilIfEmpty(users)
	return k, nil
}

// CreateAPIKey stores a new key. It returns an error wrapping
// [store.ErrAlreadyExists] if the id or the hash is taken.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if k.ID == "" {
		return errors.New("create api key: id is empty")
	}
	if len(k.Hash) == 0 {
		return fmt.Errorf("create api key %q: hash is empty", k.ID)
	}

	qctx, cancel := db.deadline(ctx)
	defer cancel()
	_, err := db.pool.Exec(qctx, "INSERT INTO api_keys ("+apiKeyColumns+") VALUES ("+placeholders(1, len(apiKeyValues(k)))+")", apiKeyValues(k)...)
	if err != nil {
		return fmt.Errorf("create api key %q: %w", k.ID, classify(ctx, err))
	}
	return nil
}

// GetAPIKey returns the key with the id, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	k, err := scanAPIKey(db.pool.QueryRow(qctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE id = $1", id))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("get api key %q: %w", id, classify(ctx, err))
	}
	return k, nil
}

// ListAPIKeys returns every key, revoked ones included, ordered by creation
// time and then by id. A key without a creation time comes first.
func (db *DB) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	rows, err := db.pool.Query(qctx, "SELECT "+apiKeyColumns+" FROM api_keys ORDER BY created_at NULLS FIRST, id")
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", classify(ctx, err))
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.APIKey, error) { return scanAPIKey(row) })
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", classify(ctx, err))
	}
	return keys, nil
}

// UpdateAPIKey changes a key in one transaction, like [DB.UpdateAccount]:
// an error from update is returned unwrapped, a changed id is an error,
// and a missing key is [store.ErrNotFound]. A new hash that another key
// has is [store.ErrAlreadyExists].
func (db *DB) UpdateAPIKey(ctx context.Context, id string, update func(store.APIKey) (store.APIKey, error)) (store.APIKey, error) {
	var next store.APIKey
	err := db.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		old, err := scanAPIKey(tx.QueryRow(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}

		next, err = update(old)
		if err != nil {
			return &updateFuncError{err}
		}
		if next.ID != id {
			return fmt.Errorf("update changed the id to %q; the id of an api key cannot change", next.ID)
		}
		if len(next.Hash) == 0 {
			return errors.New("update set an empty hash")
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET name = $2, hash = $3, created_at = $4, revoked_at = $5, last_used_at = $6,
				expires_at = $7, limit_apps = $8, limit_account_ids = $9, limit_external_user_ids = $10
			WHERE id = $1`, apiKeyValues(next)...)
		return err
	})
	if err != nil {
		if ue, ok := errors.AsType[*updateFuncError](err); ok {
			return store.APIKey{}, ue.err
		}
		return store.APIKey{}, fmt.Errorf("update api key %q: %w", id, classify(ctx, err))
	}

	next.Hash = append([]byte{}, next.Hash...)
	next.CreatedAt = storedTime(next.CreatedAt)
	next.RevokedAt = storedTime(next.RevokedAt)
	next.LastUsedAt = storedTime(next.LastUsedAt)
	next.ExpiresAt = storedTime(next.ExpiresAt)
	next.Limits = store.Limits{
		Apps:            slices.Clone(next.Limits.Apps),
		AccountIDs:      nilIfEmpty(slices.Clone(next.Limits.AccountIDs)),
		ExternalUserIDs: nilIfEmpty(slices.Clone(next.Limits.ExternalUserIDs)),
	}
	if len(next.Limits.Apps) == 0 {
		next.Limits.Apps = nil
	}
	return next, nil
}

const operatorColumns = "name, password_hash, created_at, session_epoch"

func scanOperator(row pgx.Row) (store.Operator, error) {
	var (
		o       store.Operator
		created pgtype.Timestamptz
	)
	if err := row.Scan(&o.Name, &o.PasswordHash, &created, &o.SessionEpoch); err != nil {
		return store.Operator{}, err
	}
	o.CreatedAt = timeOf(created)
	return o, nil
}

// CreateOperator stores a console user. It returns an error wrapping
// [store.ErrAlreadyExists] if the name is taken.
func (db *DB) CreateOperator(ctx context.Context, o store.Operator) error {
	if o.Name == "" {
		return errors.New("create operator: name is empty")
	}

	qctx, cancel := db.deadline(ctx)
	defer cancel()
	_, err := db.pool.Exec(qctx, "INSERT INTO operators ("+operatorColumns+") VALUES ($1, $2, $3, $4)",
		o.Name, o.PasswordHash, nullTime(o.CreatedAt), o.SessionEpoch)
	if err != nil {
		return fmt.Errorf("create operator %q: %w", o.Name, classify(ctx, err))
	}
	return nil
}

// GetOperator returns the operator with the name, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetOperator(ctx context.Context, name string) (store.Operator, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	o, err := scanOperator(db.pool.QueryRow(qctx, "SELECT "+operatorColumns+" FROM operators WHERE name = $1", name))
	if err != nil {
		return store.Operator{}, fmt.Errorf("get operator %q: %w", name, classify(ctx, err))
	}
	return o, nil
}

// ListOperators returns every operator ordered by name, byte by byte.
func (db *DB) ListOperators(ctx context.Context) ([]store.Operator, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	rows, err := db.pool.Query(qctx, "SELECT "+operatorColumns+" FROM operators ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", classify(ctx, err))
	}
	ops, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Operator, error) { return scanOperator(row) })
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", classify(ctx, err))
	}
	return ops, nil
}

// UpdateOperator changes an operator in one transaction, like
// [DB.UpdateAccount]: an error from update is returned unwrapped, a changed
// name is an error, and a missing operator is [store.ErrNotFound].
func (db *DB) UpdateOperator(ctx context.Context, name string, update func(store.Operator) (store.Operator, error)) (store.Operator, error) {
	var next store.Operator
	err := db.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		old, err := scanOperator(tx.QueryRow(ctx, "SELECT "+operatorColumns+" FROM operators WHERE name = $1 FOR UPDATE", name))
		if err != nil {
			return err
		}

		next, err = update(old)
		if err != nil {
			return &updateFuncError{err}
		}
		if next.Name != name {
			return fmt.Errorf("update changed the name to %q; the name of an operator cannot change", next.Name)
		}
		_, err = tx.Exec(ctx, "UPDATE operators SET password_hash = $2, created_at = $3, session_epoch = $4 WHERE name = $1",
			next.Name, next.PasswordHash, nullTime(next.CreatedAt), next.SessionEpoch)
		return err
	})
	if err != nil {
		if ue, ok := errors.AsType[*updateFuncError](err); ok {
			return store.Operator{}, ue.err
		}
		return store.Operator{}, fmt.Errorf("update operator %q: %w", name, classify(ctx, err))
	}

	if next.PasswordHash != nil {
		next.PasswordHash = append([]byte{}, next.PasswordHash...)
	}
	next.CreatedAt = storedTime(next.CreatedAt)
	return next, nil
}
