package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of [Sealer.Open] and [KeyID]. Match them with errors.Is.
var (
	// ErrUnknownKey means the blob was sealed with a key id the Sealer does
	// not have. The wrapping error names the id.
	ErrUnknownKey = errors.New("unknown key id")

	// ErrMalformed means the blob is too short, has an unknown version or
	// has an invalid key id: it was never produced by Seal.
	ErrMalformed = errors.New("malformed sealed blob")

	// ErrAuthentication means GCM authentication failed: the blob was
	// changed, sealed with other additional data, or sealed with another
	// key of the same id.
	ErrAuthentication = errors.New("message authentication failed")
)

const (
	formatVersion = 1
	nonceSize     = 12
	tagSize       = 16
)

// Sealer seals with its first key and opens with any of its keys. It is safe
// for concurrent use.
type Sealer struct {
	current string
	ids     []string
	aeads   map[string]cipher.AEAD
}

// New returns a Sealer for the keys. The first key seals, and every key
// opens. It needs at least one key, and ids must be unique.
func New(keys []Key) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("new sealer: no keys; want at least one")
	}

	s := &Sealer{
		current: keys[0].ID,
		aeads:   make(map[string]cipher.AEAD, len(keys)),
	}
	for i, k := range keys {
		if err := validateKeyID(k.ID); err != nil {
			return nil, fmt.Errorf("new sealer: key %d: %w", i+1, err)
		}
		if k.material == nil {
			return nil, fmt.Errorf("new sealer: key %d (id %q) has no material; build keys with ParseKeys, GenerateKey or NewKey", i+1, k.ID)
		}
		if _, dup := s.aeads[k.ID]; dup {
			return nil, fmt.Errorf("new sealer: key %d (id %q): duplicate key id; want every id once", i+1, k.ID)
		}

		block, err := aes.NewCipher(k.material[:])
		if err != nil {
			return nil, fmt.Errorf("new sealer: key %d (id %q): %w", i+1, k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("new sealer: key %d (id %q): %w", i+1, k.ID, err)
		}
		s.aeads[k.ID] = aead
		s.ids = append(s.ids, k.ID)
	}
	return s, nil
}

// Current returns the id of the key that seals.
func (s *Sealer) Current() string { return s.current }

// Has reports whether the Sealer has a key with the id.
func (s *Sealer) Has(id string) bool {
	_, ok := s.aeads[id]
	return ok
}

// String lists the key ids, never the material.
func (s *Sealer) String() string {
	return fmt.Sprintf("seal.Sealer{Current: %q, IDs: [%s]}", s.current, strings.Join(s.ids, " "))
}

// Seal encrypts plaintext with the current key and a fresh random nonce. aad
// is authenticated but not stored: [Sealer.Open] needs the same aad.
func (s *Sealer) Seal(aad, plaintext []byte) ([]byte, error) {
	header := make([]byte, 0, 2+len(s.current))
	header = append(header, formatVersion, byte(len(s.current)))
	header = append(header, s.current...)

	blob := make([]byte, len(header)+nonceSize, len(header)+nonceSize+len(plaintext)+tagSize)
	copy(blob, header)
	nonce := blob[len(header):]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}

	return s.aeads[s.current].Seal(blob, nonce, plaintext, additionalData(header, aad)), nil
}

// Open decrypts a blob made by [Sealer.Seal] with the same aad. Its errors
// wrap [ErrMalformed], [ErrUnknownKey] or [ErrAuthentication].
func (s *Sealer) Open(aad, blob []byte) ([]byte, error) {
	h, err := parseHeader(blob)
	if err != nil {
		return nil, fmt.Errorf("open sealed blob: %w", err)
	}

	aead, ok := s.aeads[h.keyID]
	if !ok {
		return nil, fmt.Errorf("open sealed blob: %w %q; configured key ids are [%s], add the key that sealed it", ErrUnknownKey, h.keyID, strings.Join(s.ids, " "))
	}

	header := blob[:h.size]
	nonce := blob[h.size : h.size+nonceSize]
	ciphertext := blob[h.size+nonceSize:]
	plaintext, err := aead.Open(nil, nonce, ciphertext, additionalData(header, aad))
	if err != nil {
		return nil, fmt.Errorf("open sealed blob with key %q: %w", h.keyID, ErrAuthentication)
	}
	return plaintext, nil
}

// KeyID returns the id of the key that sealed blob, read from its header
// without decrypting. It returns an error wrapping [ErrMalformed] when the
// blob is not a sealed blob.
func KeyID(blob []byte) (string, error) {
	h, err := parseHeader(blob)
	if err != nil {
		return "", fmt.Errorf("read key id: %w", err)
	}
	return h.keyID, nil
}

// header is the parsed prefix of a sealed blob.
type header struct {
	keyID string
	size  int // bytes before the nonce
}

// parseHeader checks the version, the key id and the total length, so the
// caller can slice the nonce and the ciphertext without further checks.
func parseHeader(blob []byte) (header, error) {
	if len(blob) < 2 {
		return header{}, fmt.Errorf("%w: length %d; a sealed blob has at least %d bytes", ErrMalformed, len(blob), 2+1+nonceSize+tagSize)
	}
	if blob[0] != formatVersion {
		return header{}, fmt.Errorf("%w: format version %d; want %d", ErrMalformed, blob[0], formatVersion)
	}

	idLen := int(blob[1])
	if idLen == 0 || idLen > MaxKeyIDLen {
		return header{}, fmt.Errorf("%w: key id length %d; want 1 to %d", ErrMalformed, idLen, MaxKeyIDLen)
	}
	size := 2 + idLen
	if len(blob) < size+nonceSize+tagSize {
		return header{}, fmt.Errorf("%w: length %d; key id length %d needs at least %d bytes", ErrMalformed, len(blob), idLen, size+nonceSize+tagSize)
	}

	id := string(blob[2:size])
	if err := validateKeyID(id); err != nil {
		return header{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return header{keyID: id, size: size}, nil
}

// additionalData authenticates the header along with the caller's aad. The
// header carries its own length byte, so the concatenation is unambiguous.
func additionalData(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	ad = append(ad, header...)
	return append(ad, aad...)
}
