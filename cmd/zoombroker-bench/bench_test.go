package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
)

func TestQuantile(t *testing.T) {
	l := newLatencies([]time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6})
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"p10", 0.1, 1},
		{"p50", 0.5, 5},
		{"p90", 0.9, 9},
		{"p99", 0.99, 10},
		{"p100", 1, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.quantile(tc.q); got != tc.want {
				t.Errorf("quantile(%v) = %v; want %v", tc.q, got, tc.want)
			}
		})
	}
	if got := latencies(nil).quantile(0.5); got != 0 {
		t.Errorf("quantile of no samples = %v; want 0", got)
	}
	if got := l.highest(); got != 10 {
		t.Errorf("highest() = %v; want 10", got)
	}
}

func TestBaselineBody(t *testing.T) {
	for _, size := range []int{300, 811, 1200, 20} {
		body := baselineBody(size)
		if len(body) != size {
			t.Errorf("len(baselineBody(%d)) = %d; want %d", size, len(body), size)
		}
		if !json.Valid(body) {
			t.Errorf("baselineBody(%d) = %s; want valid JSON", size, body)
		}
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1000000, "1,000,000"}, {12345, "12,345"}}
	for _, tc := range tests {
		if got := count(tc.n); got != tc.want {
			t.Errorf("count(%d) = %q; want %q", tc.n, got, tc.want)
		}
	}
}

func TestParseOnly(t *testing.T) {
	got, err := parseOnly("1, 3,5")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 5 {
		t.Errorf("parseOnly(\"1, 3,5\") = %v, %v; want [1 3 5]", got, err)
	}
	for _, bad := range []string{"", "0", "6", "1,x"} {
		if _, err := parseOnly(bad); err == nil {
			t.Errorf("parseOnly(%q) = nil error; want an error", bad)
		}
	}
}

func TestWriteDocsKeepsHandWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	old := "# Old\n\nold table\n\n" + handWrittenMarker + "\n\n## Analysis\n\nkept text\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := &report{command: "bench", started: time.Now(), machine: []string{"2 cores"},
		sections: []section{{title: "1. New", header: []string{"a"}, rows: [][]string{{"new row"}}}}}
	if err := rep.writeDocs(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"new row", handWrittenMarker, "## Analysis\n\nkept text\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "old table") {
		t.Errorf("rewritten file still has the old generated part:\n%s", got)
	}
}

func TestRandomLike(t *testing.T) {
	sample := secret.Secret("eyJhbGciOiJIUzUxMiJ9.eyJ2ZXIiOjcsImNsaWVudElkIjoiYSJ9.c2lnbmF0dXJl")
	rng := rand.New(rand.NewChaCha8([32]byte{}))
	a, b := randomLike(rng, sample).Reveal(), randomLike(rng, sample).Reveal()
	if len(a) != len(sample.Reveal()) {
		t.Errorf("len(randomLike) = %d; want %d", len(a), len(sample.Reveal()))
	}
	if !strings.HasPrefix(a, "eyJhbGciOiJIUzUxMiJ9.") || strings.Count(a, ".") != 2 {
		t.Errorf("randomLike = %q; want the sample's header and two dots", a)
	}
	if a == b {
		t.Errorf("two randomLike tokens are equal; want random ones")
	}
}
