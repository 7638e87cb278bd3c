package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

func testLeases(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	if err := s.AcquireLease(ctx, "refresh/a", "one", now, time.Minute); err != nil {
		t.Fatalf("AcquireLease(free) = %v; want nil", err)
	}
	if err := s.AcquireLease(ctx, "refresh/a", "two", now.Add(30*time.Second), time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("AcquireLease(held by one) = %v; want ErrLeaseHeld", err)
	}
	if err := s.AcquireLease(ctx, "refresh/b", "two", now, time.Minute); err != nil {
		t.Errorf("AcquireLease(other name) = %v; want nil", err)
	}
	if err := s.AcquireLease(ctx, "refresh/a", "one", now.Add(50*time.Second), time.Minute); err != nil {
		t.Errorf("AcquireLease(extend by holder) = %v; want nil", err)
	}

	// The extension moved the expiry to now+110s.
	if err := s.AcquireLease(ctx, "refresh/a", "two", now.Add(100*time.Second), time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("AcquireLease(before extended expiry) = %v; want ErrLeaseHeld", err)
	}
	if err := s.AcquireLease(ctx, "refresh/a", "two", now.Add(111*time.Second), time.Minute); err != nil {
		t.Errorf("AcquireLease(after expiry) = %v; want nil", err)
	}

	// Release by a non-holder does nothing; by the holder frees it.
	if err := s.ReleaseLease(ctx, "refresh/a", "one"); err != nil {
		t.Errorf("ReleaseLease(non-holder) = %v; want nil", err)
	}
	if err := s.AcquireLease(ctx, "refresh/a", "one", now.Add(112*time.Second), time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("AcquireLease after a non-holder's release = %v; want ErrLeaseHeld", err)
	}
	if err := s.ReleaseLease(ctx, "refresh/a", "two"); err != nil {
		t.Errorf("ReleaseLease(holder) = %v; want nil", err)
	}
	if err := s.AcquireLease(ctx, "refresh/a", "one", now.Add(113*time.Second), time.Minute); err != nil {
		t.Errorf("AcquireLease after release = %v; want nil", err)
	}
	if err := s.ReleaseLease(ctx, "missing", "one"); err != nil {
		t.Errorf("ReleaseLease(missing) = %v; want nil", err)
	}
}
