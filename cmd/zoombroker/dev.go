package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// Dev mode names.
const (
	// sandboxPrefix is where the sandbox is mounted on the broker's
	// listener.
	sandboxPrefix = "/sandbox"

	// devKeysFile holds the generated keys in the data directory.
	devKeysFile = "dev-keys.json"

	// devName is the name of the dev operator and of the dev API key.
	devName = "dev"

	// devBoxTitle heads the credentials box that dev mode prints.
	devBoxTitle = "zoombroker development mode"
)

// Client ids of the sandbox apps in dev mode.
const (
	devZoomClientID      = "sandbox-zoom"
	devZoomAdminClientID = "sandbox-zoom-admin"
)

// devMode is the state that `serve --dev` adds to a normal start: the
// sandbox and the dev credentials.
type devMode struct {
	sandbox  *zoomsandbox.Sandbox
	password secret.Secret // of the dev operator
	apiKey   secret.Secret
}

// startDevMode fills cfg with the dev keys and the sandbox apps, and
// creates the dev operator and API key in db. Settings the user gave for
// the keys win over the dev keys.
func startDevMode(ctx context.Context, cfg *Config, db store.Store, log *slog.Logger, now func() time.Time) (*devMode, error) {
	if len(cfg.EncryptionKeys) == 0 || len(cfg.CookieKeys) == 0 {
		path := filepath.Join(cfg.DataDir, devKeysFile)
		encKey, cookieKey, err := loadDevKeys(path)
		if err != nil {
			return nil, err
		}
		if len(cfg.EncryptionKeys) == 0 {
			cfg.EncryptionKeys = []seal.Key{encKey}
		}
		if len(cfg.CookieKeys) == 0 {
			cfg.CookieKeys = [][]byte{cookieKey}
		}
		log.Warn("using development keys; they are for development only, never use them in production", "file", path)
	}

	dev := &devMode{}
	dev.sandbox = newDevSandbox(cfg, log)

	var err error
	dev.password, err = resetDevOperator(ctx, db, now)
	if err != nil {
		return nil, err
	}
	dev.apiKey, err = replaceDevKey(ctx, db, now)
	if err != nil {
		return nil, err
	}
	return dev, nil
}

// newDevSandbox registers the two apps with new client secrets and points
// the Zoom URLs of cfg at the sandbox.
func newDevSandbox(cfg *Config, log *slog.Logger) *zoomsandbox.Sandbox {
	redirect := []string{cfg.BaseURL.String() + "/oauth/callback"}
	zoomApp := zoomsandbox.App{
		Name:         "Zoom",
		ClientID:     devZoomClientID,
		ClientSecret: secret.Secret(rand.Text()),
		Scopes:       []string{"user:read", "meeting:read", "meeting:write"},
		RedirectURIs: redirect,
	}
	adminApp := zoomsandbox.App{
		Name:         "Zoom Admin",
		ClientID:     devZoomAdminClientID,
		ClientSecret: secret.Secret(rand.Text()),
		Admin:        true,
		Scopes:       []string{"user:read:admin", "report:read:admin"},
		RedirectURIs: redirect,
	}

	cfg.ZoomOAuthURL = cfg.BaseURL.String() + sandboxPrefix
	cfg.ZoomAPIURL = cfg.BaseURL.String() + sandboxPrefix
	cfg.Apps = map[store.App]zoom.Credentials{
		store.AppZoom:      {ClientID: zoomApp.ClientID, ClientSecret: zoomApp.ClientSecret},
		store.AppZoomAdmin: {ClientID: adminApp.ClientID, ClientSecret: adminApp.ClientSecret},
	}
	return zoomsandbox.New(zoomsandbox.Options{
		Apps:   []zoomsandbox.App{zoomApp, adminApp},
		Logger: log.With("component", "sandbox"),
		// Connected accounts keep working across restarts only if the
		// sandbox remembers the grants it issued.
		StateFile: filepath.Join(cfg.DataDir, "sandbox-state.json"),
	})
}

// devKeys is the content of the dev keys file.
type devKeys struct {
	Warning string `json:"warning"`

	// EncryptionKey is in the format of ZOOMBROKER_ENCRYPTION_KEY.
	EncryptionKey string `json:"encryption_key"`

	// CookieKey is in the format of ZOOMBROKER_COOKIE_KEY.
	CookieKey string `json:"cookie_key"`
}

