package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/carrierhub/hub/bench/loadgen"
)

// report is everything a run produced; -json writes it.
type report struct {
	Started   string           `json:"started"`
	Machine   machine          `json:"machine"`
	Options   options          `json:"options"`
	Scenarios []scenarioResult `json:"scenarios"`
	Targets   []targetCheck    `json:"targets"`
	Notes     []string         `json:"notes,omitempty"`
}

// machine describes where the run happened.
type machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	Go         string `json:"go"`
	Kernel     string `json:"kernel"`
	NoFileSoft uint64 `json:"nofile_soft"`
	NoFileHard uint64 `json:"nofile_hard"`
	SoMaxConn  string `json:"somaxconn"`
	PortRange  string `json:"ip_local_port_range"`
}

func machineInfo(soft, hard uint64) machine {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			return "?"
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}
	m := machine{CPU: "?", Cores: runtime.NumCPU(), Go: runtime.Version(), Kernel: read("/proc/sys/kernel/osrelease"),
		NoFileSoft: soft, NoFileHard: hard, SoMaxConn: read("/proc/sys/net/core/somaxconn"),
		PortRange: read("/proc/sys/net/ipv4/ip_local_port_range")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return m
}

// targetCheck is one of the targets (issue 16's, which keeps the seed's
// promise through the hub) and whether the run met it.
type targetCheck struct {
	Target string `json:"target"`
	Value  string `json:"value"`
	Met    *bool  `json:"met,omitempty"` // nil: not measured in this run, or only reported
}

func (r *report) scenario(name string) *scenarioResult {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name && r.Scenarios[i].Error == "" {
			return &r.Scenarios[i]
		}
	}
	return nil
}

// phase is one of a scenario's load runs with what the processes used during
// it: the users run or the open-loop run.
type phase struct {
	// name is how the report calls it: "users run", "open-loop run".
	name  string
	pick  func(s *scenarioResult) (*loadgen.Result, map[string]usage)
	wallS func(o options) float64 // the phase's length, warm-ups included
}

var (
	usersPhase = phase{"users run",
		func(s *scenarioResult) (*loadgen.Result, map[string]usage) { return s.Users, s.UsersUsage },
		func(o options) float64 { return (o.Period + o.Warmup + o.Duration).Seconds() }}
	ratePhase = phase{"open-loop run",
		func(s *scenarioResult) (*loadgen.Result, map[string]usage) { return s.Rate, s.RateUsage },
		func(o options) float64 { return (o.RateWarmup + o.RateDuration).Seconds() }}
)

// cpuPerRequest is the CPU the roles used per request of the phase's measured
// window, in microseconds; ok is false without the figures.
func (p phase) cpuPerRequest(s *scenarioResult, roles ...string) (us float64, ok bool) {
	if s == nil {
		return 0, false
	}
	res, use := p.pick(s)
	if res == nil || res.Requests == 0 {
		return 0, false
	}
	var cpu float64
	for _, role := range roles {
		u, found := use[role]
		if !found || u.WindowCPUSeconds == 0 {
			return 0, false
		}
		cpu += u.WindowCPUSeconds
	}
	return cpu * 1e6 / float64(res.Requests), true
}

