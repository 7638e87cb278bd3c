package auth

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLength is the shortest operator password accepted.
const MinPasswordLength = 12

// ErrWrongPassword means the password does not match the hash.
var ErrWrongPassword = errors.New("wrong password")

// HashPassword returns a bcrypt hash of password, after checking its
// length: at least MinPasswordLength characters and at most 72 bytes, the
// most bcrypt reads.
func HashPassword(password string) ([]byte, error) {
	if n := utf8.RuneCountInString(password); n < MinPasswordLength {
		return nil, fmt.Errorf("password has %d characters; use at least %d", n, MinPasswordLength)
	}
	if len(password) > 72 {
		return nil, fmt.Errorf("password has %d bytes; bcrypt reads at most 72", len(password))
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// dummyPasswordHash is checked when the operator does not exist, so that
// sign-in takes as long for an unknown name as for a wrong password.
var dummyPasswordHash, _ = bcrypt.GenerateFromPassword([]byte("zoombroker-dummy-password"), bcrypt.DefaultCost)

// CheckPassword compares password with hash; a nil hash (unknown operator)
// still costs one bcrypt comparison and returns ErrWrongPassword.
func CheckPassword(hash []byte, password string) error {
	if hash == nil {
		_ = bcrypt.CompareHashAndPassword(dummyPasswordHash, []byte(password))
		return ErrWrongPassword
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return ErrWrongPassword
	}
	return nil
}
