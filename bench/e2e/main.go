// Command e2e measures what the hub adds to a carrier call, end to end (issue
// 7): the same workload of simulated TMS users, in one run, three ways:
// straight to a fake carrier, through a bare net/http/httputil.ReverseProxy
// (the cheapest hop, as a floor), and through `hub serve` on its embedded store
// (or on Postgres, with -postgres-url) with the real Delhivery connector
// process. It prints the three side by side, with the hub's and the
// connector's CPU time and peak RSS (and, on Postgres, the database's load and
// the server's CPU time), and can write the figures as JSON.
//
// Run it from the bench module: cd bench && go run ./e2e (-quick for a
// one-minute smoke run, -h for the flags). The fake carrier and the proxy are
// this binary re-executed (`e2e carrier`, `e2e proxy`), each in its own process
// so that 12,500 client connections and 12,500 server connections never share
// one file-descriptor table; the load generator (bench/loadgen) runs in the
// harness's own process.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command line's settings.
type options struct {
	Only           []string      `json:"scenarios"`
	Users          int           `json:"users"`
	Period         time.Duration `json:"period"`
	Jitter         float64       `json:"jitter"`
	Warmup         time.Duration `json:"warmup"`
	Duration       time.Duration `json:"duration"`
	Timeout        time.Duration `json:"timeout"`
	CarrierLatency time.Duration `json:"carrier_latency"`
	CarrierFaults  bool          `json:"carrier_faults"`
	CreateRatio    float64       `json:"create_ratio"`
	Waybills       int           `json:"waybills"`
	Rate           float64       `json:"rate"`
	RateWarmup     time.Duration `json:"rate_warmup"`
	RateDuration   time.Duration `json:"rate_duration"`
	Pool           int           `json:"pool"`
	SkipCapacity   bool          `json:"skip_capacity"`
	CapacitySteps  []float64     `json:"capacity_steps"`
	CapacityWarmup time.Duration `json:"capacity_warmup"`
	CapacityDur    time.Duration `json:"capacity_duration"`
	P95Limit       time.Duration `json:"p95_limit"`
	MaxErrorRate   float64       `json:"max_error_rate"`
	HubConfig      string        `json:"hub_config,omitempty"`
	HubBin         string        `json:"hub_bin,omitempty"`
	HubPprof       string        `json:"hub_pprof,omitempty"`
	PostgresURL    string        `json:"-"`
	NoAnalyze      bool          `json:"no_analyze,omitempty"`
	Store          string        `json:"store"` // sqlite or postgres
	JSON           string        `json:"-"`
	Keep           bool          `json:"-"`
	Quick          bool          `json:"quick"`
}

// subcommands are the hidden roles the harness re-executes itself in.
var subcommands = map[string]func([]string) error{"carrier": runCarrier, "proxy": runProxy}

