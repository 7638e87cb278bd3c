package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// connectRecord is the stored form of a connect session.
type connectRecord struct {
	ID                 string    `json:"id"`
	TokenHash          []byte    `json:"token_hash"`
	App                string    `json:"app"`
	ExternalUserID     string    `json:"external_user_id"`
	SuccessRedirectURL string    `json:"success_redirect_url"`
	ErrorRedirectURL   string    `json:"error_redirect_url"`
	OpenerOrigin       string    `json:"opener_origin,omitempty"`
	CreatedBy          string    `json:"created_by,omitempty"`
	CreatedAt          time.Time `json:"created_at,omitzero"`
	ExpiresAt          time.Time `json:"expires_at,omitzero"`
	Status             string    `json:"status"`
	AccountID          string    `json:"account_id,omitempty"`
	Error              string    `json:"error,omitempty"`
	UpdatedAt          time.Time `json:"updated_at,omitzero"`
}

func toConnectRecord(cs store.ConnectSession) connectRecord {
	return connectRecord{
		ID: cs.ID, TokenHash: cs.TokenHash, App: string(cs.App), ExternalUserID: cs.ExternalUserID,
		SuccessRedirectURL: cs.SuccessRedirectURL, ErrorRedirectURL: cs.ErrorRedirectURL, OpenerOrigin: cs.OpenerOrigin,
		CreatedBy: cs.CreatedBy, CreatedAt: utc(cs.CreatedAt), ExpiresAt: utc(cs.ExpiresAt),
		Status: string(cs.Status), AccountID: cs.AccountID, Error: cs.Error, UpdatedAt: utc(cs.UpdatedAt),
	}
}

func fromConnectRecord(r connectRecord) store.ConnectSession {
	return store.ConnectSession{
		ID: r.ID, TokenHash: r.TokenHash, App: store.App(r.App), ExternalUserID: r.ExternalUserID,
		SuccessRedirectURL: r.SuccessRedirectURL, ErrorRedirectURL: r.ErrorRedirectURL, OpenerOrigin: r.OpenerOrigin,
		CreatedBy: r.CreatedBy, CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt),
		Status: store.ConnectSessionStatus(r.Status), AccountID: r.AccountID, Error: r.Error, UpdatedAt: utc(r.UpdatedAt),
	}
}

// CreateConnectSession implements [store.Store.CreateConnectSession].
func (db *DB) CreateConnectSession(ctx context.Context, cs store.ConnectSession) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketConnect).Get([]byte(cs.ID)) != nil {
			return store.ErrAlreadyExists
		}
		return putConnect(tx, cs)
	})
	if err != nil {
		return fmt.Errorf("create connect session %s: %w", cs.ID, err)
	}
	return nil
}

// GetConnectSession implements [store.Store.GetConnectSession].
func (db *DB) GetConnectSession(ctx context.Context, id string) (store.ConnectSession, error) {
	var cs store.ConnectSession
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		cs, err = getConnect(tx, id)
		return err
	})
	if err != nil {
		return store.ConnectSession{}, fmt.Errorf("get connect session %s: %w", id, err)
	}
	return cs, nil
}

// UpdateConnectSession implements [store.Store.UpdateConnectSession].
func (db *DB) UpdateConnectSession(ctx context.Context, id string, update func(store.ConnectSession) (store.ConnectSession, error)) (store.ConnectSession, error) {
	var (
		next      store.ConnectSession
		updateErr error
	)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getConnect(tx, id)
		if err != nil {
			return err
		}
		next, updateErr = update(old)
		if updateErr != nil {
			return updateErr
		}
		if next.ID != id {
			return fmt.Errorf("update changed the id to %q; the id of a connect session cannot change", next.ID)
		}
		return putConnect(tx, next)
	})
	if updateErr != nil {
		return store.ConnectSession{}, updateErr
	}
	if err != nil {
		return store.ConnectSession{}, fmt.Errorf("update connect session %s: %w", id, err)
	}
	return fromConnectRecord(toConnectRecord(next)), nil
}

// DeleteConnectSessions implements [store.Store.DeleteConnectSessions].
func (db *DB) DeleteConnectSessions(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketConnect)
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var r connectRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode connect session %s: %w", k, err)
			}
			if r.ExpiresAt.Before(cutoff) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete connect sessions: %w", err)
	}
	return n, nil
}

func getConnect(tx *bbolt.Tx, id string) (store.ConnectSession, error) {
	v := tx.Bucket(bucketConnect).Get([]byte(id))
	if v == nil {
		return store.ConnectSession{}, store.ErrNotFound
	}
	var r connectRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.ConnectSession{}, fmt.Errorf("decode connect session %s: %w", id, err)
	}
	return fromConnectRecord(r), nil
}

func putConnect(tx *bbolt.Tx, cs store.ConnectSession) error {
	v, err := json.Marshal(toConnectRecord(cs))
	if err != nil {
		return fmt.Errorf("encode connect session %s: %w", cs.ID, err)
	}
	return tx.Bucket(bucketConnect).Put([]byte(cs.ID), v)
}
