package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
)

// cookieKeySize is the length of one cookie key: a 32-byte HMAC key, then a
// 32-byte AES key.
const cookieKeySize = 64

// Fixes that the validation messages suggest.
const (
	encryptionKeyFix = "set " + envEncryptionKey + " to id:base64-32-byte-key, for example generate one with " +
		"`echo k1:$(head -c32 /dev/urandom | base64)`"
	cookieKeyFix = "set " + envCookieKey + " to the base64 of 64 random bytes, for example generate one with " +
		"`head -c64 /dev/urandom | base64 | tr -d '\\n'`"
)

// Config is the validated configuration of serve.
type Config struct {
	Listen  string
	BaseURL *url.URL
	DataDir string

	// EncryptionKeys seal the token records; the first one seals. In dev
	// mode they are empty until the dev keys are loaded.
	EncryptionKeys []seal.Key

	// CookieKeys are 64 bytes each, newest first. In dev mode they are
	// empty until the dev keys are loaded.
	CookieKeys [][]byte

	// Apps holds the credentials of the configured apps. An app missing
	// here is "not configured".
	Apps map[store.App]zoom.Credentials

	ZoomOAuthURL string
	ZoomAPIURL   string
	ZoomTimeout  time.Duration
	LogFormat    string

	// Lifecycle holds the webhook secrets and the refresh schedule.
	Lifecycle Lifecycle

	// Ops holds the metrics listener, the shutdown grace and TLS.
	Ops Ops

	// Security holds trusted proxies, the SSO header, client
	// certificates and the audit retention.
	Security Security

	// Dev runs the built-in sandbox in place of Zoom.
	Dev bool

	// Warnings are problems that do not stop startup. serve logs them once
	// the logger exists.
	Warnings []string
}

// configError lists every problem found in the configuration.
type configError struct{ problems []error }

func (e *configError) Error() string {
	if len(e.problems) == 1 {
		return "invalid configuration: " + e.problems[0].Error()
	}
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *configError) Unwrap() []error { return e.problems }

// joinProblems returns nil for no problems, else a *configError.
func joinProblems(problems []error) error {
	if len(problems) == 0 {
		return nil
	}
	return &configError{problems: problems}
}

// parseConfig validates the resolved settings. It reports every problem at
// once, and its messages never contain key material or client secrets.
func parseConfig(vs values, dev bool) (Config, error) {
	cfg := Config{Dev: dev, Apps: map[store.App]zoom.Credentials{}}
	var problems []error
	add := func(err error) {
		if err != nil {
			problems = append(problems, err)
		}
	}

	cfg.Listen = vs[envListen].text
	add(checkListen(vs.label(envListen), cfg.Listen))

	var err error
	cfg.Ops, err = parseOps(vs, cfg.Listen)
	add(err)
	cfg.BaseURL, err = parseBaseURL(vs, cfg.Listen)
	add(err)
	if cfg.BaseURL != nil && !vs[envBaseURL].set() && cfg.Ops.TLS() {
		cfg.BaseURL.Scheme = "https"
	}

	cfg.DataDir = vs[envDataDir].text
	if cfg.DataDir == "" {
		add(fmt.Errorf("%s is empty; set it to the directory that contains zoombroker.db", vs.label(envDataDir)))
	}

	cfg.EncryptionKeys, err = parseEncryptionKeys(vs, dev)
	add(err)
	cfg.CookieKeys, err = parseCookieKeys(vs, dev)
	add(err)

	cfg.LogFormat, err = parseLogFormat(vs, dev)
	add(err)
	cfg.ZoomTimeout, err = parseTimeout(vs)
	add(err)
	cfg.Lifecycle, err = parseLifecycle(vs)
	add(err)
	cfg.Security, err = parseSecurity(vs, cfg.Ops.TLS())
	if err != nil {
		problems = append(problems, unjoin(err)...)
	}

	if dev {
		cfg.Warnings = append(cfg.Warnings, ignoredInDev(vs)...)
		return cfg, joinProblems(problems)
	}

	cfg.ZoomOAuthURL, err = parseHTTPURL(vs, envZoomOAuthURL)
	add(err)
	cfg.ZoomAPIURL, err = parseHTTPURL(vs, envZoomAPIURL)
	add(err)
	add(parseApp(vs, cfg.Apps, store.AppZoom, envZoomClientID, envZoomClientSecret))
	add(parseApp(vs, cfg.Apps, store.AppZoomAdmin, envZoomAdminClientID, envZoomAdminSecret))
	if len(cfg.Apps) == 0 {
		cfg.Warnings = append(cfg.Warnings, "no Zoom app is configured, so no account can be connected; set "+
			envZoomClientID+" and "+envZoomClientSecret+", or "+envZoomAdminClientID+" and "+envZoomAdminSecret)
	}
	return cfg, joinProblems(problems)
}

func checkListen(label, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q is not a host:port address; set it to an address such as %s", label, addr, defaultListen)
	}
	return nil
}

