package tokens

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by the service. Callers match them with errors.Is.
var (
	// ErrNeedsReconnect means Zoom rejected the account's refresh token: a
	// person must connect the account again.
	ErrNeedsReconnect = errors.New("account needs reconnect")

	// ErrRevoked means the account was revoked or deauthorized; only a
	// tombstone is left.
	ErrRevoked = errors.New("account revoked")

	// ErrAppNotConfigured means the account's app has no client
	// credentials configured.
	ErrAppNotConfigured = errors.New("app not configured")
)

// UnavailableError means Zoom could not be reached or refused for now, and
// the stored token does not have the life the caller asked for.
type UnavailableError struct {
	// RetryAfter is when to try again.
	RetryAfter time.Duration
	Err        error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("zoom unavailable, retry after %s: %v", e.RetryAfter, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }
