package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
)

// Limits of the Zoom API proxy.
const (
	// DefaultProxyTimeout bounds one proxied call, the response body
	// included, when Config.ProxyTimeout is zero.
	DefaultProxyTimeout = 60 * time.Second

	// proxyReplayLimit is the largest request body the proxy buffers, so
	// that it can send the request again after a refresh. A larger body is
	// streamed and never retried.
	proxyReplayLimit = 256 << 10

	// proxyMinTTL is the least life a token needs for one proxied call.
	proxyMinTTL = 2 * time.Minute

	// proxyErrorPeek is how much of a Zoom 401 body the proxy reads to
	// find its error code.
	proxyErrorPeek = 64 << 10

	// headerOrigin names the origin of a response: Zoom, or the broker
	// itself (an error about the key, the account or the path).
	headerOrigin = "X-Zoombroker-Origin"
)

// proxyRequestHeaders are the caller's headers sent on to Zoom. Everything
// else, Authorization and Cookie above all, stays behind.
var proxyRequestHeaders = []string{
	"Accept", "Accept-Language", "Content-Type",
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
}

// proxyResponseHeaders are Zoom's headers sent back to the caller.
var proxyResponseHeaders = []string{
	"Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition",
	"Cache-Control", "ETag", "Last-Modified", "Location", "Retry-After",
	"X-RateLimit-Category", "X-RateLimit-Type", "X-RateLimit-Limit", "X-RateLimit-Remaining",
	"X-Zm-Trackingid",
}

// markBrokerOrigin labels every response of a proxy route as the broker's
// until the proxy relays Zoom's own response.
func markBrokerOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(headerOrigin, "broker")
		return next(c)
	}
}

