package tokens

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// RevokeResult is the outcome of a revoke.
type RevokeResult struct {
	Account store.Account

	// AlreadyRevoked is true when the account was a tombstone already;
	// nothing was sent to Zoom.
	AlreadyRevoked bool

	// ZoomRevoked is true when Zoom confirmed the revoke.
	ZoomRevoked bool

	// ZoomError describes why the revoke at Zoom failed; the local delete
	// happened anyway.
	ZoomError error
}

// Revoke revokes the grant at Zoom and deletes the account's tokens and
// personal fields, leaving a tombstone with the reason. Revoking a
// tombstone again changes nothing. A failure at Zoom does not stop the local
// delete; it is reported in RevokeResult.ZoomError.
func (s *Service) Revoke(ctx context.Context, id, reason string) (RevokeResult, error) {
	acct, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return RevokeResult{}, fmt.Errorf("get account %s: %w", id, err)
	}
	if acct.Status == store.StatusRevoked {
		return RevokeResult{Account: acct, AlreadyRevoked: true}, nil
	}

	res := RevokeResult{}
	res.ZoomError = s.revokeAtZoom(ctx, acct)
	res.ZoomRevoked = res.ZoomError == nil
	if res.ZoomError != nil {
		s.log.Warn("revoke at zoom failed, deleting tokens anyway", "account_id", id, "err", res.ZoomError)
	}

	acct, err = s.Tombstone(ctx, id, reason)
	if err != nil {
		return RevokeResult{}, err
	}
	res.Account = acct
	s.emit(ctx, EventRevoked, acct)
	s.log.Info("account revoked", "account_id", id, "app", string(acct.App), "zoom_revoked", res.ZoomRevoked)
	return res, nil
}

// revokeAtZoom sends the grant's token to Zoom's revoke endpoint, which
// revokes the whole grant.
func (s *Service) revokeAtZoom(ctx context.Context, acct store.Account) error {
	cred, ok := s.Credentials(acct.App)
	if !ok {
		return fmt.Errorf("revoke account %s: %w: %s", acct.ID, ErrAppNotConfigured, acct.App)
	}
	rec, err := s.record(acct)
	if err != nil {
		return err
	}

	// Zoom documents the access token as the revoke parameter. An expired
	// one may be refused, so the refresh token goes instead when the access
	// token has less than a minute left.
	// NOTE: Zoom does not document revoking with a refresh token; the
	// sandbox accepts both.
	token := rec.AccessToken
	if !s.hasLife(rec, time.Minute) {
		token = rec.RefreshToken
	}

	rctx, cancel := context.WithTimeout(ctx, s.zoomTimeout)
	defer cancel()
	return s.zoom.Revoke(rctx, cred, token)
}

// Tombstone erases the account's tokens and personal fields and marks it
// revoked with reason. It does not call Zoom.
func (s *Service) Tombstone(ctx context.Context, id, reason string) (store.Account, error) {
	now := s.now().UTC()
	acct, err := s.store.UpdateAccount(ctx, id, func(a store.Account) (store.Account, error) {
		a.Status = store.StatusRevoked
		a.Token = nil
		a.TokenVersion++
		a.Zoom = store.ZoomIdentity{}
		a.Scopes = nil
		a.Owners = nil
		a.TokenExpiresAt = time.Time{}
		a.RefreshTokenIssuedAt = time.Time{}
		a.RefreshStartedAt = time.Time{}
		a.NextRefreshAt = time.Time{}
		a.RevokedAt = now
		a.RevokeReason = reason
		a.UpdatedAt = now
		clearFailure(&a)
		return a, nil
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("revoke account %s: %w", id, err)
	}
	s.cache.Delete(id)
	return acct, nil
}

// IsUnavailable reports whether err is a transient failure with a wait.
func IsUnavailable(err error) (*UnavailableError, bool) {
	var u *UnavailableError
	ok := errors.As(err, &u)
	return u, ok
}

// Deauthorize handles Zoom's notice that a user removed the app: the
// matching account loses its tokens and personal fields at once and
// becomes a tombstone. The account matches by Zoom user id for zoom and by
// Zoom account id for zoom_admin, as a grant of each app is bound. It
// returns false when no live account matches, which is not an error: the
// notice may repeat, or the account was revoked here first.
func (s *Service) Deauthorize(ctx context.Context, app store.App, zoomUserID, zoomAccountID string) (store.Account, bool, error) {
	acct, err := s.store.FindAccount(ctx, app, store.ZoomIdentity{UserID: zoomUserID, AccountID: zoomAccountID})
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, false, nil
	}
	if err != nil {
		return store.Account{}, false, fmt.Errorf("find account of deauthorized grant: %w", err)
	}

	acct, err = s.Tombstone(ctx, acct.ID, "deauthorized at Zoom: the user removed the app")
	if err != nil {
		return store.Account{}, false, err
	}
	s.emit(ctx, EventDeauthorized, acct)
	s.log.Info("account deauthorized at zoom", "account_id", acct.ID, "app", string(app))
	return acct, true, nil
}