func main() {
	if len(os.Args) > 1 {
		if sub, ok := subcommands[os.Args[1]]; ok {
			if err := sub(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "e2e "+os.Args[1]+":", err)
				os.Exit(1)
			}
			return
		}
	}
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	harnessGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	only := fs.String("only", "direct,proxy,hub", "scenarios to run, comma-separated: direct, proxy, hub")
	fs.IntVar(&o.Users, "users", 12500, "simulated users, each with one keep-alive connection")
	fs.DurationVar(&o.Period, "period", 5*time.Second, "time between a user's requests (users ramp up over one period)")
	fs.Float64Var(&o.Jitter, "jitter", 0.2, "spread of the period, ± this fraction")
	fs.DurationVar(&o.Warmup, "warmup", 5*time.Second, "unmeasured time after the ramp-up")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "measured time of a users run")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "a request with no full answer after this is a timeout error")
	fs.DurationVar(&o.CarrierLatency, "carrier-latency", 50*time.Millisecond, "the fake carrier's fixed latency")
	fs.BoolVar(&o.CarrierFaults, "carrier-faults", false, "put sdk/simulator/faultcarrier (an in-process reverse proxy with /_fault) in front of the simulator; it then adds the latency")
	fs.Float64Var(&o.CreateRatio, "create-ratio", 0.1, "share of requests that create a shipment; the rest track one")
	fs.IntVar(&o.Waybills, "waybills", 500, "waybills booked on the carrier before each scenario, for tracking")
	fs.Float64Var(&o.Rate, "rate", 2000, "open-loop rate (requests/s) for the direct and hub comparison; 0 skips it")
	fs.DurationVar(&o.RateWarmup, "rate-warmup", 5*time.Second, "unmeasured start of each open-loop run")
	fs.DurationVar(&o.RateDuration, "rate-duration", 30*time.Second, "measured time of the open-loop comparison")
	fs.IntVar(&o.Pool, "pool", 0, "most connections an open-loop run opens; 0: max(256, rate), enough for one-second answers")
	fs.BoolVar(&o.SkipCapacity, "skip-capacity", false, "skip the hub's capacity search")
	steps := fs.String("capacity-steps", "1000,1500,2000,2500,3000,4000,5000,6000,8000", "open-loop rates the capacity search tries, in order")
	fs.DurationVar(&o.CapacityWarmup, "capacity-warmup", 5*time.Second, "unmeasured start of each capacity step")
	fs.DurationVar(&o.CapacityDur, "capacity-duration", 20*time.Second, "measured time of each capacity step")
	fs.DurationVar(&o.P95Limit, "p95-limit", 145*time.Millisecond, "a capacity step passes with a P95 at or under this")
	fs.Float64Var(&o.MaxErrorRate, "max-error-rate", 0.001, "a capacity step passes with at most this share of errors")
	fs.StringVar(&o.HubConfig, "hub-config", "", "hub serve --config file to use instead of the harness's (which only raises the connector's bulkhead)")
	fs.StringVar(&o.HubBin, "hub-bin", "", "hub binary to run instead of building ./cmd/hub")
	fs.StringVar(&o.HubPprof, "hub-pprof", "", "directory for CPU and allocation profiles of the hub (during its users run) and the connector")
	fs.BoolVar(&o.NoAnalyze, "postgres-no-analyze", false, "with -postgres-url, skip the ANALYZE before the open loop: measure a new database before autovacuum's first analyze")
	fs.StringVar(&o.PostgresURL, "postgres-url", "", "run the hub on Postgres: an admin URL of a server (postgres://...) on which the harness creates, and afterwards drops, a database per hub scenario; empty: the embedded SQLite store")
	fs.StringVar(&o.JSON, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (hub binary, data directory) and the Postgres database")
	fs.BoolVar(&o.Quick, "quick", false, "a smoke run of about a minute: 400 users, 1s period, 8s windows, small rates; explicit flags still win")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./e2e [flags]   (from the bench module)\n\n"+
			"Measures the same workload straight to a fake carrier, through a bare reverse proxy and\n"+
			"through hub serve with the Delhivery connector, and prints them side by side.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Quick {
		quick := map[string]func(){
			"users":             func() { o.Users = 400 },
			"period":            func() { o.Period = time.Second },
			"warmup":            func() { o.Warmup = time.Second },
			"duration":          func() { o.Duration = 8 * time.Second },
			"waybills":          func() { o.Waybills = 50 },
			"rate":              func() { o.Rate = 300 },
			"rate-warmup":       func() { o.RateWarmup = time.Second },
			"rate-duration":     func() { o.RateDuration = 5 * time.Second },
			"capacity-steps":    func() { *steps = "200,400,800" },
			"capacity-warmup":   func() { o.CapacityWarmup = time.Second },
			"capacity-duration": func() { o.CapacityDur = 4 * time.Second },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "direct", "proxy", "hub":
			o.Only = append(o.Only, s)
		case "":
		default:
			return o, fmt.Errorf("-only: unknown scenario %q (want direct, proxy or hub)", s)
		}
	}
	if len(o.Only) == 0 {
		return o, errors.New("-only names no scenario")
	}
	for _, s := range strings.Split(*steps, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || !(r > 0) {
			return o, fmt.Errorf("-capacity-steps: %q is not a positive rate", s)
		}
		o.CapacitySteps = append(o.CapacitySteps, r)
	}
	switch {
	case o.Users < 1:
		return o, fmt.Errorf("-users %d: want at least 1", o.Users)
	case o.Period <= 0 || o.Duration <= 0 || o.Timeout <= 0 || o.RateDuration <= 0 || o.CapacityDur <= 0:
		return o, errors.New("-period, -duration, -timeout, -rate-duration and -capacity-duration must be more than zero")
	case o.Jitter < 0 || o.Jitter >= 1:
		return o, fmt.Errorf("-jitter %g: want 0 to less than 1", o.Jitter)
	case o.CreateRatio < 0 || o.CreateRatio > 1:
		return o, fmt.Errorf("-create-ratio %g: want 0 to 1", o.CreateRatio)
	case o.Waybills < 1:
		return o, fmt.Errorf("-waybills %d: want at least 1", o.Waybills)
	case o.Rate < 0:
		return o, fmt.Errorf("-rate %g: want 0 (skip) or more", o.Rate)
	}
	if o.Jitter == 0 {
		o.Jitter = -1 // loadgen's "none"
	}
	o.Store = "sqlite"
	if o.PostgresURL != "" {
		o.Store = "postgres"
	}
	return o, nil
}

