package server

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/store"
)

// eventsPageSize is the number of deliveries the events page shows.
const eventsPageSize = 50

// eventsPage lists the webhook endpoints and the latest deliveries with
// their status, attempts, next attempt and last error.
func (s *Server) eventsPage(c echo.Context) error {
	data := map[string]any{"Enabled": s.cfg.Events != nil}
	if s.cfg.Events == nil {
		return c.Render(http.StatusOK, "events.html", s.page(c, "Account events", data))
	}

	var before int64
	if v := c.QueryParam("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return newError(http.StatusBadRequest, "invalid_parameter", "before %s is not a delivery id.", quote(v))
		}
		before = n
	}

	ctx := c.Request().Context()
	hooks, err := s.cfg.Events.ListWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
	}
	deliveries, next, err := s.cfg.Events.ListDeliveries(ctx, store.DeliveryListOptions{Before: before, Limit: eventsPageSize})
	if err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	data["Webhooks"] = hooks
	data["Deliveries"] = deliveries
	data["Next"] = next
	return c.Render(http.StatusOK, "events.html", s.page(c, "Account events", data))
}
