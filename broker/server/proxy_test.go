package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/client"
	"github.com/zoombroker/zoombroker/internal/brokertest"
	"github.com/zoombroker/zoombroker/store"
)

// zoomRequest is one request as it reached the sandbox.
type zoomRequest struct {
	Method string
	Host   string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// zoomRecorder sits in front of the sandbox, records every /v2 request
// and adds three paths of its own: /v2/upload counts a body of any size,
// /v2/limited returns Zoom's 429, and /v2/slow responds only when the
// request is cancelled. Each checks the token with the sandbox first.
type zoomRecorder struct {
	mu       sync.Mutex
	requests []zoomRequest
}

func (z *zoomRecorder) wrap(sandbox http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v2/") {
			sandbox.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		z.mu.Lock()
		z.requests = append(z.requests, zoomRequest{Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		z.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))

		switch r.URL.Path {
		case "/v2/upload", "/v2/limited", "/v2/slow":
		default:
			sandbox.ServeHTTP(w, r)
			return
		}

		check := httptest.NewRecorder()
		me, _ := http.NewRequest(http.MethodGet, "/v2/users/me", nil)
		me.Header.Set("Authorization", r.Header.Get("Authorization"))
		sandbox.ServeHTTP(check, me)
		if check.Code != http.StatusOK {
			for k, v := range check.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(check.Code)
			w.Write(check.Body.Bytes())
			return
		}

		switch r.URL.Path {
		case "/v2/upload":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]int{"bytes": len(body)})
		case "/v2/limited":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "7")
			w.Header().Set("X-RateLimit-Category", "Heavy")
			w.Header().Set("X-RateLimit-Type", "Daily-limit")
			w.Header().Set("X-RateLimit-Limit", "60000")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":429,"message":"You have reached the maximum daily rate limit for this API."}`))
		case "/v2/slow":
			<-r.Context().Done()
		}
	})
}

func (z *zoomRecorder) count() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.requests)
}

// since returns the requests recorded after the first n.
func (z *zoomRecorder) since(n int) []zoomRequest {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]zoomRequest(nil), z.requests[n:]...)
}

// proxyEnv is a broker with a connected account and a recorder in front
// of Zoom.
type proxyEnv struct {
	b   *brokertest.Broker
	z   *zoomRecorder
	id  string
	url string // the account's proxy base, without a trailing slash
}

func newProxyEnv(t *testing.T, opts brokertest.Options) *proxyEnv {
	t.Helper()
	z := &zoomRecorder{}
	opts.WrapZoom = z.wrap
	b := brokertest.New(t, opts)
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	return &proxyEnv{b: b, z: z, id: id, url: b.URL + "/v1/accounts/" + id + "/zoom"}
}

