package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/tokens"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
	"github.com/zoombroker/zoombroker/store/bolt"
)

// importBatch is the number of accounts per bbolt transaction when a
// dataset is loaded.
const importBatch = 20_000

// dataset is a broker data directory that the benchmark fills while no
// broker runs, because bbolt locks the file.
type dataset struct {
	dir string

	// encryptionKey is the broker's ZOOMBROKER_ENCRYPTION_KEY.
	encryptionKey secret.Secret

	db     *bolt.DB
	tokens *tokens.Service
	apiKey secret.Secret
}

// newDataset creates dir with a new bbolt file, an encryption key and an
// API key. refreshLead must be the broker's ZOOMBROKER_REFRESH_LEAD, so
// that imported accounts are scheduled as the broker schedules them.
func newDataset(ctx context.Context, dir string, zc *zoom.Client, cred zoom.Credentials, refreshLead time.Duration) (*dataset, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create dataset: %w", err)
	}
	key, text, err := seal.GenerateKey("k1")
	if err != nil {
		return nil, fmt.Errorf("create dataset: %w", err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		return nil, fmt.Errorf("create dataset: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "zoombroker.db"), bolt.Options{})
	if err != nil {
		return nil, fmt.Errorf("create dataset: %w", err)
	}
	ds := &dataset{dir: dir, encryptionKey: text, db: db}

	ds.tokens, err = tokens.New(tokens.Config{
		Store:       db,
		Sealer:      sealer,
		Zoom:        zc,
		Apps:        map[store.App]zoom.Credentials{store.AppZoom: cred},
		RefreshLead: refreshLead,
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create dataset: %w", err)
	}

	k, full := auth.NewKey("zoombroker-bench", time.Now())
	if err := db.CreateAPIKey(ctx, k); err != nil {
		db.Close()
		return nil, fmt.Errorf("create dataset: %w", err)
	}
	ds.apiKey = full
	return ds, nil
}

// importGrants seals each grant into a new account, as the connect flow
// does, and stores them in batches. It returns the account ids in the
// order of grants.
func (ds *dataset) importGrants(ctx context.Context, grants []grant) ([]string, error) {
	ids := make([]string, len(grants))
	batch := make([]store.Account, 0, importBatch)
	for i, g := range grants {
		acct, err := ds.tokens.NewAccount(store.AppZoom, g.tok, g.user, tokens.ConnectOptions{Console: true})
		if err != nil {
			return nil, fmt.Errorf("import grant %d: %w", i, err)
		}
		ids[i] = acct.ID
		batch = append(batch, acct)
		if len(batch) == importBatch || i == len(grants)-1 {
			if err := ds.db.ImportAccounts(ctx, batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
		}
	}
	return ids, nil
}

// close releases the file so a broker can open it.
func (ds *dataset) close() error { return ds.db.Close() }
