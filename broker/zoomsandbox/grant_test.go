package zoomsandbox_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

func TestRefreshRotates(t *testing.T) {
	e := newEnv(t)
	first := e.connect(t, userClientID, plainUser)

	second := decodeTokens(t, e.refresh(t, userClientID, first.RefreshToken))
	if second.RefreshToken == first.RefreshToken {
		t.Errorf("refresh returned the same refresh token; want a new one")
	}
	if second.AccessToken == first.AccessToken {
		t.Errorf("refresh returned the same access token; want a new one")
	}
	if second.Scope != first.Scope {
		t.Errorf("refreshed scope = %q; want %q", second.Scope, first.Scope)
	}

	if resp := e.refresh(t, userClientID, first.RefreshToken); resp.status != http.StatusBadRequest || resp.body != invalidTokenBody {
		t.Errorf("refresh with the old token = %d %s; want 400 %s", resp.status, resp.body, invalidTokenBody)
	}
	decodeTokens(t, e.refresh(t, userClientID, second.RefreshToken))

	if got := e.sb.RefreshCount(); got != 3 {
		t.Errorf("RefreshCount() = %d; want 3", got)
	}
}

func TestRefreshRejects(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	tests := []struct {
		name     string
		clientID string
		token    string
	}{
		{"unknown token", userClientID, "made-up"},
		{"empty token", userClientID, ""},
		{"access token", userClientID, tok.AccessToken},
		{"other client", adminClientID, tok.RefreshToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.refresh(t, tt.clientID, tt.token)
			if resp.status != http.StatusBadRequest || resp.body != invalidTokenBody {
				t.Errorf("refresh = %d %s; want 400 %s", resp.status, resp.body, invalidTokenBody)
			}
		})
	}
	if !e.sb.LiveGrant(userClientID, plainUser) {
		t.Errorf("LiveGrant after rejected refreshes = false; want true")
	}
}

func TestRefreshTokenIdleExpiry(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	e.clock.Advance(90 * 24 * time.Hour)
	if resp := e.refresh(t, userClientID, tok.RefreshToken); resp.body != invalidTokenBody {
		t.Errorf("refresh after 90 idle days = %d %s; want 400 %s", resp.status, resp.body, invalidTokenBody)
	}
}

func TestOldAccessTokenDies(t *testing.T) {
	e := newEnv(t)
	first := e.connect(t, userClientID, plainUser)
	second := decodeTokens(t, e.refresh(t, userClientID, first.RefreshToken))

	resp := e.api(t, http.MethodGet, "/v2/users/me", first.AccessToken, "")
	if resp.status != http.StatusUnauthorized || resp.body != badAccessBody {
		t.Errorf("users/me with the replaced token = %d %s; want 401 %s", resp.status, resp.body, badAccessBody)
	}
	if resp := e.api(t, http.MethodGet, "/v2/users/me", second.AccessToken, ""); resp.status != http.StatusOK {
		t.Errorf("users/me with the new token = %d; want 200", resp.status)
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	tests := []struct {
		name   string
		expire func(e *env)
	}{
		{"clock", func(e *env) { e.clock.Advance(3599 * time.Second) }},
		{"ExpireAccessTokens", func(e *env) { e.sb.ExpireAccessTokens() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.connect(t, userClientID, plainUser)
			if resp := e.api(t, http.MethodGet, "/v2/users/me", tok.AccessToken, ""); resp.status != http.StatusOK {
				t.Fatalf("users/me before expiry = %d; want 200", resp.status)
			}

			tt.expire(e)
			resp := e.api(t, http.MethodGet, "/v2/users/me", tok.AccessToken, "")
			if resp.status != http.StatusUnauthorized || resp.body != expiredBody {
				t.Errorf("users/me after expiry = %d %s; want 401 %s", resp.status, resp.body, expiredBody)
			}
			decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
		})
	}
}

func TestInvalidateAccessToken(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	e.sb.InvalidateAccessToken(tok.AccessToken)

	resp := e.api(t, http.MethodGet, "/v2/users/me", tok.AccessToken, "")
	if resp.status != http.StatusUnauthorized || resp.body != badAccessBody {
		t.Errorf("users/me with an invalidated token = %d %s; want 401 %s", resp.status, resp.body, badAccessBody)
	}
	decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
}

func TestReauthorizeKillsGrant(t *testing.T) {
	secondAdmin := zoomsandbox.User{
		ID: "sbxSecondAdmin", AccountID: zoomsandbox.DefaultAccountID, Email: "second.admin@example.com",
		FirstName: "Second", LastName: "Admin", Admin: true,
	}
	otherAccount := zoomsandbox.User{
		ID: "sbxOtherAdmin", AccountID: "sbxOtherAccount", Email: "other.admin@example.com",
		FirstName: "Other", LastName: "Admin", Admin: true,
	}
	tests := []struct {
		name      string
		clientID  string
		firstUser string
		nextUser  string
		wantDead  bool
	}{
		{"user app, same user", userClientID, plainUser, plainUser, true},
		{"user app, other user", userClientID, plainUser, adminUser, false},
		{"admin app, same account", adminClientID, zoomsandbox.DefaultAdminUserID, secondAdmin.ID, true},
		{"admin app, other account", adminClientID, zoomsandbox.DefaultAdminUserID, otherAccount.ID, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *zoomsandbox.Options) {
				o.Users = append(zoomsandbox.DefaultUsers(), secondAdmin, otherAccount)
			})
			first := e.connect(t, tt.clientID, tt.firstUser)
			e.connect(t, tt.clientID, tt.nextUser)

			resp := e.refresh(t, tt.clientID, first.RefreshToken)
			if gotDead := resp.body == invalidTokenBody; gotDead != tt.wantDead {
				t.Errorf("refresh of the first grant = %d %s; want dead %t", resp.status, resp.body, tt.wantDead)
			}
			wantGrants := 2
			if tt.wantDead {
				wantGrants = 1
			}
			if got := e.sb.GrantCount(); got != wantGrants {
				t.Errorf("GrantCount() = %d; want %d", got, wantGrants)
			}
		})
	}
}