func checkTargets(r *report) []targetCheck {
	direct, proxy, hub := r.scenario("direct"), r.scenario("proxy"), r.scenario("hub")
	yes := func(b bool) *bool { return &b }
	var out []targetCheck
	add := func(target, value string, met *bool) { out = append(out, targetCheck{target, value, met}) }
	usersOK := func(s *scenarioResult) bool { return s != nil && s.Users != nil }
	limit := float64(r.Options.P95Limit.Milliseconds())
	if usersOK(hub) {
		add(fmt.Sprintf("users mode: hub P95 <= %.0f ms", limit), ms(hub.Users.Latency.P95)+" ms", yes(hub.Users.Latency.P95 <= limit))
		add("users mode: hub P99 <= 200 ms", ms(hub.Users.Latency.P99)+" ms", yes(hub.Users.Latency.P99 <= 200))
		add("users mode: no errors through the hub", hub.Users.ErrorsString(), yes(hub.Users.ErrorCount() == 0))
	}
	if usersOK(hub) && usersOK(direct) && usersOK(proxy) {
		hubAdd, proxyAdd := hub.Users.Latency.P95-direct.Users.Latency.P95, proxy.Users.Latency.P95-direct.Users.Latency.P95
		add("users mode: hub adds at most 1.5x the bare proxy's P95 (the aim: the proxy's)",
			fmt.Sprintf("hub +%.1f ms, proxy +%.1f ms", hubAdd, proxyAdd), yes(hubAdd <= 1.5*max(proxyAdd, 0)))
	} else {
		add("users mode: hub adds at most 1.5x the bare proxy's P95", "needs direct, proxy and hub", nil)
	}
	if hub != nil && len(hub.Capacity) > 0 {
		v := fmt.Sprintf("%.0f requests/s", hub.CapacityRPS)
		met := yes(hub.CapacityRPS >= 2500)
		if hub.CapacityAll {
			v = "at least " + v + " (every step passed)"
			if hub.CapacityRPS < 2500 {
				met = nil // the steps stopped short of the target
			}
		}
		add(fmt.Sprintf("capacity with P95 <= %s and errors <= %.1f%%: at least 2500 requests/s", r.Options.P95Limit, r.Options.MaxErrorRate*100),
			v, met)
	}
	hubCPU, okHub := usersPhase.cpuPerRequest(hub, "hub", "connector")
	proxyCPU, okProxy := usersPhase.cpuPerRequest(proxy, "proxy")
	switch {
	case okHub && okProxy:
		add("CPU per request, hub and connector against the bare proxy (the aim: the proxy's)",
			fmt.Sprintf("%.0f us against %.0f us (%.1fx)", hubCPU, proxyCPU, hubCPU/proxyCPU), yes(hubCPU <= proxyCPU))
	case okHub:
		add("CPU per request, hub and connector", fmt.Sprintf("%.0f us", hubCPU), nil)
	}
	if hub != nil && direct != nil && hub.Rate != nil && direct.Rate != nil {
		d := hub.Rate.Latency.P99 - direct.Rate.Latency.P99
		add(fmt.Sprintf("open loop at %.0f/s: P99 the hub adds (issue 7 aimed at 5 ms)", hub.Rate.TargetRate), fmt.Sprintf("+%.1f ms", d), nil)
	}
	return out
}

func ms(v float64) string { return fmt.Sprintf("%.1f", v) }

