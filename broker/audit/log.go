package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// Defaults of Config fields left zero.
const (
	DefaultQueueSize  = 4096
	DefaultBatchSize  = 256
	DefaultRetention  = 90 * 24 * time.Hour
	DefaultPruneEvery = time.Hour

	// writeTimeout bounds one batch append.
	writeTimeout = 10 * time.Second

	// dropLogEvery is how often, at most, dropped entries are logged.
	dropLogEvery = time.Minute
)

// ErrNoStore means the log has no store to read from: the broker's store
// does not keep an audit log, so entries go to the process log only.
var ErrNoStore = errors.New("the store keeps no audit log")

// Config configures New.
type Config struct {
	// Store keeps the entries. Nil writes each entry to Logger instead,
	// for a store without an audit log.
	Store store.AuditLog

	// Logger receives write failures, dropped entries and prunes; nil
	// discards.
	Logger *slog.Logger

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// QueueSize is how many entries wait for the writer at most; zero
	// means DefaultQueueSize. Record drops entries beyond it.
	QueueSize int

	// BatchSize is how many entries one append writes at most; zero means
	// DefaultBatchSize.
	BatchSize int

	// Retention is how long entries are kept; zero means
	// DefaultRetention.
	Retention time.Duration

	// PruneEvery is the interval between prunes; zero means
	// DefaultPruneEvery.
	PruneEvery time.Duration
}

// item is one queued entry, or a flush request when flushed is not nil.
type item struct {
	entry   store.AuditEntry
	flushed chan struct{}
}

// Log queues audit entries and writes them in the background. It is safe
// for concurrent use. Start it with Start and stop it with Close.
type Log struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	queue chan item
	quit  chan struct{}
	done  sync.WaitGroup

	stopOnce  sync.Once
	dropped   atomic.Int64
	failed    atomic.Int64
	lastDrop  atomic.Int64 // Unix nanoseconds of the last drop log line
	startOnce sync.Once
}

// New returns a Log. It does nothing until Start.
func New(cfg Config) *Log {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = DefaultPruneEvery
	}
	l := &Log{cfg: cfg, log: cfg.Logger, now: cfg.Now, queue: make(chan item, cfg.QueueSize), quit: make(chan struct{})}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Start runs the writer and, with a store, the pruner. Calling it again
// does nothing.
func (l *Log) Start() {
	l.startOnce.Do(func() {
		l.done.Add(1)
		go l.write()
		if l.cfg.Store != nil {
			l.done.Add(1)
			go l.prune()
		}
	})
}

// Record queues e without waiting. It fills in At when it is zero. A full
// queue, or a Log that was closed, drops the entry and counts it.
//
// NOTE: so the log can miss entries under a burst larger than the queue
// or when the disk stalls; Dropped, and the metric built on it, say how
// many.
func (l *Log) Record(e store.AuditEntry) {
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.At = e.At.UTC()

	select {
	case <-l.quit:
		l.drop()
		return
	default:
	}
	select {
	case l.queue <- item{entry: e}:
	default:
		l.drop()
	}
}

// drop counts a dropped entry and logs the total at most once a minute.
func (l *Log) drop() {
	n := l.dropped.Add(1)
	now := l.now().UnixNano()
	last := l.lastDrop.Load()
	if now-last >= int64(dropLogEvery) && l.lastDrop.CompareAndSwap(last, now) {
		l.log.Warn("audit queue full or closed; entries dropped", "dropped_total", n, "queue_size", l.cfg.QueueSize)
	}
}

// Dropped returns how many entries were dropped since New.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// WriteFailures returns how many entries failed to be written since New.
func (l *Log) WriteFailures() int64 { return l.failed.Load() }

// Flush waits until every entry recorded before the call is written, or
// ctx ends. It needs a started Log.
func (l *Log) Flush(ctx context.Context) error {
	flushed := make(chan struct{})
	select {
	case l.queue <- item{flushed: flushed}:
	case <-l.quit:
		return errors.New("flush audit log: log is closed")
	case <-ctx.Done():
		return fmt.Errorf("flush audit log: %w", ctx.Err())
	}
	select {
	case <-flushed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush audit log: %w", ctx.Err())
	}
}

