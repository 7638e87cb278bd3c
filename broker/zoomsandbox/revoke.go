package zoomsandbox

import "net/http"

// errRevokeUnknown is the response to a revoke request for a token the
// sandbox did not issue or no longer has.
//
// NOTE: Zoom's body for this case is not documented or seen in public.
// This one reuses the refresh error's reason with invalid_request, which is
// an assumption.
var errRevokeUnknown = &tokenError{Reason: "Invalid Token!", Code: "invalid_request"}

// handleRevoke revokes the grant that owns the token parameter, an access
// token or a refresh token. Like uninstalling the app, that kills every
// token of the grant.
func (s *Sandbox) handleRevoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	parseErr := r.ParseForm()

	s.mu.Lock()
	s.counts.revoke++
	s.mu.Unlock()

	if parseErr != nil {
		s.writeTokenError(w, "", errBadRequest)
		return
	}
	app, err := s.authenticateClient(r)
	if err != nil {
		s.writeTokenError(w, "", err)
		return
	}
	if !s.revokeToken(app, r.Form.Get("token")) {
		s.writeTokenError(w, "", errRevokeUnknown)
		return
	}

	s.log.Info("zoom sandbox: grant revoked", "client_id", app.ClientID)
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

// revokeToken removes the grant of token when it belongs to app, and
// reports whether it found one. An expired access token still names its
// grant.
func (s *Sandbox) revokeToken(app App, token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	g := s.access[token]
	if g == nil {
		g = s.refresh[token]
	}
	if g == nil || g.key.clientID != app.ClientID {
		return false
	}
	s.removeGrant(g)
	return true
}
