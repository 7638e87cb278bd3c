package zoomsandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
)

// maxFormBytes limits the body of every form the sandbox reads.
const maxFormBytes = 64 << 10

// authorizeError is the JSON that Zoom shows in the browser, without
// redirecting, when an authorization request names an unknown client or an
// unregistered redirect URI. Zoom's text for a bad redirect URI is "Invalid
// redirect url".
//
// NOTE: The texts and codes for the other cases (unknown client,
// response_type, PKCE parameters) are assumptions: only the bad redirect
// URI page has been seen in public. All of them use code 4700.
type authorizeError struct {
	Status       bool   `json:"status"`
	ErrorCode    int    `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	Result       any    `json:"result"`
}

func writeAuthorizeError(w http.ResponseWriter, message string) {
	body, _ := json.Marshal(authorizeError{ErrorCode: 4700, ErrorMessage: message})
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	w.Write(body)
}

// allowsRedirect reports whether uri may receive the authorization
// response: an exact match with a registered URI, or with none registered,
// any absolute http or https URI without a fragment.
func (a App) allowsRedirect(uri string) bool {
	if len(a.RedirectURIs) > 0 {
		return slices.Contains(a.RedirectURIs, uri)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == ""
}

// parseAuthRequest validates the parameters of an authorization request. It
// returns the message of the error page when they are invalid.
func (s *Sandbox) parseAuthRequest(q url.Values) (App, authRequest, string) {
	app, ok := s.apps[q.Get("client_id")]
	if !ok {
		return App{}, authRequest{}, "Invalid client_id"
	}

	req := authRequest{
		ClientID:      app.ClientID,
		RedirectURI:   q.Get("redirect_uri"),
		State:         q.Get("state"),
		Challenge:     q.Get("code_challenge"),
		ChallengeMode: q.Get("code_challenge_method"),
	}
	if !app.allowsRedirect(req.RedirectURI) {
		return App{}, authRequest{}, "Invalid redirect url"
	}
	if q.Get("response_type") != "code" {
		return App{}, authRequest{}, "Invalid response_type"
	}

	// Zoom's PKCE documentation: the method defaults to plain when absent.
	switch {
	case req.Challenge == "" && req.ChallengeMode != "":
		return App{}, authRequest{}, "Missing code_challenge"
	case req.Challenge != "" && req.ChallengeMode == "":
		req.ChallengeMode = "plain"
	case req.Challenge != "" && req.ChallengeMode != "S256" && req.ChallengeMode != "plain":
		return App{}, authRequest{}, "Invalid code_challenge_method"
	}
	return app, req, ""
}

// handleAuthorize shows the consent page. Its form carries the request in
// hidden fields and a one-time form token that handleConsent
// requires, so a form posted from elsewhere fails.
func (s *Sandbox) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	app, req, problem := s.parseAuthRequest(r.URL.Query())
	if problem != "" {
		writeAuthorizeError(w, problem)
		return
	}

	now := s.now()
	formToken := randomString(24)
	s.mu.Lock()
	s.sweep(now)
	s.consents[formToken] = &consent{req: req, expires: now.Add(consentTTL)}
	s.mu.Unlock()

	redirect, _ := url.Parse(req.RedirectURI) // parsed by allowsRedirect already
	s.renderPage(w, http.StatusOK, "consent.html", consentPage{
		Title:        "Authorize " + app.Name,
		AppName:      app.Name,
		AccountLevel: app.Admin,
		Scopes:       app.Scopes,
		RedirectHost: redirect.Host,
		FormToken:    formToken,
		Request:      req,
		Users:        s.userList,
		UserIDField:  len(s.userList) > maxListedUsers,
	})
}

// takeConsent removes and returns the consent form of formToken, or nil
// when the token is unknown, used or expired.
func (s *Sandbox) takeConsent(formToken string) *consent {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()

	c := s.consents[formToken]
	if c == nil {
		return nil
	}
	delete(s.consents, formToken)
	if now.After(c.expires) {
		return nil
	}
	return c
}

// handleConsent takes the consent form. Allow redirects with a code,
// Decline with error=access_denied. Problems with the form itself get an
// error page and no redirect.
func (s *Sandbox) handleConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, http.StatusBadRequest, "Invalid request", "The consent form could not be read.")
		return
	}
	form := r.PostForm

	c := s.takeConsent(form.Get("form_token"))
	if c == nil {
		s.renderError(w, http.StatusBadRequest, "Invalid request",
			"This consent form is invalid, was already used or has expired. Start the authorization again.")
		return
	}
	req := c.req
	if !req.matchesForm(form) {
		s.renderError(w, http.StatusBadRequest, "Invalid request",
			"The consent form was changed after it was shown. Start the authorization again.")
		return
	}
	app := s.apps[req.ClientID]

	switch form.Get("action") {
	case "decline":
		s.log.Info("zoom sandbox: authorization declined", "client_id", app.ClientID)
		redirectTo(w, req.RedirectURI, url.Values{"error": {"access_denied"}}, req.State)
		return
	case "allow":
	default:
		s.renderError(w, http.StatusBadRequest, "Invalid request", "Choose Allow or Decline.")
		return
	}

	user, ok := s.users[form.Get("user")]
	if !ok {
		s.renderError(w, http.StatusBadRequest, "Invalid request", "The chosen user does not exist.")
		return
	}
	if app.Admin && !user.Admin {
		// NOTE: Zoom shows an error page here too; its exact text is not
		// known.
		s.renderError(w, http.StatusForbidden, "Not authorized",
			app.Name+" is an account-level app. Only an account admin can authorize it, and "+
				user.Email+" is not an admin.")
		return
	}

	code := randomString(24)
	now := s.now()
	s.mu.Lock()
	s.codes[code] = &authCode{req: req, userID: user.ID, expires: now.Add(s.codeTTL)}
	s.issued = append(s.issued, code)
	s.mu.Unlock()

	s.log.Info("zoom sandbox: authorization allowed", "client_id", app.ClientID, "user_id", user.ID)
	redirectTo(w, req.RedirectURI, url.Values{"code": {code}}, req.State)
}

// matchesForm reports whether the hidden fields of the posted consent form
// still hold the request the page was made for.
func (req authRequest) matchesForm(form url.Values) bool {
	return form.Get("client_id") == req.ClientID &&
		form.Get("redirect_uri") == req.RedirectURI &&
		form.Get("state") == req.State &&
		form.Get("code_challenge") == req.Challenge &&
		form.Get("code_challenge_method") == req.ChallengeMode
}

// redirectTo writes a 302 Found response to redirectURI with params added to
// its query, and state when it is not empty.
func redirectTo(w http.ResponseWriter, redirectURI string, params url.Values, state string) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		// allowsRedirect accepted it, so only an unparsable registered URI
		// gets here.
		http.Error(w, "Invalid redirect url", http.StatusBadRequest)
		return
	}

	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()

	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}
