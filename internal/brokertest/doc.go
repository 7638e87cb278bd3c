// Package brokertest runs a complete zoombroker for tests: the HTTP server
// with the token service, a bbolt store in a temporary folder and a Zoom
// sandbox, each on its own 127.0.0.1 port, sharing one settable clock.
//
// [New] returns a [Broker] with an operator, an API key and optionally the
// account events service. [Broker.Connect] connects a sandbox user through
// the real browser flow (sign-in, Connect Account, consent, callback), so
// tests start from accounts made the way operators make them.
package brokertest
