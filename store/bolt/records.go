package bolt

import (
	"slices"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// accountRecord is the stored form of [store.Account]. Its JSON names are
// the file format: rename a field only with a schema migration.
type accountRecord struct {
	ID              string `json:"id"`
	App             string `json:"app"`
	Status          string `json:"status"`
	ZoomUserID      string `json:"zoom_user_id,omitempty"`
	ZoomAccountID   string `json:"zoom_account_id,omitempty"`
	ZoomEmail       string `json:"zoom_email,omitempty"`
	ZoomDisplayName string `json:"zoom_display_name,omitempty"`

	Scopes    []string  `json:"scopes,omitempty"`
	Owners    []string  `json:"owners,omitempty"`
	Console   bool      `json:"console_connected,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	Token                []byte    `json:"token,omitempty"`
	TokenVersion         int64     `json:"token_version,omitzero"`
	TokenExpiresAt       time.Time `json:"token_expires_at,omitzero"`
	RefreshTokenIssuedAt time.Time `json:"refresh_token_issued_at,omitzero"`
	LastRefreshedAt      time.Time `json:"last_refreshed_at,omitzero"`
	NextRefreshAt        time.Time `json:"next_refresh_at,omitzero"`
	RefreshStartedAt     time.Time `json:"refresh_started_at,omitzero"`

	LastErrorCode     string    `json:"last_error_code,omitempty"`
	LastError         string    `json:"last_error,omitempty"`
	LastErrorAt       time.Time `json:"last_error_at,omitzero"`
	TransientFailures int       `json:"transient_failures,omitzero"`

	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
}

// accountFilterFields is the part of accountRecord that ListAccounts
// filters on. Decoding into it skips the token and the other fields.
type accountFilterFields struct {
	App           string   `json:"app"`
	Status        string   `json:"status"`
	ZoomUserID    string   `json:"zoom_user_id"`
	ZoomAccountID string   `json:"zoom_account_id"`
	ZoomEmail     string   `json:"zoom_email"`
	Owners        []string `json:"owners"`
}

func toRecord(a store.Account) accountRecord {
	return accountRecord{
		ID:                   a.ID,
		App:                  string(a.App),
		Status:               string(a.Status),
		ZoomUserID:           a.Zoom.UserID,
		ZoomAccountID:        a.Zoom.AccountID,
		ZoomEmail:            a.Zoom.Email,
		ZoomDisplayName:      a.Zoom.DisplayName,
		Scopes:               a.Scopes,
		Owners:               a.Owners,
		Console:              a.ConsoleConnected,
		CreatedAt:            utc(a.CreatedAt),
		UpdatedAt:            utc(a.UpdatedAt),
		Token:                a.Token,
		TokenVersion:         a.TokenVersion,
		TokenExpiresAt:       utc(a.TokenExpiresAt),
		RefreshTokenIssuedAt: utc(a.RefreshTokenIssuedAt),
		LastRefreshedAt:      utc(a.LastRefreshedAt),
		NextRefreshAt:        utc(a.NextRefreshAt),
		RefreshStartedAt:     utc(a.RefreshStartedAt),
		LastErrorCode:        a.LastErrorCode,
		LastError:            a.LastError,
		LastErrorAt:          utc(a.LastErrorAt),
		TransientFailures:    a.TransientFailures,
		RevokedAt:            utc(a.RevokedAt),
		RevokeReason:         a.RevokeReason,
	}
}

// fromRecord returns the account of a freshly decoded record, whose slices
// belong to no one else.
func fromRecord(r accountRecord) store.Account {
	return store.Account{
		ID:  r.ID,
		App: store.App(r.App),
		Zoom: store.ZoomIdentity{
			UserID:      r.ZoomUserID,
			AccountID:   r.ZoomAccountID,
			Email:       r.ZoomEmail,
			DisplayName: r.ZoomDisplayName,
		},
		Status:               store.Status(r.Status),
		Scopes:               r.Scopes,
		Owners:               r.Owners,
		ConsoleConnected:     r.Console,
		CreatedAt:            utc(r.CreatedAt),
		UpdatedAt:            utc(r.UpdatedAt),
		Token:                r.Token,
		TokenVersion:         r.TokenVersion,
		TokenExpiresAt:       utc(r.TokenExpiresAt),
		RefreshTokenIssuedAt: utc(r.RefreshTokenIssuedAt),
		LastRefreshedAt:      utc(r.LastRefreshedAt),
		NextRefreshAt:        utc(r.NextRefreshAt),
		RefreshStartedAt:     utc(r.RefreshStartedAt),
		LastErrorCode:        r.LastErrorCode,
		LastError:            r.LastError,
		LastErrorAt:          utc(r.LastErrorAt),
		TransientFailures:    r.TransientFailures,
		RevokedAt:            utc(r.RevokedAt),
		RevokeReason:         r.RevokeReason,
	}
}

// apiKeyRecord is the stored form of [store.APIKey].
type apiKeyRecord struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Hash       []byte    `json:"hash"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`

	LimitApps          []string  `json:"limit_apps,omitempty"`
	LimitAccountIDs    []string  `json:"limit_account_ids,omitempty"`
	LimitExternalUsers []string  `json:"limit_external_user_ids,omitempty"`
	ExpiresAt          time.Time `json:"expires_at,omitzero"`
}

func toAPIKeyRecord(k store.APIKey) apiKeyRecord {
	var apps []string
	for _, a := range k.Limits.Apps {
		apps = append(apps, string(a))
	}
	return apiKeyRecord{
		ID:                 k.ID,
		Name:               k.Name,
		Hash:               k.Hash,
		CreatedAt:          utc(k.CreatedAt),
		RevokedAt:          utc(k.RevokedAt),
		LastUsedAt:         utc(k.LastUsedAt),
		LimitApps:          apps,
		LimitAccountIDs:    slices.Clone(k.Limits.AccountIDs),
		LimitExternalUsers: slices.Clone(k.Limits.ExternalUserIDs),
		ExpiresAt:          utc(k.ExpiresAt),
	}
}

func fromAPIKeyRecord(r apiKeyRecord) store.APIKey {
	var apps []store.App
	for _, a := range r.LimitApps {
		apps = append(apps, store.App(a))
	}
	return store.APIKey{
		ID:         r.ID,
		Name:       r.Name,
		Hash:       r.Hash,
		CreatedAt:  utc(r.CreatedAt),
		RevokedAt:  utc(r.RevokedAt),
		LastUsedAt: utc(r.LastUsedAt),
		Limits: store.Limits{
			Apps:            apps,
			AccountIDs:      slices.Clone(r.LimitAccountIDs),
			ExternalUserIDs: slices.Clone(r.LimitExternalUsers),
		},
		ExpiresAt: utc(r.ExpiresAt),
	}
}

// operatorRecord is the stored form of [store.Operator].
type operatorRecord struct {
	Name         string    `json:"name"`
	PasswordHash []byte    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	SessionEpoch int64     `json:"session_epoch,omitzero"`
}

func toOperatorRecord(o store.Operator) operatorRecord {
	return operatorRecord{Name: o.Name, PasswordHash: o.PasswordHash, CreatedAt: utc(o.CreatedAt), SessionEpoch: o.SessionEpoch}
}

func fromOperatorRecord(r operatorRecord) store.Operator {
	return store.Operator{Name: r.Name, PasswordHash: r.PasswordHash, CreatedAt: utc(r.CreatedAt), SessionEpoch: r.SessionEpoch}
}

// utc returns t in UTC without its monotonic reading, and keeps the zero
// time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
