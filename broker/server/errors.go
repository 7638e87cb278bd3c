package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
)

// apiError is an error with the status, code and message returned to the caller.
type apiError struct {
	Status  int
	Code    string
	Message string

	// RetryAfter, in seconds, is sent as a header when positive.
	RetryAfter int

	// Err is the cause, logged but never shown.
	Err error
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.Err }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON of every API error.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// classify maps any error a handler returned to the response the caller gets.
func classify(err error) *apiError {
	if ae, ok := errorsAs[*apiError](err); ok {
		return ae
	}
	if he, ok := errorsAs[*echo.HTTPError](err); ok {
		return fromHTTPError(he)
	}
	if errors.Is(err, store.ErrUnavailable) {
		// Before the Zoom case: a refresh that failed because the database
		// is gone is not Zoom's fault.
		return &apiError{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "The broker's database cannot be reached; retry later.", RetryAfter: 5, Err: err}
	}
	if u, ok := tokens.IsUnavailable(err); ok {
		secs := int(u.RetryAfter.Seconds() + 0.999)
		return &apiError{Status: http.StatusServiceUnavailable, Code: "zoom_unavailable", Message: "Zoom is unavailable and the stored token does not have the requested life left; retry later.", RetryAfter: secs, Err: err}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "No account with this id exists.", Err: err}
	case errors.Is(err, tokens.ErrNeedsReconnect):
		return &apiError{Status: http.StatusConflict, Code: "needs_reconnect", Message: "Zoom rejected this account's grant; an operator must reconnect it in the console.", Err: err}
	case errors.Is(err, tokens.ErrRevoked):
		return &apiError{Status: http.StatusGone, Code: "revoked", Message: "This account was revoked; connect it again to get a new account.", Err: err}
	case errors.Is(err, tokens.ErrAppNotConfigured):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "app_not_configured", Message: "The account's Zoom app has no client credentials configured on this broker.", RetryAfter: 60, Err: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal_error", Message: "The broker failed to handle the request; the log has the details.", Err: err}
}

func fromHTTPError(he *echo.HTTPError) *apiError {
	switch he.Code {
	case http.StatusNotFound:
		return &apiError{Status: he.Code, Code: "not_found", Message: "No such endpoint."}
	case http.StatusMethodNotAllowed:
		return &apiError{Status: he.Code, Code: "method_not_allowed", Message: "This endpoint does not accept this method."}
	case http.StatusRequestEntityTooLarge:
		return &apiError{Status: he.Code, Code: "body_too_large", Message: fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes)}
	}
	if he.Code >= 400 && he.Code < 500 {
		return &apiError{Status: he.Code, Code: "bad_request", Message: http.StatusText(he.Code) + "."}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal_error", Message: "The broker failed to handle the request; the log has the details.", Err: he}
}

// handleError is the one place errors become responses: JSON for the API,
// a page for the console.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := classify(err)
	if he, ok := errorsAs[*echo.HTTPError](err); ok && !isAPI(c) && (he.Code == http.StatusForbidden || he.Code == http.StatusBadRequest) {
		// On console forms these come from echo's CSRF middleware: 403
		// for a wrong token, 400 for a missing one.
		ae = &apiError{Status: http.StatusForbidden, Code: "csrf_failed", Message: "The form expired or did not come from this console; reload the page and try again.", Err: he}
	}
	s.auditRejection(c, ae)
	if ae.Status >= 500 {
		s.log.Error("request failed", "path", c.Request().URL.Path, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
	}
	if ae.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}

	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	if isAPI(c) {
		_ = c.JSON(ae.Status, errorBody{Error: ae.Code, Message: ae.Message})
		return
	}
	_ = c.Render(ae.Status, "error.html", s.page(c, "Something went wrong", map[string]any{"Status": ae.Status, "Message": ae.Message}))
}
