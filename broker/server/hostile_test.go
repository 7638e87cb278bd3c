package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// unsizedReader hides the body's length, so the request goes out chunked
// and only the body limit can stop it.
type unsizedReader struct{ io.Reader }

// TestHostileRequests sends malformed and hostile requests in process and
// expects each to get one precise 4xx, never a 5xx, and never a success.
func TestHostileRequests(t *testing.T) {
	var al *audit.Log
	e := newEnv(t, withAudit(&al), withFailureLimit(1000, time.Second))
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	token := "/v1/accounts/" + id + "/token"
	key := "Bearer " + e.apiKey
	jsonCT := "application/json"
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	big := `{"min_ttl_seconds": 1, "pad": "` + strings.Repeat("x", 70<<10) + `"}`

	tests := []struct {
		name       string
		method     string
		target     string
		headers    []string // name, value pairs
		body       io.Reader
		wantStatus int
		wantCode   string // "" for console pages
	}{
		// Bodies of the token request.
		{"oversized body", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(big), 413, "body_too_large"},
		{"oversized chunked body", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, unsizedReader{strings.NewReader(big)}, 413, "body_too_large"},
		{"text/plain body", "POST", token, []string{"Authorization", key, "Content-Type", "text/plain"}, strings.NewReader(`{}`), 415, "unsupported_media_type"},
		{"xml body", "POST", token, []string{"Authorization", key, "Content-Type", "application/xml"}, strings.NewReader(`<a/>`), 415, "unsupported_media_type"},
		{"form body", "POST", token, []string{"Authorization", key, "Content-Type", "application/x-www-form-urlencoded"}, strings.NewReader(`min_ttl_seconds=1`), 415, "unsupported_media_type"},
		{"json in disguise", "POST", token, []string{"Authorization", key, "Content-Type", "application/jsonp"}, strings.NewReader(`{}`), 415, "unsupported_media_type"},
		{"broken content type", "POST", token, []string{"Authorization", key, "Content-Type", "application/json; charset"}, strings.NewReader(`{}`), 415, "unsupported_media_type"},
		{"truncated json", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": `), 400, "invalid_body"},
		{"json array", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`[1,2]`), 400, "invalid_body"},
		{"json string", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`"x"`), 400, "invalid_body"},
		{"unknown field", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"admin": true}`), 400, "invalid_body"},
		{"trailing data", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{} x`), 400, "invalid_body"},
		{"negative min_ttl", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": -1}`), 400, "invalid_body"},
		{"huge min_ttl", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": 9223372036854775807}`), 400, "invalid_body"},
		{"overflowing min_ttl", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": 99999999999999999999999}`), 400, "invalid_body"},
		{"fractional min_ttl", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": 1.5}`), 400, "invalid_body"},
		{"min_ttl as string", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": "300"}`), 400, "invalid_body"},
		{"duplicate field, last negative", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": 60, "min_ttl_seconds": -60}`), 400, "invalid_body"},
		{"force_refresh as string", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"force_refresh": "yes"}`), 400, "invalid_body"},
		{"invalid utf-8 json", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, bytes.NewReader([]byte{'{', 0xff, 0xfe, '}'}), 400, "invalid_body"},
		{"deep nesting", "POST", token, []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"min_ttl_seconds": ` + strings.Repeat("[", 10000) + `}`), 400, "invalid_body"},

		// Account ids.
		{"fullwidth id", "GET", "/v1/accounts/acc_\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41\uff41", []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"uppercase id", "GET", "/v1/accounts/" + strings.ToUpper(id), []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"right-to-left override in id", "GET", "/v1/accounts/acc_\u202eaaaaaaaaaaaaaaaaaaa", []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"zero-width space in id", "GET", "/v1/accounts/" + id[:6] + "\u200b" + id[6:], []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"encoded traversal", "GET", "/v1/accounts/..%2F..%2Fetc%2Fpasswd", []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"dot-dot id", "POST", "/v1/accounts/../token", []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"NUL in id", "GET", "/v1/accounts/" + id + "%00", []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"newline in id", "GET", "/v1/accounts/" + id + "%0A", []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"SQL in id", "GET", "/v1/accounts/acc_'%20OR%20'1'='1", []string{"Authorization", key}, nil, 400, "invalid_account_id"},
		{"very long id", "GET", "/v1/accounts/acc_" + strings.Repeat("a", 8000), []string{"Authorization", key}, nil, 400, "invalid_account_id"},

		// Query parameters.
		{"duplicate app", "GET", "/v1/accounts?app=zoom&app=zoom_admin", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"duplicate limit", "GET", "/v1/accounts?limit=1&limit=500", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"uppercase app", "GET", "/v1/accounts?app=ZOOM", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"negative limit", "GET", "/v1/accounts?limit=-1", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"huge limit", "GET", "/v1/accounts?limit=99999999999999999999", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"SQL in cursor", "GET", "/v1/accounts?after=%27%20OR%201%3D1%20--", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"NUL in status", "GET", "/v1/accounts?status=active%00", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"unknown parameter", "GET", "/v1/accounts?%24where=1", []string{"Authorization", key}, nil, 400, "invalid_parameter"},
		{"audit time not RFC 3339", "GET", "/v1/audit?since=1%20day%20ago", []string{"Authorization", key}, nil, 400, "invalid_parameter"},

		// Authorization header tricks.
		{"two authorization headers", "GET", "/v1/apps", []string{"Authorization", key, "Authorization", key}, nil, 401, "unauthorized"},
		{"basic scheme", "GET", "/v1/apps", []string{"Authorization", "Basic " + e.apiKey}, nil, 401, "unauthorized"},
		{"bearer without key", "GET", "/v1/apps", []string{"Authorization", "Bearer "}, nil, 401, "unauthorized"},
		{"key with suffix", "GET", "/v1/apps", []string{"Authorization", key + "x"}, nil, 401, "unauthorized"},
		{"key with NUL", "GET", "/v1/apps", []string{"Authorization", key + "\x00"}, nil, 401, "unauthorized"},
		{"key in query", "GET", "/v1/apps?api_key=" + e.apiKey, nil, nil, 401, "unauthorized"},
		{"very long key", "GET", "/v1/apps", []string{"Authorization", "Bearer zbk_key_" + strings.Repeat("a", 16000) + "_b"}, nil, 401, "unauthorized"},
		{"key in a cookie", "GET", "/v1/apps", []string{"Cookie", "Authorization=" + key}, nil, 401, "unauthorized"},

		// Methods.
		{"GET on token", "GET", token, []string{"Authorization", key}, nil, 405, "method_not_allowed"},
		{"PUT on account", "PUT", "/v1/accounts/" + id, []string{"Authorization", key}, nil, 405, "method_not_allowed"},
		{"TRACE through the proxy", "TRACE", "/v1/accounts/" + id + "/zoom/v2/users/me", []string{"Authorization", key}, nil, 405, "method_not_allowed"},

		// Zoom webhooks.
		{"webhook for unknown app", "POST", "/webhooks/zoom/teams", []string{"Content-Type", jsonCT}, strings.NewReader(`{}`), 404, "not_found"},
		{"webhook without signature", "POST", "/webhooks/zoom/zoom", []string{"Content-Type", jsonCT}, strings.NewReader(`{}`), 401, "invalid_signature"},
		{"webhook stale timestamp", "POST", "/webhooks/zoom/zoom", []string{"x-zm-request-timestamp", "1", "x-zm-signature", sign(webhookSecret, "1", `{}`)}, strings.NewReader(`{}`), 401, "stale_timestamp"},
		{"webhook signed garbage", "POST", "/webhooks/zoom/zoom", []string{"x-zm-request-timestamp", ts, "x-zm-signature", sign(webhookSecret, ts, `not json`)}, strings.NewReader(`not json`), 400, "invalid_body"},
		{"webhook oversized", "POST", "/webhooks/zoom/zoom", []string{"x-zm-request-timestamp", ts, "x-zm-signature", "v0=00"}, strings.NewReader(big), 413, "body_too_large"},

		// Connect sessions.
		{"javascript redirect", "POST", "/v1/connect-sessions", []string{"Authorization", key, "Content-Type", jsonCT}, strings.NewReader(`{"app":"zoom","external_user_id":"u1","success_redirect_url":"javascript:alert(1)","error_redirect_url":"javascript:alert(1)"}`), 400, "redirect_not_allowed"},
		{"connect session as form", "POST", "/v1/connect-sessions", []string{"Authorization", key, "Content-Type", "multipart/form-data; boundary=x"}, strings.NewReader("--x--"), 415, "unsupported_media_type"},

		// Console.
		{"sign-in without CSRF token", "POST", "/signin", []string{"Content-Type", "application/x-www-form-urlencoded"}, strings.NewReader("name=alice&password=x"), 403, ""},
		{"revoke without CSRF token", "POST", "/accounts/" + id + "/revoke", []string{"Content-Type", "application/x-www-form-urlencoded"}, strings.NewReader("confirm=yes"), 403, ""},
		{"cross-site form post", "POST", "/keys", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example", "Content-Type", "application/x-www-form-urlencoded"}, strings.NewReader("name=stolen"), 403, ""},
	}
	if len(tests) < 40 {
		t.Fatalf("the table has %d cases; keep at least 40", len(tests))
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := hostileRequest(tc.method, tc.target, tc.body)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				req.Header.Add(tc.headers[i], tc.headers[i+1])
			}
			if _, ok := tc.body.(unsizedReader); ok {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			e.broker.Config.Handler.ServeHTTP(rec, req)

			if rec.Code != tc.wantStatus {
				t.Errorf("%s %.80s = %d; want %d; body %.300s", tc.method, tc.target, rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode == "" {
				return
			}
			var eb struct{ Error, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
				t.Fatalf("body %.200q is not JSON: %v", rec.Body, err)
			}
			if eb.Error != tc.wantCode {
				t.Errorf("error code = %q; want %q", eb.Error, tc.wantCode)
			}
			if strings.Contains(rec.Body.String(), e.apiKey) {
				t.Errorf("the response echoes the API key")
			}
		})
	}

	// Nothing above changed the account.
	if status, _ := e.token(id, ""); status != http.StatusOK {
		t.Errorf("token after the hostile requests = %d; want 200", status)
	}
}

// hostileRequest builds a request for a target that may not survive URL
// parsing, keeping its raw path for the router as a server would.
func hostileRequest(method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, "/", body)
	path, query, _ := strings.Cut(target, "?")
	req.URL = &url.URL{Path: path, RawQuery: query}
	if decoded, err := url.PathUnescape(path); err == nil && decoded != path {
		req.URL.Path, req.URL.RawPath = decoded, path
	}
	req.RequestURI = target
	return req
}
