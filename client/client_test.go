package client_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/events"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/client"
	"github.com/zoombroker/zoombroker/internal/brokertest"
	"github.com/zoombroker/zoombroker/store"
)

func TestErrors(t *testing.T) {
	t.Parallel()
	const unknownID = "acc_aaaaaaaaaaaaaaaaaaaa"
	hook := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(hook.Close)
	tests := []struct {
		name       string
		opts       brokertest.Options
		call       func(t *testing.T, b *brokertest.Broker, zb *client.Client) error
		want       error
		status     int
		code       string
		retryAfter bool
	}{
		{
			name: "unauthorized",
			call: func(t *testing.T, b *brokertest.Broker, zb *client.Client) error {
				zb.APIKey = "zbk_not_a_key"
				_, err := zb.ListAccounts(t.Context(), client.ListOptions{})
				return err
			},
			want: client.ErrUnauthorized, status: 401, code: "unauthorized",
		},
		{
			name: "forbidden",
			opts: brokertest.Options{Events: &events.Config{Endpoints: []events.Endpoint{{URL: hook.URL + "/hook", Secret: "configured-secret-0123"}}}},
			call: func(t *testing.T, b *brokertest.Broker, zb *client.Client) error {
				hooks, err := zb.ListWebhooks(t.Context())
				if err != nil || len(hooks) != 1 {
					t.Fatalf("ListWebhooks = %d webhooks, %v; want 1, nil error", len(hooks), err)
				}
				return zb.DeleteWebhook(t.Context(), hooks[0].ID)
			},
			want: client.ErrForbidden, status: 403, code: "webhook_configured",
		},
		{
			name: "not found",
			call: func(t *testing.T, b *brokertest.Broker, zb *client.Client) error {
				_, err := zb.GetAccount(t.Context(), unknownID)
				return err
			},
			want: client.ErrNotFound, status: 404, code: "not_found",
		},
		{
			name: "needs reconnect",
			call: func(t *testing.T, b *brokertest.Broker, zb *client.Client) error {
				id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
				// The grant dies at Zoom without a webhook, so the next
				// refresh gets invalid_grant.
				b.Sandbox.Deauthorize(zoomsandbox.DefaultUserID, brokertest.ZoomClientID)
				_, err := zb.Token(t.Context(), id, client.TokenOptions{ForceRefresh: true})
				return err
			},
			want: client.ErrNeedsReconnect, status: 409, code: "needs_reconnect",
		},
		{
			name: "revoked",
			call: func(t *testing.T, b *brokertest.Broker, zb *client.Client) error {
				id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
				if _, err := zb.DeleteAccount(t.Context(), id); err != nil {
					t.Fatalf("DeleteAccount = %v", err)
				}
				_, err := zb.Token(t.Context(), id, client.TokenOptions{})
				return err
			},
			want: client.ErrRevoked, status: 410, code: "revoked",
		},
		{
			name: "unavailable",
			call: func(t *testing.T, b *brokertest.Broker, zb *client.Client) error {
				id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
				b.Sandbox.FailRefreshes(http.StatusInternalServerError, -1, 0)
				b.Clock.Advance(50 * time.Minute)
				_, err := zb.Token(t.Context(), id, client.TokenOptions{MinTTL: 30 * time.Minute})
				return err
			},
			want: client.ErrUnavailable, status: 503, code: "zoom_unavailable", retryAfter: true,
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := brokertest.New(t, tc.opts)
			err := tc.call(t, b, b.Client())

			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v; want one matching %v", err, tc.want)
			}
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error = %T; want *client.Error", err)
			}
			if ce.Status != tc.status {
				t.Errorf("Status = %d; want %d", ce.Status, tc.status)
			}
			if ce.Code != tc.code {
				t.Errorf("Code = %q; want %q", ce.Code, tc.code)
			}
			if ce.Message == "" {
				t.Error("Message is empty; want the broker's explanation")
			}
			if tc.retryAfter && ce.RetryAfter <= 0 {
				t.Errorf("RetryAfter = %v; want the broker's Retry-After", ce.RetryAfter)
			}
			for _, other := range []error{client.ErrUnauthorized, client.ErrForbidden, client.ErrNotFound, client.ErrNeedsReconnect, client.ErrRevoked, client.ErrUnavailable} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("errors.Is(err, %v) = true; want false", other)
				}
			}
		})
	}
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{})
	user := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	admin := b.Connect(store.AppZoom, zoomsandbox.DefaultAdminUserID)
	adminApp := b.Connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	zb := b.Client()
	ctx := t.Context()

	apps, err := zb.ListApps(ctx)
	if err != nil {
		t.Fatalf("ListApps = %v", err)
	}
	var appNames []string
	for _, a := range apps {
		appNames = append(appNames, a.App)
		if !a.Configured {
			t.Errorf("app %s Configured = false; want true", a.App)
		}
	}
	if !slices.Equal(appNames, []string{client.AppZoom, client.AppZoomAdmin}) {
		t.Errorf("ListApps apps = %q; want %q", appNames, []string{client.AppZoom, client.AppZoomAdmin})
	}

	a, err := zb.GetAccount(ctx, user)
	if err != nil {
		t.Fatalf("GetAccount = %v", err)
	}
	if a.ID != user || a.App != client.AppZoom || a.Status != client.StatusActive {
		t.Errorf("GetAccount = id %q app %q status %q; want %q zoom active", a.ID, a.App, a.Status, user)
	}
	if a.Zoom.UserID != zoomsandbox.DefaultUserID || a.Zoom.Email != "dev.user@example.com" {
		t.Errorf("GetAccount zoom = %+v; want the sandbox's Dev User", a.Zoom)
	}
	if a.TokenExpiresAt.IsZero() || a.CreatedAt.IsZero() {
		t.Errorf("GetAccount times: token_expires_at %v, created_at %v; want both set", a.TokenExpiresAt, a.CreatedAt)
	}

	// Filter: the zoom app only, in pages of one.
	var paged []string
	pages := 0
	opts := client.ListOptions{App: client.AppZoom, Limit: 1}
	for {
		page, err := zb.ListAccounts(ctx, opts)
		if err != nil {
			t.Fatalf("ListAccounts = %v", err)
		}
		pages++
		for _, acct := range page.Accounts {
			paged = append(paged, acct.ID)
		}
		if page.NextAfter == "" || pages > 5 {
			break
		}
		opts.After = page.NextAfter
	}
	want := []string{user, admin}
	slices.Sort(want)
	if !slices.Equal(paged, want) {
		t.Errorf("ListAccounts(app zoom, limit 1) pages = %q; want %q", paged, want)
	}

	var all []string
	for acct, err := range zb.Accounts(ctx, client.ListOptions{Limit: 2}) {
		if err != nil {
			t.Fatalf("Accounts = %v", err)
		}
		all = append(all, acct.ID)
	}
	want = []string{user, admin, adminApp}
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("Accounts() = %q; want %q", all, want)
	}

	byEmail, err := zb.ListAccounts(ctx, client.ListOptions{Email: "DEV.ADMIN@example.com", App: client.AppZoomAdmin})
	if err != nil {
		t.Fatalf("ListAccounts(email) = %v", err)
	}
	if len(byEmail.Accounts) != 1 || byEmail.Accounts[0].ID != adminApp {
		t.Errorf("ListAccounts(email, zoom_admin) = %d accounts; want only %s", len(byEmail.Accounts), adminApp)
	}

	res, err := zb.DeleteAccount(ctx, user)
	if err != nil {
		t.Fatalf("DeleteAccount = %v", err)
	}
	if !res.ZoomRevoked || res.AlreadyRevoked || res.Account.Status != client.StatusRevoked {
		t.Errorf("DeleteAccount = zoom_revoked %t, already_revoked %t, status %q; want true, false, revoked", res.ZoomRevoked, res.AlreadyRevoked, res.Account.Status)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{})
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	zb := b.Client()

	first, err := zb.Token(t.Context(), id, client.TokenOptions{MinTTL: 10 * time.Minute})
	if err != nil {
		t.Fatalf("Token = %v", err)
	}
	if first.AccountID != id || first.AccessToken.Empty() || !strings.EqualFold(first.TokenType, "bearer") {
		t.Errorf("Token = account %q, token empty %t, type %q; want %q, false, bearer", first.AccountID, first.AccessToken.Empty(), first.TokenType, id)
	}
	if s := fmt.Sprint(first); strings.Contains(s, first.AccessToken.Reveal()) {
		t.Errorf("fmt.Sprint(Token) contains the access token; want it redacted")
	}

	forced, err := zb.Token(t.Context(), id, client.TokenOptions{ForceRefresh: true})
	if err != nil {
		t.Fatalf("Token(force) = %v", err)
	}
	if forced.AccessToken == first.AccessToken {
		t.Error("Token(force) returned the same token; want a new one")
	}

	// Reporting the old token as rejected returns the newer one without a
	// refresh.
	before := b.Sandbox.RefreshCount()
	again, err := zb.Token(t.Context(), id, client.TokenOptions{RejectedAccessToken: first.AccessToken})
	if err != nil {
		t.Fatalf("Token(rejected old) = %v", err)
	}
	if again.AccessToken != forced.AccessToken {
		t.Error("Token(rejected old) did not return the current token")
	}
	if got := b.Sandbox.RefreshCount() - before; got != 0 {
		t.Errorf("refreshes after reporting an old token = %d; want 0", got)
	}
}