func TestReauthorizeKillsAccessToken(t *testing.T) {
	e := newEnv(t)
	first := e.connect(t, userClientID, plainUser)
	e.connect(t, userClientID, plainUser)
	resp := e.api(t, http.MethodGet, "/v2/users/me", first.AccessToken, "")
	if resp.status != http.StatusUnauthorized || resp.body != badAccessBody {
		t.Errorf("users/me with the earlier grant's token = %d %s; want 401 %s", resp.status, resp.body, badAccessBody)
	}
	if got := e.sb.GrantCount(); got != 1 {
		t.Errorf("GrantCount() = %d; want 1", got)
	}
}

func revokeForm(token string) url.Values { return url.Values{"token": {token}} }

func (e *env) revoke(t *testing.T, clientID, secret, token string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/revoke", strings.NewReader(revokeForm(token).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	return e.do(t, req)
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		name  string
		token func(tokenBody) string
	}{
		{"access token", func(tok tokenBody) string { return tok.AccessToken }},
		{"refresh token", func(tok tokenBody) string { return tok.RefreshToken }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.connect(t, userClientID, plainUser)

			resp := e.revoke(t, userClientID, userSecret, tt.token(tok))
			if want := `{"status":"success"}`; resp.status != http.StatusOK || resp.body != want {
				t.Errorf("revoke = %d %s; want 200 %s", resp.status, resp.body, want)
			}
			if resp := e.refresh(t, userClientID, tok.RefreshToken); resp.body != invalidTokenBody {
				t.Errorf("refresh after revoke = %d %s; want 400 %s", resp.status, resp.body, invalidTokenBody)
			}
			if resp := e.api(t, http.MethodGet, "/v2/users/me", tok.AccessToken, ""); resp.status != http.StatusUnauthorized {
				t.Errorf("users/me after revoke = %d; want 401", resp.status)
			}
			if e.sb.LiveGrant(userClientID, plainUser) {
				t.Errorf("LiveGrant after revoke = true; want false")
			}

			want := `{"reason":"Invalid Token!","error":"invalid_request"}`
			if resp := e.revoke(t, userClientID, userSecret, tt.token(tok)); resp.status != http.StatusBadRequest || resp.body != want {
				t.Errorf("second revoke = %d %s; want 400 %s", resp.status, resp.body, want)
			}
			if got := e.sb.RevokeCount(); got != 2 {
				t.Errorf("RevokeCount() = %d; want 2", got)
			}
		})
	}
}

