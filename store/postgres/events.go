package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/zoombroker/zoombroker/store"
)

const webhookColumns = "id, url, secret, source, created_at"

func scanWebhook(row pgx.Row) (store.Webhook, error) {
	var (
		w       store.Webhook
		source  string
		created pgtype.Timestamptz
	)
	if err := row.Scan(&w.ID, &w.URL, &w.Secret, &source, &created); err != nil {
		return store.Webhook{}, err
	}
	w.Source = store.WebhookSource(source)
	w.CreatedAt = timeOf(created)
	return w, nil
}

// CreateWebhook stores a new endpoint. It returns an error wrapping
// [store.ErrAlreadyExists] if the id is taken.
func (db *DB) CreateWebhook(ctx context.Context, w store.Webhook) error {
	if w.ID == "" {
		return errors.New("create webhook: id is empty")
	}

	qctx, cancel := db.deadline(ctx)
	defer cancel()
	_, err := db.pool.Exec(qctx, "INSERT INTO webhooks ("+webhookColumns+") VALUES ($1, $2, $3, $4, $5)",
		w.ID, w.URL, w.Secret, string(w.Source), nullTime(w.CreatedAt))
	if err != nil {
		return fmt.Errorf("create webhook %q: %w", w.ID, classify(ctx, err))
	}
	return nil
}

// GetWebhook returns the endpoint with the id, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetWebhook(ctx context.Context, id string) (store.Webhook, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	w, err := scanWebhook(db.pool.QueryRow(qctx, "SELECT "+webhookColumns+" FROM webhooks WHERE id = $1", id))
	if err != nil {
		return store.Webhook{}, fmt.Errorf("get webhook %q: %w", id, classify(ctx, err))
	}
	return w, nil
}

// ListWebhooks returns every endpoint ordered by creation time, then id. An
// endpoint without a creation time comes first.
func (db *DB) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	rows, err := db.pool.Query(qctx, "SELECT "+webhookColumns+" FROM webhooks ORDER BY created_at NULLS FIRST, id")
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", classify(ctx, err))
	}
	hooks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Webhook, error) { return scanWebhook(row) })
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", classify(ctx, err))
	}
	return hooks, nil
}

// DeleteWebhook removes the endpoint; the foreign key removes its
// deliveries in the same statement. It returns an error wrapping
// [store.ErrNotFound] if the endpoint does not exist.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	tag, err := db.pool.Exec(qctx, "DELETE FROM webhooks WHERE id = $1", id)
	switch {
	case err != nil:
		return fmt.Errorf("delete webhook %q: %w", id, classify(ctx, err))
	case tag.RowsAffected() == 0:
		return fmt.Errorf("delete webhook %q: %w", id, store.ErrNotFound)
	}
	return nil
}

const deliveryColumns = `id, webhook_id, account_id, event_id, event_type, payload, created_at, status, attempts,
	next_attempt_at, last_attempt_at, last_status_code, last_error, finished_at`

func scanDelivery(row pgx.Row) (store.Delivery, error) {
	var (
		d                             store.Delivery
		status                        string
		created, next, last, finished pgtype.Timestamptz
	)
	err := row.Scan(&d.ID, &d.WebhookID, &d.AccountID, &d.EventID, &d.EventType, &d.Payload, &created, &status, &d.Attempts,
		&next, &last, &d.LastStatusCode, &d.LastError, &finished)
	if err != nil {
		return store.Delivery{}, err
	}
	d.Status = store.DeliveryStatus(status)
	d.CreatedAt = timeOf(created)
	d.NextAttemptAt = timeOf(next)
	d.LastAttemptAt = timeOf(last)
	d.FinishedAt = timeOf(finished)
	return d, nil
}

