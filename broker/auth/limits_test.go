package auth

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

func TestFailureLimiterBlocksAfterBurst(t *testing.T) {
	l := NewFailureLimiter(2, 10*time.Second, 0)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	if blocked, _ := l.Blocked("192.0.2.1", now); blocked {
		t.Fatal("Blocked(new address) = true; want false")
	}
	l.Fail("192.0.2.1", now)
	l.Fail("192.0.2.1", now)
	blocked, wait := l.Blocked("192.0.2.1", now)
	if !blocked {
		t.Fatal("Blocked after 2 failures = false; want true")
	}
	if wait != 10*time.Second {
		t.Errorf("wait = %s; want 10s", wait)
	}
	if blocked, _ := l.Blocked("192.0.2.2", now); blocked {
		t.Errorf("Blocked(other address) = true; want false")
	}
	if blocked, _ := l.Blocked("192.0.2.1", now.Add(10*time.Second)); blocked {
		t.Errorf("Blocked 10s later = true; want false")
	}
	if n := l.BlockedCount(); n != 1 {
		t.Errorf("BlockedCount = %d; want 1", n)
	}
}

func TestFailureLimiterGroupsIPv6(t *testing.T) {
	l := NewFailureLimiter(1, time.Minute, 0)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l.Fail("2001:db8:1:2::1", now)

	tests := []struct {
		addr string
		want bool
	}{
		{"2001:db8:1:2::ffff", true},
		{"2001:db8:1:3::1", false},
		{"::ffff:192.0.2.1", false},
	}
	for _, tc := range tests {
		if got, _ := l.Blocked(tc.addr, now); got != tc.want {
			t.Errorf("Blocked(%s) = %t; want %t", tc.addr, got, tc.want)
		}
	}
}

func TestFailureLimiterBounded(t *testing.T) {
	l := NewFailureLimiter(1, time.Hour, 100)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 1000 {
		l.Fail(fmt.Sprintf("198.51.%d.%d", i/256, i%256), now)
	}
	l.mu.Lock()
	n := len(l.buckets)
	l.mu.Unlock()
	if n > 100 {
		t.Errorf("tracked addresses = %d; want at most 100", n)
	}
}

func TestParseLimits(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	apps, err := ParseApps(" zoom , zoom_admin,zoom ")
	if err != nil || !slices.Equal(apps, []store.App{store.AppZoom, store.AppZoomAdmin}) {
		t.Errorf("ParseApps = %v, %v; want [zoom zoom_admin]", apps, err)
	}
	if _, err := ParseApps("zoom,teams"); err == nil {
		t.Errorf("ParseApps(teams) = nil error; want an error")
	}
	if _, err := ParseAccountIDs("acc_aaaaaaaaaaaaaaaaaaaa,../etc"); err == nil {
		t.Errorf("ParseAccountIDs(../etc) = nil error; want an error")
	}
	if _, err := ParseExternalUserIDs("ok,bad\x00id"); err == nil {
		t.Errorf("ParseExternalUserIDs(control character) = nil error; want an error")
	}

	expiries := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"720h", now.Add(720 * time.Hour), false},
		{"2027-01-31T00:00:00Z", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), false},
		{"-1h", time.Time{}, true},
		{"2020-01-01T00:00:00Z", time.Time{}, true},
		{"next tuesday", time.Time{}, true},
	}
	for _, tc := range expiries {
		got, err := ParseExpiry(tc.in, now)
		if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v, error %t", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// forgetfulStore drops the limits and the expiry of every key, like a
// backend that does not store them.
type forgetfulStore struct{ store.Store }

func (f forgetfulStore) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := f.Store.GetAPIKey(ctx, id)
	k.Limits, k.ExpiresAt = store.Limits{}, time.Time{}
	return k, err
}

func TestCreateKeyRevokesWhenLimitsLost(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "zoombroker.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	k, _ := NewKey("limited", now)
	k.Limits.Apps = []store.App{store.AppZoom}
	if err := CreateKey(t.Context(), forgetfulStore{db}, k, now); err == nil {
		t.Fatal("CreateKey on a store that drops limits = nil error; want an error")
	}
	stored, err := db.GetAPIKey(t.Context(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Revoked() {
		t.Errorf("key whose limits were lost is not revoked")
	}

	ok, _ := NewKey("limited", now)
	ok.Limits.Apps = []store.App{store.AppZoom}
	ok.ExpiresAt = now.Add(time.Hour)
	if err := CreateKey(t.Context(), db, ok, now); err != nil {
		t.Errorf("CreateKey on bolt = %v; want nil error", err)
	}
}

func TestVerifyKeyExpiry(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "zoombroker.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	k, full := NewKey("short", now)
	k.ExpiresAt = now.Add(time.Minute)
	if err := db.CreateAPIKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}

	if _, err := VerifyKey(t.Context(), db, full.Reveal(), now); err != nil {
		t.Errorf("VerifyKey before expiry = %v; want nil", err)
	}
	if _, err := VerifyKey(t.Context(), db, full.Reveal(), now.Add(time.Minute)); !errors.Is(err, ErrExpiredKey) {
		t.Errorf("VerifyKey at expiry = %v; want ErrExpiredKey", err)
	}
	if _, err := VerifyKey(t.Context(), db, full.Reveal()+"x", now); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("VerifyKey(wrong secret) = %v; want ErrInvalidKey", err)
	}
}

func TestBlankLimitListRejected(t *testing.T) {
	for _, text := range []string{" ", ",", " , ", ",,"} {
		if _, err := ParseApps(text); err == nil {
			t.Errorf("ParseApps(%q) = nil error; want a blank-list error", text)
		}
		if _, err := ParseAccountIDs(text); err == nil {
			t.Errorf("ParseAccountIDs(%q) = nil error; want a blank-list error", text)
		}
		if _, err := ParseExternalUserIDs(text); err == nil {
			t.Errorf("ParseExternalUserIDs(%q) = nil error; want a blank-list error", text)
		}
	}
	if got, err := ParseExternalUserIDs(""); err != nil || len(got) != 0 {
		t.Errorf("ParseExternalUserIDs(\"\") = %v, %v; want no limit", got, err)
	}
}
