package tokens

import (
	"fmt"

	"github.com/zoombroker/zoombroker/broker/seal"
)

// Reseal returns an account's sealed token record sealed again with the
// sealer's current key, and whether it changed. A record already sealed
// with the current key is returned as is. The plaintext never leaves this
// function, and the record is bound to the same account as before.
func Reseal(sealer *seal.Sealer, accountID string, blob []byte) ([]byte, bool, error) {
	id, err := seal.KeyID(blob)
	if err != nil {
		return nil, false, fmt.Errorf("reseal token record of account %s: %w", accountID, err)
	}
	if id == sealer.Current() {
		return blob, false, nil
	}

	plain, err := sealer.Open(aad(accountID), blob)
	if err != nil {
		return nil, false, fmt.Errorf("reseal token record of account %s: %w", accountID, err)
	}
	defer clear(plain)
	resealed, err := sealer.Seal(aad(accountID), plain)
	if err != nil {
		return nil, false, fmt.Errorf("reseal token record of account %s: %w", accountID, err)
	}
	return resealed, true, nil
}
