package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/store"
)

// listedIDs returns the account ids of a GET /v1/accounts body.
func listedIDs(t *testing.T, body string) []string {
	t.Helper()
	var list struct {
		Accounts []struct {
			ID string `json:"id"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("list body %q: %v", body, err)
	}
	ids := []string{}
	for _, a := range list.Accounts {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestScopedKeys(t *testing.T) {
	var al *audit.Log
	e := newEnv(t, withAudit(&al))
	user := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	admin := e.connect(store.AppZoomAdmin, zoomsandbox.DefaultAdminUserID)
	other := e.connect(store.AppZoom, zoomsandbox.DefaultAdminUserID)
	now := e.clock.Now()

	_, zoomOnly := e.newLimitedKey("zoom only", store.Limits{Apps: []store.App{store.AppZoom}}, time.Time{})
	_, oneAccount := e.newLimitedKey("one account", store.Limits{AccountIDs: []string{user}}, now.Add(time.Hour))
	_, byOwner := e.newLimitedKey("owner", store.Limits{ExternalUserIDs: []string{"user-1"}}, time.Time{})

	tests := []struct {
		name       string
		key        string
		method     string
		path       string
		wantStatus int
	}{
		{"app key gets its app's token", zoomOnly, http.MethodPost, "/v1/accounts/" + user + "/token", http.StatusOK},
		{"app key refused the other app", zoomOnly, http.MethodPost, "/v1/accounts/" + admin + "/token", http.StatusForbidden},
		{"app key reads its app's account", zoomOnly, http.MethodGet, "/v1/accounts/" + other, http.StatusOK},
		{"app key refused the other app's list", zoomOnly, http.MethodGet, "/v1/accounts?app=zoom_admin", http.StatusForbidden},
		{"app key gets 404 for a missing account", zoomOnly, http.MethodGet, "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaaa", http.StatusNotFound},
		{"account key gets its token", oneAccount, http.MethodPost, "/v1/accounts/" + user + "/token", http.StatusOK},
		{"account key refused another account", oneAccount, http.MethodGet, "/v1/accounts/" + other, http.StatusForbidden},
		{"account key refused a missing account", oneAccount, http.MethodGet, "/v1/accounts/acc_aaaaaaaaaaaaaaaaaaaa", http.StatusForbidden},
		{"account key refused the audit log", oneAccount, http.MethodGet, "/v1/audit", http.StatusForbidden},
		{"account key refused connect links", oneAccount, http.MethodDelete, "/v1/accounts?external_user_id=user-1", http.StatusForbidden},
		{"owner key refused a console account", byOwner, http.MethodPost, "/v1/accounts/" + user + "/token", http.StatusForbidden},
		{"owner key refused another user", byOwner, http.MethodGet, "/v1/accounts?external_user_id=user-2", http.StatusForbidden},
		{"unlimited key reads the audit log", e.apiKey, http.MethodGet, "/v1/audit", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.api(tc.method, tc.path, "", tc.key)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("%s %s = %d %s; want %d", tc.method, tc.path, resp.StatusCode, body, tc.wantStatus)
			}
		})
	}

	t.Run("lists are filtered", func(t *testing.T) {
		lists := []struct {
			key  string
			want []string
		}{
			{zoomOnly, sorted(user, other)},
			{oneAccount, sorted(user)},
			{byOwner, []string{}},
			{e.apiKey, sorted(user, admin, other)},
		}
		for i, l := range lists {
			resp, body := e.api(http.MethodGet, "/v1/accounts", "", l.key)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("list %d: status %d %s", i, resp.StatusCode, body)
			}
			if got := listedIDs(t, body); !slices.Equal(got, l.want) {
				t.Errorf("list %d = %q; want %q", i, got, l.want)
			}
		}
	})

	t.Run("hand-outs are audited", func(t *testing.T) {
		entries := auditEntries(t, e, al)
		var ok, denied int
		for _, en := range entries {
			if en.Action != audit.ActionTokenIssue {
				continue
			}
			switch en.Outcome {
			case audit.OutcomeOK:
				ok++
			case audit.OutcomeDenied:
				denied++
			}
		}
		if ok != 2 || denied != 2 {
			t.Errorf("token.issue entries: %d ok, %d denied; want 2 and 2", ok, denied)
		}
	})
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func TestExpiredKeyRefused(t *testing.T) {
	e := newEnv(t)
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	_, key := e.newLimitedKey("short", store.Limits{}, e.clock.Now().Add(time.Minute))

	if resp, body := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", "", key); resp.StatusCode != http.StatusOK {
		t.Fatalf("token before expiry = %d %s; want 200", resp.StatusCode, body)
	}
	e.clock.Advance(time.Minute)
	resp, body := e.api(http.MethodPost, "/v1/accounts/"+id+"/token", "", key)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token at expiry = %d %s; want 401", resp.StatusCode, body)
	}
	if !strings.Contains(body, "expired") {
		t.Errorf("body = %s; want it to say the key expired", body)
	}
}

func TestAuditAPI(t *testing.T) {
	var al *audit.Log
	e := newEnv(t, withAudit(&al))
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	for range 3 {
		if status, _ := e.token(id, ""); status != http.StatusOK {
			t.Fatalf("token: %d", status)
		}
	}
	e.api(http.MethodGet, "/v1/accounts/"+id, "", "zbk_key_aaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	al.Flush(t.Context())

	get := func(query string) ([]map[string]any, int64) {
		t.Helper()
		resp, body := e.api(http.MethodGet, "/v1/audit?"+query, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/audit?%s = %d %s", query, resp.StatusCode, body)
		}
		var page struct {
			Entries    []map[string]any `json:"entries"`
			NextBefore int64            `json:"next_before"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		return page.Entries, page.NextBefore
	}

	issued, _ := get("action=token.issue&account_id=" + id)
	if len(issued) != 3 {
		t.Errorf("token.issue entries for the account = %d; want 3", len(issued))
	}
	for _, en := range issued {
		if en["outcome"] != "ok" || en["actor_type"] != "api_key" || en["remote_addr"] != "127.0.0.1" {
			t.Errorf("entry %v; want outcome ok, actor_type api_key, remote_addr 127.0.0.1", en)
		}
	}

	denied, _ := get("action=account.get")
	if len(denied) != 1 || denied[0]["outcome"] != "denied" || denied[0]["actor"] != "key_aaaaaaaaaaaaa" {
		t.Errorf("account.get entries = %v; want one denied entry naming key_aaaaaaaaaaaaa", denied)
	}

	first, next := get("limit=2")
	if len(first) != 2 || next == 0 {
		t.Fatalf("first page = %d entries, next %d; want 2 and a cursor", len(first), next)
	}
	second, _ := get("limit=2&before=" + strconv.FormatInt(next, 10))
	if len(second) == 0 || second[0]["id"].(float64) >= first[1]["id"].(float64) {
		t.Errorf("second page %v does not continue below the first %v", second, first)
	}

	for _, bad := range []string{"since=yesterday", "limit=0", "before=-1", "actor=a&actor=b", "colour=red"} {
		if resp, body := e.api(http.MethodGet, "/v1/audit?"+bad, ""); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /v1/audit?%s = %d %s; want 400", bad, resp.StatusCode, body)
		}
	}
}

