// Package events notifies internal services when a connected account
// changes.
//
// [Service] is a [tokens.EventSink]: for every account event the token
// service commits (account.connected, account.reconnected,
// account.needs_reconnect, account.revoked, account.deauthorized) it
// appends one delivery per registered webhook endpoint to the outbox in the
// store, in the same call, and returns. [Service.Run] sends the outbox:
// each delivery is a POST of the event's JSON, signed with HMAC-SHA256 over
// "v1:{timestamp}:{body}" with the endpoint's secret (see [Sign]).
//
// # Delivery guarantees
//
//   - At least once: a delivery leaves the outbox only after a 2xx answer,
//     or after the broker gave up on it (RetryFor after the event, 24 hours
//     by default). Outbox state lives in the store, so a restart resumes
//     where the last process stopped. An endpoint can get an event twice;
//     the event id tells duplicates apart.
//   - In order per account and endpoint: the store hands out only the
//     oldest pending delivery of each account and endpoint, so an event
//     that keeps failing holds back the later events of that account at
//     that endpoint, and nothing else.
//   - Never in the way of token hand-out: AccountEvent only writes to the
//     store, and the requests run in Run's own goroutines, at most
//     Concurrency at once, each bounded by Timeout.
//
// Endpoints come from the configuration ([Config.Endpoints], whose secrets
// stay in memory) or from the API ([Service.CreateWebhook], whose secrets
// are sealed in the store).
package events

import "github.com/zoombroker/zoombroker/broker/tokens"

var _ tokens.EventSink = (*Service)(nil)
