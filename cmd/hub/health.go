package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
)

// Health verdicts of connector-health, and its exit statuses.
const (
	healthy  = "healthy"  // exit 0
	degraded = "degraded" // exit 1
	down     = "down"     // exit 2
)

// verdict judges one connector's process:
//
//   - down: state stopped or gave_up (crashed too often in a row; the hub no
//     longer restarts it), or a state this CLI does not know;
//   - degraded: state crashed (exited unexpectedly; the hub restarts it on next
//     use after a backoff), more than maxRestarts restarts since the hub started
//     with a last error recorded, or an account's circuit breaker open or probing;
//   - healthy: idle, starting or running otherwise.
func verdict(p api.ProcessView, maxRestarts int) string {
	switch p.State {
	case plugins.StateCrashed:
		return degraded
	case plugins.StateIdle, plugins.StateStarting, plugins.StateRunning:
		if p.Restarts > maxRestarts && p.LastError != "" {
			return degraded
		}
		if p.Calls != nil && (p.Calls.BreakersOpen > 0 || p.Calls.BreakersHalfOpen > 0) {
			return degraded
		}
		return healthy
	}
	return down
}

// worse returns the worse of two verdicts.
func worse(a, b string) string {
	rank := map[string]int{healthy: 0, degraded: 1, down: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// healthReport is connector-health's JSON output.
type healthReport struct {
	Status     string             `json:"status"`
	Hub        string             `json:"hub"`
	Error      string             `json:"error,omitempty"`
	Connectors []connectorVerdict `json:"connectors"`
	// Probes are the active checks, with --probe.
	Probes []probeResult `json:"probes,omitempty"`
}

type connectorVerdict struct {
	api.ProcessView
	Health string `json:"health"`
}

// probeResult is one active health check of a connector with one account.
type probeResult struct {
	Connector string          `json:"connector"`
	Account   string          `json:"account,omitempty"`
	Health    string          `json:"health"`
	View      *api.HealthView `json:"view,omitempty"`
	Error     string          `json:"error,omitempty"`
}

type healthOptions struct {
	cf          clientFlags
	output      string
	maxRestarts int
	connector   string
	watch       bool
	interval    time.Duration
	probe       bool
	parallel    int
}

func connectorHealthCmd() *cobra.Command {
	var o healthOptions
	cmd := &cobra.Command{
		Use:   "connector-health",
		Short: "Report each connector's health; the exit status sums it up",
		Long: `Report each connector's process (state, pid, uptime, restarts) and its calls
(circuit breakers, recent error rate), read from the hub's unauthenticated
GET /healthz/connectors (no API key needed; it holds no tenant data), so monitors
and operators can run it anywhere the hub is reachable.

A connector is
  down      when its state is stopped, or gave_up (it crashed too many times in
            a row and the hub no longer restarts it; its last error says why),
            or a state unknown to this CLI;
  degraded  when its state is crashed (the hub restarts it on next use, after a
            backoff), when it has restarted more than --max-restarts times since
            the hub started and has a last error, or when a circuit breaker of any
            account is open or probing (the provider failed repeatedly; calls fail
            fast for a while);
  healthy   otherwise (idle, starting or running).

--probe also runs each connector's own health check with each of the tenant's
accounts (needs --api-key or HUB_API_KEY; starts processes), with a progress bar
on a terminal. --watch redraws the report every --interval until interrupted.

Exit status: 0 all healthy, 1 any degraded and none down, 2 any down or the hub
unreachable or answering with an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if o.probe && o.cf.key() == "" {
				return fmt.Errorf("--probe needs an API key: --api-key or HUB_API_KEY")
			}
			if o.interval <= 0 {
				return fmt.Errorf("--interval must be positive")
			}
			out := cmd.OutOrStdout()
			if !o.watch {
				report := collectHealth(cmd.Context(), &o, cmd.ErrOrStderr())
				if err := printHealth(out, cmd.ErrOrStderr(), &o, report); err != nil {
					return err
				}
				return exitFor(report.Status)
			}
			term := isTerminal(out)
			t := time.NewTicker(o.interval)
			defer t.Stop()
			for {
				report := collectHealth(cmd.Context(), &o, io.Discard)
				if term {
					fmt.Fprint(out, "\033[H\033[2J") // home and clear: redraw in place
				} else {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "%s  every %s, Ctrl-C to stop\n", time.Now().Format("15:04:05"), o.interval)
				if err := printHealth(out, cmd.ErrOrStderr(), &o, report); err != nil {
					return err
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-t.C:
				}
			}
		},
	}
	o.cf.register(cmd, true)
	outputFlag(cmd, &o.output)
	f := cmd.Flags()
	f.IntVar(&o.maxRestarts, "max-restarts", 0, "restarts since the hub started, with a last error, tolerated before a connector counts as degraded")
	f.StringVar(&o.connector, "connector", "", "report only this connector")
	f.BoolVar(&o.watch, "watch", false, "redraw the report every --interval until interrupted")
	f.DurationVar(&o.interval, "interval", 2*time.Second, "refresh interval of --watch")
	f.BoolVar(&o.probe, "probe", false, "run each connector's health check with each of the tenant's accounts (needs an API key)")
	f.IntVar(&o.parallel, "parallel", 4, "probes run at once")
	return cmd
}

func exitFor(status string) error {
	switch status {
	case degraded:
		return &exitError{code: 1}
	case down:
		return &exitError{code: 2}
	}
	return nil
}

// collectHealth reads the process summary and, with --probe, runs the probes,
// drawing a progress bar on progress when it is a terminal.
func collectHealth(ctx context.Context, o *healthOptions, progress io.Writer) healthReport {
	report := healthReport{Status: healthy, Hub: o.cf.hubURL, Connectors: []connectorVerdict{}}
	var procs []api.ProcessView
	r, err := o.cf.call(ctx, "GET", "/healthz/connectors", nil, nil)
	switch {
	case err != nil:
		report.Error = err.Error()
	case r.status != http.StatusOK:
		report.Error = fmt.Sprintf("the hub answered %d", r.status)
	default:
		if err := json.Unmarshal(r.body, &procs); err != nil {
			report.Error = "the hub's answer is not a connector list: " + err.Error()
		}
	}
	if report.Error != "" {
		report.Status = down
		return report
	}
	found := false
	for _, p := range procs {
		if o.connector != "" && p.ID != o.connector {
			continue
		}
		found = true
		v := connectorVerdict{ProcessView: p, Health: verdict(p, o.maxRestarts)}
		report.Connectors = append(report.Connectors, v)
		report.Status = worse(report.Status, v.Health)
	}
	if o.connector != "" && !found {
		report.Error = fmt.Sprintf("the hub has no connector %q", o.connector)
		report.Status = down
		return report
	}
	if o.probe {
		report.Probes = runProbes(ctx, o, report.Connectors, progress)
		for _, p := range report.Probes {
			report.Status = worse(report.Status, p.Health)
		}
	}
	return report
}

// runProbes checks every connector with each of the tenant's accounts of it
// (or once without an account when the tenant has none).
func runProbes(ctx context.Context, o *healthOptions, conns []connectorVerdict, progress io.Writer) []probeResult {
	var todo []probeResult
	for _, c := range conns {
		var accts []struct{ ID string }
		r, err := o.cf.call(ctx, "GET", "/v1/accounts?connector="+url.QueryEscape(c.ID), nil, nil)
		if err == nil && r.status == http.StatusOK {
			_ = json.Unmarshal(r.body, &accts)
		}
		if len(accts) == 0 {
			todo = append(todo, probeResult{Connector: c.ID})
		}
		for _, a := range accts {
			todo = append(todo, probeResult{Connector: c.ID, Account: a.ID})
		}
	}
	var bar *progressbar.ProgressBar
	if isTerminal(progress) && len(todo) > 1 {
		bar = progressbar.NewOptions(len(todo), progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription("probing"), progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
	}
	sem := make(chan struct{}, max(1, o.parallel))
	var wg sync.WaitGroup
	for i := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func(p *probeResult) {
			defer func() { <-sem; wg.Done() }()
			probe(ctx, o, p)
			if bar != nil {
				_ = bar.Add(1)
			}
		}(&todo[i])
	}
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	sort.SliceStable(todo, func(i, j int) bool {
		if todo[i].Connector != todo[j].Connector {
			return todo[i].Connector < todo[j].Connector
		}
		return todo[i].Account < todo[j].Account
	})
	return todo
}

// probe runs one health check: healthy when the hub says so, down when the
// process cannot serve (the hub answers 5xx), degraded otherwise (the check
// failed, e.g. credentials refused, or a breaker is open).
func probe(ctx context.Context, o *healthOptions, p *probeResult) {
	path := "/v1/connectors/" + url.PathEscape(p.Connector) + "/health"
	if p.Account != "" {
		path += "?account=" + url.QueryEscape(p.Account)
	}
	r, err := o.cf.call(ctx, "GET", path, nil, nil)
	switch {
	case err != nil:
		p.Health, p.Error = down, err.Error()
		return
	case r.status >= 500:
		p.Health, p.Error = down, problemError(r).Error()
		return
	case r.status != http.StatusOK:
		p.Health, p.Error = degraded, problemError(r).Error()
		return
	}
	var v api.HealthView
	if err := json.Unmarshal(r.body, &v); err != nil {
		p.Health, p.Error = down, "the hub's answer is not a health view: "+err.Error()
		return
	}
	p.View = &v
	p.Health = healthy
	if !v.Healthy {
		p.Health = degraded
		if v.CheckError != nil {
			p.Error = v.CheckError.Code + ": " + v.CheckError.Detail
		}
	}
}

// printHealth writes the report as JSON or as tables that fit 80 columns.
func printHealth(out, errw io.Writer, o *healthOptions, report healthReport) error {
	if o.output == "json" {
		return printJSON(out, report)
	}
	if report.Error != "" {
		fmt.Fprintf(errw, "hub: %s\n", report.Error)
	}
	w := table(out)
	fmt.Fprintln(w, "CONNECTOR\tHEALTH\tSTATE\tPID\tUPTIME\tRESTARTS\tBREAKERS\tERRORS")
	for _, c := range report.Connectors {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", clip(c.ID, 20), c.Health, clip(string(c.State), 8), pid(c.PID),
			uptime(c.PID, c.UptimeSeconds), c.Restarts, breakers(c.Calls), errorRate(c.Calls))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// Last errors are long; each gets its own line rather than a squeezed column.
	for _, c := range report.Connectors {
		if c.LastError != "" {
			fmt.Fprintln(out, clip(c.ID+" last error: "+c.LastError, 80))
		}
	}
	if len(report.Probes) > 0 {
		fmt.Fprintln(out)
		w := table(out)
		fmt.Fprintln(w, "CONNECTOR\tACCOUNT\tHEALTH\tCHECK\tBREAKER")
		for _, p := range report.Probes {
			check, breaker := "-", "-"
			if p.View != nil {
				if p.View.CheckSupported {
					check = "passed"
					if p.View.CheckError != nil {
						check = p.View.CheckError.Code
					}
				}
				if p.View.Resilience != nil {
					for _, a := range p.View.Resilience.Accounts {
						if a.Account == p.Account {
							breaker = string(a.Breaker)
							if a.Breaker == resilience.BreakerOpen {
								breaker = "open " + time.Duration(a.OpenRemaining).Round(time.Second).String()
							}
						}
					}
				}
			} else if p.Error != "" {
				check = "error"
			}
			acct := p.Account
			if acct == "" {
				acct = "(none)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", clip(p.Connector, 20), clip(acct, 30), p.Health, clip(check, 14), breaker)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		for _, p := range report.Probes {
			if p.Error != "" {
				fmt.Fprintln(out, clip(p.Connector+" "+p.Account+": "+p.Error, 80))
			}
		}
	}
	fmt.Fprintf(out, "overall: %s\n", report.Status)
	return nil
}

// breakers sums up circuit breakers as "2/5 open" (open and half-open of the
// accounts that called recently), "ok" when none is open, "-" before any call.
func breakers(c *api.CallSummary) string {
	switch {
	case c == nil || c.Accounts == 0:
		return "-"
	case c.BreakersOpen > 0:
		return fmt.Sprintf("%d/%d open", c.BreakersOpen, c.Accounts)
	case c.BreakersHalfOpen > 0:
		return fmt.Sprintf("%d/%d probe", c.BreakersHalfOpen, c.Accounts)
	}
	return "ok"
}

// errorRate is the recent provider failure rate as a percentage, "-" with no calls.
func errorRate(c *api.CallSummary) string {
	if c == nil || c.Requests == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*c.ErrorRate)
}

// uptime formats a running process's seconds compactly: 45s, 12m, 5h3m, 3d4h;
// "-" when no process runs.
func uptime(pid int, s int64) string {
	d := time.Duration(s) * time.Second
	switch {
	case pid == 0:
		return "-"
	case s <= 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", s)
	case d < time.Hour:
		return fmt.Sprintf("%dm", s/60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}
