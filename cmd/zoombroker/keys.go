package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// cliLockTimeout bounds the wait for the bbolt file lock in the keys and
// operators commands.
const cliLockTimeout = time.Second

// maxNameLength limits API key and operator names, in characters.
const maxNameLength = 64

const keysUsage = `Usage:
  zoombroker keys create --name NAME [--apps APPS] [--accounts IDS]
                         [--external-users IDS] [--expires WHEN] [--data-dir DIR]
  zoombroker keys list [--data-dir DIR]
  zoombroker keys revoke ID [--data-dir DIR]

Manages the API keys that services send as "Authorization: Bearer KEY".
create prints the new key once; the broker stores only its hash. list
prints id, name, limits, creation, expiry, revocation and last use. revoke
takes the id that list prints.

A key reaches every app and account unless limited: --apps zoom,zoom_admin
limits it to those apps, --accounts acc_...,acc_... to those accounts, and
--external-users to the accounts those external users connected through
connect links; an account must pass every limit given. --expires takes a
duration such as 720h or an RFC 3339 time; the key stops working then.
The audit log, webhooks and backups need a key without limits.

These commands open the data directory (--data-dir or ZOOMBROKER_DATA_DIR,
default ./zoombroker-data) and need the broker to be stopped. While it
runs, manage keys on the console's API keys page. When
ZOOMBROKER_DATABASE_URL (or --database-url) is set, they use that
PostgreSQL database instead, also while brokers run.
`

func (c *cli) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{topic: "keys", msg: "keys needs a subcommand: create, list or revoke"}
	}
	switch args[0] {
	case "create":
		return c.keysCreate(ctx, args[1:])
	case "list":
		return c.keysList(ctx, args[1:])
	case "revoke":
		return c.keysRevoke(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, keysUsage)
		return nil
	}
	return &usageError{topic: "keys", msg: fmt.Sprintf("unknown keys subcommand %q", args[0])}
}

func (c *cli) keysCreate(ctx context.Context, args []string) error {
	fs := newFlagSet("keys create")
	name := fs.String("name", "", "name of the key, for example the service that uses it")
	appsFlag := fs.String("apps", "", "comma-separated apps the key may use: zoom, zoom_admin; default all")
	accountsFlag := fs.String("accounts", "", "comma-separated account ids the key may use; default all")
	usersFlag := fs.String("external-users", "", "comma-separated external user ids whose accounts the key may use; default all")
	expiresFlag := fs.String("expires", "", "when the key stops working: a duration such as 720h or an RFC 3339 time; default never")
	sf := addSettingFlags(fs, envDataDir, envDatabaseURL)
	positional, err := c.parseFlags(fs, "keys", keysUsage, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return &usageError{topic: "keys", msg: fmt.Sprintf("keys create takes no arguments, got %q; give the name with --name", positional[0])}
	}
	if err := checkName("--name", *name); err != nil {
		return &usageError{topic: "keys", msg: "keys create: " + err.Error()}
	}
	// A limit flag given with an empty value would mean "no limit"; an
	// unset variable in a script must not make an unlimited key.
	var blank []string
	fs.Visit(func(f *flag.Flag) {
		limit := f.Name == "apps" || f.Name == "accounts" || f.Name == "external-users"
		if limit && strings.TrimSpace(f.Value.String()) == "" {
			blank = append(blank, "--"+f.Name)
		}
	})
	if len(blank) > 0 {
		return &usageError{topic: "keys", msg: fmt.Sprintf("keys create: %s is empty; leave the flag out for no limit", strings.Join(blank, ", "))}
	}
	limits, expires, err := parseKeyLimits(*appsFlag, *accountsFlag, *usersFlag, *expiresFlag, c.now())
	if err != nil {
		return &usageError{topic: "keys", msg: "keys create: " + err.Error()}
	}

	db, err := c.openStore(sf, true, "create API keys on the console's API keys page")
	if err != nil {
		return err
	}
	defer db.Close()

	k, full := auth.NewKey(*name, c.now())
	k.Limits, k.ExpiresAt = limits, expires
	if err := auth.CreateKey(ctx, db, k, c.now()); err != nil {
		return err
	}

	// The key alone goes to stdout, so scripts can capture it.
	fmt.Fprintf(c.stderr, "Created API key %s (name %q, %s, expires %s). It will not be shown again:\n", k.ID, k.Name, k.Limits, formatExpiry(k.ExpiresAt))
	fmt.Fprintln(c.stdout, full.Reveal())
	return nil
}

