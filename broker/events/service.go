package events

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zoombroker/zoombroker/broker/seal"
	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/store"
)

// Defaults of Config fields left zero.
const (
	DefaultConcurrency  = 4
	DefaultTimeout      = 10 * time.Second
	DefaultRetryFor     = 24 * time.Hour
	DefaultBackoffBase  = 10 * time.Second
	DefaultBackoffLimit = time.Hour
	DefaultPollInterval = 5 * time.Second
	DefaultRetention    = 7 * 24 * time.Hour
)

// maxURLLength bounds an endpoint URL.
const maxURLLength = 2048

// Endpoint is a webhook endpoint from the configuration.
type Endpoint struct {
	URL    string
	Secret secret.Secret
}

// Config holds the service's dependencies and limits.
type Config struct {
	Store store.Store

	// Sealer seals the secrets of endpoints created through the API.
	Sealer *seal.Sealer

	// Endpoints are the configured endpoints. [Service.SyncEndpoints]
	// adds them to the store and removes configured ones no longer listed.
	Endpoints []Endpoint

	// HTTP sends the deliveries; nil means a client that follows no
	// redirects. Timeout bounds each request either way.
	HTTP *http.Client

	// Now is the clock of every schedule; nil means time.Now.
	Now func() time.Time

	// Logger receives one line per failed attempt and per give-up; nil
	// discards.
	Logger *slog.Logger

	// Delivered, when set, is called once per attempt with its outcome:
	// "delivered", "retry" or "failed". It must be fast; metrics use it.
	Delivered func(outcome string)

	// Concurrency bounds the requests running at once. Zero means
	// DefaultConcurrency.
	Concurrency int

	// Timeout bounds one request to an endpoint. Zero means
	// DefaultTimeout.
	Timeout time.Duration

	// RetryFor is how long after the event the broker keeps trying before
	// it marks a delivery failed. Zero means DefaultRetryFor.
	RetryFor time.Duration

	// BackoffBase and BackoffLimit bound the wait after a failed attempt:
	// base doubled per failed attempt, at most limit, then cut by up to a
	// half at random. Zero means the defaults.
	BackoffBase  time.Duration
	BackoffLimit time.Duration

	// PollInterval is the pause between two reads of the outbox when no
	// new event arrives in this process. Zero means DefaultPollInterval.
	PollInterval time.Duration

	// Retention is how long finished deliveries stay visible in the
	// console. Zero means DefaultRetention.
	Retention time.Duration

	// Holder names this process in the store's queue leases; empty means
	// the host name, process id and a random suffix.
	Holder string
}

// Service records account events in the outbox and delivers them. It is
// safe for concurrent use.
type Service struct {
	store  store.Store
	sealer *seal.Sealer
	http   *http.Client
	now    func() time.Time
	log    *slog.Logger
	holder string

	concurrency  int
	timeout      time.Duration
	retryFor     time.Duration
	backoffBase  time.Duration
	backoffLimit time.Duration
	pollInterval time.Duration
	retention    time.Duration

	// configured holds the configured endpoints by webhook id.
	configured map[string]Endpoint

	// wake signals Run that new deliveries are waiting.
	wake chan struct{}

	mu        sync.Mutex
	inflight  map[int64]bool // delivery ids being sent by this process
	delivered func(outcome string)
}

