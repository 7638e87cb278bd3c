package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/zoombroker/zoombroker/store"
)

const connectColumns = `id, token_hash, app, external_user_id, success_redirect_url, error_redirect_url, opener_origin,
	created_by, created_at, expires_at, status, account_id, error, updated_at`

func connectValues(cs store.ConnectSession) []any {
	return []any{
		cs.ID, cs.TokenHash, string(cs.App), cs.ExternalUserID, cs.SuccessRedirectURL, cs.ErrorRedirectURL, cs.OpenerOrigin,
		cs.CreatedBy, nullTime(cs.CreatedAt), nullTime(cs.ExpiresAt), string(cs.Status), cs.AccountID, cs.Error, nullTime(cs.UpdatedAt),
	}
}

func scanConnect(row pgx.Row) (store.ConnectSession, error) {
	var (
		cs                        store.ConnectSession
		app, status               string
		created, expires, updated pgtype.Timestamptz
	)
	err := row.Scan(&cs.ID, &cs.TokenHash, &app, &cs.ExternalUserID, &cs.SuccessRedirectURL, &cs.ErrorRedirectURL, &cs.OpenerOrigin,
		&cs.CreatedBy, &created, &expires, &status, &cs.AccountID, &cs.Error, &updated)
	if err != nil {
		return store.ConnectSession{}, err
	}
	cs.App = store.App(app)
	cs.Status = store.ConnectSessionStatus(status)
	cs.CreatedAt = timeOf(created)
	cs.ExpiresAt = timeOf(expires)
	cs.UpdatedAt = timeOf(updated)
	return cs, nil
}

// CreateConnectSession implements [store.Store.CreateConnectSession].
func (db *DB) CreateConnectSession(ctx context.Context, cs store.ConnectSession) error {
	if cs.ID == "" {
		return errors.New("create connect session: id is empty")
	}

	qctx, cancel := db.deadline(ctx)
	defer cancel()
	_, err := db.pool.Exec(qctx, "INSERT INTO connect_sessions ("+connectColumns+") VALUES ("+placeholders(1, len(connectValues(store.ConnectSession{})))+")", connectValues(cs)...)
	if err != nil {
		return fmt.Errorf("create connect session %s: %w", cs.ID, classify(ctx, err))
	}
	return nil
}

// GetConnectSession implements [store.Store.GetConnectSession].
func (db *DB) GetConnectSession(ctx context.Context, id string) (store.ConnectSession, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	cs, err := scanConnect(db.pool.QueryRow(qctx, "SELECT "+connectColumns+" FROM connect_sessions WHERE id = $1", id))
	if err != nil {
		return store.ConnectSession{}, fmt.Errorf("get connect session %s: %w", id, classify(ctx, err))
	}
	return cs, nil
}

// UpdateConnectSession implements [store.Store.UpdateConnectSession] with
// a row lock, like [DB.UpdateAccount].
func (db *DB) UpdateConnectSession(ctx context.Context, id string, update func(store.ConnectSession) (store.ConnectSession, error)) (store.ConnectSession, error) {
	var next store.ConnectSession
	err := db.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		old, err := scanConnect(tx.QueryRow(ctx, "SELECT "+connectColumns+" FROM connect_sessions WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}

		next, err = update(old)
		if err != nil {
			return &updateFuncError{err}
		}
		if next.ID != id {
			return fmt.Errorf("update changed the id to %q; the id of a connect session cannot change", next.ID)
		}
		_, err = tx.Exec(ctx, `UPDATE connect_sessions SET token_hash = $2, app = $3, external_user_id = $4,
				success_redirect_url = $5, error_redirect_url = $6, opener_origin = $7, created_by = $8,
				created_at = $9, expires_at = $10, status = $11, account_id = $12, error = $13, updated_at = $14
			WHERE id = $1`, connectValues(next)...)
		return err
	})
	if err != nil {
		if ue, ok := errors.AsType[*updateFuncError](err); ok {
			return store.ConnectSession{}, ue.err
		}
		return store.ConnectSession{}, fmt.Errorf("update connect session %s: %w", id, classify(ctx, err))
	}

	if next.TokenHash != nil {
		next.TokenHash = append([]byte{}, next.TokenHash...)
	}
	next.CreatedAt = storedTime(next.CreatedAt)
	next.ExpiresAt = storedTime(next.ExpiresAt)
	next.UpdatedAt = storedTime(next.UpdatedAt)
	return next, nil
}

// DeleteConnectSessions implements [store.Store.DeleteConnectSessions]. A
// session without an expiry counts as expired.
func (db *DB) DeleteConnectSessions(ctx context.Context, cutoff time.Time) (int, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	tag, err := db.pool.Exec(qctx, "DELETE FROM connect_sessions WHERE expires_at IS NULL OR expires_at < $1", cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete connect sessions: %w", classify(ctx, err))
	}
	return int(tag.RowsAffected()), nil
}
