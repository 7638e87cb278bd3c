package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

const (
	// batchSize is the most due deliveries read from the outbox at once.
	batchSize = 100

	// pruneInterval is how often Run deletes finished deliveries older
	// than the retention.
	pruneInterval = time.Hour

	// drainLimit is how much of an endpoint's response body is read (and
	// discarded) so the connection can be reused.
	drainLimit = 64 << 10

	// storeTimeout bounds the store writes that record an attempt, which
	// run even while Run stops.
	storeTimeout = 10 * time.Second

	// userAgent is sent with every delivery.
	userAgent = "zoombroker-events/1"
)

// errStale means another process changed the delivery since this one read
// it from the outbox.
var errStale = errors.New("delivery changed since it was read")

// Run delivers the outbox until ctx is cancelled, then waits for the
// requests in flight and returns. Run it once per process.
func (s *Service) Run(ctx context.Context) {
	s.log.Info("event delivery started", "concurrency", s.concurrency, "poll_interval", s.pollInterval.String())
	var (
		wg        sync.WaitGroup
		sem       = make(chan struct{}, s.concurrency)
		lastPrune time.Time
	)
	timer := time.NewTimer(0)
	defer timer.Stop()

	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			s.log.Info("event delivery stopped")
			return
		case <-timer.C:
		case <-s.wake:
		}

		if now := s.now(); now.Sub(lastPrune) >= pruneInterval {
			lastPrune = now
			s.prune(ctx, now)
		}

		due, err := s.store.DueDeliveries(ctx, s.now(), batchSize)
		if err != nil && ctx.Err() == nil {
			s.log.Error("read due webhook deliveries failed", "err", err)
		}
		for _, d := range due {
			if !s.claim(d.ID) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				s.unclaim(d.ID)
				continue
			}

			wg.Add(1)
			go func() {
				defer wg.Done()
				s.deliver(ctx, d)
				<-sem
				s.unclaim(d.ID)
				// The next delivery of the same queue may be due now.
				s.Wake()
			}()
		}
		timer.Reset(s.pollInterval)
	}
}

// claim marks a delivery as being sent by this process, and reports false
// if it already was.
func (s *Service) claim(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[id] {
		return false
	}
	s.inflight[id] = true
	return true
}

func (s *Service) unclaim(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, id)
}

// prune deletes finished deliveries older than the retention.
func (s *Service) prune(ctx context.Context, now time.Time) {
	n, err := s.store.DeleteDeliveries(ctx, now.Add(-s.retention))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("delete old webhook deliveries failed", "err", err)
		}
		return
	}
	if n > 0 {
		s.log.Info("old webhook deliveries deleted", "count", n)
	}
}

// deliver makes one attempt at d and records its outcome. A lease on the
// queue keeps another replica sharing the store from sending the same
// queue at the same time.
func (s *Service) deliver(ctx context.Context, d store.Delivery) {
	lease := "webhook-queue:" + d.WebhookID + ":" + d.AccountID
	err := s.store.AcquireLease(ctx, lease, s.holder, s.now(), s.timeout+30*time.Second)
	if errors.Is(err, store.ErrLeaseHeld) {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("take webhook queue lease failed", "webhook_id", d.WebhookID, "account_id", d.AccountID, "err", err)
		}
		return
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		if err := s.store.ReleaseLease(rctx, lease, s.holder); err != nil {
			s.log.Warn("release webhook queue lease failed", "webhook_id", d.WebhookID, "account_id", d.AccountID, "err", err)
		}
	}()

	// Under the lease, check that no other replica sent it meanwhile.
	_, err = s.store.UpdateDelivery(ctx, d.ID, func(cur store.Delivery) (store.Delivery, error) {
		if cur.Status != store.DeliveryPending || cur.Attempts != d.Attempts {
			return cur, errStale
		}
		return cur, nil
	})
	if err != nil {
		if !errors.Is(err, errStale) && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			s.log.Error("read webhook delivery failed", "delivery_id", d.ID, "err", err)
		}
		return
	}

	w, err := s.store.GetWebhook(ctx, d.WebhookID)
	if err != nil {
		// A deleted endpoint took its deliveries with it.
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			s.log.Error("read webhook endpoint failed", "webhook_id", d.WebhookID, "err", err)
		}
		return
	}

	var res attempt
	if key, err := s.secretOf(w); err != nil {
		res.err = err
	} else {
		res = s.send(ctx, w.URL, key, d)
	}
	if res.err != nil && ctx.Err() != nil {
		// Cut off by shutdown: the next process sends it again.
		return
	}
	s.record(ctx, d, w, res)
}

