package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/zoombroker/zoombroker/broker/zoom"
)

// tokenRecorder sits in front of the sandbox and records every refresh
// request: which account it renewed and how long before the old token's
// expiry, which ones were answered 429, and how long the broker waited
// before it presented a rate-limited refresh token again. It keys refresh
// tokens by their SHA-256 and never keeps or prints a token.
type tokenRecorder struct {
	next http.Handler

	mu sync.Mutex

	// account maps a refresh token's hash to the account index it renews;
	// expiry is each account's current access-token expiry.
	account map[[32]byte]int
	expiry  []time.Time

	// refreshedAt and lead are each account's first successful refresh
	// and how long before its old token's expiry that was.
	refreshedAt []time.Time
	lead        []time.Duration

	// limited holds the last 429 of each refresh token not yet retried.
	limited map[[32]byte]rateLimited

	stats refreshStats

	// perSecond counts the refresh requests (and the 429s among them) by
	// Unix second of arrival.
	perSecond map[int64]*[2]int
}

type rateLimited struct {
	at         time.Time
	retryAfter time.Duration
}

// refreshStats are the counts of a tokenRecorder.
type refreshStats struct {
	ok, limited, failed int

	// retries counts refresh tokens presented again after a 429; early
	// counts those presented sooner than Retry-After asked; minGap is the
	// shortest wait before such a retry.
	retries, early int
	minGap         time.Duration
}

func newTokenRecorder(next http.Handler) *tokenRecorder {
	return &tokenRecorder{
		next:      next,
		account:   map[[32]byte]int{},
		limited:   map[[32]byte]rateLimited{},
		perSecond: map[int64]*[2]int{},
	}
}

// track registers the grants of accounts numbered from first, so the
// recorder can tell which account each refresh renews.
func (t *tokenRecorder) track(first int, toks []zoom.Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.expiry) < first+len(toks) {
		t.expiry = append(t.expiry, time.Time{})
		t.refreshedAt = append(t.refreshedAt, time.Time{})
		t.lead = append(t.lead, 0)
	}
	for i, tok := range toks {
		t.account[sha256.Sum256([]byte(tok.RefreshToken.Reveal()))] = first + i
		t.expiry[first+i] = tok.Expiry
	}
}

// captureWriter keeps the status, the Retry-After header and the body.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *captureWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection, which the
// sandbox hijacks to drop a response.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (t *tokenRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" {
		t.next.ServeHTTP(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		t.next.ServeHTTP(w, r)
		return
	}

	key := sha256.Sum256([]byte(r.PostForm.Get("refresh_token")))
	t.arrived(key, time.Now())
	cw := &captureWriter{ResponseWriter: w}
	t.next.ServeHTTP(cw, r)
	t.answered(key, time.Now(), cw)
}

// arrived counts a refresh request and checks how long after a 429 the
// same token came back.
func (t *tokenRecorder) arrived(key [32]byte, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sec := t.perSecond[at.Unix()]
	if sec == nil {
		sec = &[2]int{}
		t.perSecond[at.Unix()] = sec
	}
	sec[0]++

	last, ok := t.limited[key]
	if !ok {
		return
	}
	delete(t.limited, key)
	gap := at.Sub(last.at)
	t.stats.retries++
	if gap < last.retryAfter {
		t.stats.early++
	}
	if t.stats.retries == 1 || gap < t.stats.minGap {
		t.stats.minGap = gap
	}
}

// answered records the outcome of a refresh request.
func (t *tokenRecorder) answered(key [32]byte, at time.Time, w *captureWriter) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch w.status {
	case http.StatusOK:
		t.stats.ok++
		t.renewed(key, at, w.body.Bytes())
	case http.StatusTooManyRequests:
		t.stats.limited++
		t.perSecond[at.Unix()][1]++
		seconds, _ := strconv.Atoi(w.Header().Get("Retry-After"))
		t.limited[key] = rateLimited{at: at, retryAfter: time.Duration(seconds) * time.Second}
	default:
		t.stats.failed++
	}
}

// renewed follows an account from its old refresh token to the new one and
// records how far ahead of the old expiry its first refresh came. The
// caller holds t.mu.
func (t *tokenRecorder) renewed(key [32]byte, at time.Time, body []byte) {
	idx, ok := t.account[key]
	if !ok {
		return
	}
	delete(t.account, key)

	var resp struct {
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	if json.Unmarshal(body, &resp) != nil || resp.RefreshToken == "" {
		return
	}
	if t.refreshedAt[idx].IsZero() {
		t.refreshedAt[idx] = at
		t.lead[idx] = t.expiry[idx].Sub(at)
	}
	t.account[sha256.Sum256([]byte(resp.RefreshToken))] = idx
	t.expiry[idx] = at.Add(time.Duration(resp.ExpiresIn) * time.Second)
}

// refreshedCount returns how many of the first n accounts were refreshed.
func (t *tokenRecorder) refreshedCount(n int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	count := 0
	for _, at := range t.refreshedAt[:min(n, len(t.refreshedAt))] {
		if !at.IsZero() {
			count++
		}
	}
	return count
}
