package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// testKey returns a key whose material is a fixed byte pattern, so tests
// can look for that material in error messages.
func testKey(t *testing.T, id string, fill byte) Key {
	t.Helper()
	k, err := NewKey(id, bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatalf("NewKey(%q) = %v; want nil error", id, err)
	}
	return k
}

func newSealer(t *testing.T, keys ...Key) *Sealer {
	t.Helper()
	s, err := New(keys)
	if err != nil {
		t.Fatalf("New = %v; want nil error", err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, testKey(t, "k1", 0x11))
	aad := []byte("accounts/acct-1")

	for _, plaintext := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("token"), 1000)} {
		blob, err := s.Seal(aad, plaintext)
		if err != nil {
			t.Fatalf("Seal = %v; want nil error", err)
		}
		// Short plaintexts can appear in random bytes by chance.
		if len(plaintext) >= 8 && bytes.Contains(blob, plaintext) {
			t.Errorf("Seal(%q) output contains the plaintext", plaintext)
		}

		got, err := s.Open(aad, blob)
		if err != nil {
			t.Fatalf("Open(Seal(%q)) = %v; want nil error", plaintext, err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Errorf("Open(Seal(%q)) = %q; want %q", plaintext, got, plaintext)
		}
	}
}

func TestSealNonceIsFresh(t *testing.T) {
	s := newSealer(t, testKey(t, "k1", 0x11))

	a, err := s.Seal(nil, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal(nil, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Errorf("Seal twice of the same plaintext = identical blobs; want different nonces")
	}
}

func TestBlobLayout(t *testing.T) {
	s := newSealer(t, testKey(t, "key.A-1_b", 0x11))
	plaintext := []byte("hello")

	blob, err := s.Seal(nil, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := blob[0], byte(1); got != want {
		t.Errorf("blob[0] = %d; want version %d", got, want)
	}
	if got, want := int(blob[1]), len("key.A-1_b"); got != want {
		t.Errorf("blob[1] = %d; want key id length %d", got, want)
	}
	if got, want := string(blob[2:2+len("key.A-1_b")]), "key.A-1_b"; got != want {
		t.Errorf("blob key id = %q; want %q", got, want)
	}
	if got, want := len(blob), 2+len("key.A-1_b")+12+len(plaintext)+16; got != want {
		t.Errorf("len(blob) = %d; want %d", got, want)
	}
}

func TestOpenWrongAAD(t *testing.T) {
	s := newSealer(t, testKey(t, "k1", 0x11))
	blob, err := s.Seal([]byte("accounts/acct-1"), []byte("refresh-token"))
	if err != nil {
		t.Fatal(err)
	}

	for _, aad := range []string{"accounts/acct-2", "", "accounts/acct-1 "} {
		_, err := s.Open([]byte(aad), blob)
		if !errors.Is(err, ErrAuthentication) {
			t.Errorf("Open(aad %q) = %v; want ErrAuthentication", aad, err)
		}
	}
}

func TestOpenTampered(t *testing.T) {
	s := newSealer(t, testKey(t, "k1", 0x11), testKey(t, "k2", 0x22))
	aad := []byte("accounts/acct-1")
	blob, err := s.Seal(aad, []byte("refresh-token"))
	if err != nil {
		t.Fatal(err)
	}

	for i := range blob {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			tampered := bytes.Clone(blob)
			tampered[i] ^= mask
			if _, err := s.Open(aad, tampered); err == nil {
				t.Errorf("Open(blob with byte %d ^ %#x) = nil error; want an error", i, mask)
			}
		}
	}

	if _, err := s.Open(aad, blob[:len(blob)-1]); err == nil {
		t.Errorf("Open(blob without its last byte) = nil error; want an error")
	}
	if _, err := s.Open(aad, append(bytes.Clone(blob), 0)); err == nil {
		t.Errorf("Open(blob with a byte appended) = nil error; want an error")
	}
}

// TestOpenKeyIDSwapped checks that the header is authenticated: a blob
// relabelled with another configured key id does not open.
func TestOpenKeyIDSwapped(t *testing.T) {
	same := bytes.Repeat([]byte{0x33}, KeySize)
	ka, err := NewKey("ka", same)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := NewKey("kb", same)
	if err != nil {
		t.Fatal(err)
	}
	s := newSealer(t, ka, kb)

	blob, err := s.Seal(nil, []byte("token"))
	if err != nil {
		t.Fatal(err)
	}
	blob[3] = 'b' // "ka" -> "kb", a key with the same material

	if _, err := s.Open(nil, blob); !errors.Is(err, ErrAuthentication) {
		t.Errorf("Open(blob relabelled to kb) = %v; want ErrAuthentication", err)
	}
}

func TestOpenUnknownKey(t *testing.T) {
	old := newSealer(t, testKey(t, "retired-2024", 0x11))
	blob, err := old.Seal(nil, []byte("token"))
	if err != nil {
		t.Fatal(err)
	}

	s := newSealer(t, testKey(t, "k2", 0x22))
	_, err = s.Open(nil, blob)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open(blob of another key) = %v; want ErrUnknownKey", err)
	}
	if !strings.Contains(err.Error(), `"retired-2024"`) {
		t.Errorf("Open error = %q; want it to name key id %q", err, "retired-2024")
	}
}

