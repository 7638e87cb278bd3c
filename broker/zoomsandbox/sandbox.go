package zoomsandbox

import (
	"crypto/rand"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// Default lifetimes, used when the matching [Options] field is zero or less.
const (
	// DefaultAccessTokenTTL is the access token lifetime. Zoom's token
	// responses for user OAuth set expires_in to 3599.
	DefaultAccessTokenTTL = 3599 * time.Second

	// DefaultRefreshTokenTTL is how long a refresh token lives when it is
	// not used. Zoom's own pages disagree (15 years in the support article,
	// about 90 days in newer material), and the sandbox takes the shorter.
	DefaultRefreshTokenTTL = 90 * 24 * time.Hour

	// DefaultCodeTTL is the authorization code lifetime, 5 minutes as in
	// Zoom's error 4733 "Code is expired".
	DefaultCodeTTL = 5 * time.Minute
)

// Ids of the users that [DefaultUsers] returns. Both users belong to the
// account DefaultAccountID.
const (
	DefaultAccountID   = "sbxAcct7Qm2Hd9LkP4wXz1"
	DefaultAdminUserID = "sbxAdmin3Vn8Rt5YqJ6cGe"
	DefaultUserID      = "sbxUser9Ks2Fw7NbX4pTa0"
)

// App is an OAuth app registered with the sandbox, like a "General" app in
// the Zoom App Marketplace.
type App struct {
	// Name is the app name on the consent page, for example "Zoom".
	Name string

	ClientID     string
	ClientSecret secret.Secret

	// Admin marks an account-level (admin-managed) app: only an admin user
	// may authorize it, and its grant belongs to the user's account.
	Admin bool

	// Scopes are granted with every token, in this order.
	Scopes []string

	// RedirectURIs are the registered redirect URIs. A redirect_uri must
	// equal one of them exactly. When the list is empty, any absolute http
	// or https URI is accepted.
	RedirectURIs []string
}

// User is a Zoom user who can sign in to the sandbox's consent page.
type User struct {
	ID        string
	AccountID string
	Email     string
	FirstName string
	LastName  string

	// Admin marks an account admin, who may authorize account-level apps.
	Admin bool
}

// DisplayName returns the first and last name joined by a space.
func (u User) DisplayName() string { return u.FirstName + " " + u.LastName }

// DefaultUsers returns the users a Sandbox gets when [Options.Users] is
// empty: an admin, "Dev Admin", and a normal user, "Dev User", in one
// account. Their ids never change.
func DefaultUsers() []User {
	return []User{
		{
			ID: DefaultAdminUserID, AccountID: DefaultAccountID, Email: "dev.admin@example.com",
			FirstName: "Dev", LastName: "Admin", Admin: true,
		},
		{
			ID: DefaultUserID, AccountID: DefaultAccountID, Email: "dev.user@example.com",
			FirstName: "Dev", LastName: "User",
		},
	}
}

// Options configures a [Sandbox]. The zero value is usable but registers no
// apps, so every authorization fails.
type Options struct {
	// Apps are the registered apps. Client ids must be unique and not empty.
	Apps []App

	// Users can sign in on the consent page. Empty means [DefaultUsers].
	// User ids must be unique and not empty.
	Users []User

	// Now is the clock for every expiry; nil means time.Now.
	Now func() time.Time

	// AccessTokenTTL is the access token lifetime and the expires_in of
	// token responses, in whole seconds. Zero or less means
	// DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration

	// RefreshTokenTTL is how long a refresh token stays usable after it was
	// issued. Each refresh issues a new one with a fresh lifetime. Zero or
	// less means DefaultRefreshTokenTTL.
	RefreshTokenTTL time.Duration

	// CodeTTL is the authorization code lifetime. Zero or less means
	// DefaultCodeTTL.
	CodeTTL time.Duration

	// Logger receives one line per grant event and per rejected token
	// request. It never receives tokens, codes, secrets or state. Nil
	// discards.
	Logger *slog.Logger

	// StateFile, when set, keeps the live grants in this file (mode 0600,
	// tokens in plaintext), so a restarted sandbox still honours the grants
	// a broker stored. For development only.
	StateFile string
}

// Sandbox is an imitation Zoom OAuth server. All its methods are safe for
// concurrent use, and its handler serves any number of requests at once.
type Sandbox struct {
	apps  map[string]App // by client id
	users map[string]User
	// appList and userList keep the order of Options for the pages.
	appList  []App
	userList []User

	now        func() time.Time
	accessTTL  time.Duration
	refreshTTL time.Duration
	codeTTL    time.Duration
	log        *slog.Logger
	signingKey []byte
	pages      *template.Template
	handler    http.Handler

	stateFile string

	mu       sync.Mutex
	consents map[string]*consent // by form token
	codes    map[string]*authCode
	grants   map[grantKey]*grant // live grants only
	access   map[string]*grant   // current access token of each live grant
	refresh  map[string]*grant   // current refresh token of each live grant
	issued   []string
	faults   faults
	limit    tokenLimit
	counts   counts
	rates    map[string]rateWindow
	meetings int64 // meetings created, for their ids
}

// New returns a Sandbox for opts. It panics when two apps share a client id,
// two users share an id, or an id is empty, because those are mistakes in
// the calling test or command.
func New(opts Options) *Sandbox {
	s := &Sandbox{
		apps:       make(map[string]App),
		users:      make(map[string]User),
		now:        opts.Now,
		accessTTL:  opts.AccessTokenTTL,
		refreshTTL: opts.RefreshTokenTTL,
		codeTTL:    opts.CodeTTL,
		log:        opts.Logger,
		signingKey: make([]byte, 64),
		pages:      parsePages(),
		consents:   make(map[string]*consent),
		codes:      make(map[string]*authCode),
		grants:     make(map[grantKey]*grant),
		access:     make(map[string]*grant),
		refresh:    make(map[string]*grant),
		rates:      make(map[string]rateWindow),
		stateFile:  opts.StateFile,
	}
	rand.Read(s.signingKey)

	if s.now == nil {
		s.now = time.Now
	}
	if s.accessTTL <= 0 {
		s.accessTTL = DefaultAccessTokenTTL
	}
	if s.refreshTTL <= 0 {
		s.refreshTTL = DefaultRefreshTokenTTL
	}
	if s.codeTTL <= 0 {
		s.codeTTL = DefaultCodeTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	for _, a := range opts.Apps {
		if a.ClientID == "" {
			panic("zoomsandbox: app with an empty client id")
		}
		if _, dup := s.apps[a.ClientID]; dup {
			panic(fmt.Sprintf("zoomsandbox: duplicate client id %q", a.ClientID))
		}
		a.Scopes = slices.Clone(a.Scopes)
		a.RedirectURIs = slices.Clone(a.RedirectURIs)
		s.apps[a.ClientID] = a
		s.appList = append(s.appList, a)
	}

	users := opts.Users
	if len(users) == 0 {
		users = DefaultUsers()
	}
	for _, u := range users {
		if u.ID == "" {
			panic("zoomsandbox: user with an empty id")
		}
		if _, dup := s.users[u.ID]; dup {
			panic(fmt.Sprintf("zoomsandbox: duplicate user id %q", u.ID))
		}
		s.users[u.ID] = u
		s.userList = append(s.userList, u)
	}

	if s.stateFile != "" {
		if err := s.loadState(); err != nil {
			s.log.Error("sandbox state not restored, starting empty", "err", err)
		}
	}
	s.handler = s.routes()
	return s
}

// Handler returns the sandbox's HTTP handler. It can be mounted under any
// path prefix with [net/http.StripPrefix]. The api_url of token responses
// and the links on its pages include that prefix.
func (s *Sandbox) Handler() http.Handler { return s.handler }

func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("GET /oauth/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /oauth/authorize", s.handleConsent)
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("POST /oauth/revoke", s.handleRevoke)
	mux.HandleFunc("GET /v2/users/me", s.handleUsersMe)
	mux.HandleFunc("GET /v2/users/me/meetings", s.handleListMeetings)
	mux.HandleFunc("POST /v2/users/me/meetings", s.handleCreateMeeting)
	mux.HandleFunc("/v2/", s.handleAPINotFound)
	return mux
}
