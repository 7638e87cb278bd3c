package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// ConnectSessionOptions describe a connect link for an end user without a
// console login.
type ConnectSessionOptions struct {
	// App is "zoom" or "zoom_admin".
	App string `json:"app"`

	// ExternalUserID is your id for the end user; the account records it
	// as an owner.
	ExternalUserID string `json:"external_user_id"`

	// SuccessRedirectURL and ErrorRedirectURL must lie under a prefix the
	// broker's operators allowed.
	SuccessRedirectURL string `json:"success_redirect_url"`
	ErrorRedirectURL   string `json:"error_redirect_url"`

	// Popup makes the last page post its result to the opening window
	// instead of redirecting.
	Popup bool `json:"-"`

	// OpenerOrigin is the origin of the page that opens the popup; empty
	// means the success URL's origin.
	OpenerOrigin string `json:"opener_origin,omitempty"`
}

// ConnectSession is a created connect link. Token and ConnectURL carry the
// one-time credential and are returned only here.
type ConnectSession struct {
	ID         string
	Token      secret.Secret
	ConnectURL secret.Secret
	ExpiresAt  time.Time
}

// CreateConnectSession asks the broker for a one-time connect link.
func (c *Client) CreateConnectSession(ctx context.Context, opts ConnectSessionOptions) (ConnectSession, error) {
	in := struct {
		ConnectSessionOptions
		Display string `json:"display,omitempty"`
	}{ConnectSessionOptions: opts}
	if opts.Popup {
		in.Display = "popup"
	}
	var out struct {
		ID         string    `json:"id"`
		Token      string    `json:"token"`
		ConnectURL string    `json:"connect_url"`
		ExpiresAt  time.Time `json:"expires_at"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/connect-sessions", in, &out); err != nil {
		return ConnectSession{}, err
	}
	return ConnectSession{ID: out.ID, Token: secret.Secret(out.Token), ConnectURL: secret.Secret(out.ConnectURL), ExpiresAt: out.ExpiresAt}, nil
}

// OwnerRemoval is the outcome of RemoveExternalUser for one account.
type OwnerRemoval struct {
	AccountID   string `json:"account_id"`
	Revoked     bool   `json:"revoked"`
	ZoomRevoked bool   `json:"zoom_revoked"`
}

// RemoveExternalUser removes an external user from every account it owns;
// accounts left without an owner are revoked.
func (c *Client) RemoveExternalUser(ctx context.Context, externalUserID string) ([]OwnerRemoval, error) {
	var out struct {
		Accounts []OwnerRemoval `json:"accounts"`
	}
	err := c.do(ctx, http.MethodDelete, "/v1/accounts?"+url.Values{"external_user_id": {externalUserID}}.Encode(), nil, &out)
	return out.Accounts, err
}
