package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

func openBolt(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "zoombroker.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func listAll(t *testing.T, al store.AuditLog) []store.AuditEntry {
	t.Helper()
	entries, _, err := al.ListAudit(t.Context(), store.AuditListOptions{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func closeLog(t *testing.T, l *audit.Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close = %v; want nil error", err)
	}
}

func TestRecordFlushWrites(t *testing.T) {
	db := openBolt(t)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := audit.New(audit.Config{Store: db, Now: func() time.Time { return at }})
	l.Start()
	defer closeLog(t, l)

	for i := range 300 {
		l.Record(store.AuditEntry{Action: audit.ActionTokenIssue, Actor: fmt.Sprintf("key_%d", i)})
	}
	if err := l.Flush(t.Context()); err != nil {
		t.Fatalf("Flush = %v; want nil error", err)
	}

	got := listAll(t, db)
	if len(got) != 300 {
		t.Fatalf("entries after Flush = %d; want 300", len(got))
	}
	if got[0].Actor != "key_299" || got[299].Actor != "key_0" {
		t.Errorf("newest and oldest actors = %q, %q; want key_299, key_0 (order kept)", got[0].Actor, got[299].Actor)
	}
	if !got[0].At.Equal(at) {
		t.Errorf("At = %v; want the clock's %v filled in", got[0].At, at)
	}
	if n := l.Dropped(); n != 0 {
		t.Errorf("Dropped = %d; want 0", n)
	}
}

// blockingStore holds every append until release is closed.
type blockingStore struct {
	store.AuditLog
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingStore) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return b.AuditLog.AppendAudit(ctx, entries)
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	db := openBolt(t)
	slow := &blockingStore{AuditLog: db, started: make(chan struct{}), release: make(chan struct{})}
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	l := audit.New(audit.Config{Store: slow, QueueSize: 10, BatchSize: 1, Logger: logger})
	l.Start()

	l.Record(store.AuditEntry{Action: "first"})
	<-slow.started // the writer holds "first" and waits on the disk

	done := make(chan struct{})
	go func() {
		for i := range 25 {
			l.Record(store.AuditEntry{Action: fmt.Sprintf("queued-%d", i)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked while the store was blocked; want it to return at once")
	}

	if n := l.Dropped(); n != 15 {
		t.Errorf("Dropped = %d; want 15 (25 recorded, 10 queued)", n)
	}
	close(slow.release)
	closeLog(t, l)

	if n := len(listAll(t, db)); n != 11 {
		t.Errorf("entries written = %d; want 11 (first and the 10 queued)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "entries dropped") {
		t.Errorf("log lacks the dropped-entries line:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

func TestCloseWritesQueued(t *testing.T) {
	db := openBolt(t)
	l := audit.New(audit.Config{Store: db})
	l.Start()
	for i := range 50 {
		l.Record(store.AuditEntry{Action: fmt.Sprintf("a%d", i)})
	}
	closeLog(t, l)

	if n := len(listAll(t, db)); n != 50 {
		t.Errorf("entries after Close = %d; want 50", n)
	}
	l.Record(store.AuditEntry{Action: "late"})
	if n := l.Dropped(); n != 1 {
		t.Errorf("Dropped after a Record on a closed log = %d; want 1", n)
	}
}

func TestPruneOnceUsesRetention(t *testing.T) {
	db := openBolt(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	err := db.AppendAudit(t.Context(), []store.AuditEntry{
		{At: now.Add(-91 * 24 * time.Hour), Action: "old"},
		{At: now.Add(-89 * 24 * time.Hour), Action: "recent"},
	})
	if err != nil {
		t.Fatal(err)
	}

	l := audit.New(audit.Config{Store: db, Now: func() time.Time { return now }})
	l.PruneOnce(t.Context())

	got := listAll(t, db)
	if len(got) != 1 || got[0].Action != "recent" {
		t.Errorf("entries after PruneOnce with the default 90 days = %v; want only recent", got)
	}
}

func TestNoStoreLogsEntries(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	l := audit.New(audit.Config{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
	l.Start()
	l.Record(store.AuditEntry{Action: audit.ActionSignIn, Actor: "alice", Outcome: audit.OutcomeDenied})
	closeLog(t, l)

	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "action=console.signin") || !strings.Contains(out, "actor=alice") {
		t.Errorf("log = %q; want the entry's action and actor", out)
	}
	if _, _, err := l.List(t.Context(), store.AuditListOptions{}); !errors.Is(err, audit.ErrNoStore) {
		t.Errorf("List without a store = %v; want ErrNoStore", err)
	}
}
