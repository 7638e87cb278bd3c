package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// ReadyCheck is one condition of GET /readyz.
type ReadyCheck struct {
	// Name labels the check in the response body, for example "keys".
	Name string

	// Check returns nil when the condition holds. It runs on every
	// readiness request, so it must be cheap.
	Check func(ctx context.Context) error
}

// readyBody is the JSON of GET /readyz.
type readyBody struct {
	Status  string `json:"status"`
	Version string `json:"version"`

	// Checks maps each check to "ok" or "failed". The reason of a failure
	// goes to the log only.
	Checks map[string]string `json:"checks"`
}

// ready runs the store's Ping and every configured check. It returns 200
// when all pass and 503 otherwise, and logs only when readiness changes,
// so a probe every second does not flood the log.
func (s *Server) ready(c echo.Context) error {
	ctx := c.Request().Context()
	checks := append([]ReadyCheck{{Name: "store", Check: s.store.Ping}}, s.cfg.ReadyChecks...)

	body := readyBody{Status: "ready", Version: s.cfg.Version, Checks: map[string]string{}}
	var failures []any
	for _, rc := range checks {
		if err := rc.Check(ctx); err != nil {
			body.Checks[rc.Name] = "failed"
			failures = append(failures, rc.Name, fmt.Sprint(err))
			continue
		}
		body.Checks[rc.Name] = "ok"
	}

	if len(failures) > 0 {
		body.Status = "unavailable"
		if !s.notReady.Swap(true) {
			s.log.Error("not ready", failures...)
		}
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	if s.notReady.Swap(false) {
		s.log.Info("ready again")
	}
	return c.JSON(http.StatusOK, body)
}