// proxyZoom forwards /v1/accounts/{id}/zoom/{path} to {api url}/{path} with
// the account's access token. When Zoom rejects the token with code 124 it
// reports the token to the token service, which refreshes once for all
// callers, and sends a replayable request once more.
func (s *Server) proxyZoom(c echo.Context) error {
	req := c.Request()
	if req.Method == http.MethodConnect || req.Method == http.MethodTrace {
		return echo.ErrMethodNotAllowed
	}
	id, err := accountID(c)
	if err != nil {
		return err
	}
	zoomPath, err := proxyPath(req.URL.EscapedPath(), id)
	if err != nil {
		s.record(c, store.AuditEntry{Action: audit.ActionZoomProxy, Outcome: audit.OutcomeDenied, AccountID: id, Detail: req.Method + ": path outside the Zoom API rejected"})
		return err
	}
	target, err := proxyTarget(s.tokens.Zoom().APIURL, zoomPath, req.URL.RawQuery)
	if err != nil {
		return err
	}

	timeout := s.cfg.ProxyTimeout
	if timeout <= 0 {
		timeout = DefaultProxyTimeout
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()

	body, replayable, err := proxyBody(req)
	if err != nil {
		return err
	}

	start := time.Now()
	issued, err := s.tokens.Token(ctx, id, tokens.Request{MinTTL: proxyMinTTL})
	if err != nil {
		return err
	}
	resp, err := s.sendToZoom(ctx, req, target, issued.AccessToken, body)
	retried := false
	if err == nil && resp.StatusCode == http.StatusUnauthorized && tokenRejected(resp) {
		// Zoom invalidated the token early; the token service refreshes
		// unless a newer token is already there.
		next, terr := s.tokens.Token(ctx, id, tokens.Request{MinTTL: proxyMinTTL, RejectedAccessToken: issued.AccessToken})
		switch {
		case terr != nil:
			resp.Body.Close()
			return terr
		case replayable != nil && next.AccessToken != issued.AccessToken:
			resp.Body.Close()
			retried = true
			resp, err = s.sendToZoom(ctx, req, target, next.AccessToken, bytes.NewReader(replayable))
		}
	}
	if err != nil {
		s.auditProxy(c, id, zoomPath, 0, retried, start, err)
		return proxyError(ctx, err, timeout)
	}
	defer resp.Body.Close()

	h := c.Response().Header()
	for _, name := range proxyResponseHeaders {
		if vs := resp.Header.Values(name); len(vs) > 0 {
			h[http.CanonicalHeaderKey(name)] = vs
		}
	}
	h.Set(headerOrigin, "zoom")
	c.Response().WriteHeader(resp.StatusCode)
	_, copyErr := io.Copy(c.Response(), resp.Body)
	s.auditProxy(c, id, zoomPath, resp.StatusCode, retried, start, copyErr)
	return nil
}

// sendToZoom sends one clean request to Zoom: the method, the target URL,
// the allowed headers, the body and the account's token, and nothing else
// of the caller's request. Redirects are returned, not followed.
func (s *Server) sendToZoom(ctx context.Context, in *http.Request, target string, token secret.Secret, body io.Reader) (*http.Response, error) {
	if in.Method == http.MethodGet || in.Method == http.MethodHead {
		body = nil
	}
	out, err := http.NewRequestWithContext(ctx, in.Method, target, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		out.ContentLength = in.ContentLength
		if r, ok := body.(*bytes.Reader); ok {
			out.ContentLength = int64(r.Len())
		}
	}
	for _, name := range proxyRequestHeaders {
		if vs := in.Header.Values(name); len(vs) > 0 {
			out.Header[http.CanonicalHeaderKey(name)] = vs
		}
	}
	out.Header.Set("Authorization", "Bearer "+token.Reveal())
	out.Header.Set("User-Agent", "zoombroker-proxy/1")

	transport := http.DefaultTransport
	if hc := s.tokens.Zoom().HTTP; hc != nil && hc.Transport != nil {
		transport = hc.Transport
	}
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return client.Do(out)
}

// proxyBody returns the request body to send. A body of at most
// proxyReplayLimit bytes is read into memory and also returned as
// replayable; a larger one streams and replayable is nil.
func proxyBody(req *http.Request) (body io.Reader, replayable []byte, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, []byte{}, nil
	}
	head, err := io.ReadAll(io.LimitReader(req.Body, proxyReplayLimit+1))
	if err != nil {
		return nil, nil, newError(http.StatusBadRequest, "invalid_body", "The request body could not be read.")
	}
	if len(head) <= proxyReplayLimit {
		return bytes.NewReader(head), head, nil
	}
	return io.MultiReader(bytes.NewReader(head), req.Body), nil, nil
}

// tokenRejected reports whether a Zoom 401 carries code 124, which means
// the access token is invalid or expired. It reads the start of the body and puts
// it back, so the caller still gets all of it.
func tokenRejected(resp *http.Response) bool {
	peek, _ := io.ReadAll(io.LimitReader(resp.Body, proxyErrorPeek))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(peek), resp.Body), resp.Body}

	var body struct {
		Code json.Number `json:"code"`
	}
	return json.Unmarshal(peek, &body) == nil && body.Code.String() == "124"
}

// proxyError maps a failed call to Zoom to an API error.
func proxyError(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &apiError{Status: http.StatusGatewayTimeout, Code: "zoom_timeout", Message: "Zoom did not respond within " + timeout.String() + ".", Err: err}
	}
	return &apiError{Status: http.StatusBadGateway, Code: "zoom_unreachable", Message: "The broker could not reach Zoom; retry later.", RetryAfter: 5, Err: err}
}

