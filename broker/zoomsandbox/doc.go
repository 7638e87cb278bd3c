// Package zoomsandbox imitates Zoom's OAuth server and a small part of its
// REST API, in process and over real HTTP, for the broker's tests and for
// `zoombroker serve --dev`.
//
// # Basics
//
// [New] builds a [Sandbox] from [Options]: the registered apps, the users
// who can sign in, a clock and the token lifetimes. [Sandbox.Handler]
// serves these routes, relative to wherever the handler is mounted (it
// works behind [net/http.StripPrefix]):
//
//	GET  /                        a page that lists the apps and users
//	GET  /oauth/authorize         the consent page
//	POST /oauth/authorize         the consent form (Allow or Decline)
//	POST /oauth/token             authorization_code and refresh_token grants
//	POST /oauth/revoke            revokes a whole grant
//	GET  /v2/users/me             the token's user
//	GET  /v2/users/me/meetings    a fixed list of meetings
//	POST /v2/users/me/meetings    echoes the meeting in the JSON body
//
// Tests drive the consent page without a browser through [Sandbox.Approve]
// and [Sandbox.Decline], and inject faults with [Sandbox.FailRefreshes],
// [Sandbox.DropRefreshResponses], [Sandbox.SetTokenLatency],
// [Sandbox.LimitTokenRate] and [Sandbox.ExpireAccessTokens].
//
// # Zoom behaviour it copies
//
//   - Token endpoint errors are HTTP 400 with a two-field body
//     {"reason": ..., "error": ...}, a bad client secret included (Zoom does
//     not return 401 there).
//   - Client credentials are accepted in a Basic header or as
//     client_id/client_secret parameters, and parameters in the form body or
//     the query string.
//   - expires_in is 3599 and scope is one space-separated string.
//   - Every refresh rotates the refresh token, and the old one fails at once
//     with "Invalid Token!". Each new access token of a grant invalidates the
//     grant's previous access token (Zoom's token tolerance of 1).
//   - Authorizing an app again, by the same user (user-managed app) or the
//     same account (account-level app), kills the earlier grant.
//   - Revoking any token of a grant removes the whole grant, as uninstalling
//     the app would.
//   - A bad client_id or redirect_uri at /oauth/authorize gets a JSON error
//     page and no redirect.
//   - The REST API rejects an invalid or expired access token with HTTP 401
//     and {"code":124,...}.
//
// # Caveats
//
// State lives in memory and is lost with the Sandbox. The list behind
// [Sandbox.IssuedSecrets] grows with every code and token issued. Consent is
// shown on every authorization: the sandbox never skips it the way Zoom does
// for an app the user has already authorized. Scopes are never checked on
// API calls, and no deauthorization webhook is sent.
package zoomsandbox
