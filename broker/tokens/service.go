package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/zoom"
	"github.com/zoombroker/zoombroker/store"
)

// Defaults of Config fields left zero.
const (
	DefaultZoomTimeout  = 30 * time.Second
	DefaultRefreshLead  = 10 * time.Minute
	DefaultBackoffBase  = 30 * time.Second
	DefaultBackoffLimit = 30 * time.Minute
	DefaultRenewEvery   = 30 * 24 * time.Hour
	DefaultIdleAfter    = 2 * time.Hour

	DefaultTombstoneRetention = 30 * 24 * time.Hour
)

// Config holds the service's dependencies.
type Config struct {
	Store  store.Store
	Sealer *seal.Sealer
	Zoom   *zoom.Client

	// Apps maps each configured app to its credentials. An app missing
	// here is "not configured".
	Apps map[store.App]zoom.Credentials

	// Now is the clock for all expiry math; nil means time.Now.
	Now func() time.Time

	// Logger receives one line per refresh failure and revoke; nil
	// discards.
	Logger *slog.Logger

	// ZoomTimeout bounds one refresh or revoke at Zoom, including the one
	// retry of a refresh whose outcome is unknown. Zero means
	// DefaultZoomTimeout.
	ZoomTimeout time.Duration

	// RefreshLead is how long before expiry an account is scheduled for a
	// background refresh (NextRefreshAt). Zero means DefaultRefreshLead.
	RefreshLead time.Duration

	// RenewEvery is the longest an account's refresh token goes without
	// renewal, even when nobody uses the account. Zoom's documents
	// disagree on the refresh token's lifetime (15 years in one, about
	// 90 days in newer ones), so the default is well inside the shorter.
	// Zero means DefaultRenewEvery.
	RenewEvery time.Duration

	// IdleAfter is how long after its last hand-out an account counts as
	// idle: the refresher then renews it only every RenewEvery instead of
	// ahead of each expiry. Zero means DefaultIdleAfter.
	IdleAfter time.Duration

	// TombstoneRetention is how long a revoked or deauthorized account's
	// tombstone (id, app, when and why) is kept. Zero means
	// DefaultTombstoneRetention.
	TombstoneRetention time.Duration

	// Observer receives refresh outcomes for metrics; nil means none.
	Observer Observer

	// Events receives account changes after they are committed; nil means
	// none.
	Events EventSink

	// Holder names this process in refresh leases; empty means the host
	// name, process id and a random suffix.
	Holder string

	// BackoffBase and BackoffLimit bound the wait after a transient
	// failure: base doubled per failure in a row, at most limit. Zero
	// means the defaults.
	BackoffBase  time.Duration
	BackoffLimit time.Duration
}

// Service hands out and refreshes tokens. It is safe for concurrent use.
type Service struct {
	store  store.Store
	sealer *seal.Sealer
	zoom   *zoom.Client
	apps   map[store.App]zoom.Credentials
	now    func() time.Time
	log    *slog.Logger

	zoomTimeout  time.Duration
	refreshLead  time.Duration
	backoffBase  time.Duration
	backoffLimit time.Duration
	renewEvery   time.Duration
	idleAfter    time.Duration

	tombstoneRetention time.Duration

	// lastRefresh is when this process last stored a refresh of each
	// account, from time.Now.
	lastRefresh sync.Map // account id -> time.Time

	// lastHandout is when each account's token was last handed out by
	// this process.
	lastHandout sync.Map // account id -> time.Time

	holder   string
	observer Observer
	events   EventSink
	flight   singleflight.Group

	// inflight counts running refreshes, so shutdown can wait for them
	// before the store closes.
	inflight sync.WaitGroup

	// cache keeps the opened token record of each account by token
	// version, so the hand-out path does not decrypt on every request.
	cache sync.Map // account id -> cachedRecord

	// connectMu keeps two connects of the same Zoom identity from both
	// creating an account.
	connectMu sync.Mutex
}

type cachedRecord struct {
	version int64
	record  tokenRecord
}

