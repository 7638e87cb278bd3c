package store

import "errors"

// Sentinel errors returned by every backend. Callers match them with
// errors.Is; backends may wrap them with context.
var (
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = errors.New("not found")

	// ErrAlreadyExists means a record with the same id (or unique key)
	// exists already.
	ErrAlreadyExists = errors.New("already exists")

	// ErrConflict means a compare-and-swap failed: the record changed since
	// the caller read it. The caller should read it again and decide anew.
	ErrConflict = errors.New("conflict")

	// ErrLeaseHeld means another holder has the lease and it has not
	// expired.
	ErrLeaseHeld = errors.New("lease held by another holder")

	// ErrLocked means the storage is held by another process (bbolt's file
	// lock). The message of the wrapping error says which file.
	ErrLocked = errors.New("locked by another process")

	// ErrUnavailable means the storage could not be reached or did not
	// answer in time, for example a lost database connection. Nothing was
	// read, and a write may or may not have been committed. The same call
	// may succeed later.
	ErrUnavailable = errors.New("store unavailable")
)
