package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/carrierhub/hub/bench/loadgen"
)

// scenarioResult is one scenario's figures.
type scenarioResult struct {
	// Name is direct, proxy or hub.
	Name string `json:"name"`
	// Users is the closed-loop run.
	Users *loadgen.Result `json:"users,omitempty"`
	// Rate is the open-loop run at -rate (direct and hub).
	Rate *loadgen.Result `json:"rate,omitempty"`
	// Capacity is the hub's capacity search, step by step.
	Capacity []capacityStep `json:"capacity,omitempty"`
	// CapacityRPS is the highest rate that passed; 0 when none did.
	CapacityRPS float64 `json:"capacity_rps,omitempty"`
	// CapacityAll says every step passed (the capacity is at least CapacityRPS).
	CapacityAll bool `json:"capacity_all_passed,omitempty"`
	// UsersUsage is what each process used during the users run, by role.
	UsersUsage map[string]usage `json:"usage_users,omitempty"`
	// RateUsage is the same for the open-loop run; its window CPU is over the
	// open loop's measured window.
	RateUsage map[string]usage `json:"usage_rate,omitempty"`
	// Postgres is the database's load over the open loop's measured window
	// (hub on -postgres-url).
	Postgres *pgLoad `json:"postgres,omitempty"`
	// NoFile is each process's open-files limit.
	NoFile map[string]string `json:"nofile,omitempty"`
	// Profiles lists the profile files written.
	Profiles []string `json:"profiles,omitempty"`
	// Error says why the scenario stopped early.
	Error string `json:"error,omitempty"`
}

// capacityStep is one open-loop step of the capacity search.
type capacityStep struct {
	Rate   float64         `json:"rate"`
	Pass   bool            `json:"pass"`
	Reason string          `json:"reason,omitempty"`
	Result *loadgen.Result `json:"result"`
}

