package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Environment variables of the settings. Each is also a flag of serve; see
// the settings table.
const (
	envListen            = "ZOOMBROKER_LISTEN"
	envBaseURL           = "ZOOMBROKER_BASE_URL"
	envDataDir           = "ZOOMBROKER_DATA_DIR"
	envDatabaseURL       = "ZOOMBROKER_DATABASE_URL"
	envEncryptionKey     = "ZOOMBROKER_ENCRYPTION_KEY"
	envCookieKey         = "ZOOMBROKER_COOKIE_KEY"
	envZoomClientID      = "ZOOMBROKER_ZOOM_CLIENT_ID"
	envZoomClientSecret  = "ZOOMBROKER_ZOOM_CLIENT_SECRET"
	envZoomAdminClientID = "ZOOMBROKER_ZOOM_ADMIN_CLIENT_ID"
	envZoomAdminSecret   = "ZOOMBROKER_ZOOM_ADMIN_CLIENT_SECRET"
	envZoomOAuthURL      = "ZOOMBROKER_ZOOM_OAUTH_URL"
	envZoomAPIURL        = "ZOOMBROKER_ZOOM_API_URL"
	envLogFormat         = "ZOOMBROKER_LOG_FORMAT"
	envZoomTimeout       = "ZOOMBROKER_ZOOM_TIMEOUT"

	envZoomWebhookSecret      = "ZOOMBROKER_ZOOM_WEBHOOK_SECRET"
	envZoomAdminWebhookSecret = "ZOOMBROKER_ZOOM_ADMIN_WEBHOOK_SECRET"
	envRefreshLead            = "ZOOMBROKER_REFRESH_LEAD"
	envRenewEvery             = "ZOOMBROKER_RENEW_EVERY"
	envTombstoneRetention     = "ZOOMBROKER_TOMBSTONE_RETENTION"
	envConnectRedirects       = "ZOOMBROKER_CONNECT_REDIRECTS"
	envConnectSessionTTL      = "ZOOMBROKER_CONNECT_SESSION_TTL"
	envBrandName              = "ZOOMBROKER_BRAND_NAME"

	envWebhooks     = "ZOOMBROKER_WEBHOOKS"
	envProxyTimeout = "ZOOMBROKER_PROXY_TIMEOUT"

	// fileSuffix turns a secret's variable into the one that names a file.
	fileSuffix = "_FILE"
)

// Defaults of the settings.
const (
	defaultListen       = "127.0.0.1:8080"
	defaultDataDir      = "./zoombroker-data"
	defaultZoomOAuthURL = "https://zoom.us"
	defaultZoomAPIURL   = "https://api.zoom.us"
	defaultLogFormat    = "json"
	defaultZoomTimeout  = "15s"
)

// setting is one configuration value: a flag of serve and an environment
// variable. The settings table drives the flags, the environment lookup,
// the usage text and the documentation test.
type setting struct {
	env  string
	flag string // without the leading dashes
	def  string // default as shown to users; "" when there is none

	// secret settings are never printed, and are also read from the file
	// that <env>_FILE or --<flag>-file names.
	secret bool

	arg  string // placeholder for the value in the usage text
	help string
}