// call sends a request through the proxy with the API key.
func (p *proxyEnv) call(t *testing.T, method, path, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, body)
	if err != nil {
		t.Fatalf("build %s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+p.b.APIKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp, got
}

// currentToken returns the account's access token as the broker hands it
// out.
func (p *proxyEnv) currentToken(t *testing.T) string {
	t.Helper()
	tok, err := p.b.Client().Token(t.Context(), p.id, client.TokenOptions{})
	if err != nil {
		t.Fatalf("Token = %v", err)
	}
	return tok.AccessToken.Reveal()
}

func TestProxyGet(t *testing.T) {
	t.Parallel()
	p := newProxyEnv(t, brokertest.Options{})
	token := p.currentToken(t)
	n := p.z.count()

	req, _ := http.NewRequest(http.MethodGet, p.url+"/v2/users/me/meetings?page_size=30&type=scheduled", nil)
	req.Header.Set("Authorization", "Bearer "+p.b.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", "zb_session=abc")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET meetings = %d %s; want 200", resp.StatusCode, body)
	}
	var list struct {
		Meetings []struct {
			Topic string `json:"topic"`
		} `json:"meetings"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Meetings) != 2 {
		t.Errorf("GET meetings body = %s; want the sandbox's two meetings", body)
	}
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type = %q; want Zoom's application/json", got)
	}
	if got := resp.Header.Get("X-Zoombroker-Origin"); got != "zoom" {
		t.Errorf("X-Zoombroker-Origin = %q; want zoom", got)
	}
	for _, h := range []string{"X-RateLimit-Category", "X-RateLimit-Type", "X-RateLimit-Limit", "X-RateLimit-Remaining"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("response header %s is missing; want Zoom's value passed through", h)
		}
	}

	sent := p.z.since(n)
	if len(sent) != 1 {
		t.Fatalf("requests at Zoom = %d; want 1", len(sent))
	}
	up := sent[0]
	if up.Path != "/v2/users/me/meetings" {
		t.Errorf("Zoom path = %q; want /v2/users/me/meetings", up.Path)
	}
	if up.Query != "page_size=30&type=scheduled" {
		t.Errorf("Zoom query = %q; want page_size=30&type=scheduled", up.Query)
	}
	if got := up.Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Zoom Authorization is not the account's access token; want Bearer and the token")
	}
	if strings.Contains(up.Header.Get("Authorization"), p.b.APIKey) {
		t.Error("Zoom got the caller's API key; want it never passed on")
	}
	if got := up.Header.Get("Cookie"); got != "" {
		t.Errorf("Zoom Cookie = %q; want none", got)
	}
	if got := up.Header.Get("X-Forwarded-Host"); got != "" {
		t.Errorf("Zoom X-Forwarded-Host = %q; want none", got)
	}
	if up.Host != strings.TrimPrefix(p.b.ZoomURL, "http://") {
		t.Errorf("Zoom Host = %q; want the API base's host %q", up.Host, strings.TrimPrefix(p.b.ZoomURL, "http://"))
	}
	if got := up.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Zoom Accept = %q; want application/json", got)
	}
}

func TestProxyPost(t *testing.T) {
	t.Parallel()
	p := newProxyEnv(t, brokertest.Options{})
	n := p.z.count()

	in := `{"topic":"Through the proxy","type":2,"duration":45,"agenda":"check the body"}`
	resp, body := p.call(t, http.MethodPost, "/v2/users/me/meetings?source=proxy-test", "application/json", strings.NewReader(in))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST meetings = %d %s; want 201", resp.StatusCode, body)
	}
	var m struct {
		Topic    string `json:"topic"`
		Agenda   string `json:"agenda"`
		Duration int    `json:"duration"`
	}
	json.Unmarshal(body, &m)
	if m.Topic != "Through the proxy" || m.Agenda != "check the body" || m.Duration != 45 {
		t.Errorf("created meeting = %+v; want the posted topic, agenda and duration", m)
	}

	sent := p.z.since(n)
	if len(sent) != 1 {
		t.Fatalf("requests at Zoom = %d; want 1", len(sent))
	}
	if string(sent[0].Body) != in {
		t.Errorf("Zoom body = %s; want %s", sent[0].Body, in)
	}
	if sent[0].Query != "source=proxy-test" {
		t.Errorf("Zoom query = %q; want source=proxy-test", sent[0].Query)
	}
	if got := sent[0].Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Zoom Content-Type = %q; want application/json", got)
	}
	if sent[0].Method != http.MethodPost {
		t.Errorf("Zoom method = %s; want POST", sent[0].Method)
	}

	// A body above the API's 64 KiB limit streams through.
	big := bytes.Repeat([]byte("z"), 1<<20)
	resp, body = p.call(t, http.MethodPut, "/v2/upload", "application/octet-stream", bytes.NewReader(big))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"bytes":1048576`) {
		t.Errorf("PUT 1 MiB = %d %s; want 200 with all 1048576 bytes at Zoom", resp.StatusCode, body)
	}
}

func TestProxyRateLimit(t *testing.T) {
	t.Parallel()
	p := newProxyEnv(t, brokertest.Options{})

	resp, body := p.call(t, http.MethodGet, "/v2/limited", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("GET limited = %d; want Zoom's 429", resp.StatusCode)
	}
	want := map[string]string{
		"Retry-After":           "7",
		"X-RateLimit-Category":  "Heavy",
		"X-RateLimit-Type":      "Daily-limit",
		"X-RateLimit-Limit":     "60000",
		"X-RateLimit-Remaining": "0",
	}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("response %s = %q; want %q", h, got, v)
		}
	}
	if !strings.Contains(string(body), `"code":429`) {
		t.Errorf("429 body = %s; want Zoom's body", body)
	}
}