// Close stops the pruner, writes what is queued and waits for the writer,
// or for ctx to end. Entries recorded after Close are dropped.
func (l *Log) Close(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.quit) })
	done := make(chan struct{})
	go func() {
		l.done.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close audit log: %w", ctx.Err())
	}
}

// List reads one page of entries from the store.
func (l *Log) List(ctx context.Context, opts store.AuditListOptions) ([]store.AuditEntry, int64, error) {
	if l.cfg.Store == nil {
		return nil, 0, ErrNoStore
	}
	return l.cfg.Store.ListAudit(ctx, opts)
}

// batchLinger is how long the writer waits for more entries after the
// first one of a batch. An entry reaches the store at most this much later.
const batchLinger = 10 * time.Millisecond

// write is the writer goroutine: it collects what is queued, up to a
// batch, and appends it in one call.
func (l *Log) write() {
	defer l.done.Done()
	var batch []store.AuditEntry
	var flushes []chan struct{}

	take := func(it item) {
		if it.flushed != nil {
			flushes = append(flushes, it.flushed)
			return
		}
		batch = append(batch, it.entry)
	}
	commit := func() {
		l.append(batch)
		batch = batch[:0]
		for _, f := range flushes {
			close(f)
		}
		flushes = flushes[:0]
	}

	for {
		select {
		case it := <-l.queue:
			take(it)

			// Wait a little for more entries, so that a busy broker commits
			// (and fsyncs) one batch per few milliseconds rather than one
			// per request. A flush request commits at once.
			linger := time.NewTimer(batchLinger)
		drain:
			for len(batch) < l.cfg.BatchSize && len(flushes) == 0 {
				select {
				case it := <-l.queue:
					take(it)
				case <-linger.C:
					break drain
				case <-l.quit:
					break drain
				}
			}
			linger.Stop()
			commit()

		case <-l.quit:
			for {
				select {
				case it := <-l.queue:
					take(it)
					if len(batch) >= l.cfg.BatchSize {
						commit()
					}
				default:
					commit()
					return
				}
			}
		}
	}
}

// append writes one batch, or logs it when there is no store.
func (l *Log) append(batch []store.AuditEntry) {
	if len(batch) == 0 {
		return
	}
	if l.cfg.Store == nil {
		for _, e := range batch {
			l.log.Info("audit", "action", e.Action, "outcome", e.Outcome, "actor_type", e.ActorType, "actor", e.Actor,
				"account_id", e.AccountID, "remote_ip", e.RemoteAddr, "request_id", e.RequestID, "detail", e.Detail)
		}
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := l.cfg.Store.AppendAudit(ctx, batch); err != nil {
		total := l.failed.Add(int64(len(batch)))
		l.log.Error("write audit entries failed; they are lost", "entries", len(batch), "failed_total", total, "err", err)
	}
}

// prune removes old entries now and then every PruneEvery until Close.
func (l *Log) prune() {
	defer l.done.Done()
	ticker := time.NewTicker(l.cfg.PruneEvery)
	defer ticker.Stop()
	for {
		l.PruneOnce(context.Background())
		select {
		case <-ticker.C:
		case <-l.quit:
			return
		}
	}
}

// PruneOnce removes the entries older than the retention and logs how many.
func (l *Log) PruneOnce(ctx context.Context) {
	if l.cfg.Store == nil {
		return
	}
	cutoff := l.now().Add(-l.cfg.Retention)
	n, err := l.cfg.Store.PruneAudit(ctx, cutoff)
	if err != nil {
		l.log.Error("prune audit log failed", "cutoff", cutoff.UTC(), "removed", n, "err", err)
		return
	}
	if n > 0 {
		l.log.Info("audit log pruned", "removed", n, "cutoff", cutoff.UTC())
	}
}
