// Package seal encrypts and authenticates token records with AES-256-GCM
// before they reach the store.
//
// A [Sealer] holds one or more named keys. The first key seals new blobs and
// every key opens the blobs sealed with it, so keys rotate without a
// migration: put the new key first, keep the old one until every record has
// been sealed again, then drop it. [KeyID] returns the id of the key that
// sealed a blob.
//
// # Format
//
// A sealed blob is, byte by byte:
//
//	version (1) | key id length (1..32) | key id | nonce (12) | ciphertext and GCM tag (16)
//
// The version, the key id and the caller's additional data are all
// authenticated. Callers pass the record's identity (for example its bucket
// and account id) as additional data, so a blob copied to another record
// does not open.
//
// Nonces are random 96-bit values. Go's crypto/cipher documentation (at
// NewGCMWithRandomNonce) caps a key at 2^32 messages with random nonces to
// keep collisions negligible. That is far more seals than token refreshes
// make, but rotate the key if a deployment could ever come near it.
//
// # Errors
//
// [Sealer.Open] returns errors that wrap [ErrUnknownKey], [ErrMalformed] or
// [ErrAuthentication]. No error or formatted value contains key material:
// [Key] redacts itself in fmt, %#v and slog.
package seal