func TestProxyRefreshRetry(t *testing.T) {
	t.Parallel()
	p := newProxyEnv(t, brokertest.Options{})

	t.Run("get", func(t *testing.T) {
		old := p.currentToken(t)
		p.b.Sandbox.InvalidateAccessToken(old)
		refreshes, n := p.b.Sandbox.RefreshCount(), p.z.count()

		resp, body := p.call(t, http.MethodGet, "/v2/users/me", "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), zoomsandbox.DefaultUserID) {
			t.Errorf("GET users/me after invalidation = %d %s; want 200 with the user", resp.StatusCode, body)
		}
		if got := p.b.Sandbox.RefreshCount() - refreshes; got != 1 {
			t.Errorf("refreshes = %d; want 1", got)
		}
		sent := p.z.since(n)
		if len(sent) != 2 {
			t.Fatalf("requests at Zoom = %d; want 2 (rejected, then retried)", len(sent))
		}
		if sent[0].Header.Get("Authorization") != "Bearer "+old {
			t.Error("first request did not carry the invalidated token")
		}
		if sent[1].Header.Get("Authorization") == sent[0].Header.Get("Authorization") {
			t.Error("retry carried the rejected token; want the new one")
		}
	})

	t.Run("post replays body", func(t *testing.T) {
		p.b.Sandbox.InvalidateAccessToken(p.currentToken(t))
		n := p.z.count()
		in := `{"topic":"Replayed by the proxy"}`
		resp, body := p.call(t, http.MethodPost, "/v2/users/me/meetings", "application/json", strings.NewReader(in))
		if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), "Replayed by the proxy") {
			t.Errorf("POST after invalidation = %d %s; want 201 with the topic", resp.StatusCode, body)
		}
		sent := p.z.since(n)
		if len(sent) != 2 || string(sent[1].Body) != in {
			t.Errorf("requests at Zoom = %d, retry body %q; want 2 with the same body", len(sent), lastBody(sent))
		}
	})

	t.Run("large body is not retried", func(t *testing.T) {
		p.b.Sandbox.InvalidateAccessToken(p.currentToken(t))
		n := p.z.count()
		resp, body := p.call(t, http.MethodPut, "/v2/upload", "application/octet-stream", bytes.NewReader(bytes.Repeat([]byte("x"), 300<<10)))
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":124`) {
			t.Errorf("PUT 300 KiB after invalidation = %d %s; want Zoom's 401 with code 124", resp.StatusCode, body)
		}
		if got := len(p.z.since(n)); got != 1 {
			t.Errorf("requests at Zoom = %d; want 1", got)
		}

		// The refresh happened, so the next call works.
		resp, _ = p.call(t, http.MethodGet, "/v2/users/me", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET after the 401 = %d; want 200", resp.StatusCode)
		}
	})

	t.Run("concurrent callers share one refresh", func(t *testing.T) {
		p.b.Sandbox.InvalidateAccessToken(p.currentToken(t))
		refreshes := p.b.Sandbox.RefreshCount()
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, p.url+"/v2/users/me", nil)
				req.Header.Set("Authorization", "Bearer "+p.b.APIKey)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("GET users/me: %v", err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("concurrent GET users/me = %d; want 200", resp.StatusCode)
				}
			})
		}
		wg.Wait()
		if got := p.b.Sandbox.RefreshCount() - refreshes; got != 1 {
			t.Errorf("refreshes = %d; want 1", got)
		}
	})
}

func lastBody(rs []zoomRequest) string {
	if len(rs) == 0 {
		return ""
	}
	return string(rs[len(rs)-1].Body)
}

