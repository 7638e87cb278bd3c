package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Event types the broker sends to webhook endpoints.
const (
	EventConnected      = "account.connected"
	EventReconnected    = "account.reconnected"
	EventNeedsReconnect = "account.needs_reconnect"
	EventRevoked        = "account.revoked"
	EventDeauthorized   = "account.deauthorized"
)

// EventTolerance is how far an event's timestamp may be from the
// receiver's clock, either way, in VerifyEvent.
const EventTolerance = 5 * time.Minute

// Errors of VerifyEvent.
var (
	ErrInvalidSignature = errors.New("zoombroker: event signature is missing or does not match")
	ErrStaleEvent       = errors.New("zoombroker: event timestamp is missing or too far from now")
)

// Event is the JSON body the broker POSTs to a webhook endpoint. The
// account is a snapshot taken when the event happened.
type Event struct {
	// ID is the same in every delivery of the event, retries included;
	// use it to drop duplicates.
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Account   Account   `json:"account"`
}

// VerifyEvent checks a delivery's X-Zoombroker-Signature against the
// endpoint's secret and its X-Zoombroker-Request-Timestamp against now,
// then decodes the body. Pass the raw body exactly as received. A
// receiver should also drop event ids it has already handled, because the
// broker delivers at least once.
func VerifyEvent(secret string, header http.Header, body []byte, now time.Time) (Event, error) {
	ts := header.Get("X-Zoombroker-Request-Timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Event{}, ErrStaleEvent
	}
	if d := now.Sub(time.Unix(secs, 0)); d > EventTolerance || d < -EventTolerance {
		return Event{}, ErrStaleEvent
	}

	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v1:" + ts + ":"))
	m.Write(body)
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	ok := false
	for _, sig := range strings.Split(header.Get("X-Zoombroker-Signature"), ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return Event{}, ErrInvalidSignature
	}

	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("zoombroker: decode event: %w", err)
	}
	return ev, nil
}
