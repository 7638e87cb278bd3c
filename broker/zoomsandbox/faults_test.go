package zoomsandbox_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFailRefreshes(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		retryAfter  time.Duration
		wantRetry   string
		wantType    string
		wantBodyHas string
	}{
		{
			name: "429", status: 429, retryAfter: 2500 * time.Millisecond, wantRetry: "3",
			wantType:    "application/json",
			wantBodyHas: `{"code":429,"message":"You have reached the maximum per-second rate limit for this API. Try again later."}`,
		},
		{"500", 500, 0, "", "text/html", "<h1>Internal Server Error</h1>"},
		{"503 with Retry-After", 503, 10 * time.Second, "10", "text/html", "Service Unavailable"},
		{"401", 401, 0, "", "application/json", `{"reason":"Unauthorized","error":"invalid_request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.connect(t, userClientID, plainUser)
			e.sb.FailRefreshes(tt.status, 1, tt.retryAfter)

			resp := e.refresh(t, userClientID, tok.RefreshToken)
			if resp.status != tt.status {
				t.Errorf("failed refresh status = %d; want %d", resp.status, tt.status)
			}
			if got := resp.header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("failed refresh Retry-After = %q; want %q", got, tt.wantRetry)
			}
			if got := resp.header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("failed refresh Content-Type = %q; want %s", got, tt.wantType)
			}
			if !strings.Contains(resp.body, tt.wantBodyHas) {
				t.Errorf("failed refresh body = %s; want it to contain %s", resp.body, tt.wantBodyHas)
			}

			// The failure left the grant alone: the same token still works.
			decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
			if got := e.sb.RefreshCount(); got != 2 {
				t.Errorf("RefreshCount() = %d; want 2", got)
			}
		})
	}
}

func TestFailRefreshesUntilCleared(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	e.sb.FailRefreshes(http.StatusBadGateway, -1, 0)

	for i := range 3 {
		if resp := e.refresh(t, userClientID, tok.RefreshToken); resp.status != http.StatusBadGateway {
			t.Errorf("refresh %d status = %d; want 502", i, resp.status)
		}
	}
	e.connect(t, userClientID, adminUser) // exchanges are not affected

	e.sb.ClearFailures()
	decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
}

func TestDropRefreshResponses(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	e.sb.DropRefreshResponses(1)

	// A rejected refresh does not use up the drop.
	if resp := e.refresh(t, userClientID, "made-up"); resp.body != invalidTokenBody {
		t.Fatalf("refresh with a made-up token = %d %s; want 400 %s", resp.status, resp.body, invalidTokenBody)
	}

	resp, err := e.send(refreshRequest(e, userClientID, tok.RefreshToken))
	if err == nil {
		t.Fatalf("dropped refresh = %d %s; want a connection error", resp.status, resp.body)
	}

	// The sandbox rotated the tokens before it closed the connection.
	if resp := e.refresh(t, userClientID, tok.RefreshToken); resp.body != invalidTokenBody {
		t.Errorf("refresh with the token of the dropped request = %d %s; want 400 %s", resp.status, resp.body, invalidTokenBody)
	}
	if !e.sb.LiveGrant(userClientID, plainUser) {
		t.Errorf("LiveGrant after a dropped refresh = false; want true")
	}
	if got := e.sb.RefreshCount(); got != 3 {
		t.Errorf("RefreshCount() = %d; want 3", got)
	}
}

func TestTokenLatencyCancel(t *testing.T) {
	e := newEnv(t)
	tok := e.connect(t, userClientID, plainUser)
	e.sb.SetTokenLatency(time.Hour)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := refreshRequest(e, userClientID, tok.RefreshToken).WithContext(ctx)
	if _, err := e.send(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("refresh during latency error = %v; want context.DeadlineExceeded", err)
	}

	// The cancelled request never reached the grant.
	e.sb.SetTokenLatency(0)
	decodeTokens(t, e.refresh(t, userClientID, tok.RefreshToken))
}
