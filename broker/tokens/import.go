package tokens

import (
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
)

// NewAccount builds the record of a new active account for a grant, the
// way [Service.Connect] builds it: a fresh id, the Zoom identity, the
// tokens sealed to that id, token version 1 and the first background
// refresh scheduled RefreshLead (minus jitter) before tok.Expiry.
//
// It writes nothing. Connect stores the result with store.CreateAccount.
// A bulk import, such as one that moves grants from another system,
// stores many of them in a few transactions. Unlike Connect it neither
// looks for an existing account of the same identity nor marks the
// account as in use. The caller must not import one grant twice, because
// Zoom keeps only one live grant per user and app.
func (s *Service) NewAccount(app store.App, tok zoom.Token, user zoom.User, opts ConnectOptions) (store.Account, error) {
	id := newAccountID()
	blob, err := s.sealRecord(id, recordOf(tok))
	if err != nil {
		return store.Account{}, err
	}

	now := s.now().UTC()
	acct := store.Account{
		ID:                   id,
		App:                  app,
		Zoom:                 identityOf(user),
		Status:               store.StatusActive,
		Scopes:               tok.Scopes,
		CreatedAt:            now,
		UpdatedAt:            now,
		Token:                blob,
		TokenVersion:         1,
		TokenExpiresAt:       tok.Expiry,
		RefreshTokenIssuedAt: tok.IssuedAt,
		NextRefreshAt:        s.schedule(tok.Expiry),
	}
	opts.apply(&acct)
	return acct, nil
}

// recordOf returns the token record of a grant Zoom issued.
func recordOf(tok zoom.Token) tokenRecord {
	return tokenRecord{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, IssuedAt: tok.IssuedAt, Scopes: tok.Scopes}
}

// identityOf returns the stored identity of a Zoom user.
func identityOf(user zoom.User) store.ZoomIdentity {
	return store.ZoomIdentity{UserID: user.ID, AccountID: user.AccountID, Email: user.Email, DisplayName: user.Name()}
}
