package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseWebhookEndpoints(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		urls    []string
		wantErr string
	}{
		{name: "empty", text: ""},
		{name: "one", text: "https://a.example/hook|0123456789abcdef", urls: []string{"https://a.example/hook"}},
		{name: "commas and newlines", text: "https://a.example/x|0123456789abcdef,\nhttp://127.0.0.1:9000/y|fedcba9876543210\n", urls: []string{"https://a.example/x", "http://127.0.0.1:9000/y"}},
		{name: "secret with bar", text: "https://a.example/x|0123456789|abcdef", urls: []string{"https://a.example/x"}},
		{name: "no secret", text: "https://a.example/x", wantErr: "entry 1 has no secret"},
		{name: "short secret", text: "https://a.example/x|short", wantErr: "use at least 16"},
		{name: "bad scheme", text: "ftp://a.example/x|0123456789abcdef", wantErr: "http:// or https://"},
		{name: "second bad", text: "https://a.example/x|0123456789abcdef,https://b.example|", wantErr: "entry 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseWebhookEndpoints(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("parseWebhookEndpoints(%q) error = %v; want one containing %q", tc.text, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWebhookEndpoints(%q) = %v; want nil error", tc.text, err)
			}
			if len(got) != len(tc.urls) {
				t.Fatalf("parseWebhookEndpoints(%q) = %d endpoints; want %d", tc.text, len(got), len(tc.urls))
			}
			for i, ep := range got {
				if ep.URL != tc.urls[i] {
					t.Errorf("endpoint %d URL = %q; want %q", i, ep.URL, tc.urls[i])
				}
				if ep.Secret.Empty() {
					t.Errorf("endpoint %d has no secret", i)
				}
				if strings.Contains(fmt.Sprint(ep), ep.Secret.Reveal()) {
					t.Errorf("endpoint %d prints its secret", i)
				}
			}
		})
	}
}
