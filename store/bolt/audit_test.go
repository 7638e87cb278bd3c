package bolt

import (
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// A filter that matches only the oldest entry makes ListAudit stop after
// maxAuditScan entries with an empty page, and the next call find it.
func TestListAuditScanBound(t *testing.T) {
	db := openTemp(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := []store.AuditEntry{{At: start, Action: "rare", Actor: "key_a"}}
	for i := range maxAuditScan + 10 {
		entries = append(entries, store.AuditEntry{At: start.Add(time.Duration(i) * time.Second), Action: "common", Actor: "key_a"})
	}
	if err := db.AppendAudit(t.Context(), entries); err != nil {
		t.Fatal(err)
	}

	opts := store.AuditListOptions{Filter: store.AuditFilter{Action: "rare"}, Limit: 10}
	page, next, err := db.ListAudit(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 {
		t.Errorf("first ListAudit = %d entries; want 0 within the scan bound", len(page))
	}
	if next == 0 {
		t.Fatalf("first ListAudit next = 0; want a cursor to go on from")
	}

	opts.Before = next
	page, next, err = db.ListAudit(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].Action != "rare" {
		t.Fatalf("second ListAudit = %v; want the rare entry", page)
	}
	if page[0].ID != 1 {
		t.Errorf("rare entry ID = %d; want 1", page[0].ID)
	}
	if next != 0 {
		t.Errorf("second ListAudit next = %d; want 0 on the last page", next)
	}
}
