package zoom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Kind is the meaning of a failure for the grant.
type Kind int

const (
	// KindTransient failures (timeouts, connection errors, 5xx, 429,
	// unparsable responses) tell nothing about the grant: try again later.
	KindTransient Kind = iota + 1

	// KindGrant means Zoom rejected the grant itself (invalid_grant, for a
	// refresh "Invalid Token!"): a person must connect the account again.
	KindGrant

	// KindClient means Zoom rejected the broker's app credentials or the
	// request (invalid_client, unsupported_grant_type, invalid_request):
	// the operator has to fix the configuration. The grant may be fine.
	KindClient

	// KindUnauthorized is a REST API 401 (code 124): the access token is
	// expired or was invalidated.
	KindUnauthorized
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindGrant:
		return "grant"
	case KindClient:
		return "client"
	case KindUnauthorized:
		return "unauthorized"
	}
	return "unknown"
}

// Sentinels that match an *Error of the same kind with errors.Is.
var (
	ErrTransient    = errors.New("zoom: transient failure")
	ErrInvalidGrant = errors.New("zoom: grant rejected")
	ErrClient       = errors.New("zoom: client or request rejected")
	ErrUnauthorized = errors.New("zoom: access token rejected")
)

// Error is a failed call to Zoom. Its text never contains a token, a code or
// a response body.
type Error struct {
	// Op is the operation, for example "refresh token".
	Op   string
	Kind Kind

	// Status is the HTTP status, zero when no response arrived.
	Status int

	// Code is Zoom's error code: the OAuth "error" field, the REST "code"
	// number as text, or one of our own ("malformed_response",
	// "network_error", "timeout").
	Code string

	// Reason is Zoom's human-readable reason ("Invalid Token!").
	Reason string

	// RetryAfter is the wait Zoom asked for with a 429 or 503; zero if none.
	RetryAfter time.Duration

	// OutcomeUnknown is set when the request may have reached Zoom and been
	// processed although no response arrived. For a refresh this means the
	// refresh token may have been rotated at Zoom.
	OutcomeUnknown bool

	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("zoom: ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	if e.Err != nil && e.Status == 0 {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTransient:
		return e.Kind == KindTransient
	case ErrInvalidGrant:
		return e.Kind == KindGrant
	case ErrClient:
		return e.Kind == KindClient
	case ErrUnauthorized:
		return e.Kind == KindUnauthorized
	}
	return false
}

// errorBody covers both of Zoom's error shapes: OAuth's {"reason","error"}
// and the REST API's {"code","message"}.
type errorBody struct {
	Error   string          `json:"error"`
	Reason  string          `json:"reason"`
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
}

// classifyTokenError turns what x/oauth2 returned from the token endpoint
// into an *Error.
func classifyTokenError(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return responseError(op, re.Response, re.Body)
	}
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return networkError(op, err)
	}

	// x/oauth2 formats a failed body read with %v, which drops the cause,
	// so its message prefix is the only sign that the response broke off.
	if strings.HasPrefix(err.Error(), "oauth2: cannot fetch token") {
		return networkError(op, err)
	}

	// x/oauth2 reports a 2xx body it cannot parse with a plain error.
	return &Error{Op: op, Kind: KindTransient, Code: "malformed_response", Reason: "response could not be parsed", Err: errors.New("unparsable token response")}
}

// responseError classifies a non-2xx response by its JSON error code first and
// its HTTP status second.
func responseError(op string, resp *http.Response, body []byte) *Error {
	e := &Error{Op: op, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}

	var eb errorBody
	parsed := json.Unmarshal(body, &eb) == nil
	if parsed {
		e.Reason = eb.Reason
		if e.Reason == "" {
			e.Reason = eb.Message
		}
		e.Code = eb.Error
		if e.Code == "" && len(eb.Code) > 0 {
			e.Code = strings.Trim(string(eb.Code), `"`)
		}
	}

	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		e.Kind = KindTransient
	case e.Code == "invalid_grant" || e.Reason == "Invalid Token!":
		// Some integrators saw "Invalid Token!" with invalid_request or with
		// status 401, so the reason text decides as well.
		e.Kind = KindGrant
	case resp.StatusCode == http.StatusUnauthorized && (e.Code == "124" || !parsed):
		e.Kind = KindUnauthorized
	case !parsed || e.Code == "":
		// Zoom is known to respond to some requests with XML or HTML.
		e.Kind = KindTransient
		e.Code = "malformed_response"
	default:
		e.Kind = KindClient
	}
	return e
}

// networkError wraps a failure where no complete response arrived.
func networkError(op string, err error) *Error {
	e := &Error{Op: op, Kind: KindTransient, Code: "network_error", Err: err, OutcomeUnknown: true}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		e.Code = "timeout"
	}

	// A failed dial or name lookup never sent the request.
	var oe *net.OpError
	var de *net.DNSError
	if (errors.As(err, &oe) && oe.Op == "dial") || errors.As(err, &de) {
		e.OutcomeUnknown = false
	}
	return e
}

// retryAfter parses a Retry-After header given in seconds or as an HTTP date
// (a date is taken relative to the wall clock, because that is what the
// server meant).
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
