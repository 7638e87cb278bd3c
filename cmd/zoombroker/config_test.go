package main

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// Key material used in the tests. The messages must never contain it.
var (
	encMaterial    = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	shortMaterial  = base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))
	cookieMaterial = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("c", 64)))
	cookieShort    = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))
)

// mapEnv returns a lookupEnv backed by m.
func mapEnv(m map[string]string) lookupEnv {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// validEnv returns a complete production configuration.
func validEnv() map[string]string {
	return map[string]string{
		envEncryptionKey:     "k1:" + encMaterial,
		envCookieKey:         cookieMaterial,
		envZoomClientID:      "zoom-id",
		envZoomClientSecret:  "zoom-secret-value",
		envZoomAdminClientID: "admin-id",
		envZoomAdminSecret:   "admin-secret-value",
	}
}

// resolveArgs parses args as serve's flags and resolves them against env.
func resolveArgs(t *testing.T, args []string, env map[string]string) (values, error) {
	t.Helper()
	fs := newFlagSet("serve")
	sf := addSettingFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q) = %v; want nil", args, err)
	}
	return sf.resolve(mapEnv(env))
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolvePrecedence(t *testing.T) {
	file := writeFile(t, "from-file\n")
	fileTwoNewlines := writeFile(t, "two\n\n")
	fileCRLF := writeFile(t, "crlf\r\n")

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		setting    string
		wantText   string
		wantSource string
	}{
		{name: "default", setting: envListen, wantText: defaultListen},
		{name: "env", env: map[string]string{envListen: "127.0.0.1:9000"}, setting: envListen,
			wantText: "127.0.0.1:9000", wantSource: envListen},
		{name: "empty env is unset", env: map[string]string{envListen: ""}, setting: envListen,
			wantText: defaultListen},
		{name: "flag over env", args: []string{"--listen", "127.0.0.1:9001"},
			env: map[string]string{envListen: "127.0.0.1:9000"}, setting: envListen,
			wantText: "127.0.0.1:9001", wantSource: "--listen"},
		{name: "env file", env: map[string]string{envCookieKey + "_FILE": file}, setting: envCookieKey,
			wantText: "from-file", wantSource: envCookieKey + "_FILE (" + file + ")"},
		{name: "flag file over env", args: []string{"--cookie-key-file", file},
			env: map[string]string{envCookieKey: "from-env"}, setting: envCookieKey,
			wantText: "from-file", wantSource: "--cookie-key-file (" + file + ")"},
		{name: "flag over env file", args: []string{"--zoom-client-secret", "from-flag"},
			env: map[string]string{envZoomClientSecret + "_FILE": file}, setting: envZoomClientSecret,
			wantText: "from-flag", wantSource: "--zoom-client-secret"},
		{name: "file trims one newline", env: map[string]string{envEncryptionKey + "_FILE": fileTwoNewlines},
			setting: envEncryptionKey, wantText: "two\n", wantSource: envEncryptionKey + "_FILE (" + fileTwoNewlines + ")"},
		{name: "file trims crlf", env: map[string]string{envEncryptionKey + "_FILE": fileCRLF},
			setting: envEncryptionKey, wantText: "crlf", wantSource: envEncryptionKey + "_FILE (" + fileCRLF + ")"},
		{name: "file ignored for non-secret", env: map[string]string{envListen + "_FILE": file},
			setting: envListen, wantText: defaultListen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := resolveArgs(t, tt.args, tt.env)
			if err != nil {
				t.Fatalf("resolve() error = %v; want nil", err)
			}
			got := vs[tt.setting]
			if got.text != tt.wantText {
				t.Errorf("resolve()[%s].text = %q; want %q", tt.setting, got.text, tt.wantText)
			}
			if got.source != tt.wantSource {
				t.Errorf("resolve()[%s].source = %q; want %q", tt.setting, got.source, tt.wantSource)
			}
		})
	}
}