// PruneTombstones deletes tombstones revoked before cutoff and returns how
// many it deleted.
func (s *Service) PruneTombstones(ctx context.Context, cutoff time.Time) (int, error) {
	var old []string
	after := ""
	for {
		page, next, err := s.store.ListAccounts(ctx, store.ListOptions{Filter: store.AccountFilter{Status: store.StatusRevoked}, After: after, Limit: 500})
		if err != nil {
			return 0, fmt.Errorf("list tombstones: %w", err)
		}
		for _, a := range page {
			if a.RevokedAt.Before(cutoff) {
				old = append(old, a.ID)
			}
		}
		if next == "" {
			break
		}
		after = next
	}

	deleted := 0
	for _, id := range old {
		err := s.store.DeleteAccount(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return deleted, fmt.Errorf("delete tombstone %s: %w", id, err)
		}
		deleted++
	}
	if deleted > 0 {
		s.log.Info("tombstones pruned", "count", deleted, "revoked_before", cutoff)
	}
	return deleted, nil
}

// OwnerRemoval is the outcome of RemoveOwner for one account.
type OwnerRemoval struct {
	AccountID string

	// Revoked is true when the account had no owner left and was revoked.
	Revoked bool

	// ZoomRevoked is false when the revoke at Zoom failed; the tokens were
	// deleted here anyway.
	ZoomRevoked bool
}

// RemoveOwner removes an external user from every account it owns, as its
// data-deletion request asks. An account left with no owner, and not
// connected in the console, is revoked at Zoom and becomes a tombstone.
func (s *Service) RemoveOwner(ctx context.Context, externalUserID string) ([]OwnerRemoval, error) {
	var owned []string
	after := ""
	for {
		page, next, err := s.store.ListAccounts(ctx, store.ListOptions{Filter: store.AccountFilter{ExternalUserID: externalUserID}, After: after, Limit: 500})
		if err != nil {
			return nil, fmt.Errorf("list accounts of owner: %w", err)
		}
		for _, a := range page {
			owned = append(owned, a.ID)
		}
		if next == "" {
			break
		}
		after = next
	}

	var out []OwnerRemoval
	for _, id := range owned {
		acct, err := s.store.UpdateAccount(ctx, id, func(a store.Account) (store.Account, error) {
			a.Owners = slices.DeleteFunc(slices.Clone(a.Owners), func(o string) bool { return o == externalUserID })
			a.UpdatedAt = s.now().UTC()
			return a, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("remove owner from account %s: %w", id, err)
		}

		r := OwnerRemoval{AccountID: id}
		if len(acct.Owners) == 0 && !acct.ConsoleConnected && acct.Status != store.StatusRevoked {
			res, err := s.Revoke(ctx, id, "its last owner asked for the data to be deleted")
			if err != nil {
				return out, err
			}
			r.Revoked, r.ZoomRevoked = true, res.ZoomRevoked
		}
		out = append(out, r)
	}
	return out, nil
}