// fdHeadroom is what a process needs besides one descriptor per connection.
const fdHeadroom = 512

func run(ctx context.Context, o options) error {
	soft, hard, err := raiseNoFile()
	if err != nil {
		return err
	}
	m := machineInfo(soft, hard)
	logf("file descriptors: soft limit raised to the hard limit, %d (each process does the same)", soft)
	maxPool := max(256, int(o.Rate))
	for _, r := range o.CapacitySteps {
		maxPool = max(maxPool, int(r))
	}
	if o.Pool > 0 {
		maxPool = o.Pool
	}
	need := uint64(max(o.Users, maxPool) + fdHeadroom)
	if soft < need {
		return fmt.Errorf("%d users need about %d file descriptors in the load generator and in the server under test; "+
			"the limit here is %d (ulimit -Hn): raise the hard limit (limits.conf, systemd LimitNOFILE, docker --ulimit nofile=) or run with -users %d or fewer",
			o.Users, need, soft, max(int(soft)-fdHeadroom, 0))
	}
	tmp, err := os.MkdirTemp("", "hub-e2e-")
	if err != nil {
		return err
	}
	if o.Keep {
		logf("temporary directory %s is kept", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	h := harness{o: o, self: self, tmp: tmp}
	if wants(o, "hub") {
		if err := h.prepareHub(ctx); err != nil {
			return err
		}
		if h.pg != nil {
			defer h.pg.Close(context.WithoutCancel(ctx))
		}
	}
	rep := report{Machine: m, Options: o, Started: time.Now().UTC().Format(time.RFC3339)}
	for _, name := range o.Only {
		logf("== %s", name)
		sr, err := h.scenario(ctx, name)
		if sr != nil && name == "hub" && o.HubPprof != "" {
			// The connector writes its CPU profile when the hub stops it, which the
			// scenario did on its way out.
			files, _ := filepath.Glob(filepath.Join(o.HubPprof, "connector-cpu.pprof.*"))
			sr.Profiles = append(sr.Profiles, files...)
		}
		if sr != nil {
			rep.Scenarios = append(rep.Scenarios, *sr)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			logf("%s: %v", name, err)
			rep.Scenarios = append(rep.Scenarios, scenarioResult{Name: name, Error: err.Error()})
		}
	}
	rep.Targets = checkTargets(&rep)
	rep.Notes = h.notes
	printReport(os.Stdout, &rep)
	if o.JSON != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.JSON, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", o.JSON, err)
		}
		logf("results written to %s", o.JSON)
	}
	return ctx.Err()
}

func wants(o options, name string) bool {
	for _, s := range o.Only {
		if s == name {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// harness runs the scenarios.
type harness struct {
	o          options
	self       string
	tmp        string
	hubBin     string
	hubConfig  string
	pprofFlag  bool
	pprofBase  string
	pg         *pgServer // the server of -postgres-url; nil on SQLite
	notes      []string
	scenarioNo int
}

func (h *harness) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	h.notes = append(h.notes, s)
	logf("note: %s", s)
}

// prepareHub builds the hub binary (or takes -hub-bin) and picks its config.
func (h *harness) prepareHub(ctx context.Context) error {
	h.hubBin = h.o.HubBin
	if h.hubBin == "" {
		logf("building the hub (go build ./cmd/hub)")
		bin, err := buildHub(ctx, h.tmp)
		if err != nil {
			return err
		}
		h.hubBin = bin
	}
	h.hubConfig = h.o.HubConfig
	if h.hubConfig == "" {
		h.hubConfig = filepath.Join(h.tmp, "hub.yaml")
		if err := os.WriteFile(h.hubConfig, []byte(defaultHubConfig), 0o600); err != nil {
			return err
		}
		h.note("hub config: Delhivery bulkhead raised to max_in_flight 4096, max_queued 16384 (defaults 64/256); everything else default")
	}
	if h.o.PostgresURL != "" {
		pg, err := connectPostgres(ctx, h.o.PostgresURL)
		if err != nil {
			return err
		}
		h.pg = pg
		logf("Postgres %s (fsync %s, synchronous_commit %s, full_page_writes %s)", pg.Version,
			pg.Settings["fsync"], pg.Settings["synchronous_commit"], pg.Settings["full_page_writes"])
		if pg.postmaster == 0 {
			h.note("the Postgres server is not a process on this machine: its CPU time is not measured")
		}
	}
	if h.o.HubPprof != "" {
		if err := os.MkdirAll(h.o.HubPprof, 0o755); err != nil {
			return err
		}
		h.pprofFlag = hubHasPprofFlag(ctx, h.hubBin)
	}
	return nil
}

// hostOf returns the host:port of a base URL.
func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Host
}
