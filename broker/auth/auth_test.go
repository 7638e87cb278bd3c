package auth

import (
	"strings"
	"testing"
	"time"
)

func TestNewKeyShape(t *testing.T) {
	k, full := NewKey("ci", time.Now())
	id, ok := KeyID(full.Reveal())
	if !ok {
		t.Fatalf("KeyID(new key) not ok")
	}
	if id != k.ID {
		t.Errorf("KeyID(new key) = %q; want %q", id, k.ID)
	}
	if !strings.HasPrefix(full.Reveal(), KeyPrefix) {
		t.Errorf("key does not start with %q", KeyPrefix)
	}
	if string(HashKey(full.Reveal())) != string(k.Hash) {
		t.Errorf("stored hash does not match the key")
	}
}

func TestKeyIDRejectsMalformed(t *testing.T) {
	for _, in := range []string{"", "zbk_", "zbk_key_", "abc", "zbk_other_x_y", "Bearer zbk_key_a_b"} {
		if id, ok := KeyID(in); ok {
			t.Errorf("KeyID(%q) = %q, true; want false", in, id)
		}
	}
}

func TestPasswordLengthLimits(t *testing.T) {
	if _, err := HashPassword("short"); err == nil {
		t.Errorf("HashPassword(short) = nil error; want a length error")
	}
	if _, err := HashPassword(strings.Repeat("a", 73)); err == nil {
		t.Errorf("HashPassword(73 bytes) = nil error; want a length error")
	}
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPassword(h, "correct horse battery"); err != nil {
		t.Errorf("CheckPassword(right) = %v; want nil", err)
	}
	if err := CheckPassword(h, "wrong horse battery"); err != ErrWrongPassword {
		t.Errorf("CheckPassword(wrong) = %v; want ErrWrongPassword", err)
	}
	if err := CheckPassword(nil, "anything at all"); err != ErrWrongPassword {
		t.Errorf("CheckPassword(nil hash) = %v; want ErrWrongPassword", err)
	}
}
