package zoomsandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLimitTokenRate(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	e.sb.LimitTokenRate(2, 1500*time.Millisecond)

	// Two requests fit in the second; the third does not.
	tok = decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
	tok = decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
	resp := e.refresh(t, userClientID, tok.RefreshToken)
	if resp.status != http.StatusTooManyRequests {
		t.Fatalf("third refresh in one second: status = %d; want 429", resp.status)
	}
	if got := resp.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q; want \"2\" (1.5s rounded up)", got)
	}
	if want := "maximum per-second rate limit"; !strings.Contains(resp.body, want) {
		t.Errorf("429 body = %s; want it to contain %q", resp.body, want)
	}
	if got := e.sb.RateLimitedCount(); got != 1 {
		t.Errorf("RateLimitedCount() = %d; want 1", got)
	}

	// Exchanges count against the same limit.
	code, verifier := e.authorize(t, userClientID, adminUser)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}}
	if resp := e.postToken(t, userClientID, userSecret, authBasic, form); resp.status != http.StatusTooManyRequests {
		t.Errorf("exchange in the full second: status = %d; want 429", resp.status)
	}

	// The rejected refresh left the grant alone, and a new second has room.
	e.clock.Advance(time.Second)
	decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
	if got := e.sb.RateLimitedCount(); got != 2 {
		t.Errorf("RateLimitedCount() = %d; want 2", got)
	}
}

func TestLimitTokenRateRemoved(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	e.sb.LimitTokenRate(1, 0)
	tok = decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
	resp := e.refresh(t, userClientID, tok.RefreshToken)
	if resp.status != http.StatusTooManyRequests {
		t.Fatalf("second refresh in one second: status = %d; want 429", resp.status)
	}
	if got := resp.header.Get("Retry-After"); got != "" {
		t.Errorf("Retry-After = %q; want none when retryAfter is 0", got)
	}

	e.sb.LimitTokenRate(0, 0)
	for i := range 5 {
		resp := e.refresh(t, userClientID, tok.RefreshToken)
		if resp.status != http.StatusOK {
			t.Fatalf("refresh %d without a limit: status = %d; want 200", i, resp.status)
		}
		tok = decodeTokens(t, resp)
	}
	if got := e.sb.RateLimitedCount(); got != 0 {
		t.Errorf("RateLimitedCount() after removing the limit = %d; want 0", got)
	}
}
