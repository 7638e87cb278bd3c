// Command zoombroker-bench measures the zoombroker binary on 127.0.0.1.
// It measures token hand-out throughput and latency beside a bare
// net/http baseline, single-flight refreshes, a refresh storm under a Zoom
// rate limit and a million accounts in bbolt. When a database is given it
// also measures PostgreSQL with three replicas. It prints Markdown tables,
// and with -write-docs it also rewrites docs/benchmarks.md.
//
// Run it from the repository root:
//
//	go run ./cmd/zoombroker-bench -write-docs docs/benchmarks.md
//
// It builds the broker with go build (or runs the binary that -broker
// names) and starts it, a baseline server and a Zoom sandbox, all on
// loopback. -short shrinks every benchmark to a smoke test of a few
// seconds, whose figures mean nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the command-line flags.
type options struct {
	short      bool
	budget     time.Duration
	warmup     time.Duration
	duration   time.Duration
	only       []int
	brokerPath string
	writeDocs  string
	keep       bool

	databaseURL string

	accounts      int
	flightRounds  int
	stormAccounts int
	stormWindow   time.Duration
	stormLimit    int
	stormLead     time.Duration
	scaleAccounts int
}

// runner carries one run's state from benchmark to benchmark.
type runner struct {
	opts     options
	dir      string
	binary   string
	deadline time.Time
	rep      *report

	// handout64 is benchmark 1 at 64 connections, which benchmark 4
	// compares its latency with.
	handout64 *handoutRun
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "zoombroker-bench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("zoombroker-bench", flag.ContinueOnError)
	var o options
	fs.BoolVar(&o.short, "short", false, "run every benchmark tiny, as a smoke test; the figures mean nothing")
	fs.DurationVar(&o.budget, "budget", 9*time.Minute+30*time.Second, "time limit of the whole run; benchmarks that would not fit are reported as not run")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each load run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each load run")
	only := fs.String("only", "1,2,3,4,5", "comma-separated benchmark numbers to run")
	fs.StringVar(&o.brokerPath, "broker", "", "zoombroker binary to measure; empty builds ./cmd/zoombroker with go build")
	fs.StringVar(&o.writeDocs, "write-docs", "", "also write the report to this file, such as docs/benchmarks.md, keeping its hand-written part")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (databases and broker logs) and print its path")
	fs.StringVar(&o.databaseURL, "database-url", os.Getenv("ZOOMBROKER_TEST_DATABASE_URL"), "PostgreSQL URL for benchmark 5, whose user may create schemas (default $ZOOMBROKER_TEST_DATABASE_URL); empty skips it")
	fs.IntVar(&o.accounts, "accounts", 1000, "accounts of the hand-out benchmark")
	fs.IntVar(&o.flightRounds, "flight-rounds", 10, "rounds of the single-flight benchmark")
	fs.IntVar(&o.stormAccounts, "storm-accounts", 10_000, "accounts of the refresh storm")
	fs.DurationVar(&o.stormWindow, "storm-window", time.Minute, "the storm's access tokens expire within this window")
	fs.IntVar(&o.stormLimit, "storm-limit", 60, "refresh requests per second the sandbox answers before it returns 429")
	fs.DurationVar(&o.stormLead, "storm-lead", 5*time.Minute, "ZOOMBROKER_REFRESH_LEAD of the storm's broker; the refreshes spread over a fifth of it")
	fs.IntVar(&o.scaleAccounts, "scale-accounts", 1_000_000, "accounts of the scale benchmark")
	baseline := fs.Bool("baseline", false, "serve the baseline instead (used by the benchmark itself)")
	listen := fs.String("listen", "127.0.0.1:0", "address of -baseline")
	bodySize := fs.Int("body-size", 300, "response body size of -baseline, in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *baseline {
		return serveBaseline(*listen, *bodySize)
	}

	var err error
	if o.only, err = parseOnly(*only); err != nil {
		return err
	}
	if o.short {
		o.shrink(fs)
	}
	return o.run(args)
}

