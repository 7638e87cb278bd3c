package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unicode"

	bbolt "go.etcd.io/bbolt"

	"github.com/zoombroker/zoombroker/store"
)

// bucketFilter indexes the account fields that ListAccounts matches
// exactly, so a filter on one of them reads only the accounts that have
// the value instead of every account. Keys are a field tag, the value's
// length as 4 big-endian bytes, the value, then the account id; values
// are empty. Within one field and value, keys sort by account id, the
// order ListAccounts pages in.
var bucketFilter = []byte("accounts_by_field")

// Field tags of the filter index.
const (
	fieldOwner       byte = 'o' // one key per external user id in Owners
	fieldZoomUser    byte = 'u'
	fieldZoomAccount byte = 'a'

	// fieldEmail keys the email folded by foldCase, so that a
	// case-insensitive filter finds it with one seek.
	fieldEmail byte = 'e'
)

// filterPrefix returns the key prefix of every account whose field has
// value.
func filterPrefix(field byte, value string) []byte {
	k := make([]byte, 0, 1+4+len(value)+len("acc_")+20)
	k = append(k, field)
	k = binary.BigEndian.AppendUint32(k, uint32(len(value))) // #nosec G115 -- account fields are far below 4 GiB
	return append(k, value...)
}

// filterKeys returns the filter index keys of a.
func filterKeys(a store.Account) [][]byte {
	var keys [][]byte
	add := func(field byte, value string) {
		if value != "" {
			keys = append(keys, append(filterPrefix(field, value), a.ID...))
		}
	}
	add(fieldZoomUser, a.Zoom.UserID)
	add(fieldZoomAccount, a.Zoom.AccountID)
	add(fieldEmail, foldCase(a.Zoom.Email))
	for _, owner := range a.Owners {
		add(fieldOwner, owner)
	}
	return keys
}

// deleteFilterIndex removes the filter index keys of a stored account.
func deleteFilterIndex(tx *bbolt.Tx, a store.Account) error {
	b := tx.Bucket(bucketFilter)
	for _, k := range filterKeys(a) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// indexedPrefix returns the filter index prefix that selects the fewest
// accounts f can match, or nil when f names no indexed field. The other
// fields of f are still checked on each account.
func indexedPrefix(f store.AccountFilter) []byte {
	switch {
	case f.ExternalUserID != "":
		return filterPrefix(fieldOwner, f.ExternalUserID)
	case f.ZoomUserID != "":
		return filterPrefix(fieldZoomUser, f.ZoomUserID)
	case f.ZoomAccountID != "":
		return filterPrefix(fieldZoomAccount, f.ZoomAccountID)
	case f.Email != "":
		return filterPrefix(fieldEmail, foldCase(f.Email))
	}
	return nil
}

// foldCase maps every rune of s to the smallest rune that
// strings.EqualFold treats as equal to it, so two strings are equal under
// EqualFold exactly when their foldCase results are equal.
func foldCase(s string) string {
	var b []rune
	for i, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		if m != r && b == nil {
			b = []rune(s[:i])
		}
		if b != nil {
			b = append(b, m)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// listIndexed is ListAccounts for a filter with an indexed field: it walks
// the accounts under prefix in id order, after opts.After, and checks the
// rest of the filter on each.
func listIndexed(tx *bbolt.Tx, prefix []byte, opts store.ListOptions, limit int) ([]store.Account, string, error) {
	accounts := tx.Bucket(bucketAccounts)
	c := tx.Bucket(bucketFilter).Cursor()
	k, _ := c.Seek(append(bytes.Clone(prefix), opts.After...))
	if opts.After != "" && k != nil && string(k[min(len(prefix), len(k)):]) == opts.After {
		k, _ = c.Next()
	}

	pre := newPrefilter(opts.Filter)
	var page []store.Account
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := k[len(prefix):]
		v := accounts.Get(id)
		if v == nil {
			return nil, "", fmt.Errorf("filter index names a missing account %q: %w", id, store.ErrNotFound)
		}
		if !pre.mayMatch(v) {
			continue
		}
		ok, err := matches(opts.Filter, v)
		if err != nil {
			return nil, "", fmt.Errorf("account %q: %w", id, err)
		}
		if !ok {
			continue
		}
		if len(page) == limit {
			return page, page[len(page)-1].ID, nil
		}
		a, err := decodeAccount(v)
		if err != nil {
			return nil, "", fmt.Errorf("account %q: %w", id, err)
		}
		page = append(page, a)
	}
	return page, "", nil
}

// migrateFilterIndex moves a schema 1 file to schema 2 by building its
// filter index, once. It reads every account, so the first Open of such a
// file takes longer: about 10 seconds for a million accounts.
func migrateFilterIndex(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if string(meta.Get(keySchemaVersion)) != "1" {
		return nil
	}
	index := tx.Bucket(bucketFilter)
	err := tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
		var r accountFilterFields
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("account %q: decode account record: %w", k, err)
		}
		keys := filterKeys(store.Account{
			ID:     string(k),
			Zoom:   store.ZoomIdentity{UserID: r.ZoomUserID, AccountID: r.ZoomAccountID, Email: r.ZoomEmail},
			Owners: r.Owners,
		})
		for _, key := range keys {
			if err := index.Put(key, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate to schema 2: build the account filter index: %w", err)
	}
	return meta.Put(keySchemaVersion, []byte("2"))
}

// prefilter rejects, with a byte search instead of a JSON decoding,
// stored accounts that certainly fail the app or status filter: the JSON
// of the wanted value is not in the record at all. matches still decides
// every account it lets through.
type prefilter struct {
	app, status []byte
}

func newPrefilter(f store.AccountFilter) prefilter {
	var p prefilter
	if f.App != "" {
		p.app = fieldNeedle("app", string(f.App))
	}
	if f.Status != "" {
		p.status = fieldNeedle("status", string(f.Status))
	}
	return p
}

// mayMatch reports false when v certainly fails the filter.
func (p prefilter) mayMatch(v []byte) bool {
	return (p.app == nil || bytes.Contains(v, p.app)) && (p.status == nil || bytes.Contains(v, p.status))
}

// fieldNeedle returns `"name":"value"` as encoding/json writes it. A
// record is an object of strings, numbers, booleans and arrays of strings,
// whose string values escape every quote, so the needle appears in a
// record only where the field has that value.
func fieldNeedle(name, value string) []byte {
	v, _ := json.Marshal(value) // a string always encodes
	return append([]byte(`"`+name+`":`), v...)
}
