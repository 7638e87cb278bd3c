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

	// CreateWebhook stores a webhook endpoint; ErrAlreadyExists if the id
	// is taken.
	CreateWebhook(ctx context.Context, w Webhook) error

	// GetWebhook returns the endpoint with the id, or ErrNotFound.
	GetWebhook(ctx context.Context, id string) (Webhook, error)

	// ListWebhooks returns every endpoint ordered by creation time, then
	// id.
	ListWebhooks(ctx context.Context) ([]Webhook, error)

	// DeleteWebhook removes the endpoint and all of its deliveries in one
	// transaction. Deleting a missing endpoint returns ErrNotFound.
	DeleteWebhook(ctx context.Context, id string) error

	// AppendDeliveries adds the deliveries to the outbox in one
	// transaction, in the order given, and returns them with the IDs the
	// store assigned. It returns ErrNotFound, and appends nothing, if a
	// delivery names a missing endpoint.
	AppendDeliveries(ctx context.Context, ds []Delivery) ([]Delivery, error)

	// DueDeliveries returns up to limit pending deliveries that are first
	// in their queue (same WebhookID and AccountID, lowest ID) and whose
	// NextAttemptAt is not after now, earliest NextAttemptAt first, then
	// lowest ID.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)

	// UpdateDelivery changes a delivery in one transaction, like
	// UpdateAccount. update may change only Status, Attempts,
	// NextAttemptAt, LastAttemptAt, LastStatusCode, LastError and
	// FinishedAt; a change to another field returns an error and stores
	// nothing. It returns ErrNotFound if the delivery does not exist.
	UpdateDelivery(ctx context.Context, id int64, update func(Delivery) (Delivery, error)) (Delivery, error)

	// ListDeliveries returns one page of deliveries, newest (highest ID)
	// first, and the ID to pass as DeliveryListOptions.Before for the next
	// page (zero on the last page).
	ListDeliveries(ctx context.Context, opts DeliveryListOptions) (deliveries []Delivery, next int64, err error)

	// DeleteDeliveries removes delivered and failed deliveries whose
	// FinishedAt is before cutoff and returns how many it removed. Pending
	// deliveries stay.
	DeleteDeliveries(ctx context.Context, cutoff time.Time) (int, error)

	// CreateConnectSession stores a new connect session; ErrAlreadyExists
	// if the id is taken.
	CreateConnectSession(ctx context.Context, cs ConnectSession) error

	// GetConnectSession returns the session with the id, or ErrNotFound.
	GetConnectSession(ctx context.Context, id string) (ConnectSession, error)

	// UpdateConnectSession changes a session in one transaction, like
	// UpdateAccount.
	UpdateConnectSession(ctx context.Context, id string, update func(ConnectSession) (ConnectSession, error)) (ConnectSession, error)

	// DeleteConnectSessions removes sessions that expired before cutoff and
	// returns how many it removed.
	DeleteConnectSessions(ctx context.Context, cutoff time.Time) (int, error)

	// AuditLog keeps the audit trail; see the interface's methods.
	AuditLog

	// Ping reports whether the storage answers.
	Ping(ctx context.Context) error

	// Close releases the storage. It waits for running transactions.
	Close() error
}
