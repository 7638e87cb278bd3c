package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// deliveryRecord is the stored form of [store.Delivery].
type deliveryRecord struct {
	ID        int64     `json:"id"`
	WebhookID string    `json:"webhook_id"`
	AccountID string    `json:"account_id"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Payload   []byte    `json:"payload,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`

	Status         string    `json:"status"`
	Attempts       int       `json:"attempts,omitzero"`
	NextAttemptAt  time.Time `json:"next_attempt_at,omitzero"`
	LastAttemptAt  time.Time `json:"last_attempt_at,omitzero"`
	LastStatusCode int       `json:"last_status_code,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
}

// AppendDeliveries adds the deliveries in one transaction and returns them
// with their IDs, taken from the bucket's sequence. It returns an error
// wrapping [store.ErrNotFound], and appends nothing, if a delivery names a
// missing endpoint.
func (db *DB) AppendDeliveries(ctx context.Context, ds []store.Delivery) ([]store.Delivery, error) {
	for _, d := range ds {
		if err := checkNewDelivery(d); err != nil {
			return nil, fmt.Errorf("append deliveries: event %q: %w", d.EventID, err)
		}
	}

	out := make([]store.Delivery, 0, len(ds))
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		deliveries := tx.Bucket(bucketDeliveries)
		for _, d := range ds {
			if tx.Bucket(bucketWebhooks).Get([]byte(d.WebhookID)) == nil {
				return fmt.Errorf("webhook %q: %w", d.WebhookID, store.ErrNotFound)
			}

			seq, err := deliveries.NextSequence()
			if err != nil {
				return err
			}
			d.ID = int64(seq)
			if err := putDelivery(tx, d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("append deliveries: %w", err)
	}

	for i := range out {
		out[i] = fromDeliveryRecord(toDeliveryRecord(out[i]))
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

// DueDeliveries returns up to limit due deliveries that are first in their
// queue. It reads one index entry per queue, seeking past the rest of each
// queue, so its cost grows with the number of queues, not of deliveries.
func (db *DB) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("due deliveries: limit %d; want a positive number", limit)
	}

	var due []store.Delivery
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketQueued).Cursor()
		for k, _ := c.First(); k != nil; {
			if len(k) < 8 {
				return fmt.Errorf("queue index key %x is too short", k)
			}
			prefix := k[:len(k)-8]

			d, err := getDelivery(tx, int64(binary.BigEndian.Uint64(k[len(k)-8:])))
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("queue index names a missing delivery: %w", err)
			}
			if err != nil {
				return err
			}
			if !d.NextAttemptAt.After(now) {
				due = append(due, d)
			}

			// Every key of this queue is prefix plus 8 bytes, so this seeks
			// to the first key of the next queue.
			k, _ = c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due deliveries at %s: %w", now.UTC().Format(time.RFC3339Nano), err)
	}

	slices.SortFunc(due, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	if len(due) > limit {
		due = due[:limit]
	}
	return due, nil
}

// UpdateDelivery reads the delivery, calls update with it and stores the
// result with its queue entry in one write transaction. update runs exactly
// once in this backend, and its error is returned unwrapped.
func (db *DB) UpdateDelivery(ctx context.Context, id int64, update func(store.Delivery) (store.Delivery, error)) (store.Delivery, error) {
	var (
		next      store.Delivery
		updateErr error
	)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getDelivery(tx, id)
		if err != nil {
			return err
		}

		next, updateErr = update(old)
		if updateErr != nil {
			return updateErr
		}
		if err := checkFixedFields(old, next); err != nil {
			return err
		}
		if !validDeliveryStatus(next.Status) {
			return fmt.Errorf("status %q is invalid", next.Status)
		}

		if err := tx.Bucket(bucketQueued).Delete(queueKey(old)); err != nil {
			return err
		}
		return putDelivery(tx, next)
	})
	if updateErr != nil {
		return store.Delivery{}, updateErr
	}
	if err != nil {
		return store.Delivery{}, fmt.Errorf("update delivery %d: %w", id, err)
	}
	return fromDeliveryRecord(toDeliveryRecord(next)), nil
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

// ListDeliveries returns one page of deliveries, newest first.
func (db *DB) ListDeliveries(ctx context.Context, opts store.DeliveryListOptions) ([]store.Delivery, int64, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}

	var (
		page []store.Delivery
		next int64
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketDeliveries).Cursor()
		k, v := c.Last()
		if opts.Before > 0 {
			// Seek finds Before or the next key, so the page starts one
			// before it; past the end, every key is before Before.
			if k, _ = c.Seek(deliveryKey(opts.Before)); k != nil {
				k, v = c.Prev()
			} else {
				k, v = c.Last()
			}
		}

		for ; k != nil; k, v = c.Prev() {
			d, err := decodeDelivery(v)
			if err != nil {
				return fmt.Errorf("delivery %x: %w", k, err)
			}
			if opts.WebhookID != "" && d.WebhookID != opts.WebhookID {
				continue
			}

			// One more match after a full page: the page is not the last.
			if len(page) == limit {
				next = page[len(page)-1].ID
				return nil
			}
			page = append(page, d)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list deliveries before %d: %w", opts.Before, err)
	}
	return page, next, nil
}

// DeleteDeliveries removes finished deliveries older than cutoff. It scans
// every delivery.
func (db *DB) DeleteDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDeliveries)
		var doomed [][]byte
		err := b.ForEach(func(k, v []byte) error {
			d, err := decodeDelivery(v)
			if err != nil {
				return fmt.Errorf("delivery %x: %w", k, err)
			}
			if d.Status != store.DeliveryPending && d.FinishedAt.Before(cutoff) {
				doomed = append(doomed, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}

		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete deliveries finished before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// getDelivery reads and decodes one delivery inside tx.
func getDelivery(tx *bbolt.Tx, id int64) (store.Delivery, error) {
	v := tx.Bucket(bucketDeliveries).Get(deliveryKey(id))
	if v == nil {
		return store.Delivery{}, store.ErrNotFound
	}
	return decodeDelivery(v)
}

func decodeDelivery(v []byte) (store.Delivery, error) {
	var r deliveryRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Delivery{}, fmt.Errorf("decode delivery record: %w", err)
	}
	return fromDeliveryRecord(r), nil
}

// putDelivery writes the delivery and, while it is pending, its queue
// entry. The caller removes the entry of the previous version first.
func putDelivery(tx *bbolt.Tx, d store.Delivery) error {
	v, err := json.Marshal(toDeliveryRecord(d))
	if err != nil {
		return fmt.Errorf("encode delivery record: %w", err)
	}
	if err := tx.Bucket(bucketDeliveries).Put(deliveryKey(d.ID), v); err != nil {
		return err
	}
	if d.Status != store.DeliveryPending {
		return nil
	}
	return tx.Bucket(bucketQueued).Put(queueKey(d), nil)
}

// deliveryKey is the big-endian ID, so byte order is append order.
func deliveryKey(id int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id))
}

// queuePrefix returns the key prefix of the queue of one endpoint and
// account: each id with its length as 4 big-endian bytes in front, so that
// no id is a prefix of another.
func queuePrefix(webhookID, accountID string) []byte {
	k := make([]byte, 0, 8+len(webhookID)+len(accountID)+8)
	k = binary.BigEndian.AppendUint32(k, uint32(len(webhookID)))
	k = append(k, webhookID...)
	k = binary.BigEndian.AppendUint32(k, uint32(len(accountID)))
	return append(k, accountID...)
}

// queueKey returns the queue index key of d: its queue prefix, then its
// big-endian ID.
func queueKey(d store.Delivery) []byte {
	return binary.BigEndian.AppendUint64(queuePrefix(d.WebhookID, d.AccountID), uint64(d.ID))
}

func toDeliveryRecord(d store.Delivery) deliveryRecord {
	return deliveryRecord{
		ID:             d.ID,
		WebhookID:      d.WebhookID,
		AccountID:      d.AccountID,
		EventID:        d.EventID,
		EventType:      d.EventType,
		Payload:        d.Payload,
		CreatedAt:      utc(d.CreatedAt),
		Status:         string(d.Status),
		Attempts:       d.Attempts,
		NextAttemptAt:  utc(d.NextAttemptAt),
		LastAttemptAt:  utc(d.LastAttemptAt),
		LastStatusCode: d.LastStatusCode,
		LastError:      d.LastError,
		FinishedAt:     utc(d.FinishedAt),
	}
}

func fromDeliveryRecord(r deliveryRecord) store.Delivery {
	return store.Delivery{
		ID:             r.ID,
		WebhookID:      r.WebhookID,
		AccountID:      r.AccountID,
		EventID:        r.EventID,
		EventType:      r.EventType,
		Payload:        bytes.Clone(r.Payload),
		CreatedAt:      utc(r.CreatedAt),
		Status:         store.DeliveryStatus(r.Status),
		Attempts:       r.Attempts,
		NextAttemptAt:  utc(r.NextAttemptAt),
		LastAttemptAt:  utc(r.LastAttemptAt),
		LastStatusCode: r.LastStatusCode,
		LastError:      r.LastError,
		FinishedAt:     utc(r.FinishedAt),
	}
}
