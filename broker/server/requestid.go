package server

import (
	"github.com/labstack/echo/v4"
)

// maxRequestIDLength bounds a request id taken from a client.
const maxRequestIDLength = 128

// requestID gives every request an id: the client's X-Request-Id when it
// is valid, else a new random one. The id is sent back in the response
// and replaces the request header, so the request log and every handler
// see the same, checked value.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Request().Header.Set(echo.HeaderXRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// validRequestID reports whether id is 1 to 128 printable ASCII
// characters without spaces, so it cannot break a log line or carry
// control characters into a log pipeline.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}
