package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/store"
)

// KeyPrefix starts every API key, so leaked keys are easy to scan for.
const KeyPrefix = "zbk_"

// Errors of VerifyKey.
var (
	// ErrInvalidKey covers malformed and unknown keys alike, so a caller
	// cannot tell whether a key id exists.
	ErrInvalidKey = errors.New("invalid API key")

	// ErrRevokedKey means the key exists but was revoked.
	ErrRevokedKey = errors.New("API key revoked")

	// ErrExpiredKey means the key exists but its expiry has passed.
	ErrExpiredKey = errors.New("API key expired")
)

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomText(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return lowerBase32.EncodeToString(b)
}

// HashKey returns the SHA-256 of a full API key. Keys carry 160 random bits,
// so a fast hash is safe and keeps each request cheap.
func HashKey(full string) []byte {
	sum := sha256.Sum256([]byte(full))
	return sum[:]
}

// NewKey returns a new API key record and the full key, which is shown once
// and never stored.
func NewKey(name string, now time.Time) (store.APIKey, secret.Secret) {
	id := "key_" + randomText(8)
	full := KeyPrefix + id + "_" + randomText(20)
	return store.APIKey{
		ID:        id,
		Name:      name,
		Hash:      HashKey(full),
		CreatedAt: now.UTC(),
	}, secret.Secret(full)
}

// KeyID returns the id part of a full key, or false if full is not shaped
// like a key.
func KeyID(full string) (string, bool) {
	rest, ok := strings.CutPrefix(full, KeyPrefix)
	if !ok {
		return "", false
	}
	idPart, secretPart, ok := strings.Cut(strings.TrimPrefix(rest, "key_"), "_")
	if !ok || !strings.HasPrefix(rest, "key_") || idPart == "" || secretPart == "" {
		return "", false
	}
	return "key_" + idPart, true
}

// dummyHash is compared against when the key id is unknown, so an unknown id
// costs the same as a wrong secret.
var dummyHash = HashKey("zbk_key_dummy_dummy")

// VerifyKey returns the stored key that full names, or ErrInvalidKey,
// ErrRevokedKey or ErrExpiredKey (a key whose expiry is not after now).
// The hash comparison is constant-time, and an unknown or malformed key
// costs the same hash and comparison as a known one.
func VerifyKey(ctx context.Context, st store.Store, full string, now time.Time) (store.APIKey, error) {
	hash := HashKey(full)
	id, ok := KeyID(full)
	if !ok {
		subtle.ConstantTimeCompare(hash, dummyHash)
		return store.APIKey{}, ErrInvalidKey
	}

	k, err := st.GetAPIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		subtle.ConstantTimeCompare(hash, dummyHash)
		return store.APIKey{}, ErrInvalidKey
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("get API key %s: %w", id, err)
	}
	if subtle.ConstantTimeCompare(hash, k.Hash) != 1 {
		return store.APIKey{}, ErrInvalidKey
	}
	if k.Revoked() {
		return k, ErrRevokedKey
	}
	if k.Expired(now) {
		return k, ErrExpiredKey
	}
	return k, nil
}

// CheckKeyName returns an error unless name is 1 to 100 characters with no
// control characters, so it prints safely in a terminal and a page.
func CheckKeyName(name string) error {
	if n := utf8.RuneCountInString(name); n == 0 || n > 100 {
		return fmt.Errorf("key name has %d characters; give it 1 to 100, such as the name of the service that will use it", n)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("key name contains the control character %U; use printable characters only", r)
		}
	}
	return nil
}