// settings lists every setting of serve once, in the order of the usage
// text.
var settings = []setting{
	{env: envListen, flag: "listen", def: defaultListen, arg: "ADDR",
		help: "host:port the HTTP server listens on"},
	{env: envBaseURL, flag: "base-url", def: "http://<listen address>", arg: "URL",
		help: "public URL of the broker; the OAuth redirect URL is this plus /oauth/callback"},
	{env: envDataDir, flag: "data-dir", def: defaultDataDir, arg: "DIR",
		help: "directory of the database file zoombroker.db"},
	{env: envDatabaseURL, flag: "database-url", secret: true, arg: "URL",
		help: "postgres://USER:PASSWORD@HOST:PORT/DATABASE; stores everything in PostgreSQL instead of zoombroker.db, so replicas can share it"},
	{env: envEncryptionKey, flag: "encryption-key", secret: true, arg: "KEYS",
		help: "token encryption keys, id:base64-32-byte-key[,...]; the first encrypts, all decrypt"},
	{env: envCookieKey, flag: "cookie-key", secret: true, arg: "KEYS",
		help: "cookie keys, base64 of 64 random bytes each, comma-separated, newest first"},
	{env: envZoomClientID, flag: "zoom-client-id", arg: "ID",
		help: "client id of the Zoom app (user-managed)"},
	{env: envZoomClientSecret, flag: "zoom-client-secret", secret: true, arg: "SECRET",
		help: "client secret of the Zoom app (user-managed)"},
	{env: envZoomAdminClientID, flag: "zoom-admin-client-id", arg: "ID",
		help: "client id of the Zoom Admin app (admin-managed)"},
	{env: envZoomAdminSecret, flag: "zoom-admin-client-secret", secret: true, arg: "SECRET",
		help: "client secret of the Zoom Admin app (admin-managed)"},
	{env: envZoomOAuthURL, flag: "zoom-oauth-url", def: defaultZoomOAuthURL, arg: "URL",
		help: "base URL of Zoom's authorize, token and revoke endpoints"},
	{env: envZoomAPIURL, flag: "zoom-api-url", def: defaultZoomAPIURL, arg: "URL",
		help: "base URL of Zoom's REST API"},
	{env: envLogFormat, flag: "log-format", def: defaultLogFormat, arg: "FORMAT",
		help: "log format on stderr: json or text (text with --dev)"},
	{env: envZoomTimeout, flag: "zoom-timeout", def: defaultZoomTimeout, arg: "DURATION",
		help: "timeout of one HTTP request to Zoom, for example 15s"},
	{env: envZoomWebhookSecret, flag: "zoom-webhook-secret", secret: true, arg: "TOKEN",
		help: "secret token of the Zoom app's webhooks; enables POST /webhooks/zoom/zoom"},
	{env: envZoomAdminWebhookSecret, flag: "zoom-admin-webhook-secret", secret: true, arg: "TOKEN",
		help: "secret token of the Zoom Admin app's webhooks; enables POST /webhooks/zoom/zoom_admin"},
	{env: envRefreshLead, flag: "refresh-lead", def: "10m", arg: "DURATION",
		help: "how long before expiry the background refresher renews an access token in use"},
	{env: envRenewEvery, flag: "renew-every", def: "720h", arg: "DURATION",
		help: "longest time an account's refresh token goes without renewal, even when idle"},
	{env: envTombstoneRetention, flag: "tombstone-retention", def: "720h", arg: "DURATION",
		help: "how long a revoked or deauthorized account's tombstone is kept"},
	{env: envConnectRedirects, flag: "connect-redirects", arg: "URLS",
		help: "comma-separated URL prefixes that connect links may send end users back to, such as https://app.example.com/zoom/"},
	{env: envConnectSessionTTL, flag: "connect-session-ttl", def: "15m", arg: "DURATION",
		help: "how long a connect link stays valid"},
	{env: envBrandName, flag: "brand-name", def: "zoombroker", arg: "NAME",
		help: "company name the connect page shows to end users"},
	{env: envMetricsListen, flag: "metrics-listen", arg: "ADDR",
		help: "host:port of a separate listener for /metrics; unset serves /metrics on the main listener"},
	{env: envShutdownGrace, flag: "shutdown-grace", def: defaultShutdownGrace, arg: "DURATION",
		help: "how long shutdown waits for in-flight requests and refreshes after SIGTERM"},
	{env: envTLSCertFile, flag: "tls-cert-file", arg: "FILE",
		help: "PEM certificate chain; with --tls-key-file the main listener serves HTTPS (TLS 1.2 or newer)"},
	{env: envTLSKeyFile, flag: "tls-key-file", arg: "FILE",
		help: "PEM private key of the certificate in --tls-cert-file"},
	{env: envTrustedProxies, flag: "trusted-proxies", arg: "CIDRS",
		help: "comma-separated networks of reverse proxies in front of the broker, such as 10.0.0.0/24; their X-Forwarded-For names the client"},
	{env: envTrustedHeader, flag: "trusted-header", arg: "NAME",
		help: "header an SSO proxy sets to the signed-in user, such as X-Forwarded-Email; the console accepts it only from --trusted-proxies"},
	{env: envClientCAFile, flag: "client-ca-file", arg: "FILE",
		help: "PEM file of the CAs that issue client certificates; with TLS, callers may authenticate with a certificate instead of a key"},
	{env: envClientCerts, flag: "client-certs", arg: "MAP",
		help: "comma-separated IDENTITY=KEY_ID pairs: a certificate's URI SAN (spiffe://...) or CN=name, and the API key whose limits it gets"},
	{env: envAuditRetention, flag: "audit-retention", def: defaultAuditRetention, arg: "DURATION",
		help: "how long audit log entries are kept"},
	{env: envWebhooks, flag: "webhooks", secret: true, arg: "ENDPOINTS",
		help: "webhook endpoints for account events, URL|SECRET entries separated by commas"},
	{env: envProxyTimeout, flag: "proxy-timeout", def: "60s", arg: "DURATION",
		help: "time limit of one call through the Zoom API proxy, response body included"},
}