// New checks cfg and returns a Service. Store is required, and Sealer
// unless only configured endpoints are used.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("events: Store is required")
	}

	s := &Service{
		store:        cfg.Store,
		sealer:       cfg.Sealer,
		http:         cfg.HTTP,
		now:          cfg.Now,
		log:          cfg.Logger,
		holder:       cfg.Holder,
		concurrency:  cfg.Concurrency,
		delivered:    cfg.Delivered,
		timeout:      orDefault(cfg.Timeout, DefaultTimeout),
		retryFor:     orDefault(cfg.RetryFor, DefaultRetryFor),
		backoffBase:  orDefault(cfg.BackoffBase, DefaultBackoffBase),
		backoffLimit: orDefault(cfg.BackoffLimit, DefaultBackoffLimit),
		pollInterval: orDefault(cfg.PollInterval, DefaultPollInterval),
		retention:    orDefault(cfg.Retention, DefaultRetention),
		configured:   map[string]Endpoint{},
		wake:         make(chan struct{}, 1),
		inflight:     map[int64]bool{},
	}
	if s.concurrency <= 0 {
		s.concurrency = DefaultConcurrency
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.http == nil {
		// The dialer refuses link-local and unspecified addresses even when
		// a name resolves to one, so an endpoint cannot reach a cloud
		// metadata service.
		dialer := &net.Dialer{Timeout: 10 * time.Second, Control: refuseLinkLocal}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.DialContext = dialer.DialContext
		s.http = &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if s.holder == "" {
		host, _ := os.Hostname()
		s.holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), newID("")[:8])
	}

	for i, ep := range cfg.Endpoints {
		if err := CheckURL(ep.URL); err != nil {
			return nil, fmt.Errorf("events: endpoint %d: %w", i+1, err)
		}
		if ep.Secret.Empty() {
			return nil, fmt.Errorf("events: endpoint %d (%s): the secret is empty", i+1, ep.URL)
		}
		id := configuredID(ep.URL)
		if _, dup := s.configured[id]; dup {
			return nil, fmt.Errorf("events: endpoint %d: %s is listed twice", i+1, ep.URL)
		}
		s.configured[id] = ep
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// configuredID derives a configured endpoint's id from its URL, so the id
// stays the same across restarts.
func configuredID(u string) string {
	sum := sha256.Sum256([]byte(u))
	return "whk_cfg_" + hex.EncodeToString(sum[:10])
}

// CheckURL returns an error unless u is an absolute http or https URL
// without user information or fragment.
func CheckURL(u string) error {
	if len(u) > maxURLLength {
		return fmt.Errorf("the URL has %d characters; the maximum is %d", len(u), maxURLLength)
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return fmt.Errorf("the URL is not valid: %w", err)
	case p.Scheme != "http" && p.Scheme != "https":
		return errors.New("the URL must start with http:// or https://")
	case p.Host == "":
		return errors.New("the URL has no host")
	case p.User != nil:
		return errors.New("the URL must not contain a user name or password; authenticate with the signature")
	case p.Fragment != "" || p.RawFragment != "":
		return errors.New("the URL must not contain a fragment")
	}
	if ip := net.ParseIP(strings.Trim(p.Hostname(), "[]")); ip != nil && forbiddenIP(ip) {
		return fmt.Errorf("the URL's address %s is link-local, multicast or unspecified; webhooks cannot be sent there", ip)
	}
	return nil
}

// forbiddenIP reports addresses webhooks must never reach: link-local
// (where cloud metadata services live), multicast and unspecified.
func forbiddenIP(ip net.IP) bool {
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified()
}

// refuseLinkLocal is a net.Dialer Control that stops connections to a
// forbidden address after name resolution.
func refuseLinkLocal(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil && forbiddenIP(ip) {
		return fmt.Errorf("webhook address %s is link-local, multicast or unspecified", ip)
	}
	return nil
}

// SyncEndpoints adds the configured endpoints to the store and removes the
// configured ones that are no longer listed, with their deliveries. Call it
// once at startup, before the token service emits events.
func (s *Service) SyncEndpoints(ctx context.Context) error {
	stored, err := s.store.ListWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("sync webhook endpoints: %w", err)
	}

	have := map[string]bool{}
	for _, w := range stored {
		if w.Source != store.WebhookSourceConfig {
			continue
		}
		if _, ok := s.configured[w.ID]; ok {
			have[w.ID] = true
			continue
		}
		if err := s.store.DeleteWebhook(ctx, w.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("sync webhook endpoints: remove %s: %w", w.ID, err)
		}
		s.log.Info("webhook endpoint removed from configuration", "webhook_id", w.ID, "url", w.URL)
	}

	for id, ep := range s.configured {
		if have[id] {
			continue
		}
		w := store.Webhook{ID: id, URL: ep.URL, Source: store.WebhookSourceConfig, CreatedAt: s.now().UTC()}
		if err := s.store.CreateWebhook(ctx, w); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("sync webhook endpoints: add %s: %w", ep.URL, err)
		}
		s.log.Info("webhook endpoint added from configuration", "webhook_id", id, "url", ep.URL)
	}
	return nil
}

