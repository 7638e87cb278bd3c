package store

import (
	"fmt"
	"time"
)

// App names one of the two Zoom apps an account can be connected through.
type App string

// The apps the broker knows.
const (
	// AppZoom is the user-managed app: a user's own meetings, webinars and
	// recordings. Reconnecting matches on the Zoom user id.
	AppZoom App = "zoom"

	// AppZoomAdmin is the account-level (admin-managed) app. Zoom binds its
	// grant to the Zoom account, so reconnecting matches on the Zoom account
	// id.
	AppZoomAdmin App = "zoom_admin"
)

// Apps lists every app in the order the console shows them.
var Apps = []App{AppZoom, AppZoomAdmin}

// Valid reports whether a is one of the known apps.
func (a App) Valid() bool { return a == AppZoom || a == AppZoomAdmin }

// Status is the state of a connected account.
type Status string

// Account statuses.
const (
	// StatusActive means the grant works, or failed only transiently.
	StatusActive Status = "active"

	// StatusNeedsReconnect means Zoom rejected the refresh token
	// (invalid_grant): a person must connect the account again.
	StatusNeedsReconnect Status = "needs_reconnect"

	// StatusRevoked marks a tombstone: the grant was revoked or Zoom
	// deauthorized the app. Tokens and personal fields are erased.
	StatusRevoked Status = "revoked"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusNeedsReconnect || s == StatusRevoked
}

// ZoomIdentity is who the grant belongs to at Zoom, as /v2/users/me returns
// it.
type ZoomIdentity struct {
	UserID      string
	AccountID   string
	Email       string
	DisplayName string
}

// Account is one connected Zoom grant: the identity, the sealed tokens and
// the refresh bookkeeping.
type Account struct {
	// ID is the broker's own id, stable across reconnects.
	ID   string
	App  App
	Zoom ZoomIdentity

	Status Status

	// Scopes are the scopes Zoom granted, in the order Zoom listed them.
	Scopes []string

	// Owners are the external user ids (of the company's own users) that
	// connected this grant through connect links, in the order they did.
	// Zoom keeps one live grant per app and Zoom user (per Zoom account for
	// zoom_admin), so several owners share one account.
	Owners []string

	// ConsoleConnected is true when an operator connected the grant in the
	// console. Such an account stays when its last owner leaves.
	ConsoleConnected bool

	CreatedAt time.Time
	UpdatedAt time.Time

	// Token is the sealed token record (access token, refresh token and
	// their metadata). The store treats it as opaque bytes. It is nil on a
	// tombstone.
	Token []byte

	// TokenVersion counts token rotations. It increases by one every time
	// Token changes, and compare-and-swap on it keeps two refreshes from
	// both storing a rotated refresh token.
	TokenVersion int64

	// TokenExpiresAt is when the current access token expires (UTC).
	TokenExpiresAt time.Time

	// RefreshTokenIssuedAt is when Zoom issued the current refresh token.
	RefreshTokenIssuedAt time.Time

	// LastRefreshedAt is the time of the last successful refresh; zero
	// when the account was never refreshed since it was connected.
	LastRefreshedAt time.Time

	// NextRefreshAt is when the background refresher should next renew the
	// tokens; zero means "not scheduled".
	NextRefreshAt time.Time

	// RefreshStartedAt is set, durably, just before a refresh is sent to
	// Zoom and cleared when its outcome is stored. A value left behind
	// means the process stopped in the middle of a refresh, and Zoom may
	// have rotated the refresh token already.
	RefreshStartedAt time.Time

	// LastErrorCode is a short machine-readable code of the last failure
	// (for example "invalid_grant", "zoom_unavailable"); empty after a
	// success.
	LastErrorCode string

	// LastError is the last failure in plain words, without secrets.
	LastError string

	// LastErrorAt is when the last failure happened.
	LastErrorAt time.Time

	// TransientFailures counts transient refresh failures in a row.
	TransientFailures int

	// RevokedAt and RevokeReason describe a tombstone.
	RevokedAt    time.Time
	RevokeReason string
}

// String describes the account without its sealed token, so an Account can
// appear in errors and logs.
func (a Account) String() string {
	return fmt.Sprintf("account %s (app %s, status %s, token present: %t)", a.ID, a.App, a.Status, len(a.Token) > 0)
}

// GoString redacts the token from %#v as well.
func (a Account) GoString() string { return a.String() }

// AccountFilter selects accounts in [Store.ListAccounts]. Empty fields match
// everything.
type AccountFilter struct {
	App           App
	Status        Status
	Email         string // exact match, case-insensitive
	ZoomUserID    string
	ZoomAccountID string

	// ExternalUserID matches accounts that list it among their owners.
	ExternalUserID string
}

// ListOptions pages through accounts ordered by id.
type ListOptions struct {
	Filter AccountFilter

	// After is the id of the last account of the previous page; empty
	// starts at the beginning.
	After string

	// Limit is the page size; zero or less means 100.
	Limit int
}

// APIKey is a caller's credential. Only a hash of the secret is stored.
type APIKey struct {
	// ID is public and appears in lists and logs.
	ID   string
	Name string

	// Hash is the SHA-256 of the full key. Keys are long random strings, so a
	// fast hash is enough and lookups stay cheap.
	Hash []byte

	CreatedAt time.Time

	// RevokedAt is zero while the key is valid.
	RevokedAt time.Time

	// LastUsedAt is updated at most once a minute per key.
	LastUsedAt time.Time

	// Limits restrict the apps and accounts the key reaches; the zero
	// value reaches everything.
	Limits Limits

	// ExpiresAt is when the key stops working; zero means never.
	ExpiresAt time.Time
}

// Revoked reports whether the key was revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Expired reports whether the key has an expiry that is not after now.
func (k APIKey) Expired(now time.Time) bool { return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) }

// Operator is a console user.
type Operator struct {
	Name string

	// PasswordHash is a bcrypt hash.
	PasswordHash []byte

	CreatedAt time.Time

	// SessionEpoch is copied into every console session of the operator.
	// Signing out increments it, which ends all of the operator's
	// sessions at once.
	SessionEpoch int64
}