func TestConsoleActionsAudited(t *testing.T) {
	var al *audit.Log
	e := newEnv(t, withAudit(&al))
	c := e.browser()

	// A failed sign-in, then a good one.
	tok := e.csrf(c, "/signin")
	resp, err := c.PostForm(e.broker.URL+"/signin", url.Values{"_csrf": {tok}, "name": {operatorName}, "password": {"wrong password!"}})
	must(t, err)
	resp.Body.Close()
	e.signIn(c)

	// A key created with limits, then revoked.
	tok = e.csrf(c, "/keys")
	resp, err = c.PostForm(e.broker.URL+"/keys", url.Values{"_csrf": {tok}, "name": {"billing"}, "apps": {"zoom"}, "expires": {"24h"}})
	must(t, err)
	resp.Body.Close()
	keys, err := e.store.ListAPIKeys(context.Background())
	must(t, err)
	var billing store.APIKey
	for _, k := range keys {
		if k.Name == "billing" {
			billing = k
		}
	}
	if !slices.Equal(billing.Limits.Apps, []store.App{store.AppZoom}) {
		t.Errorf("console key limits = %v; want apps [zoom]", billing.Limits)
	}
	if want := e.clock.Now().Add(24 * time.Hour); !billing.ExpiresAt.Equal(want) {
		t.Errorf("console key expiry = %v; want %v", billing.ExpiresAt, want)
	}
	tok = e.csrf(c, "/keys")
	resp, err = c.PostForm(e.broker.URL+"/keys/"+billing.ID+"/revoke", url.Values{"_csrf": {tok}})
	must(t, err)
	resp.Body.Close()

	// Connect, revoke in the console, and a forged form.
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	tok = e.csrf(c, "/accounts/"+id)
	resp, err = c.PostForm(e.broker.URL+"/accounts/"+id+"/revoke", url.Values{"_csrf": {tok}, "confirm": {"yes"}})
	must(t, err)
	resp.Body.Close()
	resp, err = c.PostForm(e.broker.URL+"/accounts/"+id+"/revoke", url.Values{"_csrf": {"forged"}, "confirm": {"yes"}})
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged revoke form = %d; want 403", resp.StatusCode)
	}

	entries := auditEntries(t, e, al)
	want := []struct{ action, outcome, actor string }{
		{audit.ActionSignIn, audit.OutcomeDenied, operatorName},
		{audit.ActionSignIn, audit.OutcomeOK, operatorName},
		{audit.ActionKeyCreate, audit.OutcomeOK, operatorName},
		{audit.ActionKeyRevoke, audit.OutcomeOK, operatorName},
		{audit.ActionAccountConnect, audit.OutcomeOK, operatorName},
		{audit.ActionAccountRevoke, audit.OutcomeOK, operatorName},
		{audit.ActionConsole, audit.OutcomeDenied, ""},
	}
	for _, w := range want {
		found := slices.ContainsFunc(entries, func(en store.AuditEntry) bool {
			return en.Action == w.action && en.Outcome == w.outcome && en.Actor == w.actor
		})
		if !found {
			t.Errorf("no audit entry %s/%s by %q", w.action, w.outcome, w.actor)
		}
	}
	for _, en := range entries {
		if strings.Contains(en.Detail, "wrong password!") || strings.Contains(en.Detail, operatorPass) {
			t.Errorf("audit entry %+v contains a password", en)
		}
	}

	// The console page lists and filters the entries.
	page := e.consolePage(c, "/audit?action="+audit.ActionKeyCreate)
	if !strings.Contains(page, `data-action="apikey.create"`) || strings.Contains(page, `data-action="console.signin"`) {
		t.Errorf("/audit?action=apikey.create does not show only key creations")
	}
}

