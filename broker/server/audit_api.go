package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/store"
)

// auditEntryView is the JSON of one audit entry.
type auditEntryView struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome"`
	ActorType  string    `json:"actor_type"`
	Actor      string    `json:"actor"`
	AccountID  string    `json:"account_id,omitempty"`
	RemoteAddr string    `json:"remote_addr"`
	RequestID  string    `json:"request_id,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

var auditParams = map[string]bool{"action": true, "actor": true, "account_id": true, "since": true, "until": true, "before": true, "limit": true}

// auditOptions reads the filters and paging of GET /v1/audit and the
// console's audit page from the query.
func auditOptions(q url.Values) (store.AuditListOptions, error) {
	for name, values := range q {
		if !auditParams[name] {
			return store.AuditListOptions{}, newError(http.StatusBadRequest, "invalid_parameter", "Unknown query parameter %s; use action, actor, account_id, since, until, before or limit.", quote(name))
		}
		if len(values) > 1 {
			return store.AuditListOptions{}, newError(http.StatusBadRequest, "invalid_parameter", "Query parameter %s appears %d times; give it once.", quote(name), len(values))
		}
	}

	opts := store.AuditListOptions{
		Filter: store.AuditFilter{Action: q.Get("action"), Actor: q.Get("actor"), AccountID: q.Get("account_id")},
		Limit:  100,
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &opts.Filter.Since}, {"until", &opts.Filter.Until}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return opts, newError(http.StatusBadRequest, "invalid_parameter", "%s %s is not an RFC 3339 time such as 2026-03-01T09:00:00Z.", f.name, quote(v))
		}
		*f.dst = t
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return opts, newError(http.StatusBadRequest, "invalid_parameter", "before %s is not valid; pass the next_before value of the previous page.", quote(v))
		}
		opts.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return opts, newError(http.StatusBadRequest, "invalid_parameter", "limit %s is not valid; use a whole number from 1 to 500.", quote(v))
		}
		opts.Limit = n
	}
	return opts, nil
}

// auditLog returns the audit log, or 404 when the broker runs without one.
func (s *Server) auditLog() (*audit.Log, error) {
	if s.cfg.Security.Audit == nil {
		return nil, newError(http.StatusNotFound, "not_found", "The audit log is not enabled on this broker.")
	}
	return s.cfg.Security.Audit, nil
}

// listAudit serves GET /v1/audit. One page may hold fewer entries than
// limit while next_before is not zero: the store bounds the work of one
// call.
func (s *Server) listAudit(c echo.Context) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	opts, err := auditOptions(c.QueryParams())
	if err != nil {
		return err
	}
	entries, next, err := log.List(c.Request().Context(), opts)
	if errors.Is(err, audit.ErrNoStore) {
		return newError(http.StatusNotImplemented, "audit_not_stored", "This broker's store keeps no audit log; the entries are in the process log.")
	}
	if err != nil {
		return fmt.Errorf("list audit entries: %w", err)
	}

	views := make([]auditEntryView, 0, len(entries))
	for _, e := range entries {
		views = append(views, auditEntryView(e))
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": views, "next_before": next})
}

// auditPageCalls bounds the store calls behind one console page, because
// each call may end early when a filter matches rarely.
const auditPageCalls = 5

// auditPage serves the console's /audit page with the same filters as the
// API.
func (s *Server) auditPage(c echo.Context) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	opts, err := auditOptions(c.QueryParams())
	if err != nil {
		return err
	}

	var entries []store.AuditEntry
	var next int64
	for range auditPageCalls {
		page, n, err := log.List(c.Request().Context(), opts)
		if errors.Is(err, audit.ErrNoStore) {
			return newError(http.StatusNotImplemented, "audit_not_stored", "This broker's store keeps no audit log; the entries are in the process log.")
		}
		if err != nil {
			return fmt.Errorf("list audit entries: %w", err)
		}
		entries, next = append(entries, page...), n
		if next == 0 || len(entries) >= opts.Limit {
			break
		}
		opts.Limit -= len(page)
		opts.Before = next
	}

	older := ""
	if next != 0 {
		q := c.QueryParams()
		q.Set("before", strconv.FormatInt(next, 10))
		older = "/audit?" + q.Encode()
	}
	return c.Render(http.StatusOK, "audit.html", s.page(c, "Audit log", map[string]any{
		"Entries": entries,
		"Actions": audit.Actions,
		"Filter":  opts.Filter,
		"Older":   older,
	}))
}
