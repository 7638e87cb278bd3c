package client

import (
	"errors"
	"fmt"
	"time"
)

// Sentinels that match an *Error by its HTTP status with errors.Is.
var (
	// ErrUnauthorized (401): the API key is missing, unknown or revoked.
	ErrUnauthorized = errors.New("zoombroker: unauthorized")

	// ErrForbidden (403): the key may not do this.
	ErrForbidden = errors.New("zoombroker: forbidden")

	// ErrNotFound (404): no such account, webhook or endpoint.
	ErrNotFound = errors.New("zoombroker: not found")

	// ErrNeedsReconnect (409): Zoom rejected the account's grant; an
	// operator must reconnect the account in the console.
	ErrNeedsReconnect = errors.New("zoombroker: account needs reconnect")

	// ErrRevoked (410): the account was revoked or deauthorized.
	ErrRevoked = errors.New("zoombroker: account revoked")

	// ErrTooManyRequests (429): the key sent too many requests; wait
	// RetryAfter.
	ErrTooManyRequests = errors.New("zoombroker: too many requests")

	// ErrUnavailable (503): Zoom or the broker is unavailable for now;
	// wait RetryAfter.
	ErrUnavailable = errors.New("zoombroker: unavailable")
)

// Error is an error response of the broker's API.
type Error struct {
	// Status is the HTTP status.
	Status int

	// Code is the API's error code, for example "needs_reconnect".
	Code string

	// Message is the broker's explanation in plain words.
	Message string

	// RetryAfter is the wait the broker asked for; zero if none.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("zoombroker: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is matches the sentinel of the error's status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == 401
	case ErrForbidden:
		return e.Status == 403
	case ErrNotFound:
		return e.Status == 404
	case ErrNeedsReconnect:
		return e.Status == 409
	case ErrRevoked:
		return e.Status == 410
	case ErrTooManyRequests:
		return e.Status == 429
	case ErrUnavailable:
		return e.Status == 503
	}
	return false
}
