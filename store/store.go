package store

import (
	"context"
	"time"
)

// Store is the storage every backend implements. All methods are safe for
// concurrent use and take the context of the request or job they serve.
//
// Times are stored with at least microsecond precision and returned in UTC.
// Slices and byte slices returned belong to the caller.
type Store interface {
	// CreateAccount stores a new account. It returns ErrAlreadyExists if
	// the id is taken.
	CreateAccount(ctx context.Context, a Account) error

	// GetAccount returns the account with the id, or ErrNotFound.
	GetAccount(ctx context.Context, id string) (Account, error)

	// FindAccount returns the non-revoked account of app whose Zoom
	// identity matches: for AppZoom the Zoom user id, for AppZoomAdmin the
	// Zoom account id. It returns ErrNotFound when none matches.
	FindAccount(ctx context.Context, app App, zoom ZoomIdentity) (Account, error)

	// ListAccounts returns one page of accounts ordered by id, and the id to
	// pass as ListOptions.After for the next page ("" on the last page).
	ListAccounts(ctx context.Context, opts ListOptions) (accounts []Account, next string, err error)

	// UpdateAccount reads the account, calls update with it and stores what
	// update returns, all in one transaction. update may run more than once
	// (a backend may retry on a serialization failure), so it must not have
	// side effects; it should change the value it gets rather than build a
	// new one, so that fields added later survive. An error from update
	// aborts the transaction and is returned as is. The account's id cannot
	// change. It returns ErrNotFound if the account does not exist.
	UpdateAccount(ctx context.Context, id string, update func(Account) (Account, error)) (Account, error)

	// DeleteAccount removes the account. Deleting a missing account returns
	// ErrNotFound.
	DeleteAccount(ctx context.Context, id string) error

	// DueAccounts returns up to limit active accounts whose NextRefreshAt is
	// set and not after now, earliest first.
	DueAccounts(ctx context.Context, now time.Time, limit int) ([]Account, error)

	// CreateAPIKey stores a new key; ErrAlreadyExists if the id or the hash
	// is taken.
	CreateAPIKey(ctx context.Context, k APIKey) error

	// GetAPIKey returns the key with the id, or ErrNotFound.
	GetAPIKey(ctx context.Context, id string) (APIKey, error)

	// ListAPIKeys returns every key, revoked ones included, ordered by
	// creation time.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)

	// UpdateAPIKey changes a key in one transaction, like UpdateAccount.
	UpdateAPIKey(ctx context.Context, id string, update func(APIKey) (APIKey, error)) (APIKey, error)

	// CreateOperator stores a console user; ErrAlreadyExists if the name is
	// taken.
	CreateOperator(ctx context.Context, o Operator) error

	// GetOperator returns the operator with the name, or ErrNotFound.
	GetOperator(ctx context.Context, name string) (Operator, error)

	// ListOperators returns every operator ordered by name.
	ListOperators(ctx context.Context) ([]Operator, error)

	// UpdateOperator changes an operator in one transaction, like
	// UpdateAccount.
	UpdateOperator(ctx context.Context, name string, update func(Operator) (Operator, error)) (Operator, error)

	// AcquireLease takes the named lease for holder until now+ttl. It
	// succeeds when the lease is free, expired at now, or already held by
	// holder (the expiry is then extended). Otherwise it returns
	// ErrLeaseHeld. Replicas sharing one store use leases to refresh an
	// account in one place at a time.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) error

	// ReleaseLease frees the named lease if holder has it; otherwise it
	// does nothing.
	ReleaseLease(ctx context.Context, name, holder string) error

	// Ping reports whether the storage answers.
	Ping(ctx context.Context) error

	// Close releases the storage. It waits for running transactions.
	Close() error
}
