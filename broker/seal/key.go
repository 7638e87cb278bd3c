package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// KeySize is the length in bytes of an AES-256 key.
const KeySize = 32

// MaxKeyIDLen is the maximum length of a key id in bytes.
const MaxKeyIDLen = 32

// keysFormat is the expected syntax of ParseKeys input, for error messages.
const keysFormat = `"id:base64-key[,id:base64-key...]"`

// Key is a named AES-256 key. Build one with [ParseKeys], [GenerateKey] or
// [NewKey]. The zero Key has no material, and [New] rejects it.
//
// Key redacts its material whenever it is formatted or logged.
type Key struct {
	// ID names the key inside sealed blobs: 1 to 32 characters from
	// [A-Za-z0-9_.-].
	ID string

	// material is behind a pointer so that fmt, when it walks a struct that
	// holds a Key in an unexported field, prints an address, not the bytes.
	material *[KeySize]byte
}

// NewKey returns a key with the id and a copy of the 32 bytes of material.
func NewKey(id string, material []byte) (Key, error) {
	if err := validateKeyID(id); err != nil {
		return Key{}, fmt.Errorf("new key: %w", err)
	}
	if len(material) != KeySize {
		return Key{}, fmt.Errorf("new key %q: key is %d bytes; want %d", id, len(material), KeySize)
	}

	var m [KeySize]byte
	copy(m[:], material)
	return Key{ID: id, material: &m}, nil
}

// GenerateKey returns a new random key and its text form "id:base64-key",
// which [ParseKeys] accepts. The text is key material: store it where the
// other secrets of the deployment live and never log it.
func GenerateKey(id string) (Key, secret.Secret, error) {
	if err := validateKeyID(id); err != nil {
		return Key{}, "", fmt.Errorf("generate key: %w", err)
	}

	var m [KeySize]byte
	if _, err := rand.Read(m[:]); err != nil {
		return Key{}, "", fmt.Errorf("generate key %q: %w", id, err)
	}

	text := id + ":" + base64.StdEncoding.EncodeToString(m[:])
	return Key{ID: id, material: &m}, secret.Secret(text), nil
}

// ParseKeys parses a comma-separated list of "id:base64-key" entries, for
// example "k2:3q2+7w...,k1:q83v...". The key is 32 bytes in standard or
// URL-safe base64, padded or not. Spaces around entries are ignored. The
// first key seals new blobs, as in [New].
//
// Errors name the entry by its position and id and never contain key
// material.
func ParseKeys(s string) ([]Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("parse keys: input is empty; want %s", keysFormat)
	}

	entries := strings.Split(s, ",")
	keys := make([]Key, 0, len(entries))
	seen := make(map[string]int, len(entries))
	for i, entry := range entries {
		pos := i + 1
		k, id, err := parseKeyEntry(strings.TrimSpace(entry))
		if err != nil {
			return nil, fmt.Errorf("parse keys: %s: %w", entryName(pos, id), err)
		}

		if first, dup := seen[k.ID]; dup {
			return nil, fmt.Errorf("parse keys: %s: duplicate key id, entry %d has it too; want every id once", entryName(pos, k.ID), first)
		}
		seen[k.ID] = pos
		keys = append(keys, k)
	}
	return keys, nil
}

// entryName names a ParseKeys entry by position, and by id once the id is
// known to be valid.
func entryName(pos int, id string) string {
	if id == "" {
		return fmt.Sprintf("entry %d", pos)
	}
	return fmt.Sprintf("entry %d (id %q)", pos, id)
}

// parseKeyEntry parses one "id:base64-key" entry. It returns the id as soon
// as the id is valid, so the caller can name the entry in its error.
func parseKeyEntry(entry string) (k Key, id string, err error) {
	if entry == "" {
		return Key{}, "", fmt.Errorf("entry is empty; want %s without empty entries", keysFormat)
	}

	// The text before the colon is validated before it is ever printed,
	// because an entry without a colon may be bare key material.
	id, encoded, ok := strings.Cut(entry, ":")
	if !ok {
		return Key{}, "", errors.New(`missing ":" between key id and key; want "id:base64-key"`)
	}
	if err := validateKeyID(id); err != nil {
		return Key{}, "", err
	}

	if encoded == "" {
		return Key{}, id, fmt.Errorf("key is empty; want %d random bytes in standard or URL-safe base64", KeySize)
	}
	material, err := decodeBase64(encoded)
	if err != nil {
		return Key{}, id, fmt.Errorf("key is not valid base64 (%w); want %d random bytes in standard or URL-safe base64", err, KeySize)
	}
	if len(material) != KeySize {
		return Key{}, id, fmt.Errorf("key decodes to %d bytes; want %d bytes for AES-256", len(material), KeySize)
	}

	var m [KeySize]byte
	copy(m[:], material)
	clear(material)
	return Key{ID: id, material: &m}, id, nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	std, url := base64.RawStdEncoding, base64.RawURLEncoding
	if strings.HasSuffix(s, "=") {
		std, url = base64.StdEncoding, base64.URLEncoding
	}
	if strings.ContainsAny(s, "-_") {
		return url.DecodeString(s)
	}
	return std.DecodeString(s)
}

// validateKeyID checks the id syntax. Its messages never contain the id,
// because a malformed id may be key material pasted in the wrong place.
func validateKeyID(id string) error {
	if id == "" {
		return fmt.Errorf("key id is empty; want 1 to %d characters from [A-Za-z0-9_.-]", MaxKeyIDLen)
	}
	if len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id is %d bytes long; want at most %d characters from [A-Za-z0-9_.-]", len(id), MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !isKeyIDByte(id[i]) {
			return fmt.Errorf("key id has an invalid character at offset %d; want only characters from [A-Za-z0-9_.-]", i)
		}
	}
	return nil
}

func isKeyIDByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '_', c == '.', c == '-':
		return true
	}
	return false
}

// String returns the id and a redaction marker in place of the material.
func (k Key) String() string {
	return fmt.Sprintf("seal.Key{ID: %q, material: %s}", k.ID, k.materialState())
}

// GoString keeps %#v from printing the material.
func (k Key) GoString() string { return k.String() }

// Format makes every verb, %x and %q included, print [Key.String].
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// LogValue keeps slog from printing the material.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("material", k.materialState()))
}

func (k Key) materialState() string {
	if k.material == nil {
		return "none"
	}
	return secret.Redacted
}
