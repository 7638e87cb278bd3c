package postgres

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/zoombroker/zoombroker/store"
)

// accountColumns lists the columns that scanAccount reads, in its order.
const accountColumns = `id, app, status, zoom_user_id, zoom_account_id, zoom_email, zoom_display_name,
	scopes, owners, console_connected, created_at, updated_at, token, token_version, token_expires_at, refresh_token_issued_at,
	last_refreshed_at, next_refresh_at, refresh_started_at, last_error_code, last_error, last_error_at, transient_failures,
	revoked_at, revoke_reason`

// accountValues returns the values of every column of accountColumns, and
// zoom_email_folded last, for an INSERT or UPDATE.
func accountValues(a store.Account) []any {
	scopes, owners := a.Scopes, a.Owners
	if scopes == nil {
		scopes = []string{}
	}
	if owners == nil {
		owners = []string{}
	}
	return []any{
		a.ID, string(a.App), string(a.Status), a.Zoom.UserID, a.Zoom.AccountID, a.Zoom.Email, a.Zoom.DisplayName,
		scopes, owners, a.ConsoleConnected, nullTime(a.CreatedAt), nullTime(a.UpdatedAt), a.Token, a.TokenVersion, nullTime(a.TokenExpiresAt),
		nullTime(a.RefreshTokenIssuedAt), nullTime(a.LastRefreshedAt), nullTime(a.NextRefreshAt), nullTime(a.RefreshStartedAt),
		a.LastErrorCode, a.LastError, nullTime(a.LastErrorAt), a.TransientFailures,
		nullTime(a.RevokedAt), a.RevokeReason,
		foldEmail(a.Zoom.Email),
	}
}

// foldEmail is the form of an email address that the case-insensitive
// email filter compares.
func foldEmail(email string) string { return strings.ToLower(email) }

// scanAccount reads one row of accountColumns.
func scanAccount(row pgx.Row) (store.Account, error) {
	var (
		a                                                  store.Account
		app, status                                        string
		created, updated, expires, issued, refreshed, next pgtype.Timestamptz
		started, errorAt, revoked                          pgtype.Timestamptz
	)
	err := row.Scan(
		&a.ID, &app, &status, &a.Zoom.UserID, &a.Zoom.AccountID, &a.Zoom.Email, &a.Zoom.DisplayName,
		&a.Scopes, &a.Owners, &a.ConsoleConnected, &created, &updated, &a.Token, &a.TokenVersion, &expires, &issued,
		&refreshed, &next, &started, &a.LastErrorCode, &a.LastError, &errorAt, &a.TransientFailures,
		&revoked, &a.RevokeReason,
	)
	if err != nil {
		return store.Account{}, err
	}

	a.App = store.App(app)
	a.Status = store.Status(status)
	if len(a.Scopes) == 0 {
		a.Scopes = nil
	}
	if len(a.Owners) == 0 {
		a.Owners = nil
	}
	a.CreatedAt = timeOf(created)
	a.UpdatedAt = timeOf(updated)
	a.TokenExpiresAt = timeOf(expires)
	a.RefreshTokenIssuedAt = timeOf(issued)
	a.LastRefreshedAt = timeOf(refreshed)
	a.NextRefreshAt = timeOf(next)
	a.RefreshStartedAt = timeOf(started)
	a.LastErrorAt = timeOf(errorAt)
	a.RevokedAt = timeOf(revoked)
	return a, nil
}

// nullTime returns t in UTC, or nil (SQL NULL) for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// timeOf returns a scanned timestamptz in UTC, or the zero time for NULL.
func timeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
