package server

import "testing"

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
