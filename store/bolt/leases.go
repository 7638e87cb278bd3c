package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// leaseRecord is the stored form of a lease.
type leaseRecord struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// AcquireLease implements [store.Store.AcquireLease].
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) error {
	return db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		if raw := b.Get([]byte(name)); raw != nil {
			var cur leaseRecord
			if err := json.Unmarshal(raw, &cur); err != nil {
				return fmt.Errorf("decode lease %s: %w", name, err)
			}
			if cur.Holder != holder && now.Before(cur.Expires) {
				return store.ErrLeaseHeld
			}
		}
		raw, err := json.Marshal(leaseRecord{Holder: holder, Expires: now.Add(ttl).UTC()})
		if err != nil {
			return fmt.Errorf("encode lease %s: %w", name, err)
		}
		return b.Put([]byte(name), raw)
	})
}

// ReleaseLease implements [store.Store.ReleaseLease].
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	return db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		raw := b.Get([]byte(name))
		if raw == nil {
			return nil
		}
		var cur leaseRecord
		if err := json.Unmarshal(raw, &cur); err != nil {
			return fmt.Errorf("decode lease %s: %w", name, err)
		}
		if cur.Holder != holder {
			return nil
		}
		return b.Delete([]byte(name))
	})
}

// dropLeases deletes every lease. The file lock lets one process at a time
// open the store, so any lease found at open was left by a process that
// stopped, and waiting for it to expire would only delay refreshes.
func dropLeases(tx *bbolt.Tx) error {
	if tx.Bucket(bucketLeases) == nil {
		return nil
	}
	if err := tx.DeleteBucket(bucketLeases); err != nil {
		return fmt.Errorf("drop stale leases: %w", err)
	}
	_, err := tx.CreateBucket(bucketLeases)
	return err
}
