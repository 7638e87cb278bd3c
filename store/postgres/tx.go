package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// txAttempts bounds how often inTx runs a transaction that failed with a
// serialization failure or a deadlock.
const txAttempts = 5

// updateFuncError carries the error of a caller's update function out of
// inTx, so that it is returned exactly as the function returned it.
type updateFuncError struct{ err error }

func (e *updateFuncError) Error() string { return e.err.Error() }
func (e *updateFuncError) Unwrap() error { return e.err }

// inTx runs fn in a read-committed transaction and commits it, or rolls it
// back when fn returns an error. It runs fn again, in a new transaction,
// after a serialization failure or a deadlock. Each attempt has its own
// query timeout.
func (db *DB) inTx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	var err error
	for range txAttempts {
		err = db.inTxOnce(ctx, fn)
		if !retryable(err) {
			return err
		}
	}
	return err
}

func (db *DB) inTxOnce(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	qctx, cancel := db.deadline(ctx)
	defer cancel()
	return pgx.BeginFunc(qctx, db.pool, func(tx pgx.Tx) error { return fn(qctx, tx) })
}

// retryable reports whether err is a serialization failure (40001) or a
// deadlock (40P01), after which the same transaction may succeed.
func retryable(err error) bool {
	if _, ok := errors.AsType[*updateFuncError](err); ok {
		return false
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "40001" || pgErr.Code == "40P01"
}
