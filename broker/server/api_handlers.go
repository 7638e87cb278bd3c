package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
)

// Limits of POST /v1/accounts/{id}/token.
const (
	defaultMinTTL = 300
	// maxMinTTL stays below Zoom's access-token life of 3599 seconds, so a
	// fresh token can always satisfy it.
	maxMinTTL = 3300
)

// accountIDPattern checks account ids, which look like acc_ and 20
// characters from a to z and 2 to 7.
var accountIDPattern accountIDShape

// accountID returns the :id path parameter after checking its shape.
func accountID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !accountIDPattern.MatchString(id) {
		return "", newError(http.StatusBadRequest, "invalid_account_id", "Account id %s is not valid: ids look like acc_ followed by 20 lowercase letters and digits.", quote(id))
	}
	return id, nil
}

// quote shows an input value in a message: quoted, escaped, at most 64
// characters.
func quote(v string) string {
	if len(v) > 64 {
		v = v[:64] + "..."
	}
	return strconv.QuoteToASCII(v)
}

var listParams = map[string]bool{"app": true, "status": true, "email": true, "zoom_user_id": true, "zoom_account_id": true, "external_user_id": true, "limit": true, "after": true}

func (s *Server) listAccounts(c echo.Context) error {
	q := c.QueryParams()
	for name, values := range q {
		if !listParams[name] {
			return newError(http.StatusBadRequest, "invalid_parameter", "Unknown query parameter %s; use app, status, email, zoom_user_id, zoom_account_id, external_user_id, limit or after.", quote(name))
		}
		if len(values) > 1 {
			return newError(http.StatusBadRequest, "invalid_parameter", "Query parameter %s appears %d times; give it once.", quote(name), len(values))
		}
	}

	opts := store.ListOptions{
		Filter: store.AccountFilter{
			App:            store.App(q.Get("app")),
			Status:         store.Status(q.Get("status")),
			Email:          q.Get("email"),
			ZoomUserID:     q.Get("zoom_user_id"),
			ZoomAccountID:  q.Get("zoom_account_id"),
			ExternalUserID: q.Get("external_user_id"),
		},
		After: q.Get("after"),
		Limit: 100,
	}
	if opts.Filter.App != "" && !opts.Filter.App.Valid() {
		return newError(http.StatusBadRequest, "invalid_parameter", "app %s is not valid; use zoom or zoom_admin.", quote(q.Get("app")))
	}
	if opts.Filter.Status != "" && !opts.Filter.Status.Valid() {
		return newError(http.StatusBadRequest, "invalid_parameter", "status %s is not valid; use active, needs_reconnect or revoked.", quote(q.Get("status")))
	}
	if opts.After != "" && !accountIDPattern.MatchString(opts.After) {
		return newError(http.StatusBadRequest, "invalid_parameter", "after %s is not an account id; pass the next_after value of the previous page.", quote(opts.After))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return newError(http.StatusBadRequest, "invalid_parameter", "limit %s is not valid; use a whole number from 1 to 500.", quote(v))
		}
		opts.Limit = n
	}

	limits := callerLimits(c)
	if err := narrowToLimits(limits, &opts.Filter); err != nil {
		return err
	}
	accounts, next, err := s.store.ListAccounts(c.Request().Context(), opts)
	if err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	views := make([]accountView, 0, len(accounts))
	for _, a := range accounts {
		if limits.AllowsAccount(a) {
			views = append(views, viewAccount(a))
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"accounts": views, "next_after": next})
}

func (s *Server) getAccount(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	a, err := s.store.GetAccount(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewAccount(a))
}

func (s *Server) deleteAccount(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	key := c.Get(ctxAPIKey).(store.APIKey)
	res, err := s.tokens.Revoke(c.Request().Context(), id, "revoked through the API by key "+key.ID)
	if err != nil {
		return err
	}

	body := map[string]any{"account": viewAccount(res.Account), "already_revoked": res.AlreadyRevoked, "zoom_revoked": res.ZoomRevoked}
	if res.ZoomError != nil {
		body["zoom_revoke_error"] = "Zoom could not confirm the revoke; the tokens were deleted here anyway. The user can remove the app at Zoom."
	}
	return c.JSON(http.StatusOK, body)
}

// tokenRequest is the optional JSON body of POST /v1/accounts/{id}/token.
type tokenRequest struct {
	MinTTLSeconds       *int64        `json:"min_ttl_seconds"`
	ForceRefresh        bool          `json:"force_refresh"`
	RejectedAccessToken secret.Secret `json:"rejected_access_token"`
}

