package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestSafeNextRejectsOtherSites(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"/accounts/acc_x", "/accounts/acc_x"},
		{"/keys?done=key_revoked", "/keys?done=key_revoked"},
		{"", "/accounts"},
		{"//evil.example", "/accounts"},
		{"/\\evil.example", "/accounts"},
		{"/\t/evil.example", "/accounts"},
		{"/\n/evil.example", "/accounts"},
		{"/\r\n/evil.example", "/accounts"},
		{"https://evil.example/", "/accounts"},
		{"javascript:alert(1)", "/accounts"},
		{"evil.example", "/accounts"},
		{"/%09/evil.example", "/%09/evil.example"},
		{"/\x7f/evil.example", "/accounts"},
	}
	for _, tc := range tests {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedirectAllowedRejectsEscapes(t *testing.T) {
	s := &Server{cfg: Config{ConnectRedirects: []string{"https://app.example/app/"}}}
	tests := []struct {
		in   string
		want bool
	}{
		{"https://app.example/app/done", true},
		{"https://app.example/app/done?x=1", true},
		{"https://app.example/app", true},
		{"https://app.example/app/../admin/steal", false},
		{"https://app.example/app/%2e%2e/admin/ok", false},
		{"https://app.example/app/%2E%2E/admin/ok", false},
		{"https://app.example/app/./done", false},
		{"https://app.example/app/..%2fadmin", false},
		{"https://app.example/app%2f..%2fadmin", false},
		{"https://app.example/apps/done", false},
		{"https://app.example.evil/app/done", false},
		{"http://app.example/app/done", false},
		{"https://user:pw@app.example/app/done", false},
		{"https://app.example/app/done#frag", false},
		{"https://app.example/app/\\\\evil", false},
	}
	for _, tc := range tests {
		if got := s.redirectAllowed(tc.in); got != tc.want {
			t.Errorf("redirectAllowed(%q) = %t; want %t", tc.in, got, tc.want)
		}
	}
}

func TestMountedPathsSkipBodyLimit(t *testing.T) {
	s := &Server{cfg: Config{Mounts: map[string]http.Handler{"/sandbox": http.NotFoundHandler()}}}
	e := echo.New()
	for path, want := range map[string]bool{"/sandbox/v2/users/me/meetings": true, "/sandboxed": false, "/v1/apps": false} {
		c := e.NewContext(httptest.NewRequest(http.MethodPost, path, nil), httptest.NewRecorder())
		if got := s.isMounted(c); got != want {
			t.Errorf("isMounted(%q) = %t; want %t", path, got, want)
		}
	}
}
