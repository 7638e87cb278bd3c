package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/store"
)

// keyScanPage is the page size of the scans over every account.
const keyScanPage = 500

// malformedRecord counts token records that are not sealed blobs. Key ids
// contain no spaces, so it cannot be one.
const malformedRecord = "not a sealed blob"

const rotateKeysUsage = `Usage:
  zoombroker rotate-keys [--encryption-key KEYS] [--data-dir DIR | --database-url URL]

Seals every stored token record again with the first key of
ZOOMBROKER_ENCRYPTION_KEY (or --encryption-key, or the _FILE variants),
after which the other keys can be removed from the setting. Every key that
sealed a record must still be in the list.

On the bbolt file the broker must be stopped. With ZOOMBROKER_DATABASE_URL
it runs while brokers run; every broker must then already seal with the
new key (it must be first in their setting), or a refresh on a broker that
still seals with the old key writes a record that needs the old key again.
A last pass counts such records, and the command fails if it finds any.

See docs/security.md for the whole procedure.
`

func (c *cli) rotateKeys(ctx context.Context, args []string) error {
	fs := newFlagSet("rotate-keys")
	sf := addSettingFlags(fs, envDataDir, envDatabaseURL, envEncryptionKey)
	positional, err := c.parseFlags(fs, "rotate-keys", rotateKeysUsage, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return &usageError{topic: "rotate-keys", msg: fmt.Sprintf("rotate-keys takes no arguments, got %q", positional[0])}
	}

	vs, err := sf.resolve(c.env)
	if err != nil {
		return err
	}
	keys, err := parseEncryptionKeys(vs, false)
	if err != nil {
		return err
	}
	sealer, err := seal.New(keys)
	if err != nil {
		return fmt.Errorf("%s: %w", vs.label(envEncryptionKey), err)
	}

	db, err := c.openStore(sf, false, "rotate-keys rewrites the bbolt file offline")
	if err != nil {
		return err
	}
	defer db.Close()

	start := time.Now()
	res, err := resealAll(ctx, db, sealer)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Sealed %d token records again with key %s; %d already used it (%d accounts, %s).\n",
		res.resealed, sealer.Current(), res.current, res.accounts, time.Since(start).Round(time.Millisecond))

	// A broker that still seals with an old key may have refreshed an
	// account meanwhile; the check pass finds such records.
	left, err := countRecordKeys(ctx, db)
	if err != nil {
		return err
	}
	delete(left, sealer.Current())
	if len(left) > 0 {
		return fmt.Errorf("%s; make every broker seal with key %s (first in %s) and run rotate-keys again", describeKeyCounts(left), sealer.Current(), envEncryptionKey)
	}
	fmt.Fprintf(c.stderr, "Every token record is sealed with key %s. Remove the other keys from %s and restart the brokers.\n", sealer.Current(), envEncryptionKey)
	return nil
}

// resealResult counts what resealAll did.
type resealResult struct {
	accounts, resealed, current int
}

// resealAll seals every account's token record with the sealer's current
// key. It changes only Account.Token, and keeps TokenVersion: the record's
// content is the same, so a refresh that read the old record may still
// store its rotated tokens by compare-and-swap on the version, and cached
// plaintext stays valid. The update function opens the record it is given
// inside the transaction, never the one listed, so a refresh committed in
// between is not undone.
func resealAll(ctx context.Context, db store.Store, sealer *seal.Sealer) (resealResult, error) {
	var res resealResult
	after := ""
	for {
		page, next, err := db.ListAccounts(ctx, store.ListOptions{After: after, Limit: keyScanPage})
		if err != nil {
			return res, fmt.Errorf("list accounts after %q: %w", after, err)
		}
		for _, a := range page {
			res.accounts++
			if len(a.Token) == 0 {
				continue
			}
			changed := false
			_, err := db.UpdateAccount(ctx, a.ID, func(cur store.Account) (store.Account, error) {
				changed = false
				if len(cur.Token) == 0 {
					return cur, nil
				}
				blob, did, err := tokens.Reseal(sealer, cur.ID, cur.Token)
				if err != nil {
					return cur, err
				}
				cur.Token, changed = blob, did
				return cur, nil
			})
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue // deleted meanwhile
			case err != nil:
				return res, fmt.Errorf("reseal account %s: %w", a.ID, err)
			case changed:
				res.resealed++
			default:
				res.current++
			}
		}
		if next == "" {
			return res, nil
		}
		after = next
	}
}

// countRecordKeys returns how many token records each key id sealed;
// records that are not sealed blobs count under malformedRecord.
//
// NOTE: it reads every account, a page at a time, and each page decodes
// whole records, tokens included. That is an estimate of fast enough up to
// about a million accounts. A larger store needs a query for the key id
// alone.
func countRecordKeys(ctx context.Context, db store.Store) (map[string]int, error) {
	counts := map[string]int{}
	after := ""
	for {
		page, next, err := db.ListAccounts(ctx, store.ListOptions{After: after, Limit: keyScanPage})
		if err != nil {
			return nil, fmt.Errorf("list accounts after %q: %w", after, err)
		}
		for _, a := range page {
			if len(a.Token) == 0 {
				continue
			}
			id, err := seal.KeyID(a.Token)
			if err != nil {
				id = malformedRecord
			}
			counts[id]++
		}
		if next == "" {
			return counts, nil
		}
		after = next
	}
}

// describeKeyCounts lists key ids and their record counts, sorted by id.
func describeKeyCounts(counts map[string]int) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d token records are sealed with key id %q", counts[id], id))
	}
	return strings.Join(parts, "; ")
}

// checkRecordKeys stops startup when a token record needs a key that is not
// configured, naming each missing key id and how many records need it.
func checkRecordKeys(ctx context.Context, db store.Store, keys []seal.Key, log *slog.Logger) error {
	start := time.Now()
	counts, err := countRecordKeys(ctx, db)
	if err != nil {
		return fmt.Errorf("check the keys of the token records: %w", err)
	}
	missing := map[string]int{}
	total := 0
	for id, n := range counts {
		total += n
		if id == malformedRecord {
			log.Warn("token records are not sealed blobs; their accounts cannot hand out tokens until reconnected", "records", n)
			continue
		}
		if !slices.ContainsFunc(keys, func(k seal.Key) bool { return k.ID == id }) {
			missing[id] = n
		}
	}
	log.Info("token records checked", "records", total, "key_ids", len(counts), "duration_ms", time.Since(start).Milliseconds())
	if len(missing) > 0 {
		return fmt.Errorf("%s, which %s does not contain; add those keys back after the first key (the first one seals), then run `zoombroker rotate-keys` to move the records to it", describeKeyCounts(missing), envEncryptionKey)
	}
	return nil
}