func TestProxyPathEscapes(t *testing.T) {
	t.Parallel()
	p := newProxyEnv(t, brokertest.Options{})

	tests := []struct {
		name string
		path string // after /v1/accounts/{id}/zoom

		// netHTTP is set where Go's HTTP server returns the 400 itself,
		// before the broker sees the request.
		netHTTP bool
	}{
		{name: "missing path", path: "/"},
		{name: "dot dot", path: "/../../v1/apps"},
		{name: "dot dot inside", path: "/v2/users/../../../v1/apps"},
		{name: "dot", path: "/./v2/users/me"},
		{name: "encoded dot dot", path: "/%2e%2e/v1/apps"},
		{name: "upper encoded dot dot", path: "/v2/%2E%2E/%2E%2E/v1/apps"},
		{name: "mixed encoded dot dot", path: "/v2/.%2e/v1/apps"},
		{name: "double encoded dot dot", path: "/v2/%252e%252e/v1/apps"},
		{name: "encoded slash", path: "/v2/users%2fme"},
		{name: "encoded slashes to host", path: "/%2f%2fevil.example/v2/users/me"},
		{name: "backslash", path: `/v2\users\me`},
		{name: "encoded backslash", path: "/v2/%5cusers"},
		{name: "absolute URL", path: "/https://evil.example/v2/users/me"},
		{name: "scheme only", path: "/https:evil.example"},
		{name: "encoded absolute URL", path: "/https:%2f%2fevil.example"},
		{name: "protocol relative", path: "//evil.example/v2/users/me"},
		{name: "empty segment", path: "/v2//users/me"},
		{name: "trailing slash", path: "/v2/users/me/"},
		{name: "control character", path: "/v2/users/%0a"},
		{name: "bad encoding", path: "/v2/users/%zz", netHTTP: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := p.z.count()
			// A raw request line, so no client cleans the path first.
			req, err := http.NewRequest(http.MethodGet, p.b.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = "/v1/accounts/" + p.id + "/zoom" + tc.path
			req.Header.Set("Authorization", "Bearer "+p.b.APIKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET zoom%s = %d; want 400", tc.path, resp.StatusCode)
			}
			if !tc.netHTTP && !strings.Contains(string(body), `"error":"invalid_path"`) {
				t.Errorf("GET zoom%s body = %s; want error invalid_path", tc.path, body)
			}
			if got := len(p.z.since(n)); got != 0 {
				t.Errorf("GET zoom%s reached Zoom %d times; want 0", tc.path, got)
			}
		})
	}

	// Every rejected path is in the audit log, except the one Go's server
	// rejects before the broker sees it.
	if err := p.b.Audit.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	denied, _, err := p.b.Store.ListAudit(t.Context(), store.AuditListOptions{Filter: store.AuditFilter{Action: "zoom.proxy"}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	rejected := 0
	for _, e := range denied {
		if e.Outcome == "denied" && strings.Contains(e.Detail, "path outside the Zoom API") {
			rejected++
		}
	}
	if want := len(tests) - 1; rejected != want {
		t.Errorf("audit entries for rejected paths = %d; want %d", rejected, want)
	}

	// Zoom's double-encoded meeting UUIDs stay as sent.
	n := p.z.count()
	resp, _ := p.call(t, http.MethodGet, "/v2/meetings/%252Fab%252Bc%253D%253D/recordings", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET a double-encoded UUID = %d; want the sandbox's 404", resp.StatusCode)
	}
	if sent := p.z.since(n); len(sent) != 1 || sent[0].Path != "/v2/meetings/%252Fab%252Bc%253D%253D/recordings" {
		t.Errorf("Zoom path of a double-encoded UUID = %v; want it unchanged", sent)
	}
}

func TestProxyBrokerErrors(t *testing.T) {
	t.Parallel()
	p := newProxyEnv(t, brokertest.Options{ProxyTimeout: 300 * time.Millisecond})

	tests := []struct {
		name   string
		url    string
		key    string
		status int
		code   string
	}{
		{"no key", p.url + "/v2/users/me", "", http.StatusUnauthorized, "unauthorized"},
		{"unknown account", p.b.URL + "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaaa/zoom/v2/users/me", p.b.APIKey, http.StatusNotFound, "not_found"},
		{"invalid account id", p.b.URL + "/v1/accounts/nope/zoom/v2/users/me", p.b.APIKey, http.StatusBadRequest, "invalid_account_id"},
		{"timeout", p.url + "/v2/slow", p.b.APIKey, http.StatusGatewayTimeout, "zoom_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d; want %d", resp.StatusCode, tc.status)
			}
			if !strings.Contains(string(body), `"error":"`+tc.code+`"`) {
				t.Errorf("body = %s; want error %s", body, tc.code)
			}
			if got := resp.Header.Get("X-Zoombroker-Origin"); got != "broker" {
				t.Errorf("X-Zoombroker-Origin = %q; want broker", got)
			}
		})
	}
}

func TestProxyAudit(t *testing.T) {
	t.Parallel()
	p := newProxyEnv(t, brokertest.Options{})
	token := p.currentToken(t)

	const secretBody = `{"topic":"audit-body-marker"}`
	p.call(t, http.MethodPost, "/v2/users/me/meetings?q=audit-query-marker", "application/json", strings.NewReader(secretBody))

	logs := p.b.Logs.String()
	var line map[string]any
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"msg":"zoom proxy call"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line == nil {
		t.Fatalf("no \"zoom proxy call\" log line; logs:\n%s", logs)
	}
	want := map[string]any{"method": "POST", "zoom_path": "v2/users/me/meetings", "status": float64(201), "account_id": p.id}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("audit %s = %v; want %v", k, line[k], v)
		}
	}
	if line["key_id"] == nil || line["key_id"] == "" {
		t.Error("audit key_id is missing; want the API key's id")
	}
	for _, leak := range []string{"audit-body-marker", "audit-query-marker", token, p.b.APIKey} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %.12q...; want no bodies, queries, tokens or keys", leak)
		}
	}

	if err := p.b.Audit.Flush(t.Context()); err != nil {
		t.Fatalf("flush audit log: %v", err)
	}
	entries, _, err := p.b.Store.ListAudit(t.Context(), store.AuditListOptions{Filter: store.AuditFilter{Action: "zoom.proxy"}})
	if err != nil {
		t.Fatalf("ListAudit = %v", err)
	}
	if len(entries) != 1 {
		t.Fatalf("zoom.proxy audit entries = %d; want 1", len(entries))
	}
	e := entries[0]
	if e.Detail != "POST v2/users/me/meetings: Zoom answered 201" {
		t.Errorf("audit Detail = %q; want %q", e.Detail, "POST v2/users/me/meetings: Zoom answered 201")
	}
	if e.AccountID != p.id || e.Outcome != "ok" || e.ActorType != "api_key" {
		t.Errorf("audit entry = account %q, outcome %q, actor type %q; want %q, ok, api_key", e.AccountID, e.Outcome, e.ActorType, p.id)
	}
}
