package seal

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzOpen(f *testing.F) {
	k1, err := NewKey("k1", bytes.Repeat([]byte{0x11}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	k2, err := NewKey("k2", bytes.Repeat([]byte{0x22}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	s, err := New([]Key{k1, k2})
	if err != nil {
		f.Fatal(err)
	}

	aad := []byte("accounts/acct-1")
	valid, err := s.Seal(aad, []byte("refresh-token"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(aad, valid)
	f.Add(aad, valid[:len(valid)-1])
	f.Add([]byte{}, valid)
	f.Add(aad, []byte{})
	f.Add(aad, []byte{1})
	f.Add(aad, []byte{1, 255})
	f.Add(aad, []byte{1, 2, 'k', '9'})
	f.Add(aad, append([]byte{1, 2, 'k', '2'}, make([]byte, 28)...))
	f.Add(aad, append([]byte{2}, valid[1:]...))

	f.Fuzz(func(t *testing.T, aad, blob []byte) {
		plaintext, err := s.Open(aad, blob)
		id, idErr := KeyID(blob)

		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuthentication) {
				t.Errorf("Open(%x) = %v; want an error wrapping one of the sentinels", blob, err)
			}
			if errors.Is(err, ErrMalformed) != (idErr != nil) {
				t.Errorf("Open(%x) = %v but KeyID = %v; want both malformed or neither", blob, err, idErr)
			}
			return
		}

		if idErr != nil || !s.Has(id) {
			t.Errorf("Open(%x) succeeded but KeyID = %q, %v; want a configured key id", blob, id, idErr)
		}
		if !bytes.Equal(plaintext, []byte("refresh-token")) {
			t.Errorf("Open(%x) = %q; want only the sealed seed to open", blob, plaintext)
		}
	})
}
