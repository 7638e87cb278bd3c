package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one closed-loop load run: conns workers, each with its own
// keep-alive connection, send the next request as soon as the previous
// response is read.
type loadSpec struct {
	// conns is the number of concurrent connections and workers.
	conns int

	// warmup runs first and is not measured; duration is measured.
	warmup   time.Duration
	duration time.Duration

	// request builds the i-th request of worker w.
	request func(w, i int) (*http.Request, error)

	// check inspects each measured response body; nil accepts any 200.
	check func(body []byte) error
}

// loadResult is what a load run measured.
type loadResult struct {
	requests int
	errors   int
	elapsed  time.Duration
	lat      latencies

	// firstError describes the first failed request, without its body.
	firstError string
}

// rps returns the measured requests per second.
func (r loadResult) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// newLoadClient returns a client whose transport keeps exactly conns
// connections to one host alive, with no proxy and no compression, so the
// generator costs the same against every server it drives.
func newLoadClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// runLoad drives the spec and returns the latencies of the responses that
// arrived within the measured window.
func runLoad(ctx context.Context, spec loadSpec) loadResult {
	client := newLoadClient(spec.conns)
	defer client.CloseIdleConnections()

	start := time.Now()
	measureFrom := start.Add(spec.warmup)
	stopAt := measureFrom.Add(spec.duration)

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      = make([]time.Duration, 0, 1<<16)
		requests atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
	)
	for w := range spec.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 1<<14)
			for i := 0; ; i++ {
				if ctx.Err() != nil {
					break
				}
				sent := time.Now()
				if !sent.Before(stopAt) {
					break
				}
				err := doOnce(client, spec, w, i)
				done := time.Now()
				if sent.Before(measureFrom) || done.After(stopAt) {
					continue
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				requests.Add(1)
				own = append(own, done.Sub(sent))
			}
			mu.Lock()
			all = append(all, own...)
			mu.Unlock()
		}()
	}
	wg.Wait()

	res := loadResult{requests: int(requests.Load()), errors: int(errs.Load()), elapsed: spec.duration, lat: newLatencies(all)}
	if v, ok := firstErr.Load().(string); ok {
		res.firstError = v
	}
	return res
}

// doOnce sends one request and reads the whole response.
func doOnce(client *http.Client, spec loadSpec, w, i int) error {
	req, err := spec.request(w, i)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if spec.check != nil {
		return spec.check(body)
	}
	return nil
}

// latencies are sorted request durations.
type latencies []time.Duration

func newLatencies(d []time.Duration) latencies {
	slices.Sort(d)
	return latencies(d)
}

// quantile returns the q-quantile (0 < q <= 1) by the nearest-rank method,
// or zero for no samples.
func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	rank := int(q*float64(len(l))+0.999999999) - 1
	return l[min(max(rank, 0), len(l)-1)]
}

// highest returns the largest latency, or zero for no samples.
func (l latencies) highest() time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// tokenRequest builds POST /v1/accounts/{id}/token with the body the README
// shows, the way a service asks for a token.
func tokenRequest(base, apiKey, accountID string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/accounts/"+accountID+"/token", strings.NewReader(tokenBody))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// tokenBody is the request body of every hand-out the benchmark sends.
const tokenBody = `{"min_ttl_seconds": 300}`
