package zoomsandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

const (
	userClientID  = "sbxUserAppClient"
	userSecret    = "user-app-secret"
	adminClientID = "sbxAdminAppClient"
	adminSecret   = "admin-app-secret"
	redirectURI   = "http://127.0.0.1:9/oauth/callback"
)

var (
	adminUser = zoomsandbox.DefaultAdminUserID
	plainUser = zoomsandbox.DefaultUserID
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a sandbox behind a real HTTP server with a settable clock.
type env struct {
	sb    *zoomsandbox.Sandbox
	srv   *httptest.Server
	clock *clock
}

func testApps() []zoomsandbox.App {
	return []zoomsandbox.App{
		{
			Name: "Zoom", ClientID: userClientID, ClientSecret: userSecret,
			Scopes:       []string{"user:read:user", "meeting:read:meeting"},
			RedirectURIs: []string{redirectURI},
		},
		{
			Name: "Zoom Admin", ClientID: adminClientID, ClientSecret: adminSecret, Admin: true,
			Scopes:       []string{"user:read:user:admin"},
			RedirectURIs: []string{redirectURI},
		},
	}
}

func newEnv(t *testing.T, configure ...func(*zoomsandbox.Options)) *env {
	t.Helper()
	clk := newClock()
	opts := zoomsandbox.Options{Apps: testApps(), Now: clk.Now}
	for _, f := range configure {
		f(&opts)
	}
	sb := zoomsandbox.New(opts)
	return &env{sb: sb, srv: httptestServer(t, sb.Handler()), clock: clk}
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func secretOf(clientID string) string {
	if clientID == adminClientID {
		return adminSecret
	}
	return userSecret
}

// authorizeURL returns the authorize URL for clientID with Zoom's usual
// parameters, overridden by extra. An empty value in extra removes the
// parameter.
func (e *env) authorizeURL(clientID string, extra url.Values) string {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"redirect_uri":  {redirectURI},
		"state":         {"state-123"},
	}
	for k, v := range extra {
		if len(v) == 1 && v[0] == "" {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	return e.srv.URL + "/oauth/authorize?" + q.Encode()
}

// authorize runs the consent flow with an S256 challenge and returns the
// code and the verifier.
func (e *env) authorize(t *testing.T, clientID, userID string) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	u := e.authorizeURL(clientID, url.Values{
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	})
	loc, err := e.sb.Approve(context.Background(), e.srv.Client(), u, userID)
	if err != nil {
		t.Fatalf("Approve(%s, %s) error: %v", clientID, userID, err)
	}
	code = loc.Query().Get("code")
	if code == "" {
		t.Fatalf("Approve(%s, %s) Location has no code: %v", clientID, userID, loc.Query())
	}
	return code, verifier
}

// tokenBody is a successful token response.
type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	APIURL       string `json:"api_url"`
}

// authStyle is where postToken puts the client credentials.
type authStyle int

const (
	authBasic authStyle = iota
	authBody
	authQuery // credentials and every parameter in the query string, empty body
	authNone
)

type response struct {
	status int
	header http.Header
	body   string
}

// postToken sends form to /oauth/token with the credentials of clientID
// placed where style selects.
func (e *env) postToken(t *testing.T, clientID, secret string, style authStyle, form url.Values) response {
	t.Helper()
	form = cloneValues(form)
	target := e.srv.URL + "/oauth/token"
	switch style {
	case authBody:
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	case authQuery:
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
		target += "?" + form.Encode()
		form = url.Values{}
	}

	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if style == authBasic {
		req.SetBasicAuth(clientID, secret)
	}
	return e.do(t, req)
}

func (e *env) do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := e.send(req)
	if err != nil {
		t.Fatalf("%s %s error: %v", req.Method, req.URL.Path, err)
	}
	return resp
}

// send is do for goroutines other than the test's.
func (e *env) send(req *http.Request) (response, error) {
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}, nil
}

// exchange redeems code for clientID and fails the test unless it works.
func (e *env) exchange(t *testing.T, clientID, code, verifier string) tokenBody {
	t.Helper()
	resp := e.postToken(t, clientID, secretOf(clientID), authBasic, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	})
	return decodeTokens(t, resp)
}

// connect authorizes clientID as userID and exchanges the code.
func (e *env) connect(t *testing.T, clientID, userID string) tokenBody {
	t.Helper()
	code, verifier := e.authorize(t, clientID, userID)
	return e.exchange(t, clientID, code, verifier)
}

func (e *env) refresh(t *testing.T, clientID, refreshToken string) response {
	t.Helper()
	return e.do(t, refreshRequest(e, clientID, refreshToken))
}

// refreshRequest builds a refresh_token grant request with Basic client
// authentication.
func refreshRequest(e *env, clientID, refreshToken string) *http.Request {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		panic(err) // the URL comes from httptest
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secretOf(clientID))
	return req
}

func decodeTokens(t *testing.T, resp response) tokenBody {
	t.Helper()
	if resp.status != http.StatusOK {
		t.Fatalf("token request status = %d (%s); want 200", resp.status, resp.body)
	}
	var tok tokenBody
	if err := json.Unmarshal([]byte(resp.body), &tok); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return tok
}

// api calls the REST API with accessToken.
func (e *env) api(t *testing.T, method, path, accessToken, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.do(t, req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

const (
	invalidTokenBody = `{"reason":"Invalid Token!","error":"invalid_grant"}`
	badAccessBody    = `{"code":124,"message":"Invalid access token."}`
	expiredBody      = `{"code":124,"message":"Access token is expired."}`
)
