package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// acquireLease takes the lease in one statement. The row lock of
// INSERT ... ON CONFLICT makes concurrent calls take turns, and the WHERE
// clause leaves a lease that another holder has and that has not expired
// untouched, so the statement then changes no row.
const acquireLease = `INSERT INTO leases (name, holder, expires) VALUES ($1, $2, $3)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
	WHERE leases.holder = excluded.holder OR leases.expires <= $4`

// AcquireLease implements [store.Store.AcquireLease]. It returns
// [store.ErrLeaseHeld] when another holder has the lease until after now.
// now comes from the caller, not from the database's clock, so replicas
// whose clocks differ by d can see a lease as expired up to d early.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) error {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	tag, err := db.pool.Exec(qctx, acquireLease, name, holder, now.Add(ttl).UTC(), now.UTC())
	if err != nil {
		return fmt.Errorf("acquire lease %s: %w", name, classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return store.ErrLeaseHeld
	}
	return nil
}

// ReleaseLease implements [store.Store.ReleaseLease].
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	qctx, cancel := db.deadline(ctx)
	defer cancel()

	if _, err := db.pool.Exec(qctx, "DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, classify(ctx, err))
	}
	return nil
}