// shrink turns the defaults into a smoke test, leaving flags the user set.
func (o *options) shrink(fs *flag.FlagSet) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	small := map[string]func(){
		"duration":       func() { o.duration = 500 * time.Millisecond },
		"warmup":         func() { o.warmup = 200 * time.Millisecond },
		"accounts":       func() { o.accounts = 50 },
		"flight-rounds":  func() { o.flightRounds = 2 },
		"storm-accounts": func() { o.stormAccounts = 100 },
		"storm-window":   func() { o.stormWindow = 2 * time.Second },
		// High enough that no refresh is rate limited: a 429 holds its
		// account back for the broker's 30-second back-off.
		"storm-limit":    func() { o.stormLimit = 1000 },
		"storm-lead":     func() { o.stormLead = time.Minute },
		"scale-accounts": func() { o.scaleAccounts = 5000 },
	}
	for name, apply := range small {
		if !set[name] {
			apply()
		}
	}
}

func parseOnly(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || n > 5 {
			return nil, fmt.Errorf("-only %q: %q is not a benchmark number from 1 to 5", s, part)
		}
		out = append(out, n)
	}
	return out, nil
}

func (o options) run(args []string) error {
	started := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), started.Add(o.budget+time.Minute))
	defer cancel()

	dir, err := os.MkdirTemp("", "zoombroker-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "working directory: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	r := &runner{opts: o, dir: dir, deadline: started.Add(o.budget), rep: &report{
		command: strings.Join(append([]string{"go run ./cmd/zoombroker-bench"}, args...), " "),
		started: started,
		machine: machineInfo(),
	}}
	r.binary = o.brokerPath
	if r.binary == "" {
		fmt.Fprintln(os.Stderr, "building zoombroker")
		if r.binary, err = buildBroker(ctx, dir); err != nil {
			return err
		}
	}

	benches := []struct {
		n    int
		name string
		need time.Duration // a rough least time, to skip what cannot fit
		run  func(context.Context) error
	}{
		{1, "hand-out", 10 * o.duration, r.benchHandout},
		{3, "refresh storm", o.stormLead / 5, r.benchStorm},
		{4, "scale", 6 * o.duration, r.benchScale},
		{5, "PostgreSQL", 8 * o.duration, r.benchPostgres},
	}
	var failed []string
	for _, b := range benches {
		if !r.selected(b.n) && !(b.n == 1 && r.selected(2)) {
			continue
		}
		if time.Until(r.deadline) < b.need {
			r.notRun(b.n, fmt.Sprintf("not run: %s of the -budget was left", time.Until(r.deadline).Round(time.Second)))
			continue
		}
		fmt.Fprintf(os.Stderr, "running %s\n", b.name)
		if err := b.run(ctx); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", b.name, err))
			r.rep.failures = append(r.rep.failures, fmt.Sprintf("%s failed: %v", b.name, err))
		}
	}
	r.rep.took = time.Since(started)

	r.rep.render(os.Stdout)
	if o.writeDocs != "" {
		if err := r.rep.writeDocs(o.writeDocs); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// selected reports whether benchmark n was asked for.
func (r *runner) selected(n int) bool { return slices.Contains(r.opts.only, n) }

// addGoal records a goal as met, or as missed with the gap.
func (r *runner) addGoal(g goal, met bool, gap string) {
	g.status = "met"
	if !met {
		g.status, g.gap = "missed", gap
	}
	r.rep.goals = append(r.rep.goals, g)
}

// notRun records a benchmark that was skipped.
func (r *runner) notRun(n int, why string) {
	r.rep.sections = append(r.rep.sections, section{title: fmt.Sprintf("%d. %s", n, benchTitles[n]), notes: []string{why}})
}

var benchTitles = map[int]string{
	1: "Token hand-out, 1,000 accounts",
	2: "Single-flight refresh",
	3: "Refresh storm",
	4: "A million accounts in bbolt",
	5: "PostgreSQL, three replicas",
}

// brokerConfig returns the settings of a broker on the dataset and the
// sandbox; name labels its log file.
func (r *runner) brokerConfig(ds *dataset, zs *zoomSide, name string, env ...string) brokerConfig {
	return brokerConfig{
		binary:        r.binary,
		dataDir:       ds.dir,
		zoomURL:       zs.server.URL,
		clientID:      zs.cred.ClientID,
		clientSecret:  zs.cred.ClientSecret,
		encryptionKey: ds.encryptionKey,
		env:           env,
		logPath:       filepath.Join(r.dir, name+".log"),
	}
}