// consolePage GETs a console page with the browser and returns its body.
func (e *env) consolePage(c *http.Client, path string) string {
	e.t.Helper()
	resp, err := c.Get(e.broker.URL + path)
	must(e.t, err)
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s = %d; want 200", path, resp.StatusCode)
	}
	return b.String()
}

func TestDeauthorizationAudited(t *testing.T) {
	var al *audit.Log
	e := newEnv(t, withAudit(&al))
	id := e.connect(store.AppZoom, zoomsandbox.DefaultUserID)
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	body := deauthBody(zoomsandbox.DefaultUserID, zoomsandbox.DefaultAccountID)
	if status, resp := e.webhook("zoom", body, ts, sign(webhookSecret, ts, body)); status != http.StatusOK {
		t.Fatalf("deauthorization webhook = %d %s; want 200", status, resp)
	}
	if status, _ := e.webhook("zoom", body, ts, "v0=forged"); status != http.StatusUnauthorized {
		t.Fatalf("forged webhook = %d; want 401", status)
	}

	entries := auditEntries(t, e, al)
	if !slices.ContainsFunc(entries, func(en store.AuditEntry) bool {
		return en.Action == audit.ActionAccountDeauthorize && en.AccountID == id && en.ActorType == audit.ActorZoom
	}) {
		t.Errorf("no deauthorization entry for %s by zoom in %v", id, entries)
	}
	if !slices.ContainsFunc(entries, func(en store.AuditEntry) bool {
		return en.Action == audit.ActionZoomWebhook && en.Outcome == audit.OutcomeDenied
	}) {
		t.Errorf("no denied zoom.webhook entry for the forged signature")
	}
}