// CreateWebhook registers an endpoint and returns it with its secret,
// which the store keeps only sealed. An empty secret gets a random one.
func (s *Service) CreateWebhook(ctx context.Context, rawURL string, sec secret.Secret) (store.Webhook, secret.Secret, error) {
	if err := CheckURL(rawURL); err != nil {
		return store.Webhook{}, "", &InvalidError{Msg: err.Error()}
	}
	if s.sealer == nil {
		return store.Webhook{}, "", errors.New("create webhook: no sealer is configured")
	}
	if sec.Empty() {
		sec = secret.Secret("whsec_" + rand.Text())
	} else if len(sec.Reveal()) < 16 {
		return store.Webhook{}, "", &InvalidError{Msg: "the secret must have at least 16 characters"}
	}

	w := store.Webhook{ID: newID("whk_"), URL: rawURL, Source: store.WebhookSourceAPI, CreatedAt: s.now().UTC()}
	sealed, err := s.sealer.Seal(secretAAD(w.ID), []byte(sec.Reveal()))
	if err != nil {
		return store.Webhook{}, "", fmt.Errorf("create webhook: %w", err)
	}
	w.Secret = sealed
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		return store.Webhook{}, "", fmt.Errorf("create webhook: %w", err)
	}
	s.log.Info("webhook endpoint created", "webhook_id", w.ID, "url", w.URL)
	return w, sec, nil
}

// DeleteWebhook removes an endpoint created through the API, with its
// deliveries. It returns an error wrapping store.ErrNotFound for an unknown
// id and *InvalidError for a configured endpoint.
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	w, err := s.store.GetWebhook(ctx, id)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if w.Source == store.WebhookSourceConfig {
		return &InvalidError{Msg: "this endpoint comes from the broker's configuration; remove it there and restart"}
	}
	if err := s.store.DeleteWebhook(ctx, id); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	s.log.Info("webhook endpoint deleted", "webhook_id", id)
	return nil
}

// ListWebhooks returns every endpoint. Their Secret fields are still
// sealed, or nil for configured endpoints.
func (s *Service) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	return s.store.ListWebhooks(ctx)
}

// ListDeliveries returns a page of deliveries, newest first.
func (s *Service) ListDeliveries(ctx context.Context, opts store.DeliveryListOptions) ([]store.Delivery, int64, error) {
	return s.store.ListDeliveries(ctx, opts)
}

// InvalidError is a request the caller must change.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func secretAAD(webhookID string) []byte { return []byte("webhook-secret:" + webhookID) }

// secretOf returns the signing secret of w.
func (s *Service) secretOf(w store.Webhook) ([]byte, error) {
	if w.Source == store.WebhookSourceConfig {
		ep, ok := s.configured[w.ID]
		if !ok {
			return nil, fmt.Errorf("webhook %s is no longer configured", w.ID)
		}
		return []byte(ep.Secret.Reveal()), nil
	}
	if s.sealer == nil {
		return nil, errors.New("no sealer is configured")
	}
	plain, err := s.sealer.Open(secretAAD(w.ID), w.Secret)
	if err != nil {
		return nil, fmt.Errorf("open the secret of webhook %s: %w", w.ID, err)
	}
	return plain, nil
}

// AccountEvent implements [tokens.EventSink]: it appends the event for
// every registered endpoint to the outbox and wakes Run. It returns after
// the store committed, without sending anything.
func (s *Service) AccountEvent(ctx context.Context, kind string, acct store.Account) error {
	now := s.now().UTC()
	ev := Event{ID: newID("evt_"), Type: kind, CreatedAt: now, Account: NewAccountJSON(acct)}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("record %s event of account %s: %w", kind, acct.ID, err)
	}

	// An endpoint deleted between the list and the append fails the whole
	// append, so the list is read again.
	for range 3 {
		err = s.appendEvent(ctx, ev, body)
		if !errors.Is(err, store.ErrNotFound) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("record %s event of account %s: %w", kind, acct.ID, err)
	}
	return nil
}

// appendEvent appends one delivery of the event per endpoint and wakes Run.
func (s *Service) appendEvent(ctx context.Context, ev Event, body []byte) error {
	hooks, err := s.store.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	if len(hooks) == 0 {
		return nil
	}

	ds := make([]store.Delivery, 0, len(hooks))
	for _, w := range hooks {
		ds = append(ds, store.Delivery{
			WebhookID:     w.ID,
			AccountID:     ev.Account.ID,
			EventID:       ev.ID,
			EventType:     ev.Type,
			Payload:       body,
			CreatedAt:     ev.CreatedAt,
			Status:        store.DeliveryPending,
			NextAttemptAt: ev.CreatedAt,
		})
	}
	if _, err := s.store.AppendDeliveries(ctx, ds); err != nil {
		return err
	}

	s.Wake()
	return nil
}

// Wake makes Run read the outbox now instead of after its poll interval.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
