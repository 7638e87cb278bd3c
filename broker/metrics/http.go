package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// knownMethods are the HTTP methods counted by name; any other counts as
// "other", because a client can send any token as a method.
var knownMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions,
}

// Middleware counts every request by method, route template and status
// code, and records its duration. The route is the pattern echo matched,
// such as /v1/accounts/:id/token, never the raw path, and "unmatched" when
// no route matched. Install it before (outside) the middleware that turns
// errors into responses, so it counts the final status.
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if m == nil {
			return next
		}
		return func(c echo.Context) error {
			m.httpInFlight.Inc()
			defer m.httpInFlight.Dec()

			started := time.Now()
			err := next(c)

			status := c.Response().Status
			if !c.Response().Committed && err != nil {
				// The error has not been written yet; echo's error handler
				// will write its status after this returns.
				status = errorStatus(err)
			}
			method := oneOf(c.Request().Method, knownMethods...)
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			m.httpDuration.WithLabelValues(method, route).Observe(time.Since(started).Seconds())
			return err
		}
	}
}

// errorStatus returns the status echo's error handling gives err when
// nothing wrapped it in a response: the code of an *echo.HTTPError, else
// 500.
func errorStatus(err error) int {
	if he, ok := err.(*echo.HTTPError); ok {
		return he.Code
	}
	return http.StatusInternalServerError
}
