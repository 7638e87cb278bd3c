package zoomsandbox

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// faults are the failures tests asked for. A count below zero means
// "until ClearFailures".
type faults struct {
	failStatus int
	failLeft   int
	retryAfter time.Duration
	dropsLeft  int
	latency    time.Duration
}

func (f *faults) takeFailure() (status int, retryAfter time.Duration, ok bool) {
	if f.failLeft == 0 {
		return 0, 0, false
	}
	if f.failLeft > 0 {
		f.failLeft--
	}
	return f.failStatus, f.retryAfter, true
}

func (f *faults) takeDrop() bool {
	if f.dropsLeft == 0 {
		return false
	}
	if f.dropsLeft > 0 {
		f.dropsLeft--
	}
	return true
}

// counts are the token and revoke requests received, failed ones included.
type counts struct {
	refresh  int
	exchange int
	revoke   int
}

// FailRefreshes makes the next n refresh_token grant requests fail with
// HTTP status, before the client or the refresh token is checked, so the
// grant stays as it was. A negative n fails them until [Sandbox.ClearFailures].
//
// Status 429 gets Zoom's REST rate-limit body
// {"code":429,"message":"You have reached the maximum per-second rate limit
// for this API. Try again later."}. Statuses of 500 and above get an HTML
// page, as a failing proxy would send. Other statuses get a token error
// body {"reason":<status text>,"error":"invalid_request"}. When retryAfter
// is positive, every one of them carries a Retry-After header in whole
// seconds, rounded up.
func (s *Sandbox) FailRefreshes(status int, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failStatus = status
	s.faults.failLeft = n
	s.faults.retryAfter = retryAfter
}

// ClearFailures cancels what [Sandbox.FailRefreshes] and
// [Sandbox.DropRefreshResponses] set up. It keeps the token latency.
func (s *Sandbox) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failLeft = 0
	s.faults.dropsLeft = 0
}

// SetTokenLatency makes every later request to the token endpoint wait d
// before it is handled. The wait ends early, with no response, when the
// client cancels the request. Zero or less turns the latency off.
func (s *Sandbox) SetTokenLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// DropRefreshResponses makes the next n successful refresh_token grants
// rotate the tokens and then close the connection without a response, so
// the client cannot know the outcome and holds a refresh token that is
// already dead. Requests that fail are not counted. A negative n drops
// them until [Sandbox.ClearFailures].
func (s *Sandbox) DropRefreshResponses(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.dropsLeft = n
}

// RefreshCount returns how many refresh_token grant requests the token
// endpoint received, failed and dropped ones included.
func (s *Sandbox) RefreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts.refresh
}

// ExchangeCount returns how many authorization_code grant requests the
// token endpoint received, failed ones included.
func (s *Sandbox) ExchangeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts.exchange
}

// RevokeCount returns how many requests the revoke endpoint received,
// failed ones included.
func (s *Sandbox) RevokeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts.revoke
}

// ExpireAccessTokens makes every current access token expire now, by the
// sandbox's clock. API calls with them get 401 "Access token is expired.".
// Refresh tokens keep working.
func (s *Sandbox) ExpireAccessTokens() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		g.accessExpires = now
	}
}

// InvalidateAccessToken kills one access token, as if Zoom had issued a
// newer one elsewhere: API calls with it get 401 "Invalid access token.".
// Its grant and refresh token keep working. An unknown token is ignored.
func (s *Sandbox) InvalidateAccessToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.access[token]; g != nil {
		delete(s.access, token)
		g.accessToken = ""
	}
}

// Deauthorize removes the live grant of the app clientID that userID
// authorized, as the user removing the app in Zoom would. For an
// account-level app, any user of the grant's account removes it. Every
// token of the grant dies. It returns the grant's account id, and false
// when there was no such grant.
//
// It sends no app_deauthorized webhook.
func (s *Sandbox) Deauthorize(userID string, clientID string) (accountID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	app := s.apps[clientID]
	user, known := s.users[userID]
	for _, g := range s.grants {
		if g.key.clientID != clientID {
			continue
		}
		sameAccount := known && app.Admin && g.key.subject == user.AccountID
		if g.user.ID == userID || sameAccount {
			s.removeGrant(g)
			s.log.Info("zoom sandbox: app deauthorized", "client_id", clientID, "user_id", userID)
			return g.user.AccountID, true
		}
	}
	return "", false
}

// IssuedSecrets returns every authorization code, access token and refresh
// token the sandbox ever issued, oldest first, so a test can check that
// none of them appears in logs or pages.
func (s *Sandbox) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// GrantCount returns the number of live grants.
func (s *Sandbox) GrantCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.grants)
}

// LiveGrant reports whether userID holds a live grant of the app clientID.
// The holder of an account-level app's grant is the admin who authorized
// it.
func (s *Sandbox) LiveGrant(clientID, userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		if g.key.clientID == clientID && g.user.ID == userID {
			return true
		}
	}
	return false
}

// countTokenRequest counts a token request by grant type and returns the
// latency to apply to it.
func (s *Sandbox) countTokenRequest(grantType string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch grantType {
	case "refresh_token":
		s.counts.refresh++
	case "authorization_code":
		s.counts.exchange++
	}
	return s.faults.latency
}

// writeInjectedFailure writes the failure FailRefreshes asked for, if one
// is due, and reports whether it did.
func (s *Sandbox) writeInjectedFailure(w http.ResponseWriter) bool {
	s.mu.Lock()
	status, retryAfter, ok := s.faults.takeFailure()
	s.mu.Unlock()
	if !ok {
		return false
	}

	s.log.Info("zoom sandbox: injecting refresh failure", "status", status)
	if retryAfter > 0 {
		seconds := (retryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(seconds), 10))
	}
	switch {
	case status == http.StatusTooManyRequests:
		writeJSON(w, status, apiError{
			Code:    429,
			Message: "You have reached the maximum per-second rate limit for this API. Try again later.",
		})
	case status >= 500:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte("<html><head><title>" + strconv.Itoa(status) + " " + http.StatusText(status) +
			"</title></head><body><h1>" + http.StatusText(status) + "</h1></body></html>\n"))
	default:
		writeJSON(w, status, tokenError{Reason: http.StatusText(status), Code: "invalid_request"})
	}
	return true
}

// sleepContext waits d and reports whether it did, or returns false as soon
// as ctx ends.
func sleepContext(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// abortConnection closes the client's connection without a response. It
// needs a connection that can be hijacked (HTTP/1.x), and otherwise aborts
// the response with http.ErrAbortHandler, which the server turns into a
// reset stream (HTTP/2) or a closed connection.
func abortConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// GrantRotations returns how many refreshes the live grant of the app
// (by client id) and user has answered, and false when there is no live
// grant. A broker that stored every refresh has the same count.
func (s *Sandbox) GrantRotations(clientID, userID string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		if g.key.clientID == clientID && g.user.ID == userID {
			// tolerance counts access tokens: one from the code exchange,
			// then one per refresh.
			return g.tolerance - 1, true
		}
	}
	return 0, false
}
