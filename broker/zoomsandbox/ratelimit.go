package zoomsandbox

import (
	"net/http"
	"strconv"
	"time"
)

// tokenLimit is the rate limit of the token endpoint that
// [Sandbox.LimitTokenRate] sets. The caller holds s.mu.
type tokenLimit struct {
	perSecond  int // zero means no limit
	retryAfter time.Duration

	second  int64 // the window, in Unix seconds of the sandbox clock
	count   int   // requests in the window, rejected ones included
	limited int   // requests answered with 429 since the limit was set
}

// LimitTokenRate makes the token endpoint answer 429 to every request
// beyond perSecond within one second of the sandbox's clock. The windows
// are fixed whole seconds, so a burst that straddles two windows can pass
// up to twice perSecond. Requests of both grant types count, rejected ones
// included. A 429 comes after the token latency and before any failure
// that [Sandbox.FailRefreshes] injects, and it leaves the grant as it was.
// It carries Zoom's REST rate-limit body and, when retryAfter is positive,
// a Retry-After header in whole seconds, rounded up. perSecond zero or less
// removes the limit. Each call resets [Sandbox.RateLimitedCount].
func (s *Sandbox) LimitTokenRate(perSecond int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = tokenLimit{perSecond: max(perSecond, 0), retryAfter: retryAfter}
}

// RateLimitedCount returns how many token requests the limit of
// [Sandbox.LimitTokenRate] answered with 429.
func (s *Sandbox) RateLimitedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit.limited
}

// writeRateLimited counts the request against the token rate limit and,
// when the limit is exceeded, writes the 429 and reports true.
func (s *Sandbox) writeRateLimited(w http.ResponseWriter) bool {
	second := s.now().Unix()
	s.mu.Lock()
	l := &s.limit
	if l.perSecond == 0 {
		s.mu.Unlock()
		return false
	}
	if l.second != second {
		l.second, l.count = second, 0
	}
	l.count++
	over := l.count > l.perSecond
	if over {
		l.limited++
	}
	retryAfter := l.retryAfter
	s.mu.Unlock()
	if !over {
		return false
	}

	if retryAfter > 0 {
		seconds := (retryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(seconds), 10))
	}
	writeJSON(w, http.StatusTooManyRequests, apiError{
		Code:    http.StatusTooManyRequests,
		Message: "You have reached the maximum per-second rate limit for this API. Try again later.",
	})
	return true
}
