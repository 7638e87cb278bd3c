package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// instrumentedStore times the calls of the hot paths: the hand-out, the
// refresh, API key checks and the refresher's scans. It embeds the store,
// so methods it does not time, those added to the interface later
// included, pass through unchanged.
type instrumentedStore struct {
	store.Store
	m *Metrics
}

// InstrumentStore returns s with the latency of its main operations
// recorded in zoombroker_store_operation_duration_seconds. With a nil m it
// returns s itself.
//
// The result implements only store.Store: optional interfaces of the
// underlying store (such as the bbolt store's WriteTo) are not visible
// through it, so keep the original for those.
func (m *Metrics) InstrumentStore(s store.Store) store.Store {
	if m == nil {
		return s
	}
	return &instrumentedStore{Store: s, m: m}
}

// observe records one call of operation that started at started.
func (s *instrumentedStore) observe(operation string, started time.Time, err error) {
	s.m.storeDuration.WithLabelValues(operation, storeResult(err)).Observe(time.Since(started).Seconds())
}

// storeResult turns a store error into a label value.
func storeResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrLeaseHeld):
		return "lease_held"
	}
	return "error"
}

func (s *instrumentedStore) CreateAccount(ctx context.Context, a store.Account) error {
	started := time.Now()
	err := s.Store.CreateAccount(ctx, a)
	s.observe("create_account", started, err)
	return err
}

func (s *instrumentedStore) GetAccount(ctx context.Context, id string) (store.Account, error) {
	started := time.Now()
	a, err := s.Store.GetAccount(ctx, id)
	s.observe("get_account", started, err)
	return a, err
}

func (s *instrumentedStore) FindAccount(ctx context.Context, app store.App, zoom store.ZoomIdentity) (store.Account, error) {
	started := time.Now()
	a, err := s.Store.FindAccount(ctx, app, zoom)
	s.observe("find_account", started, err)
	return a, err
}

func (s *instrumentedStore) ListAccounts(ctx context.Context, opts store.ListOptions) ([]store.Account, string, error) {
	started := time.Now()
	accounts, next, err := s.Store.ListAccounts(ctx, opts)
	s.observe("list_accounts", started, err)
	return accounts, next, err
}

func (s *instrumentedStore) UpdateAccount(ctx context.Context, id string, update func(store.Account) (store.Account, error)) (store.Account, error) {
	started := time.Now()
	a, err := s.Store.UpdateAccount(ctx, id, update)
	s.observe("update_account", started, err)
	return a, err
}

func (s *instrumentedStore) DeleteAccount(ctx context.Context, id string) error {
	started := time.Now()
	err := s.Store.DeleteAccount(ctx, id)
	s.observe("delete_account", started, err)
	return err
}

func (s *instrumentedStore) DueAccounts(ctx context.Context, now time.Time, limit int) ([]store.Account, error) {
	started := time.Now()
	accounts, err := s.Store.DueAccounts(ctx, now, limit)
	s.observe("due_accounts", started, err)
	return accounts, err
}

func (s *instrumentedStore) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	started := time.Now()
	k, err := s.Store.GetAPIKey(ctx, id)
	s.observe("get_api_key", started, err)
	return k, err
}

func (s *instrumentedStore) UpdateAPIKey(ctx context.Context, id string, update func(store.APIKey) (store.APIKey, error)) (store.APIKey, error) {
	started := time.Now()
	k, err := s.Store.UpdateAPIKey(ctx, id, update)
	s.observe("update_api_key", started, err)
	return k, err
}

func (s *instrumentedStore) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) error {
	started := time.Now()
	err := s.Store.AcquireLease(ctx, name, holder, now, ttl)
	s.observe("acquire_lease", started, err)
	return err
}

func (s *instrumentedStore) ReleaseLease(ctx context.Context, name, holder string) error {
	started := time.Now()
	err := s.Store.ReleaseLease(ctx, name, holder)
	s.observe("release_lease", started, err)
	return err
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	started := time.Now()
	err := s.Store.Ping(ctx)
	s.observe("ping", started, err)
	return err
}