func TestOpenMalformed(t *testing.T) {
	s := newSealer(t, testKey(t, "k1", 0x11))
	valid, err := s.Seal(nil, []byte("token"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		blob []byte
	}{
		{"nil", nil},
		{"one byte", []byte{1}},
		{"version 0", append([]byte{0}, valid[1:]...)},
		{"version 2", append([]byte{2}, valid[1:]...)},
		{"id length 0", append([]byte{1, 0}, valid[2:]...)},
		{"id length 33", append([]byte{1, 33}, bytes.Repeat([]byte("a"), 100)...)},
		{"id length past end", []byte{1, 30, 'k'}},
		{"no room for tag", valid[:2+2+12+15]},
		{"id with space", append([]byte{1, 2, 'k', ' '}, valid[4:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Open(nil, tt.blob); !errors.Is(err, ErrMalformed) {
				t.Errorf("Open(%x) = %v; want ErrMalformed", tt.blob, err)
			}
			if _, err := KeyID(tt.blob); !errors.Is(err, ErrMalformed) {
				t.Errorf("KeyID(%x) = %v; want ErrMalformed", tt.blob, err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	k1 := testKey(t, "k1", 0x11)
	k2 := testKey(t, "k2", 0x22)
	aad := []byte("accounts/acct-1")

	before := newSealer(t, k1)
	oldBlob, err := before.Seal(aad, []byte("old token"))
	if err != nil {
		t.Fatal(err)
	}

	after := newSealer(t, k2, k1)
	if got, want := after.Current(), "k2"; got != want {
		t.Errorf("Current() = %q; want %q", got, want)
	}
	if !after.Has("k1") {
		t.Errorf("Has(%q) = false; want true", "k1")
	}
	if after.Has("k3") {
		t.Errorf("Has(%q) = true; want false", "k3")
	}

	got, err := after.Open(aad, oldBlob)
	if err != nil {
		t.Fatalf("Open(blob of old key) = %v; want nil error", err)
	}
	if string(got) != "old token" {
		t.Errorf("Open(blob of old key) = %q; want %q", got, "old token")
	}

	newBlob, err := after.Seal(aad, []byte("new token"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := KeyID(newBlob)
	if err != nil {
		t.Fatalf("KeyID(new blob) = %v; want nil error", err)
	}
	if id != "k2" {
		t.Errorf("KeyID(new blob) = %q; want %q", id, "k2")
	}
	if _, err := before.Open(aad, newBlob); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old sealer Open(new blob) = %v; want ErrUnknownKey", err)
	}
}

func TestNewRejects(t *testing.T) {
	k1 := testKey(t, "k1", 0x11)
	tests := []struct {
		name string
		keys []Key
		hint string
	}{
		{"no keys", nil, "at least one"},
		{"zero key", []Key{{ID: "k0"}}, "no material"},
		{"duplicate id", []Key{k1, testKey(t, "k1", 0x22)}, "duplicate"},
		{"invalid id", []Key{{ID: "bad id", material: k1.material}}, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.keys)
			if err == nil {
				t.Fatalf("New(%s) = nil error; want an error", tt.name)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("New(%s) = %q; want it to contain %q", tt.name, err, tt.hint)
			}
		})
	}
}
