package tokens

import (
	"context"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// Refresh outcomes reported to an Observer.
const (
	OutcomeSuccess      = "success"
	OutcomeTransient    = "transient"
	OutcomeInvalidGrant = "invalid_grant"
)

// Observer receives measurements of the token service. Implementations
// must be safe for concurrent use and fast: they run on the refresh path.
type Observer interface {
	// Refresh reports one refresh call at Zoom: the app, the outcome
	// (OutcomeSuccess, OutcomeTransient or OutcomeInvalidGrant) and how
	// long Zoom took.
	Refresh(app store.App, outcome string, zoomLatency time.Duration)
}

type nopObserver struct{}

func (nopObserver) Refresh(store.App, string, time.Duration) {}

// Kinds of account events passed to an EventSink.
const (
	EventConnected      = "account.connected"
	EventReconnected    = "account.reconnected"
	EventNeedsReconnect = "account.needs_reconnect"
	EventRevoked        = "account.revoked"
	EventDeauthorized   = "account.deauthorized"
)

// EventSink receives account changes after the store committed them. An
// error is logged and does not undo the change.
type EventSink interface {
	AccountEvent(ctx context.Context, kind string, acct store.Account) error
}

type nopEvents struct{}

func (nopEvents) AccountEvent(context.Context, string, store.Account) error { return nil }

// emit hands an event to the sink and logs a failure.
func (s *Service) emit(ctx context.Context, kind string, acct store.Account) {
	if err := s.events.AccountEvent(context.WithoutCancel(ctx), kind, acct); err != nil {
		s.log.Error("record account event failed", "account_id", acct.ID, "event", kind, "err", err)
	}
}
