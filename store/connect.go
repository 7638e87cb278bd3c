package store

import (
	"fmt"
	"time"
)

// ConnectSessionStatus is the state of a connect session.
type ConnectSessionStatus string

// Connect session statuses.
const (
	// ConnectOpen means the link was created and not used yet.
	ConnectOpen ConnectSessionStatus = "open"

	// ConnectStarted means the end user clicked Connect Account and went to
	// Zoom; the link cannot start another flow.
	ConnectStarted ConnectSessionStatus = "started"

	// ConnectCompleted means the flow stored an account.
	ConnectCompleted ConnectSessionStatus = "completed"

	// ConnectFailed means the flow ended without an account.
	ConnectFailed ConnectSessionStatus = "failed"
)

// ConnectSession is a one-time link that lets an end user without a console
// login connect a Zoom account for an external user id.
type ConnectSession struct {
	// ID is public; it is part of the link's token.
	ID string

	// TokenHash is the SHA-256 of the whole token. The token itself is
	// returned once, when the session is created.
	TokenHash []byte

	App            App
	ExternalUserID string

	SuccessRedirectURL string
	ErrorRedirectURL   string

	// OpenerOrigin is the only origin a popup posts its result to.
	OpenerOrigin string

	// CreatedBy is the API key id that created the session.
	CreatedBy string

	CreatedAt time.Time
	ExpiresAt time.Time

	Status ConnectSessionStatus

	// AccountID is the account the flow connected, once completed.
	AccountID string

	// Error is the code the flow failed with, once failed.
	Error string

	UpdatedAt time.Time
}

// String describes the session without its token hash.
func (cs ConnectSession) String() string {
	return fmt.Sprintf("connect session %s (app %s, status %s)", cs.ID, cs.App, cs.Status)
}
