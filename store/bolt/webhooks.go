package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// webhookRecord is the stored form of [store.Webhook].
type webhookRecord struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    []byte    `json:"secret,omitempty"`
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// CreateWebhook stores a new endpoint. It returns an error wrapping
// [store.ErrAlreadyExists] if the id is taken.
func (db *DB) CreateWebhook(ctx context.Context, w store.Webhook) error {
	if w.ID == "" {
		return errors.New("create webhook: id is empty")
	}

	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		if b.Get([]byte(w.ID)) != nil {
			return store.ErrAlreadyExists
		}
		v, err := json.Marshal(webhookRecord{ID: w.ID, URL: w.URL, Secret: w.Secret, Source: string(w.Source), CreatedAt: utc(w.CreatedAt)})
		if err != nil {
			return fmt.Errorf("encode webhook record: %w", err)
		}
		return b.Put([]byte(w.ID), v)
	})
	if err != nil {
		return fmt.Errorf("create webhook %q: %w", w.ID, err)
	}
	return nil
}

// GetWebhook returns the endpoint with the id, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetWebhook(ctx context.Context, id string) (store.Webhook, error) {
	var w store.Webhook
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketWebhooks).Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		w, err = decodeWebhook(v)
		return err
	})
	if err != nil {
		return store.Webhook{}, fmt.Errorf("get webhook %q: %w", id, err)
	}
	return w, nil
}

// ListWebhooks returns every endpoint ordered by creation time, then id.
func (db *DB) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	var hooks []store.Webhook
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketWebhooks).ForEach(func(id, v []byte) error {
			w, err := decodeWebhook(v)
			if err != nil {
				return fmt.Errorf("webhook %q: %w", id, err)
			}
			hooks = append(hooks, w)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}

	slices.SortFunc(hooks, func(a, b store.Webhook) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return hooks, nil
}

// DeleteWebhook removes the endpoint, its queue entries and all of its
// deliveries. It scans every delivery, which suits a rare operation on an
// outbox that DeleteDeliveries keeps short.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		hooks := tx.Bucket(bucketWebhooks)
		if hooks.Get([]byte(id)) == nil {
			return store.ErrNotFound
		}
		if err := hooks.Delete([]byte(id)); err != nil {
			return err
		}

		if err := deletePrefix(tx.Bucket(bucketQueued), queuePrefix(id, "")[:4+len(id)]); err != nil {
			return err
		}

		deliveries := tx.Bucket(bucketDeliveries)
		var doomed [][]byte
		err := deliveries.ForEach(func(k, v []byte) error {
			var r struct {
				WebhookID string `json:"webhook_id"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode delivery %x: %w", k, err)
			}
			if r.WebhookID == id {
				doomed = append(doomed, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := deliveries.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete webhook %q: %w", id, err)
	}
	return nil
}

// deletePrefix removes every key of b that starts with prefix.
func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	var doomed [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func decodeWebhook(v []byte) (store.Webhook, error) {
	var r webhookRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Webhook{}, fmt.Errorf("decode webhook record: %w", err)
	}
	return store.Webhook{ID: r.ID, URL: r.URL, Secret: r.Secret, Source: store.WebhookSource(r.Source), CreatedAt: utc(r.CreatedAt)}, nil
}
