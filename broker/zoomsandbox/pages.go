package zoomsandbox

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

//go:embed pages/*.html
var pageFiles embed.FS

func parsePages() *template.Template {
	return template.Must(template.ParseFS(pageFiles, "pages/*.html"))
}

// pageSecurityPolicy allows the pages' one <style> element and nothing
// else: the pages run no script and load nothing. It leaves form-action
// open, because some browsers apply form-action to the redirect that
// follows a form and the consent form redirects to the app.
const pageSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"

// appView is the part of an App that the pages show, without its secret.
type appView struct {
	Name         string
	ClientID     string
	Admin        bool
	Scopes       []string
	RedirectURIs []string
}

type indexPage struct {
	Title string
	Base  string
	Apps  []appView
	Users []User
}

type consentPage struct {
	Title        string
	AppName      string
	AccountLevel bool
	Scopes       []string
	RedirectHost string
	FormToken    string
	Request      authRequest
	Users        []User

	// UserIDField marks a page that shows a text field for the user id in
	// place of the list of users, when there are more than maxListedUsers.
	UserIDField bool
}

// maxListedUsers is the maximum number of users the consent page lists. A sandbox with
// thousands of users, as load tests create, would otherwise send pages of
// megabytes.
const maxListedUsers = 100

type errorPage struct {
	Title   string
	Message string
}

// renderPage executes the named page into a buffer first, so that a
// template error never sends half a page.
func (s *Sandbox) renderPage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("zoom sandbox: render page", "page", name, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}

	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Sandbox) renderError(w http.ResponseWriter, status int, title, message string) {
	s.renderPage(w, status, "error.html", errorPage{Title: title, Message: message})
}

func (s *Sandbox) handleIndex(w http.ResponseWriter, r *http.Request) {
	page := indexPage{Title: "Zoom sandbox", Base: mountPrefix(r), Users: s.userList}
	for _, a := range s.appList {
		page.Apps = append(page.Apps, appView{
			Name: a.Name, ClientID: a.ClientID, Admin: a.Admin,
			Scopes: a.Scopes, RedirectURIs: a.RedirectURIs,
		})
	}
	s.renderPage(w, http.StatusOK, "index.html", page)
}

// baseURL returns the sandbox's URL as the client reached it: scheme, Host
// header and the path prefix the handler is mounted under. The Host header
// comes from the client, which is fine for a sandbox and wrong for a real
// service.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + mountPrefix(r)
}

// mountPrefix returns the path prefix that http.StripPrefix removed before
// the request reached the sandbox: the part of the original request path in
// front of r.URL.Path.
func mountPrefix(r *http.Request) string {
	orig, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return ""
	}
	prefix, found := strings.CutSuffix(orig.Path, r.URL.Path)
	if !found {
		return ""
	}
	return prefix
}
