package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
	"github.com/zoombroker/zoombroker/store/postgres"
)

const migrateUsage = `Usage:
  zoombroker migrate --from SOURCE --to TARGET [--force]

Copies everything from one store to another: connected accounts with their
sealed tokens as they are, API keys, console operators, webhook endpoints
and their outbox, and the audit trail. Refresh leases and open connect
links are not copied. Accounts keep working on
the target without being connected again, as long as the brokers on the
target use the same ZOOMBROKER_ENCRYPTION_KEY as the source; migrate itself
needs no key, because it never opens a token.

SOURCE and TARGET are one of:
  bolt:PATH       a bbolt file, or a data directory (an existing directory,
                  or a path ending in /) that holds zoombroker.db
  postgres:URL    a PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE
  postgres        the URL in ZOOMBROKER_DATABASE_URL (or _FILE, or
                  --database-url-file), which keeps the password out of
                  the process list

Stop every broker that uses the source first: accounts refreshed during the
copy would be copied with a refresh token that Zoom has already replaced.
The source must exist. A bbolt target is created if needed, and the schema
of a PostgreSQL target is migrated.

migrate rejects a target that already holds accounts, API keys, operators or
webhook endpoints. With --force it copies into it anyway: a record with the
same id or name is overwritten with the source's, other records stay, and
deliveries whose event the target already has for that endpoint are skipped.

It prints how many records of each kind it copied.
`

// storeSpec is a parsed --from or --to value.
type storeSpec struct {
	bolt bool
	path string // bbolt file
	url  string // PostgreSQL URL; never printed
}

// String names the store for messages, without a password.
func (s storeSpec) String() string {
	if s.bolt {
		return "bolt:" + s.path
	}
	return "postgres (" + postgres.Describe(s.url) + ")"
}

func (c *cli) migrate(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate")
	from := fs.String("from", "", "source store, bolt:PATH or postgres[:URL]")
	to := fs.String("to", "", "target store, bolt:PATH or postgres[:URL]")
	force := fs.Bool("force", false, "copy into a target that is not empty")
	sf := addSettingFlags(fs, envDatabaseURL)
	positional, err := c.parseFlags(fs, "migrate", migrateUsage, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return &usageError{topic: "migrate", msg: fmt.Sprintf("migrate takes no arguments, got %q; give the stores with --from and --to", positional[0])}
	}
	vs, err := sf.resolve(c.env)
	if err != nil {
		return err
	}

	src, err := parseStoreSpec("--from", *from, vs)
	if err != nil {
		return err
	}
	dst, err := parseStoreSpec("--to", *to, vs)
	if err != nil {
		return err
	}
	if src.bolt == dst.bolt && src.path == dst.path && src.url == dst.url {
		return &usageError{topic: "migrate", msg: "--from and --to name the same store"}
	}

	source, err := c.openSpec(ctx, src, false)
	if err != nil {
		return err
	}
	defer source.Close()
	target, err := c.openSpec(ctx, dst, true)
	if err != nil {
		return err
	}
	defer target.Close()

	if !*force {
		if what, err := nonEmpty(ctx, target); err != nil {
			return fmt.Errorf("check target %s: %w", dst, err)
		} else if what != "" {
			return fmt.Errorf("target %s already holds %s; migrate into an empty store, or add --force to overwrite records with the same id and keep the others", dst, what)
		}
	}

	counts, err := copyStore(ctx, source, target)
	if err != nil {
		return fmt.Errorf("migrate from %s to %s: %w (the target may hold part of the data; run again with --force to finish the copy)", src, dst, err)
	}
	fmt.Fprintf(c.stdout, "Copied from %s to %s:\n%s", src, dst, counts)
	return nil
}

// parseStoreSpec parses bolt:PATH, postgres:URL, a bare postgres:// URL, or
// postgres alone for the URL of the settings.
func parseStoreSpec(flagName, spec string, vs values) (storeSpec, error) {
	kind, rest, _ := strings.Cut(spec, ":")
	switch {
	case spec == "":
		return storeSpec{}, &usageError{topic: "migrate", msg: flagName + " is required: bolt:PATH or postgres[:URL]"}
	case kind == "bolt" && rest != "":
		return storeSpec{bolt: true, path: rest}, nil
	case spec == "postgres":
		if !usesPostgres(vs) {
			return storeSpec{}, &usageError{topic: "migrate", msg: flagName + " postgres needs the URL in " + envDatabaseURL + " or " + envDatabaseURL + fileSuffix + "; or write postgres:URL"}
		}
		return storeSpec{url: vs[envDatabaseURL].text}, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return storeSpec{url: spec}, nil
	case kind == "postgres" && rest != "":
		return storeSpec{url: rest}, nil
	}
	// The value may hold a password, so it is not repeated.
	return storeSpec{}, &usageError{topic: "migrate", msg: flagName + " must be bolt:PATH, postgres:URL or postgres"}
}