func TestClientRedactsKey(t *testing.T) {
	t.Parallel()
	zb := &client.Client{BaseURL: "http://127.0.0.1:1", APIKey: "zbk_secret_value"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, zb); strings.Contains(s, "zbk_secret_value") {
			t.Errorf("Sprintf(%q, client) = %s; want the key redacted", format, s)
		}
	}
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{Events: &events.Config{}})
	zb := b.Client()
	ctx := t.Context()

	created, err := zb.CreateWebhook(ctx, client.WebhookOptions{URL: "https://hooks.example.com/zoombroker"})
	if err != nil {
		t.Fatalf("CreateWebhook = %v", err)
	}
	if !strings.HasPrefix(created.Secret.Reveal(), "whsec_") {
		t.Errorf("CreateWebhook secret = %q; want a generated whsec_ secret", created.Secret.Reveal())
	}
	b.Clock.Advance(time.Second) // the list is in creation order
	chosen, err := zb.CreateWebhook(ctx, client.WebhookOptions{URL: "http://127.0.0.1:9/events", Secret: secret.Secret("my-own-secret-of-24-chars")})
	if err != nil {
		t.Fatalf("CreateWebhook(own secret) = %v", err)
	}
	if chosen.Secret.Reveal() != "my-own-secret-of-24-chars" {
		t.Errorf("CreateWebhook(own secret) secret = %q; want the one sent", chosen.Secret.Reveal())
	}

	list, err := zb.ListWebhooks(ctx)
	if err != nil {
		t.Fatalf("ListWebhooks = %v", err)
	}
	var ids []string
	for _, w := range list {
		ids = append(ids, w.ID)
		if !w.Secret.Empty() {
			t.Errorf("ListWebhooks: webhook %s carries a secret; want none after creation", w.ID)
		}
	}
	if !slices.Equal(ids, []string{created.ID, chosen.ID}) {
		t.Errorf("ListWebhooks ids = %q; want %q", ids, []string{created.ID, chosen.ID})
	}

	// The raw JSON shows the secret redacted.
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/v1/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+b.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(raw), created.Secret.Reveal()) || !strings.Contains(string(raw), secret.Redacted) {
		t.Errorf("GET /v1/webhooks = %s; want secrets shown as %s", raw, secret.Redacted)
	}

	if err := zb.DeleteWebhook(ctx, created.ID); err != nil {
		t.Errorf("DeleteWebhook = %v", err)
	}
	if err := zb.DeleteWebhook(ctx, created.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("DeleteWebhook twice = %v; want ErrNotFound", err)
	}

	bad := []struct {
		name string
		opts client.WebhookOptions
	}{
		{"no scheme", client.WebhookOptions{URL: "hooks.example.com/x"}},
		{"ftp", client.WebhookOptions{URL: "ftp://hooks.example.com/x"}},
		{"user info", client.WebhookOptions{URL: "https://user:pass@hooks.example.com/x"}},
		{"short secret", client.WebhookOptions{URL: "https://hooks.example.com/x", Secret: "short"}},
	}
	for _, tc := range bad {
		_, err := zb.CreateWebhook(ctx, tc.opts)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest {
			t.Errorf("CreateWebhook(%s) = %v; want a 400", tc.name, err)
		}
	}
}

