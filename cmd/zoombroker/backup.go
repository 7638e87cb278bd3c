package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// envAPIKey holds the API key that backup sends to a running broker.
const envAPIKey = "ZOOMBROKER_API_KEY"

// backupHTTPTimeout bounds a whole download from a running broker.
const backupHTTPTimeout = 30 * time.Minute

const backupUsage = `Usage:
  zoombroker backup FILE [--data-dir DIR] [--url URL] [--api-key-file FILE]
  zoombroker restore FILE [--data-dir DIR]

backup writes a consistent copy of the bbolt database to FILE (mode 0600).
When the broker is stopped it reads DATA_DIR/zoombroker.db directly. While
the broker runs, the file is locked, so backup downloads the copy from the
broker's GET /ops/backup with an API key, from ZOOMBROKER_API_KEY or the file
that --api-key-file names. The broker's URL is --url, else the base URL that
the broker's own settings give (ZOOMBROKER_BASE_URL, ZOOMBROKER_LISTEN, TLS).

restore checks that FILE is a zoombroker database that this version reads,
then replaces DATA_DIR/zoombroker.db with it and keeps the previous file as
zoombroker.db.bak. The broker must be stopped.

The copy holds the tokens encrypted: keep the encryption keys
(ZOOMBROKER_ENCRYPTION_KEY) apart from it, and with it in your restore plan.
Zoom rotates refresh tokens, so an account refreshed after the backup was
taken needs reconnecting after a restore.
`

func (c *cli) backup(ctx context.Context, args []string) error {
	flags := newFlagSet("backup")
	rawURL := flags.String("url", "", "base URL of the running broker")
	keyFile := flags.String("api-key-file", "", "file that contains the API key")
	sf := addSettingFlags(flags, envDataDir, envListen, envBaseURL, envTLSCertFile, envTLSKeyFile)
	positional, err := c.parseFlags(flags, "backup", backupUsage, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return &usageError{topic: "backup", msg: "backup takes exactly one argument, the file to write"}
	}
	target := positional[0]
	vs, err := sf.resolve(c.env)
	if err != nil {
		return err
	}
	dbPath := filepath.Join(vs[envDataDir].text, dbFile)

	source := "the broker at " + *rawURL
	write := func(w io.Writer) error { return c.download(ctx, *rawURL, *keyFile, w) }
	if *rawURL == "" {
		db, err := bbolt.Open(dbPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: cliLockTimeout})
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("no database at %s; set %s to the broker's data directory, or give --url of a running broker", dbPath, vs.label(envDataDir))
		case errors.Is(err, berrors.ErrTimeout):
			base, err := brokerURL(vs)
			if err != nil {
				return err
			}
			source = "the running broker at " + base
			write = func(w io.Writer) error { return c.download(ctx, base, *keyFile, w) }
		case err != nil:
			return fmt.Errorf("open database: %w", err)
		default:
			defer db.Close()
			source = dbPath
			write = func(w io.Writer) error {
				return db.View(func(tx *bbolt.Tx) error {
					_, err := tx.WriteTo(w)
					return err
				})
			}
		}
	}

	info, err := writeVerified(target, write)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Backed up %s to %s: %s.\n", source, target, info)
	fmt.Fprintf(c.stderr, "The tokens in it are encrypted; keep the encryption keys apart from it.\n")
	return nil
}

// brokerURL returns the base URL the broker's own settings give.
func brokerURL(vs values) (string, error) {
	listen := vs[envListen].text
	if err := checkListen(vs.label(envListen), listen); err != nil {
		return "", err
	}
	u, err := parseBaseURL(vs, listen)
	if err != nil {
		return "", err
	}
	if !vs[envBaseURL].set() && vs[envTLSCertFile].text != "" {
		u.Scheme = "https"
	}
	return u.String(), nil
}

// download copies GET base/ops/backup into w.
func (c *cli) download(ctx context.Context, base, keyFile string, w io.Writer) error {
	key, err := c.apiKey(keyFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, backupHTTPTimeout)
	defer cancel()

	endpoint := strings.TrimSuffix(base, "/") + "/ops/backup"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return fmt.Errorf("back up from %s: %w", base, err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("back up from %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("back up from %s: GET /ops/backup returned %s: %s", base, resp.Status, strings.TrimSpace(string(body)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("back up from %s: download broke off: %w", base, err)
	}
	return nil
}

// apiKey returns the key from the file, or from ZOOMBROKER_API_KEY.
func (c *cli) apiKey(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--api-key-file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if key, ok := c.env(envAPIKey); ok && key != "" {
		return key, nil
	}
	return "", fmt.Errorf("the broker is running and has locked the database; set %s or pass --api-key-file to copy it through the broker", envAPIKey)
}

// writeVerified writes a database with write into a temporary file next to
// target, checks it, and only then renames it to target.
func writeVerified(target string, write func(io.Writer) error) (backupInfo, error) {
	f, err := os.CreateTemp(filepath.Dir(target), ".tmp-"+filepath.Base(target)+"-*")
	if err != nil {
		return backupInfo{}, fmt.Errorf("create backup file: %w", err)
	}
	defer os.Remove(f.Name())

	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return backupInfo{}, fmt.Errorf("create backup file: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return backupInfo{}, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return backupInfo{}, fmt.Errorf("write backup file: %w", err)
	}
	if err := f.Close(); err != nil {
		return backupInfo{}, fmt.Errorf("write backup file: %w", err)
	}

	info, err := verifyDatabase(f.Name())
	if err != nil {
		return backupInfo{}, fmt.Errorf("the copy is not usable, so %s was not written: %w", target, err)
	}
	if err := os.Rename(f.Name(), target); err != nil {
		return backupInfo{}, fmt.Errorf("write backup file: %w", err)
	}
	return info, syncDir(filepath.Dir(target))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