func TestRevokeRejects(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	tests := []struct {
		name     string
		clientID string
		secret   string
		want     string
	}{
		{"bad secret", userClientID, "wrong", `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`},
		{"other client", adminClientID, adminSecret, `{"reason":"Invalid Token!","error":"invalid_request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.revoke(t, tt.clientID, tt.secret, tok.AccessToken)
			if resp.status != http.StatusBadRequest || resp.body != tt.want {
				t.Errorf("revoke = %d %s; want 400 %s", resp.status, resp.body, tt.want)
			}
		})
	}
	if !e.sb.LiveGrant(userClientID, plainUser) {
		t.Errorf("LiveGrant after rejected revokes = false; want true")
	}
}

func TestDeauthorize(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)

	account, ok := e.sb.Deauthorize(plainUser, userClientID)
	if !ok || account != zoomsandbox.DefaultAccountID {
		t.Errorf("Deauthorize = %q, %t; want %q, true", account, ok, zoomsandbox.DefaultAccountID)
	}
	if resp := e.refresh(t, userClientID, tok.RefreshToken); resp.body != invalidTokenBody {
		t.Errorf("refresh after Deauthorize = %d %s; want 400 %s", resp.status, resp.body, invalidTokenBody)
	}
	if _, ok := e.sb.Deauthorize(plainUser, userClientID); ok {
		t.Errorf("second Deauthorize ok = true; want false")
	}
}

func TestConcurrentRefresh(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)

	const callers = 50
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		statuses = make(chan response, callers)
	)
	for range callers {
		wg.Go(func() {
			<-start
			resp, err := e.send(refreshRequest(e, userClientID, tok.RefreshToken))
			if err != nil {
				t.Errorf("concurrent refresh error: %v", err)
				return
			}
			statuses <- resp
		})
	}
	close(start)
	wg.Wait()
	close(statuses)

	ok, rejected := 0, 0
	for resp := range statuses {
		switch {
		case resp.status == http.StatusOK:
			ok++
		case resp.body == invalidTokenBody:
			rejected++
		default:
			t.Errorf("concurrent refresh = %d %s; want 200 or Invalid Token!", resp.status, resp.body)
		}
	}
	if ok != 1 {
		t.Errorf("successful concurrent refreshes = %d; want 1", ok)
	}
	if rejected != callers-1 {
		t.Errorf("rejected concurrent refreshes = %d; want %d", rejected, callers-1)
	}
	if got := e.sb.RefreshCount(); got != callers {
		t.Errorf("RefreshCount() = %d; want %d", got, callers)
	}
}

func TestIssuedSecrets(t *testing.T) {
	e := newEnv(t)
	code, verifier := e.authorize(t, userClientID, plainUser)
	first := e.exchange(t, userClientID, code, verifier)
	second := decodeTokens(t, e.refresh(t, userClientID, first.RefreshToken))

	issued := map[string]bool{}
	for _, s := range e.sb.IssuedSecrets() {
		issued[s] = true
	}
	for _, want := range []struct{ name, value string }{
		{"code", code},
		{"first access token", first.AccessToken},
		{"first refresh token", first.RefreshToken},
		{"refreshed access token", second.AccessToken},
		{"refreshed refresh token", second.RefreshToken},
	} {
		if !issued[want.value] {
			t.Errorf("IssuedSecrets() lacks the %s", want.name)
		}
	}
}

func TestLogsNoSecrets(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, func(o *zoomsandbox.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tok := e.connect(t, userClientID, plainUser)
	e.refresh(t, userClientID, tok.RefreshToken)
	e.refresh(t, userClientID, tok.RefreshToken) // rejected
	e.revoke(t, userClientID, userSecret, tok.AccessToken)

	if logs.Len() == 0 {
		t.Fatalf("the logger received nothing; want grant events")
	}
	for _, s := range append(e.sb.IssuedSecrets(), userSecret, "state-123") {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs contain an issued secret, the client secret or the state")
		}
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name string
		opts zoomsandbox.Options
	}{
		{"duplicate client", zoomsandbox.Options{Apps: []zoomsandbox.App{{ClientID: "a"}, {ClientID: "a"}}}},
		{"empty client", zoomsandbox.Options{Apps: []zoomsandbox.App{{Name: "x"}}}},
		{"duplicate user", zoomsandbox.Options{Users: []zoomsandbox.User{{ID: "u"}, {ID: "u"}}}},
		{"empty user", zoomsandbox.Options{Users: []zoomsandbox.User{{Email: "x@example.com"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%s) did not panic; want a panic", tt.name)
				}
			}()
			zoomsandbox.New(tt.opts)
		})
	}
}