// scenario runs one scenario against fresh processes and stops them after.
func (h *harness) scenario(ctx context.Context, name string) (_ *scenarioResult, err error) {
	o := h.o
	h.scenarioNo++
	res := &scenarioResult{Name: name, NoFile: map[string]string{}}
	var (
		kids     []*child
		cleanups []func() // after the children have stopped
	)
	defer func() {
		for i := len(kids) - 1; i >= 0; i-- {
			if serr := kids[i].stop(); serr != nil {
				logf("stopping %v", serr)
			}
		}
		for _, c := range cleanups {
			c()
		}
	}()

	// The carrier.
	args := []string{"carrier", "-latency", o.CarrierLatency.String()}
	if o.CarrierFaults {
		args = append(args, "-faults")
	}
	var ready readyLine
	parse := func(line string) bool { return json.Unmarshal([]byte(line), &ready) == nil && ready.Ready }
	carrier, err := startChild(ctx, "carrier", h.self, args, nil, parse)
	if err != nil {
		return nil, err
	}
	kids = append(kids, carrier)
	carrierURL, token := ready.URL, ready.Token
	res.NoFile["carrier"] = openFilesLimit(carrier.pid())
	logf("carrier (Delhivery simulator, %s latency) pid %d on %s, open files limit %s", o.CarrierLatency, carrier.pid(), carrierURL, res.NoFile["carrier"])
	waybills, err := seedWaybills(ctx, carrierURL, token, o.Waybills)
	if err != nil {
		return nil, err
	}
	logf("%d waybills booked on the carrier for tracking", len(waybills))

	// The load generator is this process: its CPU is part of the machine's budget too.
	pids := map[string]int{"carrier": carrier.pid(), "load generator": os.Getpid()}
	groups := map[string]func() (time.Duration, error){}
	var (
		addr    string
		wl      *workload
		hubURL  string
		hubProc *child
		pgDB    string // the hub's Postgres database; empty on SQLite
		pgURL   string
	)
	switch name {
	case "direct":
		addr, wl = hostOf(carrierURL), nativeWorkload(token, waybills, o.CreateRatio)
	case "proxy":
		ready = readyLine{}
		proxy, err := startChild(ctx, "proxy", h.self, []string{"proxy", "-target", carrierURL}, nil, parse)
		if err != nil {
			return nil, err
		}
		kids = append(kids, proxy)
		pids["proxy"] = proxy.pid()
		res.NoFile["proxy"] = openFilesLimit(proxy.pid())
		logf("reverse proxy pid %d on %s, open files limit %s", proxy.pid(), ready.URL, res.NoFile["proxy"])
		addr, wl = hostOf(ready.URL), nativeWorkload(token, waybills, o.CreateRatio)
	case "hub":
		dataDir := filepath.Join(h.tmp, "data-"+strconv.Itoa(h.scenarioNo))
		if h.pg != nil {
			if pgDB, pgURL, err = h.pg.createDatabase(ctx); err != nil {
				return nil, err
			}
			if o.Keep {
				logf("Postgres database %s is kept", pgDB)
			} else {
				cleanups = append(cleanups, func() {
					if err := h.pg.dropDatabase(context.WithoutCancel(ctx), pgDB); err != nil {
						logf("%v", err)
					}
				})
			}
			if h.pg.postmaster != 0 {
				groups["postgres"] = h.pg.cpuTime
			}
			logf("hub store: Postgres database %s", pgDB)
		}
		setup, err := setupHub(ctx, h.hubBin, dataDir, pgURL, carrierURL, token)
		if err != nil {
			return nil, err
		}
		var env []string
		pprofAddr := ""
		if o.HubPprof != "" {
			env = append(env, "HUB_CONNECTOR_CPUPROFILE="+filepath.Join(o.HubPprof, "connector-cpu.pprof"))
			if h.pprofFlag {
				if pprofAddr, err = freeAddr(); err != nil {
					return nil, err
				}
			}
		}
		hubProc, hubURL, err = startHub(ctx, h.hubBin, setup, h.hubConfig, pprofAddr, env)
		if err != nil {
			return nil, err
		}
		kids = append(kids, hubProc)
		pids["hub"] = hubProc.pid()
		res.NoFile["hub"] = openFilesLimit(hubProc.pid())
		conn, err := warmHub(ctx, hubURL, setup.apiKey, waybills[0], hubProc.pid())
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, hubProc.tail.String())
		}
		pids["connector"] = conn
		res.NoFile["connector"] = openFilesLimit(conn)
		logf("hub pid %d on %s (open files limit %s), connector process pid %d", hubProc.pid(), hubURL, res.NoFile["hub"], conn)
		addr, wl = hostOf(hubURL), hubWorkload(setup.apiKey, waybills, o.CreateRatio)
		if o.HubPprof != "" {
			h.startProfiles(ctx, res, pprofAddr, hubURL)
		}
	}

	// Users mode.
	logf("users: %d users, one request every %s ±%.0f%%, ramp-up %s, warm-up %s, measuring %s",
		o.Users, o.Period, max(o.Jitter, 0)*100, o.Period, o.Warmup, o.Duration)
	m := startMeter(pids, groups)
	m.markWindow(o.Period + o.Warmup) // loadgen's measured window starts after the ramp-up and warm-up
	prof := h.profileDuringUsers(ctx, res)
	res.Users, err = loadgen.RunUsers(ctx, loadgen.UsersConfig{Addr: addr, Users: o.Users, Period: o.Period, Jitter: o.Jitter,
		Warmup: o.Warmup, Duration: o.Duration, Timeout: o.Timeout, Workload: wl.next, Progress: os.Stderr})
	res.UsersUsage = m.stop()
	prof()
	if err != nil {
		return res, err
	}
	logf("users: %s", res.Users)
	if err := alive(kids); err != nil {
		return res, err
	}

	// Open loop at -rate, for the direct/hub comparison of the added P99.
	if o.Rate > 0 && name != "proxy" {
		logf("open loop: %.0f requests/s, warm-up %s, measuring %s", o.Rate, o.RateWarmup, o.RateDuration)
		var pgw *pgWindow
		if pgDB != "" && !o.NoAnalyze {
			// As a database in service would have (see analyze).
			if err := h.pg.analyze(ctx, pgURL); err != nil {
				return res, err
			}
			logf("ANALYZE on %s: the tables have statistics for the open loop", pgDB)
		}
		m := startMeter(pids, groups)
		m.markWindow(o.RateWarmup)
		if pgDB != "" {
			pgw = h.pg.watch(ctx, pgDB, o.RateWarmup)
		}
		res.Rate, err = loadgen.RunRate(ctx, loadgen.RateConfig{Addr: addr, Rate: o.Rate, Warmup: o.RateWarmup, Duration: o.RateDuration,
			Timeout: o.Timeout, Pool: o.Pool, Workload: wl.next, Progress: os.Stderr})
		res.RateUsage = m.stop()
		if pgw != nil {
			var pgErr error
			if err == nil {
				if res.Postgres, pgErr = pgw.finish(ctx, res.Rate.Requests, res.Rate.DurationS); pgErr == nil {
					res.Postgres.Analyzed = !o.NoAnalyze
				}
			} else {
				pgw.stop()
			}
			if pgErr != nil {
				h.note("Postgres load: %v", pgErr)
			}
		}
		if err != nil {
			return res, err
		}
		logf("open loop: %s", res.Rate)
		if l := res.Postgres; l != nil {
			logf("postgres: %.0f transactions/s, %.0f rows written/s over %.1f s (per 1,000 requests/s: %.0f and %.0f)",
				l.TransactionsPerSec, l.RowsWrittenPerSec, l.Seconds, l.TransactionsPer1kRPS, l.RowsWrittenPer1kRPS)
		}
		if err := alive(kids); err != nil {
			return res, err
		}
	}

	// The hub's capacity: the highest open-loop rate with P95 within the limit and
	// errors within the budget.
	if name == "hub" && !o.SkipCapacity && len(o.CapacitySteps) > 0 {
		logf("capacity search: steps %v requests/s, pass with p95 <= %s and errors <= %.2f%%", o.CapacitySteps, o.P95Limit, o.MaxErrorRate*100)
		res.CapacityAll = true
		for _, rate := range o.CapacitySteps {
			r, err := loadgen.RunRate(ctx, loadgen.RateConfig{Addr: addr, Rate: rate, Warmup: o.CapacityWarmup, Duration: o.CapacityDur,
				Timeout: o.Timeout, Pool: o.Pool, Workload: wl.next, Progress: os.Stderr})
			if err != nil {
				return res, err
			}
			step := capacityStep{Rate: rate, Result: r, Pass: true}
			switch p95 := time.Duration(r.Latency.P95 * float64(time.Millisecond)); {
			case p95 > o.P95Limit:
				step.Pass, step.Reason = false, fmt.Sprintf("p95 %.1f ms > %s", r.Latency.P95, o.P95Limit)
			case r.ErrorRate() > o.MaxErrorRate:
				step.Pass, step.Reason = false, fmt.Sprintf("errors %.2f%% > %.2f%% (%s)", r.ErrorRate()*100, o.MaxErrorRate*100, r.ErrorsString())
			case r.Throughput < 0.98*rate:
				step.Pass, step.Reason = false, fmt.Sprintf("sent %.0f/s of %.0f/s", r.Throughput, rate)
			}
			res.Capacity = append(res.Capacity, step)
			verdict := "pass"
			if !step.Pass {
				verdict = "FAIL: " + step.Reason
			}
			logf("capacity %6.0f/s: %s -> %s", rate, r, verdict)
			if !step.Pass {
				res.CapacityAll = false
				break
			}
			res.CapacityRPS = rate
			if err := alive(kids); err != nil {
				return res, err
			}
			// Let queues drain before the next step.
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
	}
	return res, nil
}

