package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// bucketAudit holds the audit entries under their IDs as 8-byte big-endian
// keys, so a cursor walks them in append order.
var bucketAudit = []byte("audit")

// Limits of the audit methods.
const (
	// defaultAuditLimit is the page size when AuditListOptions.Limit is
	// zero or less.
	defaultAuditLimit = 100

	// maxAuditScan bounds the entries one ListAudit call decodes, so a
	// filter that matches rarely cannot hold a read transaction over the
	// whole log. The page then ends early, and next is where to go on.
	maxAuditScan = 20_000

	// pruneBatch is how many entries one write transaction of PruneAudit
	// deletes, so pruning a large backlog does not block writers for long.
	pruneBatch = 5_000
)

var _ store.AuditLog = (*DB)(nil)

// auditRecord is the stored form of [store.AuditEntry]. Its JSON names are
// the file format.
type auditRecord struct {
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome,omitempty"`
	ActorType  string    `json:"actor_type,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	AccountID  string    `json:"account_id,omitempty"`
	RemoteAddr string    `json:"remote_addr,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// AppendAudit adds the entries in one write transaction and gives each the
// bucket's next sequence number as its ID.
func (db *DB) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		for _, e := range entries {
			if e.Action == "" {
				return errors.New("entry has no action")
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			v, err := json.Marshal(auditRecord{
				At: utc(e.At), Action: e.Action, Outcome: e.Outcome, ActorType: e.ActorType, Actor: e.Actor,
				AccountID: e.AccountID, RemoteAddr: e.RemoteAddr, RequestID: e.RequestID, Detail: e.Detail,
			})
			if err != nil {
				return fmt.Errorf("encode audit entry: %w", err)
			}
			if err := b.Put(auditKey(int64(seq)), v); err != nil { // #nosec G115 -- bbolt sequences start at 1 and count writes, far below 2^63
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit entries: %w", len(entries), err)
	}
	return nil
}

// ListAudit returns one page of matching entries, newest first. It decodes
// at most maxAuditScan entries per call.
func (db *DB) ListAudit(ctx context.Context, opts store.AuditListOptions) ([]store.AuditEntry, int64, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}

	var (
		page []store.AuditEntry
		next int64
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		var k, v []byte
		if opts.Before > 0 {
			if k, _ = c.Seek(auditKey(opts.Before)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}

		for scanned := 0; k != nil; k, v = c.Prev() {
			if scanned == maxAuditScan {
				// Out of budget: go on from the last entry looked at.
				// Before is exclusive, so the next call starts at k.
				next = int64(binary.BigEndian.Uint64(k)) + 1 // #nosec G115 -- keys are IDs written by AppendAudit
				return nil
			}
			scanned++

			e, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			if !auditMatches(opts.Filter, e) {
				continue
			}
			// One more match after a full page: the page is not the last.
			if len(page) == limit {
				next = page[len(page)-1].ID
				return nil
			}
			page = append(page, e)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list audit entries before %d: %w", opts.Before, err)
	}
	return page, next, nil
}

// PruneAudit removes the entries older than cutoff from the oldest on, in
// batches of pruneBatch per write transaction.
func (db *DB) PruneAudit(ctx context.Context, cutoff time.Time) (int, error) {
	removed := 0
	for {
		n, more, err := db.pruneAuditBatch(ctx, cutoff)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("prune audit entries before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
		}
		if !more {
			return removed, nil
		}
	}
}

// pruneAuditBatch deletes up to pruneBatch old entries and reports whether
// more may be left.
func (db *DB) pruneAuditBatch(ctx context.Context, cutoff time.Time) (int, bool, error) {
	n, more := 0, false
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		var old [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var at struct {
				At time.Time `json:"at"`
			}
			if err := json.Unmarshal(v, &at); err != nil {
				return fmt.Errorf("decode audit entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !at.At.Before(cutoff) {
				break
			}
			if len(old) == pruneBatch {
				more = true
				break
			}
			old = append(old, k)
		}
		// Deleting behind a cursor can make it skip keys, so the keys are
		// collected first.
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return n, more, nil
}

func auditKey(id int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id)) // #nosec G115 -- IDs are positive
}

func decodeAudit(k, v []byte) (store.AuditEntry, error) {
	id := int64(binary.BigEndian.Uint64(k)) // #nosec G115 -- keys are IDs written by AppendAudit
	var r auditRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.AuditEntry{}, fmt.Errorf("decode audit entry %d: %w", id, err)
	}
	return store.AuditEntry{
		ID: id, At: utc(r.At), Action: r.Action, Outcome: r.Outcome, ActorType: r.ActorType, Actor: r.Actor,
		AccountID: r.AccountID, RemoteAddr: r.RemoteAddr, RequestID: r.RequestID, Detail: r.Detail,
	}, nil
}

func auditMatches(f store.AuditFilter, e store.AuditEntry) bool {
	switch {
	case f.Action != "" && e.Action != f.Action,
		f.Actor != "" && e.Actor != f.Actor,
		f.AccountID != "" && e.AccountID != f.AccountID,
		!f.Since.IsZero() && e.At.Before(f.Since),
		!f.Until.IsZero() && !e.At.Before(f.Until):
		return false
	}
	return true
}