func printReport(w io.Writer, r *report) {
	fmt.Fprintf(w, "\nEnd to end, %d users, one request every %s ±%.0f%%, %.0f%% creates, carrier latency %s, %s measured\n\n",
		r.Options.Users, r.Options.Period, max(r.Options.Jitter, 0)*100, r.Options.CreateRatio*100, r.Options.CarrierLatency, r.Options.Duration)
	direct := r.scenario("direct")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users mode\tP50 ms\tP95 ms\tP99 ms\tmax ms\trequests\terrors\tlate\trps\t+P95 ms\t+P99 ms\t")
	for _, name := range []string{"direct", "proxy", "hub"} {
		s := r.scenario(name)
		if s == nil || s.Users == nil {
			continue
		}
		u := s.Users
		addP95, addP99 := "-", "-"
		if direct != nil && direct.Users != nil && name != "direct" {
			addP95, addP99 = fmt.Sprintf("%+.1f", u.Latency.P95-direct.Users.Latency.P95), fmt.Sprintf("%+.1f", u.Latency.P99-direct.Users.Latency.P99)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t\n", name, ms(u.Latency.P50), ms(u.Latency.P95), ms(u.Latency.P99),
			ms(u.Latency.Max), u.Requests, u.ErrorCount(), u.Late, u.Throughput, addP95, addP99)
	}
	tw.Flush()
	printDetails(w, r, func(s *scenarioResult) *loadgen.Result { return s.Users })

	if rows := rateRows(r); len(rows) > 0 {
		fmt.Fprintf(w, "\nopen loop at %.0f requests/s (latency from the intended send time), %s measured\n\n", r.Options.Rate, r.Options.RateDuration)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "open loop\tP50 ms\tP95 ms\tP99 ms\tmax ms\trequests\terrors\trps\tpool waits\t+P95 ms\t+P99 ms\t")
		for _, s := range rows {
			u := s.Rate
			addP95, addP99 := "-", "-"
			if direct != nil && direct.Rate != nil && s.Name != "direct" {
				addP95, addP99 = fmt.Sprintf("%+.1f", u.Latency.P95-direct.Rate.Latency.P95), fmt.Sprintf("%+.1f", u.Latency.P99-direct.Rate.Latency.P99)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%d\t%s\t%s\t\n", s.Name, ms(u.Latency.P50), ms(u.Latency.P95), ms(u.Latency.P99),
				ms(u.Latency.Max), u.Requests, u.ErrorCount(), u.Throughput, u.PoolWaits, addP95, addP99)
		}
		tw.Flush()
		printDetails(w, r, func(s *scenarioResult) *loadgen.Result { return s.Rate })
	}

	if hub := r.scenario("hub"); hub != nil && len(hub.Capacity) > 0 {
		fmt.Fprintf(w, "\nhub capacity search (open loop, %s per step; pass: P95 <= %s, errors <= %.1f%%)\n\n", r.Options.CapacityDur, r.Options.P95Limit, r.Options.MaxErrorRate*100)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "rate/s\tP50 ms\tP95 ms\tP99 ms\tmax ms\terrors\tpool waits\tverdict\t")
		for _, st := range hub.Capacity {
			v := "pass"
			if !st.Pass {
				v = "FAIL " + st.Reason
			}
			u := st.Result
			fmt.Fprintf(tw, "%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t\n", st.Rate, ms(u.Latency.P50), ms(u.Latency.P95), ms(u.Latency.P99), ms(u.Latency.Max), u.ErrorCount(), u.PoolWaits, v)
		}
		tw.Flush()
	}

	printUsage(w, r, usersPhase, r.Options.Duration)
	if len(rateRows(r)) > 0 {
		printUsage(w, r, ratePhase, r.Options.RateDuration)
		printPostgres(w, r)
	}

	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "\ntargets (issue 16)\n\n")
		for _, t := range r.Targets {
			mark := "    "
			if t.Met != nil {
				mark = map[bool]string{true: "met ", false: "MISS"}[*t.Met]
			}
			fmt.Fprintf(w, "  %s  %s: %s\n", mark, t.Target, t.Value)
		}
	}
	for _, s := range r.Scenarios {
		if s.Error != "" {
			fmt.Fprintf(w, "\n%s scenario failed: %s\n", s.Name, firstLine(s.Error))
		}
		for _, p := range s.Profiles {
			fmt.Fprintf(w, "\nprofile: %s", p)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s", n)
	}
	m := r.Machine
	fmt.Fprintf(w, "\n\nmachine: %s, %d cores, %s, Linux %s, open files %d (hard %d), somaxconn %s, ports %s; started %s\n",
		m.CPU, m.Cores, m.Go, m.Kernel, m.NoFileSoft, m.NoFileHard, m.SoMaxConn, m.PortRange, r.Started)
}

// usageRoles are the processes (and groups) the usage tables list, in order.
var usageRoles = []string{"load generator", "carrier", "proxy", "hub", "connector", "postgres"}

