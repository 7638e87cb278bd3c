package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/store"
)

// webhookTolerance is how far a webhook's timestamp may be from the
// broker's clock, either way.
const webhookTolerance = 5 * time.Minute

// replayGuard remembers the signatures of accepted webhooks until their
// timestamps are too old to pass the tolerance check anyway.
//
// NOTE: it lives in memory, so replicas sharing a store do not see each
// other's signatures; a replay sent to another replica within five minutes
// is accepted, and handling a deauthorization twice is harmless.
type replayGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time // signature -> when it stops mattering
}

// firstUse records sig and reports whether it was not seen before.
func (g *replayGuard) firstUse(sig string, now, forget time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	for k, until := range g.seen {
		if now.After(until) {
			delete(g.seen, k)
		}
	}
	if _, ok := g.seen[sig]; ok {
		return false
	}
	g.seen[sig] = forget
	return true
}

// zoomEvent is the part of a Zoom webhook the broker reads.
type zoomEvent struct {
	Event   string `json:"event"`
	Payload struct {
		PlainToken string `json:"plainToken"`
		AccountID  string `json:"account_id"`
		UserID     string `json:"user_id"`
		ClientID   string `json:"client_id"`
	} `json:"payload"`
}

// zoomWebhook receives Zoom's webhooks for one app: the URL validation
// challenge and app_deauthorized. Every request must carry a valid
// x-zm-signature over "v0:{timestamp}:{body}", a timestamp within five
// minutes, and a signature not used before.
func (s *Server) zoomWebhook(c echo.Context) error {
	app := store.App(c.Param("app"))
	key, ok := s.cfg.WebhookSecrets[app]
	if !app.Valid() || !ok || key.Empty() {
		return newError(http.StatusNotFound, "not_found", "No webhook is configured for app %s; set its webhook secret token.", quote(string(app)))
	}

	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if he, ok := errorsAs[*echo.HTTPError](err); ok {
			return he
		}
		return newError(http.StatusBadRequest, "invalid_body", "The request body could not be read.")
	}
	if err := s.verifyZoomSignature(c, key, body); err != nil {
		s.log.Warn("zoom webhook rejected", "app", string(app), "reason", err.Message, "remote_ip", c.RealIP())
		return err
	}

	var ev zoomEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return newError(http.StatusBadRequest, "invalid_body", "The webhook body is not valid JSON: %s.", describeJSONError(err))
	}

	switch ev.Event {
	case "endpoint.url_validation":
		if ev.Payload.PlainToken == "" {
			return newError(http.StatusBadRequest, "invalid_body", "payload.plainToken is missing.")
		}
		return c.JSON(http.StatusOK, map[string]string{
			"plainToken":     ev.Payload.PlainToken,
			"encryptedToken": hexHMAC(key, ev.Payload.PlainToken),
		})

	case "app_deauthorized":
		if ev.Payload.UserID == "" && ev.Payload.AccountID == "" {
			return newError(http.StatusBadRequest, "invalid_body", "payload.user_id and payload.account_id are missing.")
		}
		acct, found, err := s.tokens.Deauthorize(c.Request().Context(), app, ev.Payload.UserID, ev.Payload.AccountID)
		if err != nil {
			return err
		}
		if found {
			s.record(c, store.AuditEntry{Action: audit.ActionAccountDeauthorize, Outcome: audit.OutcomeOK, ActorType: audit.ActorZoom, Actor: string(app), AccountID: acct.ID})
		}
		return c.JSON(http.StatusOK, map[string]any{"deauthorized": found, "account_id": acct.ID})
	}

	// Zoom sends other events to the same endpoint when the app subscribes
	// to them; they are acknowledged so Zoom does not retry them.
	return c.JSON(http.StatusOK, map[string]any{"ignored": ev.Event})
}

// verifyZoomSignature checks the timestamp, the HMAC and replays, in that
// order, so a forged request never reaches the replay memory.
func (s *Server) verifyZoomSignature(c echo.Context, key secret.Secret, body []byte) *apiError {
	h := c.Request().Header
	ts, sig := h.Get("x-zm-request-timestamp"), h.Get("x-zm-signature")
	if ts == "" || sig == "" {
		return newError(http.StatusUnauthorized, "invalid_signature", "The x-zm-request-timestamp and x-zm-signature headers are required.")
	}

	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return newError(http.StatusUnauthorized, "invalid_signature", "x-zm-request-timestamp %s is not a Unix time in seconds.", quote(ts))
	}
	sent, now := time.Unix(secs, 0), s.now()
	if d := now.Sub(sent); d > webhookTolerance || d < -webhookTolerance {
		return newError(http.StatusUnauthorized, "stale_timestamp", "The webhook's timestamp is more than 5 minutes from the broker's clock.")
	}

	want := "v0=" + hexHMAC(key, "v0:"+ts+":"+string(body))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return newError(http.StatusUnauthorized, "invalid_signature", "The x-zm-signature does not match the body; check the app's webhook secret token.")
	}
	if !s.replays.firstUse(sig, now, sent.Add(webhookTolerance)) {
		return newError(http.StatusUnauthorized, "replayed", "This webhook was delivered before.")
	}
	return nil
}

func hexHMAC(key secret.Secret, msg string) string {
	m := hmac.New(sha256.New, []byte(key.Reveal()))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
