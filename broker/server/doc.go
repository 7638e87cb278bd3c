// Package server is the broker's HTTP side: the JSON API under /v1 that
// internal services call with an API key, the operators' console, and the
// OAuth connect flow with Zoom.
//
// Handlers return errors; one echo HTTPErrorHandler turns them into JSON
// for /v1 and into pages for the console, and never shows internal error
// text.
package server
