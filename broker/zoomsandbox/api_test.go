package zoomsandbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

func TestUsersMe(t *testing.T) {
	tests := []struct {
		name      string
		clientID  string
		userID    string
		wantEmail string
		wantRole  string
	}{
		{"normal user", userClientID, plainUser, "dev.user@example.com", "Member"},
		{"admin on admin app", adminClientID, adminUser, "dev.admin@example.com", "Admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.connect(t, tt.clientID, tt.userID)
			resp := e.api(t, http.MethodGet, "/v2/users/me", tok.AccessToken, "")
			if resp.status != http.StatusOK {
				t.Fatalf("GET users/me status = %d; want 200", resp.status)
			}
			var me map[string]any
			if err := json.Unmarshal([]byte(resp.body), &me); err != nil {
				t.Fatalf("decode users/me: %v", err)
			}
			for field, want := range map[string]any{
				"id":         tt.userID,
				"account_id": zoomsandbox.DefaultAccountID,
				"email":      tt.wantEmail,
				"role_name":  tt.wantRole,
				"status":     "active",
				"type":       float64(2),
				"timezone":   "UTC",
			} {
				if me[field] != want {
					t.Errorf("users/me %s = %v; want %v", field, me[field], want)
				}
			}
			for _, field := range []string{"first_name", "last_name", "display_name", "pmi", "created_at"} {
				if _, ok := me[field]; !ok {
					t.Errorf("users/me has no %s", field)
				}
			}
			if got := resp.header.Get("X-RateLimit-Category"); got != "Light" {
				t.Errorf("X-RateLimit-Category = %q; want Light", got)
			}
		})
	}
}

func TestAPIUnauthorized(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"unknown token", "Bearer made-up"},
		{"basic scheme", "Basic dXNlcjpwYXNz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v2/users/me", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp := e.do(t, req)
			if resp.status != http.StatusUnauthorized || resp.body != badAccessBody {
				t.Errorf("GET users/me = %d %s; want 401 %s", resp.status, resp.body, badAccessBody)
			}
		})
	}
}

func TestMeetings(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)

	list := e.api(t, http.MethodGet, "/v2/users/me/meetings", tok.AccessToken, "")
	if list.status != http.StatusOK {
		t.Fatalf("GET meetings status = %d; want 200", list.status)
	}
	var page struct {
		TotalRecords int `json:"total_records"`
		Meetings     []struct {
			ID     int64  `json:"id"`
			HostID string `json:"host_id"`
		} `json:"meetings"`
	}
	if err := json.Unmarshal([]byte(list.body), &page); err != nil {
		t.Fatalf("decode meetings: %v", err)
	}
	if len(page.Meetings) != 2 || page.TotalRecords != 2 {
		t.Errorf("GET meetings = %d meetings, total %d; want 2 and 2", len(page.Meetings), page.TotalRecords)
	}
	for _, m := range page.Meetings {
		if m.HostID != plainUser {
			t.Errorf("meeting %d host_id = %q; want %q", m.ID, m.HostID, plainUser)
		}
	}

	created := e.api(t, http.MethodPost, "/v2/users/me/meetings", tok.AccessToken,
		`{"topic":"Design review","type":2,"start_time":"2026-02-01T10:00:00Z","duration":45}`)
	if created.status != http.StatusCreated {
		t.Fatalf("POST meetings status = %d (%s); want 201", created.status, created.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(created.body), &m); err != nil {
		t.Fatalf("decode created meeting: %v", err)
	}
	for field, want := range map[string]any{
		"topic": "Design review", "type": float64(2), "start_time": "2026-02-01T10:00:00Z",
		"duration": float64(45), "host_id": plainUser,
	} {
		if m[field] != want {
			t.Errorf("created meeting %s = %v; want %v", field, m[field], want)
		}
	}
}

func TestRateLimitHeaders(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		category  string
		remaining string
	}{
		{"list meetings", http.MethodGet, "/v2/users/me/meetings", "", "Medium", "19"},
		{"list meetings again", http.MethodGet, "/v2/users/me/meetings", "", "Medium", "18"},
		{"create meeting", http.MethodPost, "/v2/users/me/meetings", `{"topic":"x"}`, "Light", "29"},
		{"users/me", http.MethodGet, "/v2/users/me", "", "Light", "28"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.api(t, tt.method, tt.path, tok.AccessToken, tt.body)
			for header, want := range map[string]string{
				"X-RateLimit-Category":  tt.category,
				"X-RateLimit-Type":      "QPS",
				"X-RateLimit-Remaining": tt.remaining,
			} {
				if got := resp.header.Get(header); got != want {
					t.Errorf("%s = %q; want %q", header, got, want)
				}
			}
			if resp.header.Get("X-RateLimit-Limit") == "" {
				t.Errorf("X-RateLimit-Limit is missing")
			}
		})
	}
}

func TestCreateMeetingRejects(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"not JSON", "topic=x", `{"code":300,"message":"Request Body should be a valid JSON object."}`},
		{"bad type", `{"type":7}`, `{"code":300,"message":"Invalid field: type."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.api(t, http.MethodPost, "/v2/users/me/meetings", tok.AccessToken, tt.body)
			if resp.status != http.StatusBadRequest || resp.body != tt.want {
				t.Errorf("POST meetings = %d %s; want 400 %s", resp.status, resp.body, tt.want)
			}
		})
	}
}

func TestAPINotFound(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	tests := []struct {
		name   string
		method string
		path   string
	}{
		{"unknown path", http.MethodGet, "/v2/webinars"},
		{"other user", http.MethodGet, "/v2/users/someone"},
		{"delete me", http.MethodDelete, "/v2/users/me"},
		{"patch meetings", http.MethodPatch, "/v2/users/me/meetings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.api(t, tt.method, tt.path, tok.AccessToken, "")
			if resp.status != http.StatusNotFound {
				t.Errorf("%s %s status = %d; want 404", tt.method, tt.path, resp.status)
			}
			var body struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(resp.body), &body); err != nil || body.Code != 404 || !strings.Contains(body.Message, tt.path) {
				t.Errorf("%s %s body = %s; want {\"code\":404,\"message\":...%s...}", tt.method, tt.path, resp.body, tt.path)
			}
		})
	}
}