func TestResolveConflicts(t *testing.T) {
	file := writeFile(t, "x")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{name: "env and env file", env: map[string]string{envCookieKey: "a", envCookieKey + "_FILE": file},
			want: []string{envCookieKey, envCookieKey + "_FILE"}},
		{name: "flag and flag file", args: []string{"--cookie-key", "a", "--cookie-key-file", file},
			want: []string{"--cookie-key", "--cookie-key-file"}},
		{name: "missing file", env: map[string]string{envZoomAdminSecret + "_FILE": filepath.Join(t.TempDir(), "missing")},
			want: []string{envZoomAdminSecret + "_FILE", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveArgs(t, tt.args, tt.env)
			if err == nil {
				t.Fatalf("resolve() error = nil; want one naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("resolve() error = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigValid(t *testing.T) {
	vs, err := resolveArgs(t, nil, validEnv())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(vs, false)
	if err != nil {
		t.Fatalf("parseConfig() error = %v; want nil", err)
	}

	if got, want := cfg.BaseURL.String(), "http://127.0.0.1:8080"; got != want {
		t.Errorf("BaseURL = %q; want %q", got, want)
	}
	if got, want := len(cfg.EncryptionKeys), 1; got != want {
		t.Errorf("len(EncryptionKeys) = %d; want %d", got, want)
	}
	if got, want := len(cfg.CookieKeys), 1; got != want {
		t.Errorf("len(CookieKeys) = %d; want %d", got, want)
	}
	if got, want := cfg.Apps[store.AppZoom].ClientID, "zoom-id"; got != want {
		t.Errorf("Apps[zoom].ClientID = %q; want %q", got, want)
	}
	if got, want := cfg.Apps[store.AppZoomAdmin].ClientSecret.Reveal(), "admin-secret-value"; got != want {
		t.Errorf("Apps[zoom_admin].ClientSecret = %q; want %q", got, want)
	}
	if got, want := cfg.ZoomOAuthURL, defaultZoomOAuthURL; got != want {
		t.Errorf("ZoomOAuthURL = %q; want %q", got, want)
	}
	if got, want := cfg.ZoomTimeout, 15*time.Second; got != want {
		t.Errorf("ZoomTimeout = %v; want %v", got, want)
	}
	if got, want := cfg.LogFormat, "json"; got != want {
		t.Errorf("LogFormat = %q; want %q", got, want)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q; want none", cfg.Warnings)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "all interfaces", env: map[string]string{envListen: "0.0.0.0:8080"}, want: "http://localhost:8080"},
		{name: "empty host", env: map[string]string{envListen: ":9090"}, want: "http://localhost:9090"},
		{name: "ipv6 loopback", env: map[string]string{envListen: "[::1]:8080"}, want: "http://[::1]:8080"},
		{name: "trailing slash", env: map[string]string{envBaseURL: "https://zb.example.com/"}, want: "https://zb.example.com"},
		{name: "path kept", env: map[string]string{envBaseURL: "https://example.com/zoombroker/"}, want: "https://example.com/zoombroker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			vs, err := resolveArgs(t, nil, env)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := parseConfig(vs, false)
			if err != nil {
				t.Fatalf("parseConfig() error = %v; want nil", err)
			}
			if got := cfg.BaseURL.String(); got != tt.want {
				t.Errorf("BaseURL = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestParseConfigAppNotConfigured(t *testing.T) {
	env := validEnv()
	delete(env, envZoomAdminClientID)
	delete(env, envZoomAdminSecret)
	vs, err := resolveArgs(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(vs, false)
	if err != nil {
		t.Fatalf("parseConfig() error = %v; want nil", err)
	}
	if _, ok := cfg.Apps[store.AppZoomAdmin]; ok {
		t.Errorf("Apps[zoom_admin] is set; want the app left out")
	}
	if _, ok := cfg.Apps[store.AppZoom]; !ok {
		t.Errorf("Apps[zoom] is missing; want it configured")
	}
}

func TestParseConfigNoApps(t *testing.T) {
	env := validEnv()
	for _, k := range []string{envZoomClientID, envZoomClientSecret, envZoomAdminClientID, envZoomAdminSecret} {
		delete(env, k)
	}
	vs, err := resolveArgs(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(vs, false)
	if err != nil {
		t.Fatalf("parseConfig() error = %v; want nil", err)
	}
	if got := len(cfg.Apps); got != 0 {
		t.Errorf("len(Apps) = %d; want 0", got)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], envZoomClientID) {
		t.Errorf("Warnings = %q; want one naming %s", cfg.Warnings, envZoomClientID)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string // added to validEnv; "" deletes
		args []string
		want []string // each must appear in the message
	}{
		{name: "missing encryption key", set: map[string]string{envEncryptionKey: ""},
			want: []string{envEncryptionKey + " is missing", "id:base64-32-byte-key", "head -c32 /dev/urandom | base64"}},
		{name: "short encryption key", set: map[string]string{envEncryptionKey: "k1:" + shortMaterial},
			want: []string{envEncryptionKey, `entry 1 (id "k1")`, "16 bytes"}},
		{name: "encryption key without id", set: map[string]string{envEncryptionKey: encMaterial},
			want: []string{envEncryptionKey, "entry 1", "id:base64-key"}},
		{name: "second encryption key bad", set: map[string]string{envEncryptionKey: "k2:" + encMaterial + ",k1:" + shortMaterial},
			want: []string{envEncryptionKey, `entry 2 (id "k1")`}},
		{name: "encryption key from flag", set: map[string]string{envEncryptionKey: ""},
			args: []string{"--encryption-key", "k1:" + shortMaterial}, want: []string{"--encryption-key", "k1"}},
		{name: "missing cookie key", set: map[string]string{envCookieKey: ""},
			want: []string{envCookieKey + " is missing", "64 random bytes"}},
		{name: "cookie key wrong length", set: map[string]string{envCookieKey: cookieShort},
			want: []string{envCookieKey, "entry 1", "32 bytes", "want 64"}},
		{name: "second cookie key wrong length", set: map[string]string{envCookieKey: cookieMaterial + "," + cookieShort},
			want: []string{envCookieKey, "entry 2", "32 bytes"}},
		{name: "cookie key not base64", set: map[string]string{envCookieKey: "not*base64*" + cookieMaterial},
			want: []string{envCookieKey, "entry 1", "not valid base64"}},
		{name: "base url relative", set: map[string]string{envBaseURL: "zoombroker.example.com"},
			want: []string{envBaseURL, "absolute http or https URL"}},
		{name: "base url ftp", set: map[string]string{envBaseURL: "ftp://example.com"},
			want: []string{envBaseURL, "absolute http or https URL"}},
		{name: "base url query", set: map[string]string{envBaseURL: "https://example.com/?a=b"},
			want: []string{envBaseURL, "query"}},
		{name: "listen without port", set: map[string]string{envListen: "localhost"},
			want: []string{envListen, "host:port"}},
		{name: "zoom id only", set: map[string]string{envZoomClientSecret: ""},
			want: []string{envZoomClientID, envZoomClientSecret}},
		{name: "zoom secret only", set: map[string]string{envZoomClientID: ""},
			want: []string{envZoomClientID, envZoomClientSecret}},
		{name: "admin secret only", set: map[string]string{envZoomAdminClientID: ""},
			want: []string{envZoomAdminClientID, envZoomAdminSecret}},
		{name: "oauth url bad", set: map[string]string{envZoomOAuthURL: "zoom.us"},
			want: []string{envZoomOAuthURL, "absolute http or https URL"}},
		{name: "api url bad", args: []string{"--zoom-api-url", "/v2"},
			want: []string{"--zoom-api-url", "absolute http or https URL"}},
		{name: "log format", set: map[string]string{envLogFormat: "xml"},
			want: []string{envLogFormat, "json or text"}},
		{name: "timeout not duration", set: map[string]string{envZoomTimeout: "15"},
			want: []string{envZoomTimeout, "duration"}},
		{name: "timeout negative", set: map[string]string{envZoomTimeout: "-1s"},
			want: []string{envZoomTimeout, "positive"}},
	}
	secrets := []string{encMaterial, shortMaterial, cookieMaterial, cookieShort, "zoom-secret-value", "admin-secret-value"}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			vs, err := resolveArgs(t, tt.args, env)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseConfig(vs, false)
			if err == nil {
				t.Fatalf("parseConfig() error = nil; want one containing %q", tt.want)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("parseConfig() error = %q; want it to contain %q", msg, w)
				}
			}
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Errorf("parseConfig() error = %q; want no key material or secret (%q)", msg, s)
				}
			}
		})
	}
}

func TestParseConfigReportsAll(t *testing.T) {
	env := map[string]string{envBaseURL: "example.com", envLogFormat: "xml", envZoomClientID: "id"}
	vs, err := resolveArgs(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	_, err = parseConfig(vs, false)
	var cerr *configError
	if !errors.As(err, &cerr) {
		t.Fatalf("parseConfig() error = %v; want a *configError", err)
	}
	for _, w := range []string{envEncryptionKey, envCookieKey, envBaseURL, envLogFormat, envZoomClientSecret} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("parseConfig() error = %q; want it to name %s", err, w)
		}
	}
	if got, want := len(cerr.problems), 5; got != want {
		t.Errorf("len(problems) = %d; want %d", got, want)
	}
}

func TestParseConfigDev(t *testing.T) {
	env := map[string]string{
		envZoomClientID:     "real-id",
		envZoomClientSecret: "real-secret",
		envZoomOAuthURL:     "https://zoom.us",
	}
	vs, err := resolveArgs(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(vs, true)
	if err != nil {
		t.Fatalf("parseConfig(dev) error = %v; want nil", err)
	}
	if got, want := cfg.LogFormat, "text"; got != want {
		t.Errorf("LogFormat = %q; want %q", got, want)
	}
	if got := len(cfg.Apps); got != 0 {
		t.Errorf("len(Apps) = %d; want 0 before the sandbox is set up", got)
	}
	for _, env := range []string{envZoomClientID, envZoomClientSecret, envZoomOAuthURL} {
		found := slices.ContainsFunc(cfg.Warnings, func(w string) bool {
			return strings.Contains(w, env) && strings.Contains(w, "ignored in dev mode")
		})
		if !found {
			t.Errorf("Warnings = %q; want one saying %s is ignored", cfg.Warnings, env)
		}
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "real-secret") {
			t.Errorf("warning %q contains the client secret", w)
		}
	}
}

func TestCheckDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := checkDataDir(values{}, dir); err != nil {
		t.Fatalf("checkDataDir(%s) = %v; want nil", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("data dir has %d entries after the check; want 0", len(entries))
	}
}

func TestCheckDataDirNotWritable(t *testing.T) {
	// A path below a regular file cannot be created, even by root.
	file := writeFile(t, "")
	dir := filepath.Join(file, "data")
	vs := values{envDataDir: {text: dir, source: "--data-dir"}}

	err := checkDataDir(vs, dir)
	if err == nil {
		t.Fatalf("checkDataDir(%s) = nil; want an error", dir)
	}
	for _, w := range []string{"--data-dir", dir, "cannot create"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("checkDataDir() = %q; want it to contain %q", err, w)
		}
	}
}

func TestDocsListEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range settings {
		want := []string{s.env, "--" + s.flag}
		if s.secret {
			want = append(want, s.env+fileSuffix, "--"+s.flag+"-file")
		}
		if s.def != "" {
			want = append(want, s.def)
		}
		for _, w := range want {
			if !strings.Contains(doc, w) {
				t.Errorf("docs/configuration.md does not mention %q (setting %s)", w, s.env)
			}
		}
	}
}

func TestServeUsageListsSettings(t *testing.T) {
	usage := serveUsage()
	for _, s := range settings {
		for _, w := range []string{s.env, "--" + s.flag} {
			if !strings.Contains(usage, w) {
				t.Errorf("serveUsage() does not mention %q", w)
			}
		}
	}
}