// attempt is the outcome of one request.
type attempt struct {
	status     int
	retryAfter time.Duration
	err        error
}

func (a attempt) ok() bool { return a.err == nil && a.status >= 200 && a.status < 300 }

// describe returns the failure in words for the console, without the URL.
func (a attempt) describe() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("the endpoint returned HTTP %d %s", a.status, http.StatusText(a.status))
}

// send POSTs the signed payload.
func (s *Service) send(ctx context.Context, endpoint string, key []byte, d store.Delivery) attempt {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(rctx, http.MethodPost, endpoint, bytes.NewReader(d.Payload))
	if err != nil {
		return attempt{err: fmt.Errorf("build request: %w", err)}
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderEventID, d.EventID)
	req.Header.Set(HeaderEventType, d.EventType)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(key, ts, d.Payload))

	resp, err := s.http.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may carry a token in its
		// query; the console shows the endpoint separately.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return attempt{err: fmt.Errorf("the endpoint did not respond within %s", s.timeout)}
		}
		return attempt{err: fmt.Errorf("send request: %w", err)}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
	return attempt{status: resp.StatusCode, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
}

// record stores the outcome of an attempt: delivered, rescheduled with
// backoff, or failed once RetryFor has passed since the event.
func (s *Service) record(ctx context.Context, d store.Delivery, w store.Webhook, res attempt) {
	now := s.now().UTC()
	wait := s.backoff(d.Attempts+1, res.retryAfter)

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	updated, err := s.store.UpdateDelivery(wctx, d.ID, func(cur store.Delivery) (store.Delivery, error) {
		cur.Attempts++
		cur.LastAttemptAt = now
		cur.LastStatusCode = res.status
		if res.ok() {
			cur.Status = store.DeliveryDelivered
			cur.FinishedAt = now
			cur.NextAttemptAt = time.Time{}
			cur.LastError = ""
			return cur, nil
		}

		cur.LastError = res.describe()
		if now.Sub(cur.CreatedAt) >= s.retryFor {
			cur.Status = store.DeliveryFailed
			cur.FinishedAt = now
			cur.NextAttemptAt = time.Time{}
			return cur, nil
		}
		cur.NextAttemptAt = now.Add(wait)
		return cur, nil
	})
	if err != nil {
		s.log.Error("record webhook delivery attempt failed", "delivery_id", d.ID, "webhook_id", d.WebhookID, "err", err)
		return
	}

	if s.delivered != nil {
		switch updated.Status {
		case store.DeliveryDelivered:
			s.delivered("delivered")
		case store.DeliveryFailed:
			s.delivered("failed")
		default:
			s.delivered("retry")
		}
	}

	attrs := []any{"delivery_id", updated.ID, "webhook_id", w.ID, "url", redactURL(w.URL), "event_id", updated.EventID, "event", updated.EventType, "account_id", updated.AccountID, "attempt", updated.Attempts, "status", res.status}
	switch updated.Status {
	case store.DeliveryDelivered:
		s.log.Info("webhook delivered", attrs...)
	case store.DeliveryFailed:
		s.log.Error("webhook delivery given up", append(attrs, "err", updated.LastError)...)
	default:
		s.log.Warn("webhook delivery failed; will retry", append(attrs, "err", updated.LastError, "next_attempt_at", updated.NextAttemptAt)...)
	}
}

// backoff returns the wait after the given number of failed attempts:
// BackoffBase doubled per failed attempt after the first, at most
// BackoffLimit, then cut by up to a half at random so that endpoints
// failing together do not retry together. A longer Retry-After from the
// endpoint wins, up to BackoffLimit.
func (s *Service) backoff(failed int, retryAfter time.Duration) time.Duration {
	d := s.backoffLimit
	if shift := failed - 1; shift < 30 {
		d = min(s.backoffBase<<max(shift, 0), s.backoffLimit)
	}
	d = d/2 + time.Duration(mathrand.Int64N(int64(d/2)+1))
	if retryAfter > d {
		d = min(retryAfter, s.backoffLimit)
	}
	return d
}

// parseRetryAfter reads a Retry-After header in seconds; dates and
// garbage count as none.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// redactURL returns u without its query, which may carry a credential.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	if p.RawQuery != "" {
		p.RawQuery = "..."
	}
	return p.String()
}
