package metrics

import (
	"time"

	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
)

// The token service's observer interfaces that Metrics implements.
var (
	_ tokens.Observer          = (*Metrics)(nil)
	_ tokens.HandoutObserver   = (*Metrics)(nil)
	_ tokens.RefresherObserver = (*Metrics)(nil)
)

// Refresh counts one refresh call at Zoom and records how long Zoom took.
// It implements [tokens.Observer].
func (m *Metrics) Refresh(app store.App, outcome string, zoomLatency time.Duration) {
	if m == nil {
		return
	}
	outcome = oneOf(outcome, tokens.OutcomeSuccess, tokens.OutcomeTransient, tokens.OutcomeInvalidGrant)
	m.refreshes.WithLabelValues(appLabel(app), outcome).Inc()
	m.refreshDuration.WithLabelValues(appLabel(app)).Observe(zoomLatency.Seconds())
}

// Handout counts one token hand-out and records how long it took. It
// implements [tokens.HandoutObserver].
func (m *Metrics) Handout(app store.App, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	outcome = oneOf(outcome, tokens.HandoutOutcomes...)
	m.tokenRequests.WithLabelValues(appLabel(app), outcome).Inc()
	m.tokenDuration.WithLabelValues(appLabel(app)).Observe(d.Seconds())
}

// RefresherScan records what one scan of the background refresher found.
// It implements [tokens.RefresherObserver].
func (m *Metrics) RefresherScan(at time.Time, due int, lag time.Duration) {
	if m == nil {
		return
	}
	m.refresherScans.Inc()
	m.refresherDue.Set(float64(due))
	m.refresherLag.Set(max(lag, 0).Seconds())
	m.refresherLastScan.Set(float64(at.UnixNano()) / 1e9)
}

// Results of a webhook verification, for [Metrics.WebhookVerified].
const (
	WebhookValid          = "valid"
	WebhookURLValidation  = "url_validation"
	WebhookBadSignature   = "bad_signature"
	WebhookStaleTimestamp = "stale_timestamp"
	WebhookReplay         = "replay"
	WebhookMalformed      = "malformed"
	WebhookNotConfigured  = "not_configured"
)

// WebhookVerified counts one incoming Zoom webhook of app by the result of
// its verification: one of the Webhook* constants. Any other result counts
// as "other".
func (m *Metrics) WebhookVerified(app store.App, result string) {
	if m == nil {
		return
	}
	result = oneOf(result, WebhookValid, WebhookURLValidation, WebhookBadSignature, WebhookStaleTimestamp,
		WebhookReplay, WebhookMalformed, WebhookNotConfigured)
	m.webhookVerifications.WithLabelValues(appLabel(app), result).Inc()
}

// Outcomes of one event delivery attempt, for [Metrics.EventDelivered].
const (
	// EventOK means the subscriber accepted the event.
	EventOK = "delivered"

	// EventRetry means the attempt failed and the event will be sent
	// again.
	EventRetry = "retry"

	// EventFailed means the attempt failed and the event was given up.
	EventFailed = "failed"
)

// EventDelivered counts one attempt to deliver an account event by its
// outcome: EventOK, EventRetry or EventFailed. Any other outcome counts
// as "other".
func (m *Metrics) EventDelivered(outcome string) {
	if m == nil {
		return
	}
	m.eventDeliveries.WithLabelValues(oneOf(outcome, EventOK, EventRetry, EventFailed)).Inc()
}
