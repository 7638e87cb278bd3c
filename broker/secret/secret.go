// Package secret provides a string type for credentials that redacts
// itself whenever it is formatted or logged.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what every formatting of a non-empty Secret prints.
const Redacted = "[REDACTED]"

// Secret holds a credential: an access or refresh token, a client secret, an
// API key or key material. fmt, %#v, JSON and slog all print Redacted; only
// Reveal returns the value.
type Secret string

// Reveal returns the plaintext value. Call it only where the value is sent
// to its one legitimate destination.
func (s Secret) Reveal() string { return string(s) }

// Empty reports whether no value is set.
func (s Secret) Empty() bool { return s == "" }

// String returns Redacted, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `secret.Secret("` + s.String() + `")` }

// Format makes every verb, %x and %q included, print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
