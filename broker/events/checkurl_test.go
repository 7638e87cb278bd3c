package events

import "testing"

func TestCheckURLRejectsLinkLocal(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/zoombroker", true},
		{"http://127.0.0.1:9000/hook", true},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://[fe80::1]/hook", false},
		{"http://0.0.0.0/hook", false},
		{"http://[::]/hook", false},
		{"http://224.0.0.1/hook", false},
	}
	for _, tc := range tests {
		if err := CheckURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v; want ok %t", tc.url, err, tc.ok)
		}
	}
	if err := refuseLinkLocal("tcp", "169.254.169.254:80", nil); err == nil {
		t.Errorf("refuseLinkLocal(metadata address) = nil; want an error")
	}
	if err := refuseLinkLocal("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("refuseLinkLocal(loopback) = %v; want nil", err)
	}
}