// New returns a Service. Store, Sealer and Zoom are required.
func New(cfg Config) (*Service, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("tokens: Store is required"))
	}
	if cfg.Sealer == nil {
		problems = append(problems, errors.New("tokens: Sealer is required"))
	}
	if cfg.Zoom == nil {
		problems = append(problems, errors.New("tokens: Zoom is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}

	s := &Service{
		store:        cfg.Store,
		sealer:       cfg.Sealer,
		zoom:         cfg.Zoom,
		apps:         cfg.Apps,
		now:          cfg.Now,
		log:          cfg.Logger,
		zoomTimeout:  orDefault(cfg.ZoomTimeout, DefaultZoomTimeout),
		refreshLead:  orDefault(cfg.RefreshLead, DefaultRefreshLead),
		backoffBase:  orDefault(cfg.BackoffBase, DefaultBackoffBase),
		backoffLimit: orDefault(cfg.BackoffLimit, DefaultBackoffLimit),
		renewEvery:   orDefault(cfg.RenewEvery, DefaultRenewEvery),
		idleAfter:    orDefault(cfg.IdleAfter, DefaultIdleAfter),

		tombstoneRetention: orDefault(cfg.TombstoneRetention, DefaultTombstoneRetention),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.observer = cfg.Observer
	if s.observer == nil {
		s.observer = nopObserver{}
	}
	s.events = cfg.Events
	if s.events == nil {
		s.events = nopEvents{}
	}
	s.holder = cfg.Holder
	if s.holder == "" {
		host, _ := os.Hostname()
		s.holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), newAccountID()[4:12])
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Credentials returns the app's credentials and whether the app is
// configured.
func (s *Service) Credentials(app store.App) (zoom.Credentials, bool) {
	c, ok := s.apps[app]
	return c, ok && c.Configured()
}

// Store returns the store the service writes to.
func (s *Service) Store() store.Store { return s.store }

// newAccountID returns "acc_" and 20 random base32 characters.
func newAccountID() string {
	b := make([]byte, 13)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return "acc_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:20]
}

// record returns the opened token record of acct, from the cache when the
// cached version matches.
func (s *Service) record(acct store.Account) (tokenRecord, error) {
	if v, ok := s.cache.Load(acct.ID); ok {
		if c := v.(cachedRecord); c.version == acct.TokenVersion {
			return c.record, nil
		}
	}
	if len(acct.Token) == 0 {
		return tokenRecord{}, fmt.Errorf("account %s has no token record", acct.ID)
	}
	rec, err := s.openRecord(acct.ID, acct.Token)
	if err != nil {
		return tokenRecord{}, err
	}
	s.cache.Store(acct.ID, cachedRecord{version: acct.TokenVersion, record: rec})
	return rec, nil
}

// schedule returns when the background refresher should renew a token that
// expires at expiry: RefreshLead before it, minus up to a fifth of the lead
// at random, so accounts connected together do not refresh together.
func (s *Service) schedule(expiry time.Time) time.Time {
	jitter := time.Duration(mathrand.Int64N(int64(s.refreshLead)/5 + 1))
	return expiry.Add(-s.refreshLead - jitter)
}

// Connect stores the grant that the connect flow obtained. When the app
// already has a non-revoked account for the same Zoom identity (the same
// user for zoom, the same Zoom account for zoom_admin) that account gets the
// new tokens and becomes active again, and reconnected is true: Zoom has
// invalidated the earlier grant's tokens, so a second account would be dead.
//
// With ConnectOptions.Owner the external user is added to the account's
// owners; with ConnectOptions.Console the account is marked as connected by
// an operator.
func (s *Service) Connect(ctx context.Context, app store.App, tok zoom.Token, user zoom.User, opts ...ConnectOptions) (acct store.Account, reconnected bool, err error) {
	var opt ConnectOptions
	if len(opts) > 0 {
		opt = opts[0]
	}
	identity := store.ZoomIdentity{UserID: user.ID, AccountID: user.AccountID, Email: user.Email, DisplayName: user.Name()}
	rec := tokenRecord{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, IssuedAt: tok.IssuedAt, Scopes: tok.Scopes}
	now := s.now().UTC()

	s.connectMu.Lock()
	defer s.connectMu.Unlock()

	// Replicas sharing the store serialize connects of one grant through a
	// lease, so two of them cannot both create an account for it.
	release, err := s.lockGrant(ctx, app, identity)
	if err != nil {
		return store.Account{}, false, err
	}
	defer release()

	existing, err := s.store.FindAccount(ctx, app, identity)
	switch {
	case err == nil:
		blob, err := s.sealRecord(existing.ID, rec)
		if err != nil {
			return store.Account{}, false, err
		}
		acct, err = s.store.UpdateAccount(ctx, existing.ID, func(a store.Account) (store.Account, error) {
			a.Zoom = identity
			a.Status = store.StatusActive
			opt.apply(&a)
			a.Scopes = tok.Scopes
			a.UpdatedAt = now
			a.Token = blob
			a.TokenVersion++
			a.TokenExpiresAt = tok.Expiry
			a.RefreshTokenIssuedAt = tok.IssuedAt
			a.NextRefreshAt = s.schedule(tok.Expiry)
			clearFailure(&a)
			return a, nil
		})
		if err != nil {
			return store.Account{}, false, fmt.Errorf("reconnect account %s: %w", existing.ID, err)
		}
		s.cache.Store(acct.ID, cachedRecord{version: acct.TokenVersion, record: rec})
		s.noteHandout(acct.ID, now)
		s.emit(ctx, EventReconnected, acct)
		return acct, true, nil

	case errors.Is(err, store.ErrNotFound):
		acct, err = s.NewAccount(app, tok, user, opt)
		if err != nil {
			return store.Account{}, false, err
		}
		if err := s.store.CreateAccount(ctx, acct); err != nil {
			return store.Account{}, false, fmt.Errorf("create account: %w", err)
		}
		s.cache.Store(acct.ID, cachedRecord{version: acct.TokenVersion, record: rec})
		s.noteHandout(acct.ID, now)
		s.emit(ctx, EventConnected, acct)
		return acct, false, nil

	default:
		return store.Account{}, false, fmt.Errorf("find account: %w", err)
	}
}

func clearFailure(a *store.Account) {
	a.LastError = ""
	a.LastErrorCode = ""
	a.LastErrorAt = time.Time{}
	a.TransientFailures = 0
}

// OAuthOrigin returns the scheme and host of Zoom's OAuth URL, where the
// connect flow sends browsers.
func (s *Service) OAuthOrigin() string {
	u, err := url.Parse(s.zoom.OAuthURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Zoom returns the Zoom client the service uses.
func (s *Service) Zoom() *zoom.Client { return s.zoom }

// Wait blocks until every running refresh has stored its result. Call it
// after the HTTP server and the refresher stopped and before the store
// closes: a refresh cut off after Zoom rotated the token would lose the
// account.
func (s *Service) Wait() { s.inflight.Wait() }

// ConnectOptions describes who connected a grant.
type ConnectOptions struct {
	// Owner is the external user id of a connect link; empty for none.
	Owner string

	// Console is true when an operator connected the grant in the console.
	Console bool
}

func (o ConnectOptions) apply(a *store.Account) {
	if o.Owner != "" && !slices.Contains(a.Owners, o.Owner) {
		a.Owners = append(slices.Clone(a.Owners), o.Owner)
	}
	if o.Console {
		a.ConsoleConnected = true
	}
}

// lockGrant takes the lease that serializes connects of one Zoom grant
// across processes, waiting up to ten seconds, and returns its release.
func (s *Service) lockGrant(ctx context.Context, app store.App, identity store.ZoomIdentity) (func(), error) {
	subject := identity.UserID
	if app == store.AppZoomAdmin {
		subject = identity.AccountID
	}
	name := "connect/" + string(app) + "/" + subject

	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.store.AcquireLease(ctx, name, s.holder, s.now(), 30*time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrLeaseHeld) || time.Now().After(deadline) {
			return nil, fmt.Errorf("lock grant for connect: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leasePoll):
		}
	}
	return func() {
		if err := s.store.ReleaseLease(context.WithoutCancel(ctx), name, s.holder); err != nil {
			s.log.Warn("release connect lease failed", "app", string(app), "err", err)
		}
	}, nil
}