// alive reports a child that died during a run.
func alive(kids []*child) error {
	for _, k := range kids {
		select {
		case <-k.exited:
			return fmt.Errorf("%s exited during the run (%v):\n%s", k.name, k.err, k.tail.String())
		default:
		}
	}
	return nil
}

// startProfiles decides where the hub's pprof endpoint is, if it has one.
func (h *harness) startProfiles(ctx context.Context, res *scenarioResult, pprofAddr, hubURL string) {
	h.pprofBase = ""
	switch {
	case pprofAddr != "":
		h.pprofBase = "http://" + pprofAddr
	default:
		// A pprof handler on the API's listener would do as well.
		if err := fetchProfile(ctx, hubURL+"/debug/pprof/cmdline", os.DevNull, 5*time.Second); err == nil {
			h.pprofBase = hubURL
		}
	}
	if h.pprofBase == "" {
		h.note("the hub has no pprof endpoint (no %s flag, nothing at /debug/pprof/): hub profiles skipped; the connector's CPU profile is still written via HUB_CONNECTOR_CPUPROFILE", hubPprofFlag)
	}
}

// profileDuringUsers starts, when the hub has a pprof endpoint, a 20-second CPU
// profile once the users run's measured window begins; the returned function
// waits for it and then takes an allocation profile.
func (h *harness) profileDuringUsers(ctx context.Context, res *scenarioResult) func() {
	if h.pprofBase == "" || res.Name != "hub" {
		return func() {}
	}
	base := h.pprofBase
	secs := int(min(20*time.Second, h.o.Duration).Seconds())
	delay := h.o.Period + h.o.Warmup
	cpuPath := filepath.Join(h.o.HubPprof, "hub-cpu.pprof")
	done := make(chan error, 1)
	go func() {
		select {
		case <-ctx.Done():
			done <- ctx.Err()
			return
		case <-time.After(delay):
		}
		done <- fetchProfile(ctx, base+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), cpuPath, time.Duration(secs+30)*time.Second)
	}()
	return func() {
		if err := <-done; err != nil {
			h.note("hub CPU profile: %v", err)
		} else {
			res.Profiles = append(res.Profiles, cpuPath)
		}
		allocPath := filepath.Join(h.o.HubPprof, "hub-allocs.pprof")
		if err := fetchProfile(ctx, base+"/debug/pprof/allocs", allocPath, 30*time.Second); err != nil {
			h.note("hub allocation profile: %v", errors.Unwrap(err))
		} else {
			res.Profiles = append(res.Profiles, allocPath)
		}
	}
}
