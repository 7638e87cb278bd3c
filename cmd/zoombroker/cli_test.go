package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// result is the outcome of one in-process command.
type result struct {
	code   int
	stdout string
	stderr string
}

// runCLI runs zoombroker with args in process, with env as the whole
// environment and stdin as standard input.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := &cli{
		stdin:  strings.NewReader(stdin),
		stdout: &stdout,
		stderr: &stderr,
		env:    mapEnv(env),
		now:    func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
	}
	code := c.run(context.Background(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", wantCode: exitUsage, wantStderr: "zoombroker: no command given"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantStderr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"help"}, wantCode: exitOK, wantStdout: "zoombroker serve [--dev]"},
		{name: "help serve", args: []string{"help", "serve"}, wantCode: exitOK, wantStdout: envEncryptionKey},
		{name: "serve -h", args: []string{"serve", "-h"}, wantCode: exitOK, wantStdout: "--dev"},
		{name: "keys -h", args: []string{"keys", "create", "-h"}, wantCode: exitOK, wantStdout: "keys create --name NAME"},
		{name: "unknown flag", args: []string{"serve", "--bogus"}, wantCode: exitUsage, wantStderr: "zoombroker help serve"},
		{name: "serve argument", args: []string{"serve", "extra"}, wantCode: exitUsage, wantStderr: "serve takes no arguments"},
		{name: "keys create no name", args: []string{"keys", "create"}, wantCode: exitUsage, wantStderr: "--name is required"},
		{name: "keys revoke no id", args: []string{"keys", "revoke"}, wantCode: exitUsage, wantStderr: "exactly one key id"},
		{name: "operators add no name", args: []string{"operators", "add"}, wantCode: exitUsage, wantStderr: "exactly one operator name"},
		{name: "version", args: []string{"version"}, wantCode: exitOK, wantStdout: "zoombroker dev"},
		{name: "serve invalid config", args: []string{"serve", "--log-format", "xml", "--data-dir", t.TempDir()},
			wantCode: exitFailure, wantStderr: "zoombroker: invalid configuration:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("run(%q) = %d; want %d (stderr %q)", tt.args, r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("run(%q) stdout = %q; want it to contain %q", tt.args, r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q; want it to contain %q", tt.args, r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestServeReportsAllProblems(t *testing.T) {
	r := runCLI(t, map[string]string{envDataDir: t.TempDir(), envZoomAdminClientID: "id"}, "", "serve")
	if r.code != exitFailure {
		t.Fatalf("serve = %d; want %d", r.code, exitFailure)
	}
	for _, w := range []string{envEncryptionKey + " is missing", envCookieKey + " is missing", envZoomAdminSecret} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("serve stderr = %q; want it to contain %q", r.stderr, w)
		}
	}
}

func TestServeUnreadableFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	env := map[string]string{envDataDir: t.TempDir(), envCookieKey + "_FILE": missing}
	r := runCLI(t, env, "", "serve")
	if r.code != exitFailure {
		t.Fatalf("serve = %d; want %d", r.code, exitFailure)
	}
	if !strings.Contains(r.stderr, envCookieKey+"_FILE") {
		t.Errorf("serve stderr = %q; want it to name %s_FILE", r.stderr, envCookieKey)
	}
	if strings.Contains(r.stderr, envCookieKey+" is missing") {
		t.Errorf("serve stderr = %q; want the unreadable file reported alone", r.stderr)
	}
}

func TestKeysCommands(t *testing.T) {
	env := map[string]string{envDataDir: t.TempDir()}

	created := runCLI(t, env, "", "keys", "create", "--name", "billing")
	if created.code != exitOK {
		t.Fatalf("keys create = %d; want 0 (stderr %q)", created.code, created.stderr)
	}
	key := strings.TrimSpace(created.stdout)
	if !strings.HasPrefix(key, "zbk_") {
		t.Errorf("keys create stdout = %q; want the key alone", created.stdout)
	}
	if !strings.Contains(created.stderr, "will not be shown again") {
		t.Errorf("keys create stderr = %q; want a note that the key is shown once", created.stderr)
	}

	listed := runCLI(t, env, "", "keys", "list")
	if listed.code != exitOK {
		t.Fatalf("keys list = %d; want 0 (stderr %q)", listed.code, listed.stderr)
	}
	if !strings.Contains(listed.stdout, "billing") {
		t.Errorf("keys list = %q; want the key named billing", listed.stdout)
	}
	if strings.Contains(listed.stdout, key) {
		t.Errorf("keys list = %q; want no full key", listed.stdout)
	}
	id := strings.Fields(strings.Split(listed.stdout, "\n")[1])[0]
	if !strings.HasPrefix(id, "key_") {
		t.Fatalf("keys list id = %q; want key_...", id)
	}

	revoked := runCLI(t, env, "", "keys", "revoke", id)
	if revoked.code != exitOK {
		t.Fatalf("keys revoke %s = %d; want 0 (stderr %q)", id, revoked.code, revoked.stderr)
	}
	listed = runCLI(t, env, "", "keys", "list")
	row := strings.Fields(strings.Split(listed.stdout, "\n")[1])
	// ID NAME LIMITS CREATED EXPIRES REVOKED LAST-USED
	if got, want := row[5], "2026-03-01T12:00:00Z"; got != want {
		t.Errorf("keys list REVOKED = %q; want %q", got, want)
	}

	again := runCLI(t, env, "", "keys", "revoke", id)
	if again.code != exitOK || !strings.Contains(again.stderr, "already revoked") {
		t.Errorf("keys revoke twice = %d, %q; want 0 and already revoked", again.code, again.stderr)
	}
	unknown := runCLI(t, env, "", "keys", "revoke", "key_nope")
	if unknown.code != exitFailure || !strings.Contains(unknown.stderr, "keys list") {
		t.Errorf("keys revoke unknown = %d, %q; want 1 and a pointer to keys list", unknown.code, unknown.stderr)
	}
}

func TestKeysListNoDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "elsewhere")
	r := runCLI(t, map[string]string{envDataDir: dir}, "", "keys", "list")
	if r.code != exitFailure {
		t.Errorf("keys list = %d; want %d", r.code, exitFailure)
	}
	if !strings.Contains(r.stderr, "no database at") || !strings.Contains(r.stderr, envDataDir) {
		t.Errorf("keys list stderr = %q; want it to name the missing database and %s", r.stderr, envDataDir)
	}
}

func TestOperatorsCommands(t *testing.T) {
	env := map[string]string{envDataDir: t.TempDir()}
	const password = "correct horse battery"

	added := runCLI(t, env, password+"\n", "operators", "add", "alice")
	if added.code != exitOK {
		t.Fatalf("operators add = %d; want 0 (stderr %q)", added.code, added.stderr)
	}
	if strings.Contains(added.stdout+added.stderr, password) {
		t.Errorf("operators add printed the password")
	}

	dup := runCLI(t, env, password+"\n", "operators", "add", "alice")
	if dup.code != exitFailure || !strings.Contains(dup.stderr, "--reset") {
		t.Errorf("operators add twice = %d, %q; want 1 and a pointer to --reset", dup.code, dup.stderr)
	}
	reset := runCLI(t, env, "another long password\n", "operators", "add", "alice", "--reset")
	if reset.code != exitOK {
		t.Errorf("operators add --reset = %d; want 0 (stderr %q)", reset.code, reset.stderr)
	}

	short := runCLI(t, env, "short\n", "operators", "add", "bob")
	if short.code != exitFailure || !strings.Contains(short.stderr, "at least 12") {
		t.Errorf("operators add short = %d, %q; want 1 and the minimum length", short.code, short.stderr)
	}
	empty := runCLI(t, env, "", "operators", "add", "bob")
	if empty.code != exitFailure || !strings.Contains(empty.stderr, "--password-file") {
		t.Errorf("operators add without password = %d, %q; want 1 and a pointer to --password-file", empty.code, empty.stderr)
	}

	file := writeFile(t, "password from a file\n")
	fromFile := runCLI(t, env, "", "operators", "add", "--password-file", file, "carol")
	if fromFile.code != exitOK {
		t.Errorf("operators add --password-file = %d; want 0 (stderr %q)", fromFile.code, fromFile.stderr)
	}

	listed := runCLI(t, env, "", "operators", "list")
	if listed.code != exitOK {
		t.Fatalf("operators list = %d; want 0 (stderr %q)", listed.code, listed.stderr)
	}
	for _, name := range []string{"alice", "carol"} {
		if !strings.Contains(listed.stdout, name) {
			t.Errorf("operators list = %q; want %s", listed.stdout, name)
		}
	}
	if strings.Contains(listed.stdout, "bob") {
		t.Errorf("operators list = %q; want no bob", listed.stdout)
	}
}

func TestReadPasswordLine(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		want  string
	}{
		{name: "newline", stdin: "secret password\nrest", want: "secret password"},
		{name: "crlf", stdin: "secret password\r\n", want: "secret password"},
		{name: "no newline", stdin: "secret password", want: "secret password"},
		{name: "spaces kept", stdin: " padded \n", want: " padded "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cli{stdin: strings.NewReader(tt.stdin), stderr: io.Discard}
			got, err := c.readPassword("", "x")
			if err != nil {
				t.Fatalf("readPassword() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("readPassword() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestKeysCreateRejectsBlankLimit(t *testing.T) {
	dir := t.TempDir()
	for _, flagName := range []string{"--apps", "--accounts", "--external-users"} {
		res := runCLI(t, map[string]string{envDataDir: dir}, "", "keys", "create", "--name", "ci", flagName, " ")
		if res.code != exitUsage {
			t.Errorf("keys create %s ' ' exit code = %d; want %d", flagName, res.code, exitUsage)
		}
		if !strings.Contains(res.stderr, flagName+" is empty") {
			t.Errorf("keys create %s ' ' stderr = %q; want it to name the empty flag", flagName, res.stderr)
		}
		if res.stdout != "" {
			t.Errorf("keys create %s ' ' printed a key", flagName)
		}
	}
}
