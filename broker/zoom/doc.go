// Package zoom holds everything the broker knows about Zoom's OAuth service
// and REST API: endpoint paths, the shape of token and error responses, and
// how each failure is classified.
//
// Zoom answers token errors with HTTP 400 and a body such as
// {"reason":"Invalid Token!","error":"invalid_grant"}, even for a bad client
// secret, so errors are classified by the JSON error code, not by the HTTP
// status alone.
package zoom