func TestZoomProxy(t *testing.T) {
	t.Parallel()
	b := brokertest.New(t, brokertest.Options{})
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	zb := b.Client()

	resp, err := zb.Zoom(t.Context(), id, http.MethodPost, "/v2/users/me/meetings", strings.NewReader(`{"topic":"From the client"}`))
	if err != nil {
		t.Fatalf("Zoom(POST meetings) = %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), "From the client") {
		t.Errorf("Zoom(POST meetings) = %d %s; want 201 with the topic", resp.StatusCode, body)
	}

	// Zoom's own errors come back as responses.
	resp, err = zb.Zoom(t.Context(), id, http.MethodGet, "v2/no/such/api", nil)
	if err != nil {
		t.Fatalf("Zoom(GET unknown API) = %v; want Zoom's 404 as a response", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("Zoom(GET unknown API) status = %d; want 404", resp.StatusCode)
	}

	// The broker's errors are *Error values.
	_, err = zb.Zoom(t.Context(), "acc_aaaaaaaaaaaaaaaaaaaa", http.MethodGet, "/v2/users/me", nil)
	if !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Zoom(unknown account) = %v; want ErrNotFound", err)
	}
	_, err = zb.Zoom(t.Context(), id, http.MethodGet, "/v2/%2e%2e/v1/apps", nil)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != "invalid_path" {
		t.Errorf("Zoom(escaping path) = %v; want *Error invalid_path", err)
	}
}
