package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// DefaultTimeout bounds each call to the broker when Client.HTTP is nil.
const DefaultTimeout = 30 * time.Second

// maxErrorBody caps how much of an error response the client reads.
const maxErrorBody = 64 << 10

// defaultHTTP is the http.Client of a Client whose HTTP is nil.
var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// Client calls the broker's /v1 API. It is safe for concurrent use.
type Client struct {
	// BaseURL is the broker's URL, for example http://127.0.0.1:8080.
	BaseURL string

	// APIKey authenticates every call.
	APIKey APIKey

	// HTTP sends the requests; nil means a client with DefaultTimeout.
	HTTP *http.Client
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// newRequest builds an authenticated request for path below BaseURL.
func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("zoombroker: build %s request: %w", method, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey.Reveal())
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// do sends a JSON request and decodes a 2xx JSON response into out. Any
// other status becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("zoombroker: encode %s %s request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("zoombroker: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("zoombroker: decode %s %s response: %w", method, path, err)
	}
	return nil
}

// responseError reads the broker's JSON error body.
func responseError(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Code, e.Message = body.Error, body.Message
		return e
	}
	e.Code = "http_" + strconv.Itoa(resp.StatusCode)
	e.Message = "the broker returned " + resp.Status + " without a JSON error"
	return e
}

// parseRetryAfter reads a Retry-After header in seconds.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// ListApps returns the broker's Zoom apps.
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	var out struct {
		Apps []App `json:"apps"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/apps", nil, &out); err != nil {
		return nil, err
	}
	return out.Apps, nil
}

// ListAccounts returns one page of accounts that match opts.
func (c *Client) ListAccounts(ctx context.Context, opts ListOptions) (AccountPage, error) {
	q := url.Values{}
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	set("app", opts.App)
	set("status", opts.Status)
	set("email", opts.Email)
	set("zoom_user_id", opts.ZoomUserID)
	set("zoom_account_id", opts.ZoomAccountID)
	set("external_user_id", opts.ExternalUserID)
	set("after", opts.After)
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}

	path := "/v1/accounts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page AccountPage
	err := c.do(ctx, http.MethodGet, path, nil, &page)
	return page, err
}

// Accounts yields every account that matches opts, one page at a time.
// It stops after the first error, which it yields.
func (c *Client) Accounts(ctx context.Context, opts ListOptions) iter.Seq2[Account, error] {
	return func(yield func(Account, error) bool) {
		for {
			page, err := c.ListAccounts(ctx, opts)
			if err != nil {
				yield(Account{}, err)
				return
			}
			for _, a := range page.Accounts {
				if !yield(a, nil) {
					return
				}
			}
			if page.NextAfter == "" {
				return
			}
			opts.After = page.NextAfter
		}
	}
}

// GetAccount returns one account.
func (c *Client) GetAccount(ctx context.Context, id string) (Account, error) {
	var a Account
	err := c.do(ctx, http.MethodGet, "/v1/accounts/"+url.PathEscape(id), nil, &a)
	return a, err
}

// DeleteAccount revokes the account's grant at Zoom and deletes its
// tokens. Deleting a revoked account succeeds again.
func (c *Client) DeleteAccount(ctx context.Context, id string) (DeleteResult, error) {
	var res DeleteResult
	err := c.do(ctx, http.MethodDelete, "/v1/accounts/"+url.PathEscape(id), nil, &res)
	return res, err
}

// Token requests an access token of the account from the broker.
func (c *Client) Token(ctx context.Context, id string, opts TokenOptions) (Token, error) {
	var in struct {
		MinTTLSeconds       *int64 `json:"min_ttl_seconds,omitempty"`
		ForceRefresh        bool   `json:"force_refresh,omitempty"`
		RejectedAccessToken string `json:"rejected_access_token,omitempty"`
	}
	if opts.MinTTL > 0 {
		secs := int64(math.Ceil(opts.MinTTL.Seconds()))
		in.MinTTLSeconds = &secs
	}
	in.ForceRefresh = opts.ForceRefresh
	in.RejectedAccessToken = opts.RejectedAccessToken.Reveal()

	var out struct {
		AccountID   string    `json:"account_id"`
		AccessToken string    `json:"access_token"`
		TokenType   string    `json:"token_type"`
		ExpiresAt   time.Time `json:"expires_at"`
		Scopes      []string  `json:"scopes"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/accounts/"+url.PathEscape(id)+"/token", in, &out); err != nil {
		return Token{}, err
	}
	if out.AccessToken == "" {
		return Token{}, errors.New("zoombroker: token response has no access_token")
	}
	return Token{
		AccountID:   out.AccountID,
		AccessToken: secret.Secret(out.AccessToken),
		TokenType:   out.TokenType,
		ExpiresAt:   out.ExpiresAt,
		Scopes:      out.Scopes,
	}, nil
}

// webhookJSON is a webhook as the API sends it.
type webhookJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret"`
}

func (w webhookJSON) webhook() Webhook {
	return Webhook{ID: w.ID, URL: w.URL, Source: w.Source, CreatedAt: w.CreatedAt}
}

// CreateWebhook registers an endpoint for account events. The returned
// Webhook carries the signing secret, which the broker never shows again.
func (c *Client) CreateWebhook(ctx context.Context, opts WebhookOptions) (Webhook, error) {
	in := map[string]string{"url": opts.URL}
	if !opts.Secret.Empty() {
		in["secret"] = opts.Secret.Reveal()
	}
	var out webhookJSON
	if err := c.do(ctx, http.MethodPost, "/v1/webhooks", in, &out); err != nil {
		return Webhook{}, err
	}
	w := out.webhook()
	w.Secret = secret.Secret(out.Secret)
	return w, nil
}

// ListWebhooks returns every registered endpoint, without secrets.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []webhookJSON `json:"webhooks"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/webhooks", nil, &out); err != nil {
		return nil, err
	}
	hooks := make([]Webhook, 0, len(out.Webhooks))
	for _, w := range out.Webhooks {
		hooks = append(hooks, w.webhook())
	}
	return hooks, nil
}

// DeleteWebhook removes an endpoint registered through the API, with its
// pending deliveries.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/webhooks/"+url.PathEscape(id), nil, nil)
}

// Zoom calls Zoom's REST API through the broker's proxy, which adds the
// account's token: path is Zoom's path with its query, for example
// "/v2/users/me/meetings?page_size=30". A non-nil body is sent as JSON.
// Zoom's response is returned as is, errors included, and the caller closes
// its body. An error of the broker itself (key, account, path) is an
// *Error.
func (c *Client) Zoom(ctx context.Context, accountID, method, path string, body io.Reader) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := c.newRequest(ctx, method, "/v1/accounts/"+url.PathEscape(accountID)+"/zoom"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Del("Accept")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("zoombroker: %s zoom %s: %w", method, path, err)
	}
	if resp.Header.Get("X-Zoombroker-Origin") == "broker" {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}
