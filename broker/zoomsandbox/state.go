package zoomsandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// savedGrant is a live grant as the state file keeps it.
type savedGrant struct {
	ClientID       string    `json:"client_id"`
	Subject        string    `json:"subject"`
	UserID         string    `json:"user_id"`
	Scopes         []string  `json:"scopes"`
	AccessToken    string    `json:"access_token"`
	AccessExpires  time.Time `json:"access_expires"`
	RefreshToken   string    `json:"refresh_token"`
	RefreshExpires time.Time `json:"refresh_expires"`
	Tolerance      int       `json:"tolerance"`
}

// loadState restores the live grants from the state file, skipping grants
// of apps or users that are no longer configured. A missing file is an
// empty state.
func (s *Sandbox) loadState() error {
	raw, err := os.ReadFile(s.stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read sandbox state: %w", err)
	}
	var saved []savedGrant
	if err := json.Unmarshal(raw, &saved); err != nil {
		return fmt.Errorf("decode sandbox state %s: %w", s.stateFile, err)
	}

	for _, sg := range saved {
		app, okApp := s.apps[sg.ClientID]
		user, okUser := s.users[sg.UserID]
		if !okApp || !okUser {
			continue
		}
		g := &grant{
			key:            s.keyFor(app, user),
			user:           user,
			scopes:         sg.Scopes,
			accessToken:    sg.AccessToken,
			accessExpires:  sg.AccessExpires,
			refreshToken:   sg.RefreshToken,
			refreshExpires: sg.RefreshExpires,
			tolerance:      sg.Tolerance,
		}
		s.grants[g.key] = g
		s.access[g.accessToken] = g
		s.refresh[g.refreshToken] = g
	}
	return nil
}

// saveState writes the live grants to the state file, replacing it
// atomically. The caller holds s.mu. A failure is logged: the sandbox keeps
// working from memory.
func (s *Sandbox) saveState() {
	if s.stateFile == "" {
		return
	}
	saved := make([]savedGrant, 0, len(s.grants))
	for _, g := range s.grants {
		saved = append(saved, savedGrant{
			ClientID: g.key.clientID, Subject: g.key.subject, UserID: g.user.ID, Scopes: g.scopes,
			AccessToken: g.accessToken, AccessExpires: g.accessExpires,
			RefreshToken: g.refreshToken, RefreshExpires: g.refreshExpires, Tolerance: g.tolerance,
		})
	}
	raw, err := json.Marshal(saved)
	if err == nil {
		tmp := s.stateFile + ".tmp"
		if err = os.WriteFile(tmp, raw, 0o600); err == nil {
			err = os.Rename(tmp, s.stateFile)
		}
	}
	if err != nil {
		s.log.Error("save sandbox state failed", "file", filepath.Base(s.stateFile), "err", err)
	}
}
