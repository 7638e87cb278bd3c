// Package tokens owns connected accounts' tokens: it stores a new grant
// after the connect flow, hands out access tokens with the life a caller
// asks for, refreshes them at Zoom and revokes grants.
//
// # Refresh
//
// Zoom rotates the refresh token on every refresh and the old one dies at
// once, so two refreshes of one account at the same time, or a rotated token
// that is not stored, lose the account. A refresh therefore runs at most
// once per account at a time (a single-flight group keyed by account id),
// calls Zoom with no store transaction open, and stores the new pair with a
// compare-and-swap on the account's token version before any caller sees
// the new access token.
package tokens
