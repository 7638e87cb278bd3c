package brokertest

import (
	"sync"
	"time"
)

// DefaultStart is the clock's start when Options.Start is zero. It lies in
// the past, so real-time checks, such as the reuse of tokens in
// oauth2.NewClient, see every token from the broker as expired and defer
// to the code under test, which uses this clock.
var DefaultStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
