package zoomsandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// ConsentError is returned by [Sandbox.Approve] and [Sandbox.Decline] when
// the sandbox returns an error page or error JSON in place of the consent
// page or a redirect.
type ConsentError struct {
	// StatusCode is the HTTP status of the error response.
	StatusCode int

	// Message is the error text of the page or JSON body, or "" when it had
	// none.
	Message string
}

func (e *ConsentError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("status %d", e.StatusCode)
	}
	return fmt.Sprintf("status %d: %s", e.StatusCode, e.Message)
}

// Approve does in Go what a user does in a browser: it gets the consent
// page at authorizeURL through client, chooses userID and submits Allow. It
// does not follow the redirect that the form submission gets, and returns
// its Location, normally the app's redirect URI with code and state.
//
// client may be nil for http.DefaultClient; its CheckRedirect is not used.
// An error response of the sandbox is returned as a *[ConsentError]
// wrapped with the step that got it.
func (s *Sandbox) Approve(ctx context.Context, client *http.Client, authorizeURL string, userID string) (*url.URL, error) {
	loc, err := submitConsent(ctx, client, authorizeURL, url.Values{"action": {"allow"}, "user": {userID}})
	if err != nil {
		return nil, fmt.Errorf("approve: %w", err)
	}
	return loc, nil
}

// Decline is like [Sandbox.Approve] but submits Decline. The Location it
// returns normally carries error=access_denied and state.
func (s *Sandbox) Decline(ctx context.Context, client *http.Client, authorizeURL string) (*url.URL, error) {
	loc, err := submitConsent(ctx, client, authorizeURL, url.Values{"action": {"decline"}})
	if err != nil {
		return nil, fmt.Errorf("decline: %w", err)
	}
	return loc, nil
}

// These match the form that pages/consent.html renders, and nothing else.
var (
	formActionPattern  = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenInputPattern = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	messagePattern     = regexp.MustCompile(`<p id="message">([^<]*)</p>`)
)

// maxPageBytes limits how much of a sandbox page submitConsent reads.
const maxPageBytes = 1 << 20

func submitConsent(ctx context.Context, client *http.Client, authorizeURL string, choice url.Values) (*url.URL, error) {
	if client == nil {
		client = http.DefaultClient
	}
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return nil, fmt.Errorf("get consent page: %w", err)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get consent page: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("get consent page: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get consent page: %w", consentError(resp.StatusCode, page))
	}

	action := formActionPattern.FindSubmatch(page)
	if action == nil {
		return nil, fmt.Errorf("get consent page: no consent form in the page")
	}
	target, err := resp.Request.URL.Parse(html.UnescapeString(string(action[1])))
	if err != nil {
		return nil, fmt.Errorf("get consent page: form action: %w", err)
	}
	form := url.Values{}
	for _, m := range hiddenInputPattern.FindAllSubmatch(page, -1) {
		form.Set(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
	}
	for k, v := range choice {
		form[k] = v
	}

	post, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("submit consent: %w", err)
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = noFollow.Do(post)
	if err != nil {
		return nil, fmt.Errorf("submit consent: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
		return nil, fmt.Errorf("submit consent: %w", consentError(resp.StatusCode, body))
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("submit consent: %w", err)
	}
	return loc, nil
}

// consentError builds the error for a sandbox error response: the
// errorMessage of authorize's JSON, or the message of an error page.
func consentError(status int, body []byte) *ConsentError {
	e := &ConsentError{StatusCode: status}
	var problem authorizeError
	if json.Unmarshal(body, &problem) == nil && problem.ErrorMessage != "" {
		e.Message = problem.ErrorMessage
	} else if m := messagePattern.FindSubmatch(body); m != nil {
		e.Message = html.UnescapeString(string(m[1]))
	}
	return e
}