// parseBaseURL returns the base URL without a trailing slash. The default
// is http:// plus the listen address, with localhost in place of an
// address that means all interfaces.
func parseBaseURL(vs values, listen string) (*url.URL, error) {
	v := vs[envBaseURL]
	text := v.text
	if !v.set() {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, nil // checkListen reports the listen address
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "localhost"
		}
		text = "http://" + net.JoinHostPort(host, port)
	}

	fix := "set it to the URL browsers use to reach the broker, such as https://zoombroker.example.com"
	u, err := url.Parse(text)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an absolute http or https URL; %s", vs.label(envBaseURL), text, fix)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: the URL must not have a user name, query or fragment; %s", vs.label(envBaseURL), fix)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func parseEncryptionKeys(vs values, dev bool) ([]seal.Key, error) {
	v := vs[envEncryptionKey]
	if !v.set() {
		if dev {
			return nil, nil // the dev keys fill it in
		}
		return nil, fmt.Errorf("%s is missing; %s", envEncryptionKey, encryptionKeyFix)
	}
	keys, err := seal.ParseKeys(v.text)
	if err != nil {
		// ParseKeys names the entry by position and id, never by its
		// material.
		return nil, fmt.Errorf("%s: %w; %s", v.source, err, encryptionKeyFix)
	}
	return keys, nil
}

func parseCookieKeys(vs values, dev bool) ([][]byte, error) {
	v := vs[envCookieKey]
	if !v.set() {
		if dev {
			return nil, nil
		}
		return nil, fmt.Errorf("%s is missing; %s", envCookieKey, cookieKeyFix)
	}

	var keys [][]byte
	for i, entry := range strings.Split(v.text, ",") {
		// base64 wraps long output at 76 columns, so line breaks inside an
		// entry are dropped.
		entry = strings.Join(strings.Fields(entry), "")
		k, err := decodeBase64(entry)
		switch {
		case entry == "":
			return nil, fmt.Errorf("%s: entry %d is empty; %s", v.source, i+1, cookieKeyFix)
		case err != nil:
			return nil, fmt.Errorf("%s: entry %d is not valid base64; %s", v.source, i+1, cookieKeyFix)
		case len(k) != cookieKeySize:
			return nil, fmt.Errorf("%s: entry %d decodes to %d bytes; want %d; %s", v.source, i+1, len(k), cookieKeySize, cookieKeyFix)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func parseLogFormat(vs values, dev bool) (string, error) {
	v := vs[envLogFormat]
	if !v.set() && dev {
		return "text", nil
	}
	if v.text != "json" && v.text != "text" {
		return "", fmt.Errorf("%s: %q is not a log format; set it to json or text", vs.label(envLogFormat), v.text)
	}
	return v.text, nil
}

func parseTimeout(vs values) (time.Duration, error) {
	text := vs[envZoomTimeout].text
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration; set it to a value such as %s", vs.label(envZoomTimeout), text, defaultZoomTimeout)
	}
	return d, nil
}

// parseHTTPURL returns an absolute http or https URL without a trailing
// slash.
func parseHTTPURL(vs values, env string) (string, error) {
	text := vs[env].text
	u, err := url.Parse(text)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s: %q is not an absolute http or https URL; set it to a URL such as %s or leave it unset", vs.label(env), text, settingFor(env).def)
	}
	return strings.TrimSuffix(text, "/"), nil
}

// parseApp adds the app's credentials to apps when both halves are set. An
// app with neither is "not configured", and one with only one half is an
// error.
func parseApp(vs values, apps map[store.App]zoom.Credentials, app store.App, idEnv, secretEnv string) error {
	id, sec := vs[idEnv], vs[secretEnv]
	switch {
	case id.text == "" && sec.text == "":
		return nil
	case id.text == "":
		return fmt.Errorf("%s is set but %s is not; set both to the app's credentials from the Zoom App Marketplace, or neither to leave the app not configured", vs.label(secretEnv), idEnv)
	case sec.text == "":
		return fmt.Errorf("%s is set but %s is not; set both to the app's credentials from the Zoom App Marketplace, or neither to leave the app not configured", vs.label(idEnv), secretEnv)
	}
	apps[app] = zoom.Credentials{ClientID: id.text, ClientSecret: secret.Secret(sec.text)}
	return nil
}

// ignoredInDev warns about the Zoom settings, which dev mode replaces with
// the built-in sandbox.
func ignoredInDev(vs values) []string {
	var warnings []string
	for _, env := range []string{envZoomClientID, envZoomClientSecret, envZoomAdminClientID, envZoomAdminSecret, envZoomOAuthURL, envZoomAPIURL} {
		if vs[env].set() {
			warnings = append(warnings, vs.label(env)+" is ignored in dev mode, which uses the built-in Zoom sandbox")
		}
	}
	return warnings
}

// checkDataDir creates the data directory if needed and checks that a file
// can be created in it.
func checkDataDir(vs values, dir string) error {
	fix := "set " + envDataDir + " to a directory the broker's user can write, or fix the permissions"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: cannot create %s: %w; %s", vs.label(envDataDir), dir, unwrapPath(err), fix)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%s: cannot write to %s: %w; %s", vs.label(envDataDir), dir, unwrapPath(err), fix)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%s: cannot remove %s: %w; %s", vs.label(envDataDir), name, unwrapPath(err), fix)
	}
	return nil
}

// unwrapPath drops the operation and path of a *fs.PathError, which the
// message around it already names.
func unwrapPath(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}