func (c *cli) keysList(ctx context.Context, args []string) error {
	fs := newFlagSet("keys list")
	sf := addSettingFlags(fs, envDataDir, envDatabaseURL)
	positional, err := c.parseFlags(fs, "keys", keysUsage, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return &usageError{topic: "keys", msg: fmt.Sprintf("keys list takes no arguments, got %q", positional[0])}
	}

	db, err := c.openStore(sf, false, "see the API keys on the console's API keys page")
	if err != nil {
		return err
	}
	defer db.Close()

	keys, err := db.ListAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	if len(keys) == 0 {
		fmt.Fprintln(c.stderr, "No API keys. Create one with: zoombroker keys create --name NAME")
		return nil
	}

	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tLIMITS\tCREATED\tEXPIRES\tREVOKED\tLAST USED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Limits, formatTime(k.CreatedAt), formatExpiry(k.ExpiresAt), formatTime(k.RevokedAt), formatTime(k.LastUsedAt))
	}
	return tw.Flush()
}

func (c *cli) keysRevoke(ctx context.Context, args []string) error {
	fs := newFlagSet("keys revoke")
	sf := addSettingFlags(fs, envDataDir, envDatabaseURL)
	positional, err := c.parseFlags(fs, "keys", keysUsage, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return &usageError{topic: "keys", msg: "keys revoke takes exactly one key id, as keys list prints it"}
	}
	id := positional[0]

	db, err := c.openStore(sf, false, "revoke API keys on the console's API keys page")
	if err != nil {
		return err
	}
	defer db.Close()

	k, err := db.GetAPIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no API key has the id %q; run 'zoombroker keys list' to see the ids", id)
	}
	if err != nil {
		return fmt.Errorf("get API key %s: %w", id, err)
	}
	if k.Revoked() {
		fmt.Fprintf(c.stderr, "API key %s was already revoked at %s.\n", id, formatTime(k.RevokedAt))
		return nil
	}
	if err := revokeKey(ctx, db, id, c.now()); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Revoked API key %s (name %q).\n", id, k.Name)
	return nil
}

// revokeKey marks a key revoked unless it already is.
func revokeKey(ctx context.Context, db store.Store, id string, now time.Time) error {
	_, err := db.UpdateAPIKey(ctx, id, func(k store.APIKey) (store.APIKey, error) {
		if !k.Revoked() {
			k.RevokedAt = now.UTC()
		}
		return k, nil
	})
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	return nil
}

// openStore opens the database for a CLI command: the PostgreSQL database
// of ZOOMBROKER_DATABASE_URL when it is set, which running brokers share,
// else the bbolt file of the data directory. With create false, a missing
// bbolt file is an error, because it usually means the wrong data
// directory. whileRunning is the advice printed when a running broker has
// locked the file.
func (c *cli) openStore(sf *settingFlags, create bool, whileRunning string) (store.Store, error) {
	vs, err := sf.resolve(c.env)
	if err != nil {
		return nil, err
	}
	if usesPostgres(vs) {
		return openPostgres(context.Background(), vs)
	}
	dir := vs[envDataDir].text
	if dir == "" {
		return nil, fmt.Errorf("%s is empty; set it to the broker's data directory", vs.label(envDataDir))
	}

	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("no database at %s; set %s to the broker's data directory", path, vs.label(envDataDir))
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("%s: cannot create %s: %w", vs.label(envDataDir), dir, unwrapPath(err))
		}
		fmt.Fprintf(c.stderr, "Creating a new database at %s.\n", path)
	}

	db, err := bolt.Open(path, bolt.Options{LockTimeout: cliLockTimeout})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("the broker is running and has locked %s; %s, or stop the broker and run this command again", path, whileRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// checkName validates an API key or operator name.
func checkName(what, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%s is required and must not be blank", what)
	case utf8.RuneCountInString(name) > maxNameLength:
		return fmt.Errorf("%s has %d characters; use at most %d", what, utf8.RuneCountInString(name), maxNameLength)
	case strings.IndexFunc(name, isControl) >= 0:
		return fmt.Errorf("%s contains a control character", what)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// formatTime formats a time for the list commands; zero is "-".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// parseKeyLimits reads the limit and expiry flags of keys create.
func parseKeyLimits(apps, accounts, users, expires string, now time.Time) (store.Limits, time.Time, error) {
	var l store.Limits
	var err error
	if l.Apps, err = auth.ParseApps(apps); err != nil {
		return l, time.Time{}, fmt.Errorf("--apps: %w", err)
	}
	if len(l.Apps) == len(store.Apps) {
		l.Apps = nil // every app is no limit
	}
	if l.AccountIDs, err = auth.ParseAccountIDs(accounts); err != nil {
		return l, time.Time{}, fmt.Errorf("--accounts: %w", err)
	}
	if l.ExternalUserIDs, err = auth.ParseExternalUserIDs(users); err != nil {
		return l, time.Time{}, fmt.Errorf("--external-users: %w", err)
	}
	at, err := auth.ParseExpiry(expires, now)
	if err != nil {
		return l, time.Time{}, fmt.Errorf("--expires: %w", err)
	}
	return l, at, nil
}

// formatExpiry formats a key's expiry; zero is "never".
func formatExpiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return formatTime(t)
}
