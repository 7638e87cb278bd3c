// Package client calls a zoombroker from Go: its /v1 API, Zoom's API with
// an account's token, and the signed account events it sends.
//
// A [Client] has a method for every /v1 endpoint. Errors of the API are
// *[Error] values that match [ErrUnauthorized], [ErrForbidden],
// [ErrNotFound], [ErrNeedsReconnect], [ErrRevoked], [ErrTooManyRequests] and
// [ErrUnavailable] with errors.Is.
//
// To call Zoom, put a [Transport] into an http.Client:
//
//	zb := &client.Client{BaseURL: "http://127.0.0.1:8080", APIKey: client.APIKey(os.Getenv("ZOOMBROKER_API_KEY"))}
//	zoomHTTP := &http.Client{Transport: &client.Transport{Source: zb.TokenSource(accountID)}, Timeout: time.Minute}
//	resp, err := zoomHTTP.Get("https://api.zoom.us/v2/users/me/meetings")
//
// [Client.TokenSource] is also an oauth2.TokenSource, so
// oauth2.NewClient(ctx, zb.TokenSource(accountID)) works as well. The
// Transport does one thing more: when Zoom invalidated the token early
// (401 with code 124, which Zoom does when the broker refreshes), it gets
// the newer token from the broker and sends the request again.
//
// Webhook endpoints check each event with [VerifyEvent].
package client
