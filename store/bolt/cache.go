package bolt

import (
	"bytes"
	"slices"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// Sizes of the decode caches, in records. An account's entry holds its
// stored JSON and the decoded copy, about 5 KiB with a sealed token, so the
// account cache stays near 20 MiB however many accounts the file holds.
const (
	accountCacheSize = 4096
	apiKeyCacheSize  = 1024
	cacheShards      = 16
)

// decodeCache keeps recently decoded records of one kind by id, with the
// exact stored bytes each was decoded from. A lookup passes the bytes
// stored now, and the cache returns its record only when they are
// identical, so it can never return a record that changed since. It saves
// the JSON decoding of the token hand-out's reads, not the read itself. Decoded values are
// cloned on the way in and out, so callers own what they get. It is safe
// for concurrent use.
type decodeCache[T any] struct {
	shards   [cacheShards]cacheShard[T]
	perShard int
	clone    func(T) T
}

type cacheShard[T any] struct {
	mu      sync.Mutex
	entries map[string]cacheEntry[T]
}

type cacheEntry[T any] struct {
	raw   []byte
	value T
}

func newDecodeCache[T any](size int, clone func(T) T) *decodeCache[T] {
	c := &decodeCache[T]{perShard: max(size/cacheShards, 1), clone: clone}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]cacheEntry[T])
	}
	return c
}

// decode returns the record that raw, the stored bytes of id, decodes to:
// from the cache when raw is what the cached record was decoded from. raw
// may be memory of a bbolt transaction; the cache keeps a copy.
func (c *decodeCache[T]) decode(id string, raw []byte, decode func([]byte) (T, error)) (T, error) {
	sh := &c.shards[shardOf(id)]
	sh.mu.Lock()
	e, ok := sh.entries[id]
	sh.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return c.clone(e.value), nil
	}

	v, err := decode(raw)
	if err != nil {
		return v, err
	}
	e = cacheEntry[T]{raw: bytes.Clone(raw), value: c.clone(v)}
	sh.mu.Lock()
	if _, present := sh.entries[id]; !present && len(sh.entries) >= c.perShard {
		// Evict whichever entry the map's randomized iteration yields
		// first: no bookkeeping on the hit path.
		for k := range sh.entries {
			delete(sh.entries, k)
			break
		}
	}
	sh.entries[id] = e
	sh.mu.Unlock()
	return v, nil
}

// shardOf hashes id with FNV-1a.
func shardOf(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % cacheShards)
}

func cloneAccount(a store.Account) store.Account {
	a.Scopes = slices.Clone(a.Scopes)
	a.Owners = slices.Clone(a.Owners)
	a.Token = bytes.Clone(a.Token)
	return a
}

func cloneAPIKey(k store.APIKey) store.APIKey {
	k.Hash = bytes.Clone(k.Hash)
	k.Limits.Apps = slices.Clone(k.Limits.Apps)
	k.Limits.AccountIDs = slices.Clone(k.Limits.AccountIDs)
	k.Limits.ExternalUserIDs = slices.Clone(k.Limits.ExternalUserIDs)
	return k
}

// readAccount is getAccount through the decode cache.
func (db *DB) readAccount(tx *bbolt.Tx, id string) (store.Account, error) {
	v := tx.Bucket(bucketAccounts).Get([]byte(id))
	if v == nil {
		return store.Account{}, store.ErrNotFound
	}
	return db.accountCache.decode(id, v, decodeAccount)
}

// readAPIKey is getAPIKey through the decode cache.
func (db *DB) readAPIKey(tx *bbolt.Tx, id string) (store.APIKey, error) {
	v := tx.Bucket(bucketAPIKeys).Get([]byte(id))
	if v == nil {
		return store.APIKey{}, store.ErrNotFound
	}
	return db.apiKeyCache.decode(id, v, decodeAPIKey)
}