// openSpec opens a store for migrate. A bbolt source must exist; a bbolt
// target is created.
func (c *cli) openSpec(ctx context.Context, spec storeSpec, create bool) (store.Store, error) {
	if !spec.bolt {
		db, err := postgres.Open(ctx, spec.url, postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", spec, err)
		}
		return db, nil
	}

	path := spec.path
	if info, err := os.Stat(path); (err == nil && info.IsDir()) || strings.HasSuffix(path, "/") {
		path = filepath.Join(path, dbFile)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("no database at %s; give the bbolt file or the data directory that holds %s", path, dbFile)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), unwrapPath(err))
		}
		fmt.Fprintf(c.stderr, "Creating a new database at %s.\n", path)
	}

	db, err := bolt.Open(path, bolt.Options{LockTimeout: cliLockTimeout})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("a running broker has locked %s; stop it and run migrate again", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// nonEmpty returns what the store already holds, as "accounts and API
// keys" for example, or "" when it is empty.
func nonEmpty(ctx context.Context, s store.Store) (string, error) {
	var kinds []string
	accounts, _, err := s.ListAccounts(ctx, store.ListOptions{Limit: 1})
	if err != nil {
		return "", err
	}
	if len(accounts) > 0 {
		kinds = append(kinds, "accounts")
	}
	keys, err := s.ListAPIKeys(ctx)
	if err != nil {
		return "", err
	}
	if len(keys) > 0 {
		kinds = append(kinds, "API keys")
	}
	ops, err := s.ListOperators(ctx)
	if err != nil {
		return "", err
	}
	if len(ops) > 0 {
		kinds = append(kinds, "operators")
	}
	hooks, err := s.ListWebhooks(ctx)
	if err != nil {
		return "", err
	}
	if len(hooks) > 0 {
		kinds = append(kinds, "webhook endpoints")
	}

	switch len(kinds) {
	case 0:
		return "", nil
	case 1:
		return kinds[0], nil
	}
	return strings.Join(kinds[:len(kinds)-1], ", ") + " and " + kinds[len(kinds)-1], nil
}

// copyCounts are the records copyStore wrote, by kind.
type copyCounts struct {
	accounts, apiKeys, operators, webhooks, deliveries, audit int

	// overwritten counts records that existed on the target with the
	// same id or name. keptWebhooks and skipped count the endpoints and
	// deliveries that the target had already and that stayed as they were.
	overwritten, keptWebhooks, skipped int

	// keptAudit is true when the target had an audit trail of its own,
	// which was kept and not added to.
	keptAudit bool
}

func (n copyCounts) String() string {
	s := fmt.Sprintf("  accounts           %d\n  API keys           %d\n  operators          %d\n  webhook endpoints  %d\n  deliveries         %d\n  audit entries      %d\n",
		n.accounts, n.apiKeys, n.operators, n.webhooks, n.deliveries, n.audit)
	if n.overwritten > 0 || n.keptWebhooks > 0 || n.skipped > 0 {
		s += fmt.Sprintf("  (%d records overwritten; %d webhook endpoints and %d deliveries were on the target already and were kept)\n",
			n.overwritten, n.keptWebhooks, n.skipped)
	}
	if n.keptAudit {
		s += "  (the target had audit entries of its own; the source's were not copied)\n"
	}
	return s
}

// copyStore copies every record from src to dst. A record that dst has
// already is overwritten with the source's; nonEmpty keeps that from
// happening without --force.
func copyStore(ctx context.Context, src, dst store.Store) (copyCounts, error) {
	var n copyCounts
	steps := []func(context.Context, store.Store, store.Store, *copyCounts) error{
		copyAccounts, copyAPIKeys, copyOperators, copyWebhooks, copyAudit,
	}
	for _, step := range steps {
		if err := step(ctx, src, dst, &n); err != nil {
			return n, err
		}
	}
	return n, nil
}

func copyAccounts(ctx context.Context, src, dst store.Store, n *copyCounts) error {
	opts := store.ListOptions{Limit: 500}
	for {
		page, next, err := src.ListAccounts(ctx, opts)
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		for _, a := range page {
			err := dst.CreateAccount(ctx, a)
			if errors.Is(err, store.ErrAlreadyExists) {
				_, err = dst.UpdateAccount(ctx, a.ID, func(store.Account) (store.Account, error) { return a, nil })
				n.overwritten++
			}
			if err != nil {
				return fmt.Errorf("copy account %s: %w", a.ID, err)
			}
			n.accounts++
		}
		if next == "" {
			return nil
		}
		opts.After = next
	}
}

func copyAPIKeys(ctx context.Context, src, dst store.Store, n *copyCounts) error {
	keys, err := src.ListAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	for _, k := range keys {
		err := dst.CreateAPIKey(ctx, k)
		if errors.Is(err, store.ErrAlreadyExists) {
			_, err = dst.UpdateAPIKey(ctx, k.ID, func(store.APIKey) (store.APIKey, error) { return k, nil })
			n.overwritten++
		}
		if err != nil {
			return fmt.Errorf("copy API key %s: %w", k.ID, err)
		}
		n.apiKeys++
	}
	return nil
}

func copyOperators(ctx context.Context, src, dst store.Store, n *copyCounts) error {
	ops, err := src.ListOperators(ctx)
	if err != nil {
		return fmt.Errorf("list operators: %w", err)
	}
	for _, o := range ops {
		err := dst.CreateOperator(ctx, o)
		if errors.Is(err, store.ErrAlreadyExists) {
			_, err = dst.UpdateOperator(ctx, o.Name, func(store.Operator) (store.Operator, error) { return o, nil })
			n.overwritten++
		}
		if err != nil {
			return fmt.Errorf("copy operator %s: %w", o.Name, err)
		}
		n.operators++
	}
	return nil
}

// copyWebhooks copies the endpoints, then every delivery oldest first, so
// the target assigns ascending IDs in the source's order and each account's
// queue keeps its order. An endpoint the target has already is kept as it
// is, because the store cannot change one in place.
func copyWebhooks(ctx context.Context, src, dst store.Store, n *copyCounts) error {
	hooks, err := src.ListWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("list webhook endpoints: %w", err)
	}
	for _, w := range hooks {
		err := dst.CreateWebhook(ctx, w)
		if errors.Is(err, store.ErrAlreadyExists) {
			n.keptWebhooks++
			continue
		}
		if err != nil {
			return fmt.Errorf("copy webhook endpoint %s: %w", w.ID, err)
		}
		n.webhooks++
	}

	all, err := allDeliveries(ctx, src)
	if err != nil {
		return err
	}
	have, err := allDeliveries(ctx, dst)
	if err != nil {
		return err
	}
	type event struct{ webhookID, eventID string }
	seen := make(map[event]bool, len(have))
	for _, d := range have {
		seen[event{d.WebhookID, d.EventID}] = true
	}

	var todo []store.Delivery
	for _, d := range all {
		if seen[event{d.WebhookID, d.EventID}] {
			n.skipped++
			continue
		}
		todo = append(todo, d)
	}
	for batch := range slices.Chunk(todo, 500) {
		if _, err := dst.AppendDeliveries(ctx, batch); err != nil {
			return fmt.Errorf("copy deliveries: %w", err)
		}
		n.deliveries += len(batch)
	}
	return nil
}

