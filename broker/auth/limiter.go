package auth

import (
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of NewFailureLimiter.
const (
	// DefaultFailureBurst is how many failed authentications an address
	// may make at once.
	DefaultFailureBurst = 10

	// DefaultFailureEvery is how often an address earns one more failed
	// attempt after the burst: 10 a minute.
	DefaultFailureEvery = 6 * time.Second

	// DefaultMaxAddresses bounds the addresses tracked at once.
	DefaultMaxAddresses = 10_000
)

// FailureLimiter limits failed authentications per client address with a
// token bucket each. Only failures take from a bucket, so callers that
// authenticate are never slowed. An address whose bucket is empty is
// rejected before its credentials are checked. It is safe for concurrent
// use.
//
// IPv6 addresses are grouped by their /64, because one host usually holds
// a whole /64.
type FailureLimiter struct {
	burst int
	every time.Duration
	max   int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter

	blocked atomic.Int64
}

// NewFailureLimiter returns a limiter that allows burst failures at once
// and one more every interval, for at most maxAddrs addresses at a time.
// Zero or negative values mean the defaults.
func NewFailureLimiter(burst int, every time.Duration, maxAddrs int) *FailureLimiter {
	if burst <= 0 {
		burst = DefaultFailureBurst
	}
	if every <= 0 {
		every = DefaultFailureEvery
	}
	if maxAddrs <= 0 {
		maxAddrs = DefaultMaxAddresses
	}
	return &FailureLimiter{burst: burst, every: every, max: maxAddrs, buckets: map[string]*rate.Limiter{}}
}

// Blocked reports whether addr has no failed attempt left at now, and if
// so how long until it has one. Each blocked call counts toward
// [FailureLimiter.BlockedCount].
func (l *FailureLimiter) Blocked(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addressKey(addr)]
	if !ok {
		return false, 0
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	l.blocked.Add(1)
	wait := time.Duration(math.Ceil((1 - tokens) * float64(l.every)))
	return true, wait
}

// Fail records one failed authentication from addr at now.
func (l *FailureLimiter) Fail(addr string, now time.Time) {
	key := addressKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		l.makeRoom(now)
		b = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.buckets[key] = b
	}
	b.AllowN(now, 1)
}

// BlockedCount returns how many requests were turned away since the
// limiter was made.
func (l *FailureLimiter) BlockedCount() int64 { return l.blocked.Load() }

// makeRoom deletes the buckets that are full again, because such an
// address behaves like a new one. When every tracked address is still
// limited, it deletes an arbitrary one.
//
// NOTE: an attacker with more than max addresses can thus cycle through
// them faster than the limit; per-address limits cannot stop a large
// botnet.
func (l *FailureLimiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.max {
		return
	}
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			return
		}
		delete(l.buckets, k)
	}
}

// addressKey returns the bucket key of a client address: the address
// itself for IPv4, its /64 for IPv6, and the text as given when it is not
// an address.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}