// settingFor returns the table entry of an environment variable. It panics
// on an unknown name, which is a programming mistake.
func settingFor(env string) setting {
	for _, s := range settings {
		if s.env == env {
			return s
		}
	}
	panic("zoombroker: unknown setting " + env)
}

// value is a resolved setting: its text and where it came from.
type value struct {
	text string

	// source names where the text came from, in the form a user would
	// search for: "--listen", "ZOOMBROKER_LISTEN", "ZOOMBROKER_COOKIE_KEY_FILE
	// (/run/secrets/cookie)". It is empty for a default.
	source string
}

// set reports whether the user gave the value, as opposed to the default.
func (v value) set() bool { return v.source != "" }

// values holds the resolved settings by environment variable name.
type values map[string]value

// label names a setting in a message: where its value came from, or the
// environment variable when the default is in use.
func (vs values) label(env string) string {
	if v := vs[env]; v.set() {
		return v.source
	}
	return env
}

// settingFlags are the flags of a subset of the settings on one FlagSet.
type settingFlags struct {
	fs    *flag.FlagSet
	text  map[string]*string // by environment variable name
	files map[string]*string // --<flag>-file of secret settings
}

// addSettingFlags registers flags for the named settings, or for all of
// them when envs is empty. The flags have no defaults of their own, so
// resolve can tell a flag that was given from one that was not.
func addSettingFlags(fs *flag.FlagSet, envs ...string) *settingFlags {
	sf := &settingFlags{fs: fs, text: map[string]*string{}, files: map[string]*string{}}
	for _, s := range settings {
		if len(envs) > 0 && !slices.Contains(envs, s.env) {
			continue
		}
		sf.text[s.env] = fs.String(s.flag, "", s.help)
		if s.secret {
			sf.files[s.env] = fs.String(s.flag+"-file", "", "file that contains "+s.env)
		}
	}
	return sf
}

// lookupEnv is os.LookupEnv in the binary and a map in tests.
type lookupEnv func(string) (string, bool)

// resolve returns the value of every registered setting. A flag wins over
// the environment, and the environment over the default. For a secret,
// the value itself and the file that contains it are alternatives at each
// level, and giving both at one level is an error. An empty environment
// variable counts as unset. Call it after fs.Parse.
func (sf *settingFlags) resolve(env lookupEnv) (values, error) {
	givenFlags := map[string]bool{}
	sf.fs.Visit(func(f *flag.Flag) { givenFlags[f.Name] = true })

	vs := values{}
	var problems []error
	for _, s := range settings {
		if _, ok := sf.text[s.env]; !ok {
			continue
		}
		v, err := sf.resolveOne(s, givenFlags, env)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		vs[s.env] = v
	}
	return vs, errors.Join(problems...)
}

func (sf *settingFlags) resolveOne(s setting, givenFlags map[string]bool, env lookupEnv) (value, error) {
	flagName, fileFlag := "--"+s.flag, "--"+s.flag+"-file"
	if givenFlags[s.flag] && givenFlags[s.flag+"-file"] {
		return value{}, fmt.Errorf("%s and %s are both set; use one of them", flagName, fileFlag)
	}
	if givenFlags[s.flag] {
		return value{text: *sf.text[s.env], source: flagName}, nil
	}
	if givenFlags[s.flag+"-file"] {
		return readSettingFile(fileFlag, *sf.files[s.env])
	}

	text, hasText := env(s.env)
	hasText = hasText && text != ""
	var file string
	hasFile := false
	if s.secret {
		file, hasFile = env(s.env + fileSuffix)
		hasFile = hasFile && file != ""
	}
	switch {
	case hasText && hasFile:
		return value{}, fmt.Errorf("%s and %s are both set; unset one of them", s.env, s.env+fileSuffix)
	case hasText:
		return value{text: text, source: s.env}, nil
	case hasFile:
		return readSettingFile(s.env+fileSuffix, file)
	}
	return value{text: s.def}, nil
}

// readSettingFile reads a secret from a file and trims one trailing
// newline, which editors and `echo` add.
func readSettingFile(name, path string) (value, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return value{}, fmt.Errorf("%s: %w", name, err)
	}
	return value{text: trimNewline(string(b)), source: fmt.Sprintf("%s (%s)", name, path)}, nil
}

// trimNewline removes one trailing "\n" or "\r\n".
func trimNewline(s string) string {
	if t, ok := strings.CutSuffix(s, "\r\n"); ok {
		return t
	}
	return strings.TrimSuffix(s, "\n")
}
