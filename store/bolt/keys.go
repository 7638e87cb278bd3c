package bolt

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// CreateAPIKey stores a new key. It returns an error wrapping
// [store.ErrAlreadyExists] if the id or the hash is taken.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if k.ID == "" {
		return errors.New("create api key: id is empty")
	}
	if len(k.Hash) == 0 {
		return fmt.Errorf("create api key %q: hash is empty", k.ID)
	}

	err := db.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketAPIKeys).Get([]byte(k.ID)) != nil {
			return store.ErrAlreadyExists
		}
		if tx.Bucket(bucketAPIKeyHash).Get(k.Hash) != nil {
			return fmt.Errorf("another key has the same hash: %w", store.ErrAlreadyExists)
		}
		return putAPIKey(tx, k)
	})
	if err != nil {
		return fmt.Errorf("create api key %q: %w", k.ID, err)
	}
	return nil
}

// GetAPIKey returns the key with the id, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	var k store.APIKey
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		k, err = db.readAPIKey(tx, id)
		return err
	})
	if err != nil {
		return store.APIKey{}, fmt.Errorf("get api key %q: %w", id, err)
	}
	return k, nil
}

// ListAPIKeys returns every key, revoked ones included, ordered by creation
// time and then by id. It reads the whole bucket, which suits the few keys
// a deployment has.
func (db *DB) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	var keys []store.APIKey
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAPIKeys).ForEach(func(id, v []byte) error {
			k, err := decodeAPIKey(v)
			if err != nil {
				return fmt.Errorf("api key %q: %w", id, err)
			}
			keys = append(keys, k)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}

	slices.SortFunc(keys, func(a, b store.APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys, nil
}

// UpdateAPIKey changes a key in one write transaction, like
// [DB.UpdateAccount]: an error from update is returned unwrapped, a changed
// id is an error, and a missing key is [store.ErrNotFound]. A new hash that
// another key has is [store.ErrAlreadyExists].
func (db *DB) UpdateAPIKey(ctx context.Context, id string, update func(store.APIKey) (store.APIKey, error)) (store.APIKey, error) {
	var (
		next      store.APIKey
		updateErr error
	)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getAPIKey(tx, id)
		if err != nil {
			return err
		}

		next, updateErr = update(old)
		if updateErr != nil {
			return updateErr
		}
		if next.ID != id {
			return fmt.Errorf("update changed the id to %q; the id of an api key cannot change", next.ID)
		}
		if len(next.Hash) == 0 {
			return errors.New("update set an empty hash")
		}

		hashes := tx.Bucket(bucketAPIKeyHash)
		if owner := hashes.Get(next.Hash); owner != nil && string(owner) != id {
			return fmt.Errorf("another key has the new hash: %w", store.ErrAlreadyExists)
		}
		if err := hashes.Delete(old.Hash); err != nil {
			return err
		}
		return putAPIKey(tx, next)
	})
	if updateErr != nil {
		return store.APIKey{}, updateErr
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("update api key %q: %w", id, err)
	}
	return fromAPIKeyRecord(toAPIKeyRecord(next)), nil
}

func getAPIKey(tx *bbolt.Tx, id string) (store.APIKey, error) {
	v := tx.Bucket(bucketAPIKeys).Get([]byte(id))
	if v == nil {
		return store.APIKey{}, store.ErrNotFound
	}
	return decodeAPIKey(v)
}

func decodeAPIKey(v []byte) (store.APIKey, error) {
	var r apiKeyRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.APIKey{}, fmt.Errorf("decode api key record: %w", err)
	}
	return fromAPIKeyRecord(r), nil
}

// putAPIKey writes the key and its hash index entry.
func putAPIKey(tx *bbolt.Tx, k store.APIKey) error {
	v, err := json.Marshal(toAPIKeyRecord(k))
	if err != nil {
		return fmt.Errorf("encode api key record: %w", err)
	}
	if err := tx.Bucket(bucketAPIKeys).Put([]byte(k.ID), v); err != nil {
		return err
	}
	return tx.Bucket(bucketAPIKeyHash).Put(k.Hash, []byte(k.ID))
}

// CreateOperator stores a console user. It returns an error wrapping
// [store.ErrAlreadyExists] if the name is taken.
func (db *DB) CreateOperator(ctx context.Context, o store.Operator) error {
	if o.Name == "" {
		return errors.New("create operator: name is empty")
	}

	err := db.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketOperators).Get([]byte(o.Name)) != nil {
			return store.ErrAlreadyExists
		}
		return putOperator(tx, o)
	})
	if err != nil {
		return fmt.Errorf("create operator %q: %w", o.Name, err)
	}
	return nil
}

// GetOperator returns the operator with the name, or an error wrapping
// [store.ErrNotFound].
func (db *DB) GetOperator(ctx context.Context, name string) (store.Operator, error) {
	var o store.Operator
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		o, err = getOperator(tx, name)
		return err
	})
	if err != nil {
		return store.Operator{}, fmt.Errorf("get operator %q: %w", name, err)
	}
	return o, nil
}

// ListOperators returns every operator ordered by name.
func (db *DB) ListOperators(ctx context.Context) ([]store.Operator, error) {
	var ops []store.Operator
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOperators).ForEach(func(name, v []byte) error {
			o, err := decodeOperator(v)
			if err != nil {
				return fmt.Errorf("operator %q: %w", name, err)
			}
			ops = append(ops, o)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return ops, nil
}

// UpdateOperator changes an operator in one write transaction, like
// [DB.UpdateAccount]: an error from update is returned unwrapped, a changed
// name is an error, and a missing operator is [store.ErrNotFound].
func (db *DB) UpdateOperator(ctx context.Context, name string, update func(store.Operator) (store.Operator, error)) (store.Operator, error) {
	var (
		next      store.Operator
		updateErr error
	)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getOperator(tx, name)
		if err != nil {
			return err
		}

		next, updateErr = update(old)
		if updateErr != nil {
			return updateErr
		}
		if next.Name != name {
			return fmt.Errorf("update changed the name to %q; the name of an operator cannot change", next.Name)
		}
		return putOperator(tx, next)
	})
	if updateErr != nil {
		return store.Operator{}, updateErr
	}
	if err != nil {
		return store.Operator{}, fmt.Errorf("update operator %q: %w", name, err)
	}
	return fromOperatorRecord(toOperatorRecord(next)), nil
}

func getOperator(tx *bbolt.Tx, name string) (store.Operator, error) {
	v := tx.Bucket(bucketOperators).Get([]byte(name))
	if v == nil {
		return store.Operator{}, store.ErrNotFound
	}
	return decodeOperator(v)
}

func decodeOperator(v []byte) (store.Operator, error) {
	var r operatorRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Operator{}, fmt.Errorf("decode operator record: %w", err)
	}
	return fromOperatorRecord(r), nil
}

func putOperator(tx *bbolt.Tx, o store.Operator) error {
	v, err := json.Marshal(toOperatorRecord(o))
	if err != nil {
		return fmt.Errorf("encode operator record: %w", err)
	}
	return tx.Bucket(bucketOperators).Put([]byte(o.Name), v)
}
