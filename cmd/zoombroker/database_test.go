package main

import (
	"net"
	"strings"
	"testing"
)

func TestServeDatabaseUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	env := map[string]string{
		envDataDir:     t.TempDir(),
		envDatabaseURL: "postgres://zoombroker:hunter2secret@" + closed + "/zoombroker?sslmode=disable",
	}
	r := runCLI(t, env, "", "serve", "--dev", "--listen", "127.0.0.1:0")

	if r.code != exitFailure {
		t.Errorf("serve with an unreachable database = %d; want %d", r.code, exitFailure)
	}
	for _, want := range []string{envDatabaseURL, "cannot reach the database", "database zoombroker"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("serve stderr = %q; want it to contain %q", r.stderr, want)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "hunter2secret") {
		t.Errorf("serve printed the database password: %q", r.stderr)
	}
}
