package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// Headers of a delivery request.
const (
	HeaderSignature = "X-Zoombroker-Signature"
	HeaderTimestamp = "X-Zoombroker-Request-Timestamp"
	HeaderEventID   = "X-Zoombroker-Event-Id"
	HeaderEventType = "X-Zoombroker-Event-Type"
)

// Event is the JSON body of a delivery.
type Event struct {
	ID        string      `json:"id"`
	Type      string      `json:"type"`
	CreatedAt time.Time   `json:"created_at"`
	Account   AccountJSON `json:"account"`
}

// AccountJSON is an account as GET /v1/accounts/{id} shows it. It carries
// no token. A test compares its fields with the API's.
type AccountJSON struct {
	ID                   string         `json:"id"`
	App                  store.App      `json:"app"`
	Status               string         `json:"status"`
	Zoom                 ZoomJSON       `json:"zoom"`
	Scopes               []string       `json:"scopes"`
	CreatedAt            time.Time      `json:"created_at"`
	UpdatedAt            time.Time      `json:"updated_at"`
	TokenExpiresAt       *time.Time     `json:"token_expires_at"`
	LastRefreshedAt      *time.Time     `json:"last_refreshed_at"`
	RefreshTokenIssuedAt *time.Time     `json:"refresh_token_issued_at"`
	NextRefreshAt        *time.Time     `json:"next_refresh_at"`
	LastError            *LastErrorJSON `json:"last_error"`
	ExternalUserIDs      []string       `json:"external_user_ids"`
	ConsoleConnected     bool           `json:"console_connected"`
	RevokedAt            *time.Time     `json:"revoked_at,omitempty"`
	RevokeReason         string         `json:"revoke_reason,omitempty"`
}

// ZoomJSON is the Zoom identity of an account.
type ZoomJSON struct {
	UserID      string `json:"user_id"`
	AccountID   string `json:"account_id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

// LastErrorJSON is an account's last failure.
type LastErrorJSON struct {
	Code    string     `json:"code"`
	Message string     `json:"message"`
	At      *time.Time `json:"at"`
}

// NewAccountJSON returns the JSON view of a.
func NewAccountJSON(a store.Account) AccountJSON {
	v := AccountJSON{
		ID:                   a.ID,
		App:                  a.App,
		Status:               string(a.Status),
		Zoom:                 ZoomJSON{UserID: a.Zoom.UserID, AccountID: a.Zoom.AccountID, Email: a.Zoom.Email, DisplayName: a.Zoom.DisplayName},
		Scopes:               a.Scopes,
		CreatedAt:            a.CreatedAt.UTC(),
		UpdatedAt:            a.UpdatedAt.UTC(),
		TokenExpiresAt:       timePtr(a.TokenExpiresAt),
		LastRefreshedAt:      timePtr(a.LastRefreshedAt),
		RefreshTokenIssuedAt: timePtr(a.RefreshTokenIssuedAt),
		NextRefreshAt:        timePtr(a.NextRefreshAt),
		RevokedAt:            timePtr(a.RevokedAt),
		RevokeReason:         a.RevokeReason,
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	v.ExternalUserIDs = a.Owners
	v.ConsoleConnected = a.ConsoleConnected
	if v.ExternalUserIDs == nil {
		v.ExternalUserIDs = []string{}
	}
	if a.LastErrorCode != "" {
		v.LastError = &LastErrorJSON{Code: a.LastErrorCode, Message: a.LastError, At: timePtr(a.LastErrorAt)}
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Sign returns the X-Zoombroker-Signature value of body sent at timestamp
// (Unix seconds): "v1=" and the hex HMAC-SHA256 of "v1:{timestamp}:{body}"
// keyed with the endpoint's secret.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v1:" + strconv.FormatInt(timestamp, 10) + ":"))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// newID returns prefix and 20 random lowercase base32 characters.
func newID(prefix string) string {
	b := make([]byte, 13)
	rand.Read(b) // crypto/rand.Read returns no error since Go 1.24; it crashes the program instead
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:20]
}