// loadDevKeys reads the dev keys file, or creates it with new keys on the
// first start. The caller holds the database lock, so no other broker
// writes the file at the same time.
func loadDevKeys(path string) (seal.Key, []byte, error) {
	fix := "delete it to generate new keys (accounts connected with the old keys can no longer be used)"
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createDevKeys(path)
	}
	if err != nil {
		return seal.Key{}, nil, fmt.Errorf("read dev keys: %w", err)
	}

	var k devKeys
	if err := json.Unmarshal(b, &k); err != nil {
		return seal.Key{}, nil, fmt.Errorf("%s is not valid JSON; %s", path, fix)
	}
	keys, err := seal.ParseKeys(k.EncryptionKey)
	if err != nil || len(keys) != 1 {
		return seal.Key{}, nil, fmt.Errorf("%s: encryption_key is invalid; %s", path, fix)
	}
	cookieKey, err := decodeBase64(k.CookieKey)
	if err != nil || len(cookieKey) != cookieKeySize {
		return seal.Key{}, nil, fmt.Errorf("%s: cookie_key is invalid; %s", path, fix)
	}
	return keys[0], cookieKey, nil
}

func createDevKeys(path string) (seal.Key, []byte, error) {
	encKey, encText, err := seal.GenerateKey(devName)
	if err != nil {
		return seal.Key{}, nil, fmt.Errorf("create dev keys: %w", err)
	}
	cookieKey := make([]byte, cookieKeySize)
	rand.Read(cookieKey)

	b, err := json.MarshalIndent(devKeys{
		Warning:       "Generated by zoombroker serve --dev. For development only: never use these keys in production.",
		EncryptionKey: encText.Reveal(),
		CookieKey:     base64.StdEncoding.EncodeToString(cookieKey),
	}, "", "  ")
	if err != nil {
		return seal.Key{}, nil, fmt.Errorf("create dev keys: %w", err)
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return seal.Key{}, nil, fmt.Errorf("create dev keys: %w", err)
	}
	return encKey, cookieKey, nil
}

// writeFileAtomic writes a file readable only by its owner: a temporary
// file first, renamed into place once it is synced.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())

	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// resetDevOperator creates the dev operator, or gives it a new password,
// and returns the password.
func resetDevOperator(ctx context.Context, db store.Store, now func() time.Time) (secret.Secret, error) {
	password := rand.Text()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("create dev operator: %w", err)
	}

	err = db.CreateOperator(ctx, store.Operator{Name: devName, PasswordHash: hash, CreatedAt: now().UTC()})
	if errors.Is(err, store.ErrAlreadyExists) {
		_, err = db.UpdateOperator(ctx, devName, func(o store.Operator) (store.Operator, error) {
			o.PasswordHash = hash
			return o, nil
		})
	}
	if err != nil {
		return "", fmt.Errorf("create dev operator: %w", err)
	}
	return secret.Secret(password), nil
}

// replaceDevKey revokes the API keys named dev that are still valid and
// creates a new one.
func replaceDevKey(ctx context.Context, db store.Store, now func() time.Time) (secret.Secret, error) {
	keys, err := db.ListAPIKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("list API keys: %w", err)
	}
	for _, k := range keys {
		if k.Name != devName || k.Revoked() {
			continue
		}
		if err := revokeKey(ctx, db, k.ID, now()); err != nil {
			return "", err
		}
	}

	k, full := auth.NewKey(devName, now())
	if err := db.CreateAPIKey(ctx, k); err != nil {
		return "", fmt.Errorf("create dev API key: %w", err)
	}
	return full, nil
}

// printCredentials prints the dev credentials in a box. This is the only
// place where the broker prints secrets.
func (d *devMode) printCredentials(w io.Writer, baseURL string) {
	key := d.apiKey.Reveal()
	rule := strings.Repeat("=", 72)
	lines := []string{
		rule,
		" " + devBoxTitle + ": built-in Zoom sandbox, development keys",
		rule,
		" Console    " + baseURL + "/",
		" Operator   " + devName,
		" Password   " + d.password.Reveal(),
		" API key    " + key,
		"",
		" Connect an account in the console, then list accounts and fetch a token:",
		"",
		"   curl -sS -H 'Authorization: Bearer " + key + "' \\",
		"     " + baseURL + "/v1/accounts",
		"   curl -sS -X POST -H 'Authorization: Bearer " + key + "' \\",
		"     " + baseURL + "/v1/accounts/ACCOUNT_ID/token",
		"",
		" These credentials are shown only now; the next start replaces them.",
		rule,
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}
