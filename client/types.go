package client

import (
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// APIKey is a broker API key. It prints as [REDACTED] in every format, so
// a Client can be logged.
type APIKey = secret.Secret

// Apps.
const (
	AppZoom      = "zoom"
	AppZoomAdmin = "zoom_admin"
)

// Account statuses.
const (
	StatusActive         = "active"
	StatusNeedsReconnect = "needs_reconnect"
	StatusRevoked        = "revoked"
)

// App is one of the broker's Zoom apps.
type App struct {
	App         string `json:"app"`
	Name        string `json:"name"`
	Description string `json:"description"`

	// Configured is false when the broker has no client credentials for
	// the app.
	Configured bool `json:"configured"`
}

// Account is a connected Zoom account. Times the broker sends as null are
// zero.
type Account struct {
	ID     string       `json:"id"`
	App    string       `json:"app"`
	Status string       `json:"status"`
	Zoom   ZoomIdentity `json:"zoom"`
	Scopes []string     `json:"scopes"`

	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
	TokenExpiresAt       time.Time `json:"token_expires_at"`
	LastRefreshedAt      time.Time `json:"last_refreshed_at"`
	RefreshTokenIssuedAt time.Time `json:"refresh_token_issued_at"`
	NextRefreshAt        time.Time `json:"next_refresh_at"`

	// LastError is nil after a success.
	LastError *AccountError `json:"last_error"`

	// ExternalUserIDs are the ids, in the caller's own user directory, of
	// the users who connected the account through connect links.
	ExternalUserIDs []string `json:"external_user_ids"`

	// ConsoleConnected is true when an operator connected the account in
	// the console.
	ConsoleConnected bool `json:"console_connected"`

	RevokedAt    time.Time `json:"revoked_at"`
	RevokeReason string    `json:"revoke_reason"`
}

// ZoomIdentity is who the grant belongs to at Zoom.
type ZoomIdentity struct {
	UserID      string `json:"user_id"`
	AccountID   string `json:"account_id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

// AccountError is an account's last failure.
type AccountError struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// ListOptions filters and pages [Client.ListAccounts]. Empty fields match
// everything.
type ListOptions struct {
	App           string
	Status        string
	Email         string // exact, case-insensitive
	ZoomUserID    string
	ZoomAccountID string

	// ExternalUserID matches accounts that list it in ExternalUserIDs.
	ExternalUserID string

	// Limit is the page size, 1 to 500; zero means the broker's default
	// of 100.
	Limit int

	// After is the NextAfter of the previous page; empty starts at the
	// beginning.
	After string
}

// AccountPage is one page of accounts.
type AccountPage struct {
	Accounts []Account `json:"accounts"`

	// NextAfter is the ListOptions.After of the next page; empty on the
	// last page.
	NextAfter string `json:"next_after"`
}

// TokenOptions are the optional parts of a token request.
type TokenOptions struct {
	// MinTTL is the least life the token must have left, rounded up to
	// whole seconds, at most 55 minutes. Zero means the broker's default
	// of 5 minutes.
	MinTTL time.Duration

	// ForceRefresh requests a new token even if the current one has
	// MinTTL left.
	ForceRefresh bool

	// RejectedAccessToken reports a token Zoom rejected with 401 and code
	// 124. If it is still the account's current token the broker
	// refreshes; otherwise it returns the newer token it already has.
	RejectedAccessToken secret.Secret
}

// Token is an access token for one account.
type Token struct {
	AccountID   string
	AccessToken secret.Secret
	TokenType   string
	ExpiresAt   time.Time
	Scopes      []string
}

// DeleteResult is the outcome of [Client.DeleteAccount].
type DeleteResult struct {
	Account        Account `json:"account"`
	AlreadyRevoked bool    `json:"already_revoked"`

	// ZoomRevoked is false when Zoom could not confirm the revoke. The
	// broker deleted the tokens anyway, and ZoomRevokeError explains.
	ZoomRevoked     bool   `json:"zoom_revoked"`
	ZoomRevokeError string `json:"zoom_revoke_error"`
}

// Webhook is an endpoint that receives account events.
type Webhook struct {
	ID  string
	URL string

	// Source is "api" or "config".
	Source    string
	CreatedAt time.Time

	// Secret is the signing secret, returned only by CreateWebhook.
	Secret secret.Secret
}

// WebhookOptions describes a new webhook endpoint.
type WebhookOptions struct {
	// URL is the http or https URL the broker POSTs events to.
	URL string

	// Secret signs the events, at least 16 characters; empty lets the
	// broker generate one.
	Secret secret.Secret
}
