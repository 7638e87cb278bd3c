package server

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// accountIDRegexp is the regular expression accountIDShape replaces.
var accountIDRegexp = regexp.MustCompile(`^acc_[a-z2-7]{20}$`)

func TestAccountIDShape(t *testing.T) {
	tests := []struct {
		name string
		id   string
	}{
		{"valid", "acc_k2m4q6s7u2w4y6a3c2e4"},
		{"all letters", "acc_abcdefghijklmnopqrst"},
		{"digits 2 to 7", "acc_23456723456723456723"},
		{"digit 1", "acc_k2m4q6s7u2w4y6a3c2e1"},
		{"digit 8", "acc_k2m4q6s7u2w4y6a3c2e8"},
		{"upper case", "acc_K2m4q6s7u2w4y6a3c2e4"},
		{"short", "acc_k2m4q6s7u2w4y6a3c2e"},
		{"long", "acc_k2m4q6s7u2w4y6a3c2e44"},
		{"other prefix", "acb_k2m4q6s7u2w4y6a3c2e4"},
		{"empty", ""},
		{"prefix only", "acc_"},
		{"newline", "acc_k2m4q6s7u2w4y6a3c2e4\n"},
		{"non-ASCII", "acc_k2m4q6s7u2w4y6a3c2é"},
		{"path", "acc_k2m4q6s7u2w/../a3c2e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := accountIDRegexp.MatchString(tc.id)
			if got := (accountIDShape{}).MatchString(tc.id); got != want {
				t.Errorf("MatchString(%q) = %t; want %t, as the regular expression", tc.id, got, want)
			}
		})
	}
}

func TestAppendTokenResponse(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		resp tokenResponse
	}{
		{"typical", tokenResponse{AccountID: "acc_k2m4q6s7u2w4y6a3c2e4", AccessToken: "eyJhbGciOiJIUzUxMiJ9.eyJ2ZXIiOjd9.sig-_", TokenType: "bearer", ExpiresAt: at, ExpiresIn: 3599, Scopes: []string{"meeting:read", "user:read"}}},
		{"no scopes", tokenResponse{AccountID: "acc_a", AccessToken: "t", TokenType: "bearer", ExpiresAt: at, Scopes: []string{}}},
		{"nil scopes", tokenResponse{AccountID: "acc_a", AccessToken: "t", TokenType: "bearer", ExpiresAt: at}},
		{"whole seconds", tokenResponse{AccessToken: "t", ExpiresAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), ExpiresIn: -5}},
		{"escapes", tokenResponse{AccessToken: "q\"b\\s/<>&\n\r\t\b\f\x00\x1f\x7f", Scopes: []string{"<script>", "a&b"}}},
		{"unicode", tokenResponse{AccessToken: "é中\u2028\u2029😀", Scopes: []string{"\u2029x"}}},
		{"invalid UTF-8", tokenResponse{AccessToken: "a\xffb\xc3(c\xed\xa0\x80", Scopes: []string{"\x80"}}},
		{"zero time", tokenResponse{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(tc.resp); err != nil {
				t.Fatal(err)
			}
			if got := appendTokenResponse(nil, tc.resp); string(got) != want.String() {
				t.Errorf("appendTokenResponse = %s; want %s, as encoding/json", got, want.String())
			}
		})
	}
}

func TestAppendJSONStringLong(t *testing.T) {
	s := strings.Repeat("abc<\"é\x01", 500)
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendJSONString(nil, s); string(got) != string(want) {
		t.Errorf("appendJSONString of a long string differs from encoding/json")
	}
}

// BenchmarkAccountIDShape compares the id check with the regular
// expression it replaces.
func BenchmarkAccountIDShape(b *testing.B) {
	const id = "acc_k2m4q6s7u2w4y6a3c2e4"
	b.Run("regexp", func(b *testing.B) {
		for range b.N {
			accountIDRegexp.MatchString(id)
		}
	})
	b.Run("shape", func(b *testing.B) {
		for range b.N {
			accountIDShape{}.MatchString(id)
		}
	})
}

// BenchmarkTokenResponse compares the hand-written encoding with
// encoding/json as echo's Context.JSON uses it.
func BenchmarkTokenResponse(b *testing.B) {
	resp := tokenResponse{AccountID: "acc_k2m4q6s7u2w4y6a3c2e4", AccessToken: strings.Repeat("eyJhbGciOiJIUzUxMiJ9", 33), TokenType: "bearer",
		ExpiresAt: time.Now().UTC(), ExpiresIn: 3599, Scopes: []string{"meeting:read:meeting", "meeting:write:meeting", "user:read:user"}}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for range b.N {
			buf.Reset()
			json.NewEncoder(&buf).Encode(resp)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for range b.N {
			buf = appendTokenResponse(buf[:0], resp)
		}
	})
}