// auditProxy logs one proxied call and records it in the audit log: who,
// which account, method, Zoom path and status. The query, the bodies and
// the tokens are never logged.
//
// NOTE: the route's audit middleware also records a relayed Zoom 401, 403
// or 429 as a refusal, as if the broker had refused the caller.
func (s *Server) auditProxy(c echo.Context, accountID, zoomPath string, status int, retried bool, start time.Time, err error) {
	outcome, detail := audit.OutcomeOK, fmt.Sprintf("%s %s: Zoom answered %d", c.Request().Method, zoomPath, status)
	if err != nil || status >= 400 {
		outcome = audit.OutcomeFailed
	}
	if err != nil && status == 0 {
		detail = fmt.Sprintf("%s %s: Zoom could not be reached", c.Request().Method, zoomPath)
	}
	s.record(c, store.AuditEntry{Action: audit.ActionZoomProxy, Outcome: outcome, AccountID: accountID, Detail: detail})

	attrs := []any{
		"method", c.Request().Method,
		"zoom_path", zoomPath,
		"status", status,
		"account_id", accountID,
		"retried", retried,
		"latency_ms", time.Since(start).Milliseconds(),
		"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
	}
	if k, ok := c.Get(ctxAPIKey).(store.APIKey); ok {
		attrs = append(attrs, "key_id", k.ID)
	}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
		s.log.Warn("zoom proxy call failed", attrs...)
		return
	}
	s.log.Info("zoom proxy call", attrs...)
}

// proxyPath returns the Zoom path of an escaped request path
// /v1/accounts/{id}/zoom/{path}, as escaped as the caller sent it. It
// rejects with 400 invalid_path anything that could leave the API base.
// That is an empty segment (so no "//" and no absolute URL), "." or ".."
// also when percent-encoded once or twice, an encoded slash, a backslash,
// a control character, or a scheme in the first segment.
func proxyPath(escaped, accountID string) (string, error) {
	prefix := "/v1/accounts/" + accountID + "/zoom/"
	rest, ok := strings.CutPrefix(escaped, prefix)
	if !ok || rest == "" {
		return "", invalidPath("The Zoom path is missing; call /v1/accounts/{id}/zoom/v2/...")
	}

	for i, seg := range strings.Split(rest, "/") {
		if seg == "" {
			return "", invalidPath("The Zoom path has an empty segment; remove the doubled or trailing slash.")
		}
		once, err := url.PathUnescape(seg)
		if err != nil {
			return "", invalidPath("The Zoom path has an invalid percent-encoding.")
		}
		twice, err := url.PathUnescape(once)
		if err != nil {
			twice = once
		}
		switch {
		case isDotSegment(once) || isDotSegment(twice):
			return "", invalidPath("The Zoom path must not contain \".\" or \"..\" segments.")
		case strings.ContainsAny(once, "/\\") || strings.ContainsRune(seg, '\\'):
			return "", invalidPath("The Zoom path must not contain backslashes or encoded slashes.")
		case strings.ContainsFunc(once, isControl):
			return "", invalidPath("The Zoom path must not contain control characters.")
		case i == 0 && strings.Contains(once, ":"):
			return "", invalidPath("The Zoom path must be a path below the API base, not a URL.")
		}
	}
	return rest, nil
}

// proxyTarget joins the API base URL, the escaped Zoom path and the raw
// query, and checks that the result stays on the base's scheme, host and
// path.
func proxyTarget(apiURL, zoomPath, rawQuery string) (string, error) {
	base, err := url.Parse(apiURL)
	if err != nil {
		return "", fmt.Errorf("parse zoom api url: %w", err)
	}
	basePath := strings.TrimSuffix(base.EscapedPath(), "/")
	target := base.Scheme + "://" + base.Host + basePath + "/" + zoomPath
	if rawQuery != "" {
		target += "?" + rawQuery
	}

	u, err := url.Parse(target)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil || !strings.HasPrefix(u.EscapedPath(), basePath+"/") {
		return "", invalidPath("The Zoom path does not stay below the API base.")
	}
	return u.String(), nil
}

func isDotSegment(s string) bool { return s == "." || s == ".." }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func invalidPath(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_path", Message: msg}
}

// isProxyPath reports whether the request is for the Zoom API proxy.
func isProxyPath(c echo.Context) bool {
	rest, ok := strings.CutPrefix(c.Request().URL.Path, "/v1/accounts/")
	if !ok {
		return false
	}
	_, after, ok := strings.Cut(rest, "/")
	return ok && strings.HasPrefix(after, "zoom/")
}
