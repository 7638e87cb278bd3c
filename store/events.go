package store

import (
	"fmt"
	"time"
)

// WebhookSource is where a webhook endpoint was registered.
type WebhookSource string

// Webhook sources.
const (
	// WebhookSourceAPI marks an endpoint registered with POST /v1/webhooks.
	WebhookSourceAPI WebhookSource = "api"

	// WebhookSourceConfig marks an endpoint from the broker's
	// configuration. The broker adds and removes these at startup.
	WebhookSourceConfig WebhookSource = "config"
)

// Webhook is an endpoint that receives signed account events.
type Webhook struct {
	// ID is the broker's id of the endpoint.
	ID  string
	URL string

	// Secret is the sealed HMAC signing secret. The store treats it as
	// opaque bytes.
	Secret []byte

	Source    WebhookSource
	CreatedAt time.Time
}

// String describes the endpoint without its secret.
func (w Webhook) String() string {
	return fmt.Sprintf("webhook %s (%s, source %s)", w.ID, w.URL, w.Source)
}

// GoString redacts the secret from %#v as well.
func (w Webhook) GoString() string { return w.String() }

// DeliveryStatus is the state of one delivery in the outbox.
type DeliveryStatus string

// Delivery statuses.
const (
	// DeliveryPending means the event has not reached the endpoint yet.
	DeliveryPending DeliveryStatus = "pending"

	// DeliveryDelivered means the endpoint accepted the event with a 2xx.
	DeliveryDelivered DeliveryStatus = "delivered"

	// DeliveryFailed means the broker gave up on the event.
	DeliveryFailed DeliveryStatus = "failed"
)

// Delivery is one event queued in the outbox for one webhook endpoint.
//
// Deliveries with the same WebhookID and AccountID form a queue, ordered by
// ID: [Store.DueDeliveries] returns only the pending delivery with the
// lowest ID of each queue, so an earlier event that keeps failing holds
// back the later ones of that account and endpoint, and no others.
type Delivery struct {
	// ID is assigned by the store on append. A delivery appended after
	// another one's append returned has a larger ID.
	ID int64

	WebhookID string
	AccountID string

	// EventID and EventType identify the event; one event has one delivery
	// per endpoint, all with the same EventID.
	EventID   string
	EventType string

	// Payload is the request body sent to the endpoint. It holds no
	// secret, but it may hold the account's personal fields.
	Payload []byte

	CreatedAt time.Time

	Status DeliveryStatus

	// Attempts counts the requests sent so far.
	Attempts int

	// NextAttemptAt is when a pending delivery is due.
	NextAttemptAt time.Time

	LastAttemptAt time.Time

	// LastStatusCode is the HTTP status of the last attempt; zero when it
	// got no response.
	LastStatusCode int

	// LastError is the last failure in plain words; empty after success.
	LastError string

	// FinishedAt is when the delivery became delivered or failed.
	FinishedAt time.Time
}

// DeliveryListOptions selects deliveries in [Store.ListDeliveries].
type DeliveryListOptions struct {
	// WebhookID limits the list to one endpoint; empty means all.
	WebhookID string

	// Before is the ID of the last delivery of the previous page; zero
	// starts with the newest.
	Before int64

	// Limit is the page size; zero or less means 100.
	Limit int
}
