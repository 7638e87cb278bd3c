package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/zoombroker/zoombroker/store"
)

var _ store.AuditLog = (*DB)(nil)

// defaultAuditLimit is the page size when AuditListOptions.Limit is zero
// or less.
const defaultAuditLimit = 100

const auditColumns = "id, at, action, outcome, actor_type, actor, account_id, remote_addr, request_id, detail"

func scanAudit(row pgx.Row) (store.AuditEntry, error) {
	var (
		e      store.AuditEntry
		at     pgtype.Timestamptz
		detail []byte
	)
	err := row.Scan(&e.ID, &at, &e.Action, &e.Outcome, &e.ActorType, &e.Actor, &e.AccountID, &e.RemoteAddr, &e.RequestID, &detail)
	if err != nil {
		return store.AuditEntry{}, err
	}
	e.At = timeOf(at)
	e.Detail = string(detail)
	return e, nil
}

// AppendAudit adds the entries in one transaction. The table's identity
// column gives each an ID higher than every ID handed out before.
func (db *DB) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if e.Action == "" {
			return fmt.Errorf("append %d audit entries: entry has no action", len(entries))
		}
	}

	err := db.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		for _, e := range entries {
			_, err := tx.Exec(ctx, `INSERT INTO audit (at, action, outcome, actor_type, actor, account_id, remote_addr, request_id, detail)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				nullTime(e.At), cleanText(e.Action), cleanText(e.Outcome), cleanText(e.ActorType), cleanText(e.Actor),
				cleanText(e.AccountID), cleanText(e.RemoteAddr), cleanText(e.RequestID), []byte(e.Detail))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit entries: %w", len(entries), classify(ctx, err))
	}
	return nil
}

// cleanText makes s storable in a text column, which rejects NUL bytes and
// invalid UTF-8: each becomes U+FFFD. Audit fields can come from request
// headers, and a lost entry is worse than a replaced byte.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// ListAudit returns one page of matching entries, newest first, reading one
// row more than the page to learn whether another page follows.
func (db *DB) ListAudit(ctx context.Context, opts store.AuditListOptions) ([]store.AuditEntry, int64, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}

	var (
		where = []string{"true"}
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	f := opts.Filter
	if f.Action != "" {
		add("action = ?", cleanText(f.Action))
	}
	if f.Actor != "" {
		add("actor = ?", cleanText(f.Actor))
	}
	if f.AccountID != "" {
		add("account_id = ?", cleanText(f.AccountID))
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UTC())
	}
	if opts.Before > 0 {
		add("id < ?", opts.Before)
	}
	args = append(args, limit+1)
	query := "SELECT " + auditColumns + " FROM audit WHERE " + strings.Join(where, " AND ") +
		" ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))

	qctx, cancel := db.deadline(ctx)
	defer cancel()
	rows, err := db.pool.Query(qctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit entries before %d: %w", opts.Before, classify(ctx, err))
	}
	page, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditEntry, error) { return scanAudit(row) })
	if err != nil {
		return nil, 0, fmt.Errorf("list audit entries before %d: %w", opts.Before, classify(ctx, err))
	}
	if len(page) > limit {
		return page[:limit], page[limit-1].ID, nil
	}
	return page, 0, nil
}

// pruneBatch is how many entries one DELETE of PruneAudit removes, so each
// statement stays within the query timeout on a large backlog.
const pruneBatch = 5000

// PruneAudit removes, in ID order, the entries before the first one whose
// At is at or after cutoff, as the contract of [store.AuditLog] describes.
// An entry without a time counts as older than any cutoff. It deletes in
// batches of pruneBatch.
func (db *DB) PruneAudit(ctx context.Context, cutoff time.Time) (int, error) {
	removed := 0
	for {
		n, err := db.pruneAuditBatch(ctx, cutoff)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("prune audit entries before %s: %w", cutoff.UTC().Format(time.RFC3339), classify(ctx, err))
		}
		if n < pruneBatch {
			return removed, nil
		}
	}
}

func (db *DB) pruneAuditBatch(ctx context.Context, cutoff time.Time) (int, error) {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	tag, err := db.pool.Exec(qctx, `DELETE FROM audit WHERE id IN (
			SELECT id FROM audit
			WHERE id < coalesce((SELECT min(id) FROM audit WHERE at >= $1), 9223372036854775807)
			ORDER BY id LIMIT $2)`, cutoff.UTC(), pruneBatch)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