// copyAudit copies the audit trail oldest first, so the target's IDs keep
// its order. A target whose trail is not empty keeps its own, because audit
// entries have no key that would tell a copy from an original.
func copyAudit(ctx context.Context, src, dst store.Store, n *copyCounts) error {
	from, ok := src.(store.AuditLog)
	to, ok2 := dst.(store.AuditLog)
	if !ok || !ok2 {
		return nil
	}
	have, _, err := to.ListAudit(ctx, store.AuditListOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("list audit entries of the target: %w", err)
	}
	if len(have) > 0 {
		n.keptAudit = true
		return nil
	}

	var all []store.AuditEntry
	opts := store.AuditListOptions{Limit: 500}
	for {
		page, next, err := from.ListAudit(ctx, opts)
		if err != nil {
			return fmt.Errorf("list audit entries: %w", err)
		}
		all = append(all, page...)
		if next == 0 {
			break
		}
		opts.Before = next
	}
	slices.Reverse(all)
	for batch := range slices.Chunk(all, 500) {
		if err := to.AppendAudit(ctx, batch); err != nil {
			return fmt.Errorf("copy audit entries: %w", err)
		}
		n.audit += len(batch)
	}
	return nil
}

// allDeliveries returns every delivery of s, oldest first.
func allDeliveries(ctx context.Context, s store.Store) ([]store.Delivery, error) {
	var all []store.Delivery
	opts := store.DeliveryListOptions{Limit: 500}
	for {
		page, next, err := s.ListDeliveries(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		all = append(all, page...)
		if next == 0 {
			break
		}
		opts.Before = next
	}
	slices.Reverse(all)
	return all, nil
}
