package store

import (
	"context"
	"time"
)

// AuditLog keeps the audit trail: who did what to which account, from
// where. Entries are append-only; only PruneAudit removes them.
type AuditLog interface {
	// AppendAudit adds the entries in one transaction, in the order given,
	// and assigns each an ID higher than every ID before it. The IDs of
	// the entries passed in are ignored.
	AppendAudit(ctx context.Context, entries []AuditEntry) error

	// ListAudit returns one page of entries that match opts.Filter, newest
	// (highest ID) first, and the ID to pass as AuditListOptions.Before for
	// the next page (zero on the last page). A backend may bound the work
	// of one call, so a page can hold fewer than Limit entries, even none,
	// while next is not zero.
	ListAudit(ctx context.Context, opts AuditListOptions) (entries []AuditEntry, next int64, err error)

	// PruneAudit removes entries whose At is before cutoff and returns how
	// many it removed. It walks the entries in ID order and stops at the
	// first one at or after cutoff, so an older entry appended after a
	// newer one waits for a later pruning.
	PruneAudit(ctx context.Context, cutoff time.Time) (int, error)
}

// AuditEntry is one audited action. It never holds a secret: no token, key
// or password, only ids and names.
type AuditEntry struct {
	// ID orders the entries; the store assigns it.
	ID int64

	// At is when the action happened (UTC).
	At time.Time

	// Action names what happened, for example "token.issue" or
	// "apikey.create".
	Action string

	// Outcome is "ok" for an action that succeeded, "denied" for one the
	// broker refused (401, 403, 429), "failed" for one that failed.
	Outcome string

	// ActorType is the kind of Actor: "operator", "api_key", "zoom" (a
	// webhook), "connect_link" or "anonymous".
	ActorType string

	// Actor is the operator name, the API key id, the app of a Zoom
	// webhook or the connect session id; empty for an anonymous caller.
	Actor string

	// AccountID is the account acted on, if any.
	AccountID string

	// RemoteAddr is the client address as the server determined it.
	RemoteAddr string

	// RequestID ties the entry to the request log.
	RequestID string

	// Detail is a short note in plain words, for example why access was
	// denied. It never holds a secret.
	Detail string
}

// AuditFilter selects entries in [AuditLog.ListAudit]. Empty fields match
// everything; strings match exactly.
type AuditFilter struct {
	Action    string
	Actor     string
	AccountID string

	// Since and Until bound At: Since inclusive, Until exclusive. Zero
	// means unbounded.
	Since time.Time
	Until time.Time
}

// AuditListOptions pages through audit entries, newest first.
type AuditListOptions struct {
	Filter AuditFilter

	// Before is the ID of the last entry of the previous page; zero
	// starts at the newest entry.
	Before int64

	// Limit is the page size; zero or less means 100.
	Limit int
}
