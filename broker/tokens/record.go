package tokens

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// tokenRecord is the plaintext inside an account's sealed token blob.
type tokenRecord struct {
	AccessToken  secret.Secret
	RefreshToken secret.Secret
	Expiry       time.Time
	IssuedAt     time.Time
	Scopes       []string
}

// wireRecord is the JSON form. It is the one place the secrets are written
// out, and only into the sealer.
type wireRecord struct {
	Version      int       `json:"v"`
	AccessToken  string    `json:"at"`
	RefreshToken string    `json:"rt"`
	Expiry       time.Time `json:"exp"`
	IssuedAt     time.Time `json:"iat"`
	Scopes       []string  `json:"scp,omitempty"`
}

// aad binds a sealed blob to its account, so a blob copied to another
// account does not open.
func aad(accountID string) []byte { return []byte("zoombroker/account/" + accountID) }

func (s *Service) sealRecord(accountID string, r tokenRecord) ([]byte, error) {
	plain, err := json.Marshal(wireRecord{
		Version:      1,
		AccessToken:  r.AccessToken.Reveal(),
		RefreshToken: r.RefreshToken.Reveal(),
		Expiry:       r.Expiry.UTC(),
		IssuedAt:     r.IssuedAt.UTC(),
		Scopes:       r.Scopes,
	})
	if err != nil {
		return nil, fmt.Errorf("encode token record: %w", err)
	}
	blob, err := s.sealer.Seal(aad(accountID), plain)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("seal token record: %w", err)
	}
	return blob, nil
}

func (s *Service) openRecord(accountID string, blob []byte) (tokenRecord, error) {
	plain, err := s.sealer.Open(aad(accountID), blob)
	if err != nil {
		return tokenRecord{}, fmt.Errorf("open token record of account %s: %w", accountID, err)
	}
	defer clear(plain)

	var w wireRecord
	if err := json.Unmarshal(plain, &w); err != nil {
		return tokenRecord{}, fmt.Errorf("decode token record of account %s: %w", accountID, err)
	}
	if w.Version != 1 {
		return tokenRecord{}, fmt.Errorf("decode token record of account %s: unknown version %d", accountID, w.Version)
	}
	return tokenRecord{
		AccessToken:  secret.Secret(w.AccessToken),
		RefreshToken: secret.Secret(w.RefreshToken),
		Expiry:       w.Expiry,
		IssuedAt:     w.IssuedAt,
		Scopes:       w.Scopes,
	}, nil
}
