package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/events"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/store"
)

var webhookIDPattern = regexp.MustCompile(`^whk_([a-z2-7]{20}|cfg_[0-9a-f]{20})$`)

// webhookView is the JSON of a webhook endpoint. Secret is the plaintext
// only in the response that created the endpoint, and secret.Redacted
// everywhere else.
type webhookView struct {
	ID        string              `json:"id"`
	URL       string              `json:"url"`
	Source    store.WebhookSource `json:"source"`
	CreatedAt time.Time           `json:"created_at"`
	Secret    string              `json:"secret"`
}

func viewWebhook(w store.Webhook) webhookView {
	return webhookView{ID: w.ID, URL: w.URL, Source: w.Source, CreatedAt: w.CreatedAt.UTC(), Secret: secret.Redacted}
}

// eventsService returns the events service, or a 404 when the broker runs
// without one.
func (s *Server) eventsService() (*events.Service, error) {
	if s.cfg.Events == nil {
		return nil, newError(http.StatusNotFound, "not_found", "Webhooks are not enabled on this broker.")
	}
	return s.cfg.Events, nil
}

func (s *Server) listWebhooks(c echo.Context) error {
	ev, err := s.eventsService()
	if err != nil {
		return err
	}
	hooks, err := ev.ListWebhooks(c.Request().Context())
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
	}
	views := make([]webhookView, 0, len(hooks))
	for _, w := range hooks {
		views = append(views, viewWebhook(w))
	}
	return c.JSON(http.StatusOK, map[string]any{"webhooks": views})
}

// createWebhookRequest is the JSON body of POST /v1/webhooks.
type createWebhookRequest struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

func (s *Server) createWebhook(c echo.Context) error {
	ev, err := s.eventsService()
	if err != nil {
		return err
	}
	req, err := decodeWebhookRequest(c)
	if err != nil {
		return err
	}

	w, sec, err := ev.CreateWebhook(c.Request().Context(), req.URL, secret.Secret(req.Secret))
	if invalid, ok := errorsAs[*events.InvalidError](err); ok {
		return newError(http.StatusBadRequest, "invalid_body", "url or secret is not valid: %s.", invalid.Msg)
	}
	if err != nil {
		return err
	}

	view := viewWebhook(w)
	view.Secret = sec.Reveal()
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, view)
}

func (s *Server) deleteWebhook(c echo.Context) error {
	ev, err := s.eventsService()
	if err != nil {
		return err
	}
	id := c.Param("id")
	if !webhookIDPattern.MatchString(id) {
		return newError(http.StatusBadRequest, "invalid_webhook_id", "Webhook id %s is not valid: ids look like whk_ followed by 20 letters and digits.", quote(id))
	}

	err = ev.DeleteWebhook(c.Request().Context(), id)
	if invalid, ok := errorsAs[*events.InvalidError](err); ok {
		return newError(http.StatusForbidden, "webhook_configured", "This webhook cannot be deleted through the API: %s.", invalid.Msg)
	}
	if errors.Is(err, store.ErrNotFound) {
		return newError(http.StatusNotFound, "not_found", "No webhook with this id exists.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"deleted": true, "id": id})
}

// decodeWebhookRequest reads the JSON body of POST /v1/webhooks.
func decodeWebhookRequest(c echo.Context) (createWebhookRequest, error) {
	var req createWebhookRequest
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return req, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %s is not supported; send application/json.", quote(ct))
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if he, ok := errorsAs[*echo.HTTPError](err); ok {
			return req, he
		}
		return req, newError(http.StatusBadRequest, "invalid_body", "The request body could not be read.")
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, newError(http.StatusBadRequest, "invalid_body", "The body is not a valid webhook: %s. Send {\"url\": \"https://...\", \"secret\": \"...\"}; secret is optional.", describeJSONError(err))
	}
	if dec.More() {
		return req, newError(http.StatusBadRequest, "invalid_body", "The body has data after the JSON object; send one object.")
	}
	if req.URL == "" {
		return req, newError(http.StatusBadRequest, "invalid_body", "url is missing.")
	}
	return req, nil
}