// printUsage lists what each process used during a phase of every scenario.
func printUsage(w io.Writer, r *report, p phase, window time.Duration) {
	fmt.Fprintf(w, "\nprocesses during the %s (CPU over the %s measured window plus ramp-up and warm-up; per request over the window alone)\n\n", p.name, window)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tprocess\tCPU s\tCPU % of a core\tCPU us per request\tpeak RSS MB\topen files limit\t")
	wall := p.wallS(r.Options)
	for _, s := range r.Scenarios {
		if s.Error != "" {
			continue
		}
		_, use := p.pick(&s)
		for _, role := range usageRoles {
			u, ok := use[role]
			if !ok {
				continue
			}
			peak := fmt.Sprintf("%.0f", u.PeakRSSMB)
			switch {
			case u.Group:
				peak = "-"
			case u.PeakIsLifetime:
				peak += " (lifetime)"
			}
			perRequest := "-"
			if us, ok := p.cpuPerRequest(&s, role); ok {
				perRequest = fmt.Sprintf("%.0f", us)
			}
			nofile := s.NoFile[role]
			if nofile == "" {
				nofile = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f\t%s\t%s\t%s\t\n", s.Name, role, u.CPUSeconds, 100*u.CPUSeconds/wall, perRequest, peak, nofile)
		}
	}
	tw.Flush()
}

// printPostgres reports the hub's Postgres load over the open loop's measured
// window, per second and per 1,000 requests/s, with the CPU per request of
// the hub, the connector and the Postgres server side by side.
func printPostgres(w io.Writer, r *report) {
	hub := r.scenario("hub")
	if hub == nil || hub.Postgres == nil {
		return
	}
	l := hub.Postgres
	d := l.Delta
	fmt.Fprintf(w, "\nPostgres %s, database %s (fsync %s, synchronous_commit %s, full_page_writes %s), open loop at %.0f requests/s, %.1f s between readings of pg_stat_database\n\n",
		l.Version, l.Database, l.Settings["fsync"], l.Settings["synchronous_commit"], l.Settings["full_page_writes"], l.RequestsPerSec, l.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "postgres\tper second\tper 1,000 requests/s\tper request\tcounted\t")
	perRequest := func(perSec float64) string {
		if l.RequestsPerSec == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", perSec/l.RequestsPerSec)
	}
	per1k := func(perSec float64) string {
		if l.RequestsPerSec == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", perSec*1000/l.RequestsPerSec)
	}
	fmt.Fprintf(tw, "transactions\t%.0f\t%s\t%s\t%d commits, %d rollbacks\t\n", l.TransactionsPerSec, per1k(l.TransactionsPerSec), perRequest(l.TransactionsPerSec), d.XactCommit, d.XactRollback)
	fmt.Fprintf(tw, "rows written\t%.0f\t%s\t%s\t%d inserted, %d updated, %d deleted\t\n", l.RowsWrittenPerSec, per1k(l.RowsWrittenPerSec), perRequest(l.RowsWrittenPerSec), d.TupInserted, d.TupUpdated, d.TupDeleted)
	fmt.Fprintf(tw, "rows read\t%.0f\t%s\t%s\t%d returned, %d fetched\t\n", l.RowsReadPerSec, per1k(l.RowsReadPerSec), perRequest(l.RowsReadPerSec), d.TupReturned, d.TupFetched)
	tw.Flush()
	fmt.Fprintf(w, "\n  buffer hits %.2f%% (%d hit, %d read)\n", 100*l.BufferHitRatio, d.BlksHit, d.BlksRead)
	var parts []string
	for _, role := range []string{"hub", "connector", "postgres"} {
		if us, ok := ratePhase.cpuPerRequest(hub, role); ok {
			parts = append(parts, fmt.Sprintf("%s %.0f us (%.0f%% of a core per 1,000 requests/s)", role, us, us/10))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "  CPU per request over the window: %s\n", strings.Join(parts, ", "))
	}
}

func rateRows(r *report) []*scenarioResult {
	var out []*scenarioResult
	for _, name := range []string{"direct", "hub"} {
		if s := r.scenario(name); s != nil && s.Rate != nil {
			out = append(out, s)
		}
	}
	return out
}

// printDetails lists each scenario's latency by request kind and its errors.
func printDetails(w io.Writer, r *report, pick func(*scenarioResult) *loadgen.Result) {
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		res := pick(&s)
		if s.Error != "" || res == nil {
			continue
		}
		var parts []string
		for _, kind := range slices.Sorted(maps.Keys(res.ByKind)) {
			k := res.ByKind[kind]
			parts = append(parts, fmt.Sprintf("%s %d at P50/P95/P99 %s/%s/%s ms", kind, k.Count, ms(k.P50), ms(k.P95), ms(k.P99)))
		}
		fmt.Fprintf(w, "  %s: %s", s.Name, strings.Join(parts, "; "))
		if res.ErrorCount() > 0 {
			fmt.Fprintf(w, "; errors: %s", res.ErrorsString())
		}
		if res.PoolWaits > 0 {
			fmt.Fprintf(w, "; %d requests waited for a pooled connection (the pool of %d limited the run)", res.PoolWaits, res.Pool)
		}
		fmt.Fprintln(w)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