// AppendDeliveries adds the deliveries in one transaction and returns them
// with the IDs of the deliveries_id sequence, in the order given. It
// returns an error wrapping [store.ErrNotFound], and appends nothing, if a
// delivery names a missing endpoint.
func (db *DB) AppendDeliveries(ctx context.Context, ds []store.Delivery) ([]store.Delivery, error) {
	for _, d := range ds {
		if err := checkNewDelivery(d); err != nil {
			return nil, fmt.Errorf("append deliveries: event %q: %w", d.EventID, err)
		}
	}

	out := make([]store.Delivery, 0, len(ds))
	err := db.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		out = out[:0]
		for _, d := range ds {
			err := tx.QueryRow(ctx, `INSERT INTO deliveries (webhook_id, account_id, event_id, event_type, payload, created_at,
					status, attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, finished_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
				d.WebhookID, d.AccountID, d.EventID, d.EventType, d.Payload, nullTime(d.CreatedAt),
				string(d.Status), d.Attempts, nullTime(d.NextAttemptAt), nullTime(d.LastAttemptAt), d.LastStatusCode, d.LastError,
				nullTime(d.FinishedAt)).Scan(&d.ID)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
				return fmt.Errorf("webhook %q: %w", d.WebhookID, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			out = append(out, normalizeDelivery(d))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("append deliveries: %w", classify(ctx, err))
	}
	return out, nil
}

// checkNewDelivery rejects a delivery that AppendDeliveries cannot queue.
func checkNewDelivery(d store.Delivery) error {
	switch {
	case d.WebhookID == "":
		return errors.New("webhook id is empty")
	case d.AccountID == "":
		return errors.New("account id is empty")
	case d.EventID == "":
		return errors.New("event id is empty")
	case !validDeliveryStatus(d.Status):
		return fmt.Errorf("status %q is invalid", d.Status)
	}
	return nil
}

func validDeliveryStatus(s store.DeliveryStatus) bool {
	return s == store.DeliveryPending || s == store.DeliveryDelivered || s == store.DeliveryFailed
}

// normalizeDelivery returns d as a read would return it.
func normalizeDelivery(d store.Delivery) store.Delivery {
	d.Payload = bytes.Clone(d.Payload)
	d.CreatedAt = storedTime(d.CreatedAt)
	d.NextAttemptAt = storedTime(d.NextAttemptAt)
	d.LastAttemptAt = storedTime(d.LastAttemptAt)
	d.FinishedAt = storedTime(d.FinishedAt)
	return d
}

// DueDeliveries returns up to limit due deliveries that are first in their
// queue. The inner query reads the partial index deliveries_queue and keeps
// the lowest id of each queue; a delivery without a NextAttemptAt is due.
func (db *DB) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("due deliveries: limit %d; want a positive number", limit)
	}

	query := `SELECT ` + deliveryColumns + ` FROM (
			SELECT DISTINCT ON (webhook_id, account_id) ` + deliveryColumns + `
			FROM deliveries WHERE status = 'pending' ORDER BY webhook_id, account_id, id
		) heads
		WHERE next_attempt_at IS NULL OR next_attempt_at <= $1
		ORDER BY next_attempt_at NULLS FIRST, id LIMIT $2`
	due, err := db.queryDeliveries(ctx, query, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("due deliveries at %s: %w", now.UTC().Format(time.RFC3339Nano), err)
	}
	return due, nil
}

// UpdateDelivery locks the delivery's row, calls update with it and writes
// the fields update may change, in one transaction. update runs again after
// a serialization failure or a deadlock, and its error is returned
// unwrapped.
func (db *DB) UpdateDelivery(ctx context.Context, id int64, update func(store.Delivery) (store.Delivery, error)) (store.Delivery, error) {
	var next store.Delivery
	err := db.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		old, err := scanDelivery(tx.QueryRow(ctx, "SELECT "+deliveryColumns+" FROM deliveries WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}

		next, err = update(old)
		if err != nil {
			return &updateFuncError{err}
		}
		if err := checkFixedFields(old, next); err != nil {
			return err
		}
		if !validDeliveryStatus(next.Status) {
			return fmt.Errorf("status %q is invalid", next.Status)
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_attempt_at = $5,
				last_status_code = $6, last_error = $7, finished_at = $8 WHERE id = $1`,
			id, string(next.Status), next.Attempts, nullTime(next.NextAttemptAt), nullTime(next.LastAttemptAt),
			next.LastStatusCode, next.LastError, nullTime(next.FinishedAt))
		return err
	})
	if err != nil {
		if ue, ok := errors.AsType[*updateFuncError](err); ok {
			return store.Delivery{}, ue.err
		}
		return store.Delivery{}, fmt.Errorf("update delivery %d: %w", id, classify(ctx, err))
	}
	return normalizeDelivery(next), nil
}

// checkFixedFields returns an error if next changes a field that
// UpdateDelivery must keep.
func checkFixedFields(old, next store.Delivery) error {
	switch {
	case next.ID != old.ID:
		return fmt.Errorf("update changed the id to %d; it cannot change", next.ID)
	case next.WebhookID != old.WebhookID, next.AccountID != old.AccountID:
		return errors.New("update changed the webhook or account id; they cannot change")
	case next.EventID != old.EventID, next.EventType != old.EventType:
		return errors.New("update changed the event id or type; they cannot change")
	case !bytes.Equal(next.Payload, old.Payload):
		return errors.New("update changed the payload; it cannot change")
	case !next.CreatedAt.Equal(old.CreatedAt):
		return errors.New("update changed the creation time; it cannot change")
	}
	return nil
}

// ListDeliveries returns one page of deliveries, newest first, reading one
// row more than the page to learn whether another page follows.
func (db *DB) ListDeliveries(ctx context.Context, opts store.DeliveryListOptions) ([]store.Delivery, int64, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}

	var (
		where = []string{"true"}
		args  []any
	)
	if opts.WebhookID != "" {
		args = append(args, opts.WebhookID)
		where = append(where, "webhook_id = $"+strconv.Itoa(len(args)))
	}
	if opts.Before > 0 {
		args = append(args, opts.Before)
		where = append(where, "id < $"+strconv.Itoa(len(args)))
	}
	args = append(args, limit+1)
	query := "SELECT " + deliveryColumns + " FROM deliveries WHERE " + strings.Join(where, " AND ") +
		" ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))

	page, err := db.queryDeliveries(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list deliveries before %d: %w", opts.Before, err)
	}
	if len(page) > limit {
		return page[:limit], page[limit-1].ID, nil
	}
	return page, 0, nil
}

// DeleteDeliveries removes delivered and failed deliveries whose
// FinishedAt is before cutoff, or unset, and returns how many it removed.
func (db *DB) DeleteDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	tag, err := db.pool.Exec(qctx, "DELETE FROM deliveries WHERE status <> 'pending' AND (finished_at IS NULL OR finished_at < $1)", cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete deliveries finished before %s: %w", cutoff.UTC().Format(time.RFC3339), classify(ctx, err))
	}
	return int(tag.RowsAffected()), nil
}

// queryDeliveries runs a query that selects deliveryColumns and returns
// the rows.
func (db *DB) queryDeliveries(ctx context.Context, query string, args ...any) ([]store.Delivery, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	rows, err := db.pool.Query(qctx, query, args...)
	if err != nil {
		return nil, classify(ctx, err)
	}
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Delivery, error) { return scanDelivery(row) })
	if err != nil {
		return nil, classify(ctx, err)
	}
	return ds, nil
}