// tokenRequestJSON is the wire form of tokenRequest, with the rejected
// token as a plain string.
type tokenRequestJSON struct {
	MinTTLSeconds       *int64 `json:"min_ttl_seconds"`
	ForceRefresh        bool   `json:"force_refresh"`
	RejectedAccessToken string `json:"rejected_access_token"`
}

func (raw tokenRequestJSON) request() tokenRequest {
	return tokenRequest{MinTTLSeconds: raw.MinTTLSeconds, ForceRefresh: raw.ForceRefresh, RejectedAccessToken: secret.Secret(raw.RejectedAccessToken)}
}

// UnmarshalJSON is needed because secret.Secret marshals as redacted text.
func (r *tokenRequest) UnmarshalJSON(b []byte) error {
	var raw tokenRequestJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	*r = raw.request()
	return nil
}

// tokenResponse is the JSON of an issued token.
type tokenResponse struct {
	AccountID   string    `json:"account_id"`
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"`
	ExpiresIn   int64     `json:"expires_in"`
	Scopes      []string  `json:"scopes"`
}

func (s *Server) issueToken(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	req, err := decodeTokenRequest(c)
	if err != nil {
		return err
	}

	minTTL := int64(defaultMinTTL)
	if req.MinTTLSeconds != nil {
		minTTL = *req.MinTTLSeconds
	}
	if minTTL < 0 || minTTL > maxMinTTL {
		return newError(http.StatusBadRequest, "invalid_body", "min_ttl_seconds %d is out of range; use 0 to %d (Zoom access tokens live about an hour).", minTTL, maxMinTTL)
	}

	got, err := s.tokens.Token(c.Request().Context(), id, tokens.Request{
		Arrived:             arrivedAt(c),
		MinTTL:              time.Duration(minTTL) * time.Second,
		ForceRefresh:        req.ForceRefresh,
		RejectedAccessToken: req.RejectedAccessToken,
	})
	if err != nil {
		return err
	}

	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Pragma", "no-cache")
	scopes := got.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return writeTokenResponse(c, tokenResponse{
		AccountID:   got.AccountID,
		AccessToken: got.AccessToken.Reveal(),
		TokenType:   "bearer",
		ExpiresAt:   got.Expiry.UTC(),
		ExpiresIn:   int64(got.Expiry.Sub(s.now()).Seconds()),
		Scopes:      scopes,
	})
}

// decodeTokenRequest reads the optional JSON body. An empty body means the
// defaults.
func decodeTokenRequest(c echo.Context) (tokenRequest, error) {
	var req tokenRequest
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if he, ok := errorsAs[*echo.HTTPError](err); ok {
			return req, he
		}
		return req, newError(http.StatusBadRequest, "invalid_body", "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}

	ct := c.Request().Header.Get(echo.HeaderContentType)
	if !isJSONContentType(ct) {
		return req, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %s is not supported; send application/json or no body.", quote(ct))
	}

	// Decoding into the wire form directly, rather than through
	// tokenRequest.UnmarshalJSON, parses the body once instead of twice.
	var raw tokenRequestJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return req, newError(http.StatusBadRequest, "invalid_body", "The body is not a valid token request: %s. Send {\"min_ttl_seconds\": N, \"force_refresh\": bool, \"rejected_access_token\": \"...\"}, each field optional.", describeJSONError(err))
	}
	if dec.More() {
		return req, newError(http.StatusBadRequest, "invalid_body", "The body has data after the JSON object; send one object.")
	}
	return raw.request(), nil
}

// jsonKind names a Go kind the way a JSON writer thinks of it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a " + k.String()
}

// describeJSONError turns a decoding error into words that contain no input
// beyond a field name.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return "the body must be a JSON object"
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s must be %s", quote(typ.Field), jsonKind(typ.Type.Kind()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + quote(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	}
	return "malformed JSON"
}

// ctxArrived is the echo context key of the time a request arrived.
const ctxArrived = "zoombroker.arrived"

// arrivedAt returns when the request arrived, as recorded by the
// markArrival middleware, or now.
func arrivedAt(c echo.Context) time.Time {
	if t, ok := c.Get(ctxArrived).(time.Time); ok {
		return t
	}
	return time.Now()
}

// markArrival records when a request arrived, before any other work.
func markArrival(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(ctxArrived, time.Now())
		return next(c)
	}
}
