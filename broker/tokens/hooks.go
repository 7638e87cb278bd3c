package tokens

import (
	"context"
	"errors"
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

// Hand-out outcomes reported to a HandoutObserver.
const (
	HandoutStored           = "stored"    // the stored token had the requested life
	HandoutRefreshed        = "refreshed" // the request waited for a refresh at Zoom
	HandoutNotFound         = "not_found"
	HandoutNeedsReconnect   = "needs_reconnect"
	HandoutRevoked          = "revoked"
	HandoutUnavailable      = "unavailable"
	HandoutAppNotConfigured = "app_not_configured"
	HandoutError            = "error"
)

// HandoutOutcomes lists every hand-out outcome.
var HandoutOutcomes = []string{HandoutStored, HandoutRefreshed, HandoutNotFound, HandoutNeedsReconnect,
	HandoutRevoked, HandoutUnavailable, HandoutAppNotConfigured, HandoutError}

// HandoutObserver is an optional extension of Observer: when the Observer
// in Config also implements it, the service reports every call of
// [Service.Token].
type HandoutObserver interface {
	// Handout reports one hand-out: the account's app (empty when the
	// account was not found), one of the Handout* outcomes and how long
	// the call took.
	Handout(app store.App, outcome string, d time.Duration)
}

// RefresherObserver is an optional extension of Observer: when the
// Observer in Config also implements it, the background refresher reports
// every scan for due accounts.
type RefresherObserver interface {
	// RefresherScan reports a scan at the service's time at: how many
	// accounts were due (at most the batch size) and how far past its
	// NextRefreshAt the most overdue of them was.
	RefresherScan(at time.Time, due int, lag time.Duration)
}

// handoutOutcome classifies the result of one Token call.
func handoutOutcome(got Issued, err error) string {
	var unavailable *UnavailableError
	switch {
	case err == nil && got.Refreshed:
		return HandoutRefreshed
	case err == nil:
		return HandoutStored
	case errors.Is(err, store.ErrNotFound):
		return HandoutNotFound
	case errors.Is(err, ErrNeedsReconnect):
		return HandoutNeedsReconnect
	case errors.Is(err, ErrRevoked):
		return HandoutRevoked
	case errors.Is(err, ErrAppNotConfigured):
		return HandoutAppNotConfigured
	case errors.As(err, &unavailable):
		return HandoutUnavailable
	}
	return HandoutError
}

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
