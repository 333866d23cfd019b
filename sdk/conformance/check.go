package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/engine/validate"
	"github.com/carrierhub/hub/mappings/fixtures"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/host"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// Simulator is the provider simulator a check runs the exchanges against: its
// URL and the account that talks to it. Unmatched, when the simulator has it,
// lists requests it had no recorded exchange for.
type Simulator interface {
	URL() string
	Account() (credentials, settings map[string]string)
}

// The optional parts of a Simulator: the requests it had no exchange for, and
// answering from one exchanges file only (so a recorded outage or refusal is
// replayed even where matching alone would choose a success).
type (
	unmatcher interface{ Unmatched() []string }
	selector  interface{ Select(file string) }
)

// Target is one connector to check.
type Target struct {
	// Name is how the report names it: an id or a folder.
	Name string
	// Files is the connector's folder (manifest.yaml, mappings,
	// testdata/exchanges); nil for a Go connector that has none.
	Files fs.FS
	// Path and Args start the connector process (the hub binary with
	// connector-process, or a test binary).
	Path string
	Args []string
	Env  []string
	// Simulator is started by the caller and closed by it; nil skips the
	// exchanges.
	Simulator Simulator
	// Timeout bounds each call; 30s when zero.
	Timeout time.Duration
}

// Report is what Check found, check by check. It is written as JSON by hub
// connector test -o json.
type Report struct {
	// Connector is the connector's id, or the target's name when its manifest
	// did not load.
	Connector string `json:"connector"`
	// Checks are the checks in the order they ran.
	Checks []Result `json:"checks"`
	// Unmapped lists provider status codes the exchanges produced that the
	// connector maps to unknown/unmapped.
	Unmapped []string `json:"unmapped,omitempty"`
	// Samples counts exchange files marked as samples (written by the scaffold,
	// not taken from a source).
	Samples int `json:"samples,omitempty"`
}

// Result is one check's outcome.
type Result struct {
	Name     string   `json:"name"`
	Passed   bool     `json:"passed"`
	Problems []string `json:"problems,omitempty"`
	// Skipped says why the check did not run.
	Skipped string `json:"skipped,omitempty"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if !c.Passed && c.Skipped == "" {
			return true
		}
	}
	return false
}

// Problems lists every failed check's problems as "check: problem".
func (r *Report) Problems() []string {
	var out []string
	for _, c := range r.Checks {
		for _, p := range c.Problems {
			out = append(out, c.Name+": "+p)
		}
	}
	return out
}

func (r *Report) add(name string, problems []string) {
	r.Checks = append(r.Checks, Result{Name: name, Passed: len(problems) == 0, Problems: problems})
}

func (r *Report) skip(name, why string) {
	r.Checks = append(r.Checks, Result{Name: name, Passed: true, Skipped: why})
}

// Check runs the whole contract on one connector and reports every check: the
// manifest against the schema; its sources; every mapping's fixtures; the
// recorded exchanges (each canonical request through the real connector
// process against the simulator, answers compared with the recorded canonical
// ones); the canonical contract on every answer; the egress guard (one
// exchange replayed by a process whose policy excludes the simulator must be
// refused by the guard); and the process contract (unknown operations,
// malformed payloads, a graceful stop).
//
// The connector process's egress policy (HUB_EGRESS_ALLOW) admits exactly the
// simulator's address, so the exchanges reach it and nothing else internal.
func Check(ctx context.Context, t Target) *Report {
	r := &Report{Connector: t.Name}
	var manifest *sdk.Manifest
	if t.Files != nil {
		m, err := declarative.LoadManifest(t.Files)
		if err != nil {
			r.add("manifest", []string{err.Error()})
			return r
		}
		manifest = m
		r.add("manifest", nil)
	}
	p, err := host.Start(ctx, host.Config{Path: t.Path, Args: t.Args, Env: append(slices.Clip(t.Env), egressEnv(simulatorPolicy(t.Simulator))...)})
	if err != nil {
		r.add("process", []string{"starting the connector out of process: " + err.Error()})
		return r
	}
	defer p.Kill()
	if manifest == nil {
		manifest = p.Manifest()
		var problems []string
		if err := manifest.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
		r.add("manifest", problems)
	}
	r.Connector = manifest.ID
	r.add("sources", checkSources(manifest))
	if t.Files != nil {
		r.add("mappings", checkFixtures(t.Files))
	} else {
		r.skip("mappings", "no connector folder")
	}

	var files []*exchanges.File
	if t.Files != nil {
		var err error
		if files, err = exchanges.Load(t.Files, manifest); err != nil {
			r.add("exchanges", []string{err.Error()})
			files = nil
		}
	}
	var acct *sdk.Account
	if t.Simulator != nil {
		creds, settings := t.Simulator.Account()
		acct = &sdk.Account{ID: "acc_conformance", TenantID: "ten_conformance", Environment: "sandbox",
			BaseURL: t.Simulator.URL(), Credentials: creds, Settings: settings}
	}
	switch {
	case len(files) == 0:
		r.add("exchanges", []string{"no recorded exchanges under " + exchanges.Dir + ": the operations are not exercised"})
	case acct == nil:
		r.skip("exchanges", "no simulator")
	default:
		checkExchanges(ctx, r, t, p, manifest, files, acct)
	}
	if why, problems := checkEgress(ctx, t, files, acct); why != "" {
		r.skip("egress", why)
	} else {
		r.add("egress", problems)
	}
	r.add("process", checkProcess(ctx, p, manifest, acct))
	return r
}

// checkSources holds every source to a URL, what it covers and a confidence.
func checkSources(m *sdk.Manifest) []string {
	var problems []string
	if len(m.Sources) == 0 {
		problems = append(problems, "the manifest lists no sources: a connector is built from facts, each with its URL")
	}
	for i, s := range m.Sources {
		if !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "http://") {
			problems = append(problems, fmt.Sprintf("sources[%d]: url %q is not an http(s) URL", i, s.URL))
		}
		if strings.TrimSpace(s.Covers) == "" {
			problems = append(problems, fmt.Sprintf("sources[%d] (%s): covers must say which facts it supports", i, s.URL))
		}
		switch s.Confidence {
		case "high", "medium", "low":
		default:
			problems = append(problems, fmt.Sprintf("sources[%d] (%s): confidence %q is not high, medium or low", i, s.URL, s.Confidence))
		}
	}
	return problems
}

// checkFixtures runs every mapping's fixtures in the folder.
func checkFixtures(fsys fs.FS) []string {
	var problems []string
	files, err := fixtures.Mappings(fsys)
	if err != nil {
		return []string{err.Error()}
	}
	for _, f := range files {
		p, err := fixtures.Compile(fsys, f)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		fx, err := fixtures.For(fsys, f)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, x := range fx {
			if _, msg := fixtures.Check(fsys, p, x); msg != "" {
				problems = append(problems, fmt.Sprintf("%s %s:\n%s", f, x.Name, msg))
			}
		}
	}
	return problems
}

// validator checks canonical requests and answers against their JSON Schemas,
// as the engine checks requests before routing them.
var validator = sync.OnceValue(func() *validate.Validator {
	v, err := validate.New()
	if err != nil {
		panic(err) // the embedded schemas always compile: a build defect
	}
	return v
})

// checkExchanges runs every recorded canonical call through the process.
func checkExchanges(ctx context.Context, r *Report, t Target, p *host.Process, m *sdk.Manifest, files []*exchanges.File, acct *sdk.Account) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	secrets := make([]string, 0, len(acct.Credentials))
	for _, v := range acct.Credentials {
		if len(v) >= 4 {
			secrets = append(secrets, v)
		}
	}
	exercised := map[sdk.Operation]bool{}
	var problems, contract []string
	unmapped := map[string]bool{}
	for _, f := range files {
		exercised[f.Operation] = true
		if f.Sample {
			r.Samples++
		}
		if f.Operation != sdk.OpReceivePush {
			if err := validator().Request(f.Operation, []byte(f.Canonical.Request)); err != nil {
				contract = append(contract, fmt.Sprintf("%s: the canonical request is one the hub refuses before any connector sees it: %v", f.Name, err))
			}
		}
		callAcct := *acct
		if len(f.Account.Settings) > 0 {
			callAcct.Settings = mergeSettings(acct.Settings, f.Account.Settings)
		}
		if sel, ok := t.Simulator.(selector); ok {
			sel.Select(f.Name)
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		out, err := p.Invoke(cctx, &sdk.Call{Operation: f.Operation, Account: &callAcct, Payload: f.Request(&callAcct),
			RequestID: "conformance-" + f.Name, IdempotencyKey: "conformance-" + f.Name})
		cancel()
		if msg := leaks(out, err, secrets); msg != "" {
			contract = append(contract, f.Name+": "+msg)
		}
		if want := f.Canonical.Error; want != nil {
			problems = append(problems, expectError(f.Name, err, want)...)
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s failed: %v", f.Name, f.Operation, err))
			continue
		}
		if !fixtures.SameJSON(out, []byte(f.Canonical.Response)) {
			problems = append(problems, fmt.Sprintf("%s: the canonical answer differs from the recorded one (- recorded, + actual):\n%s", f.Name,
				fixtures.LineDiff(indentJSON([]byte(f.Canonical.Response)), indentJSON(out))))
		}
		if err := validator().Response(f.Operation, out); err != nil {
			contract = append(contract, fmt.Sprintf("%s: the answer does not fit the %s response schema: %v", f.Name, f.Operation, err))
		}
		contract = append(contract, checkAnswer(f, m, out)...)
		if f.Operation == sdk.OpTrack {
			for _, res := range gjson.GetBytes(out, "results").Array() {
				if res.Get("status").String() == string(model.StatusUnknown) && res.Get("sub_status").String() == "unmapped" {
					unmapped[res.Get("raw_code").String()] = true
				}
				for _, e := range res.Get("events").Array() {
					if e.Get("status").String() == string(model.StatusUnknown) && e.Get("raw_code").Exists() {
						unmapped[e.Get("raw_code").String()] = true
					}
				}
			}
		}
	}
	if sel, ok := t.Simulator.(selector); ok {
		sel.Select("")
	}
	for _, o := range m.Operations {
		if !exercised[o.Name] {
			problems = append(problems, fmt.Sprintf("operation %s has no recorded exchange", o.Name))
		}
	}
	if u, ok := t.Simulator.(unmatcher); ok {
		for _, req := range u.Unmatched() {
			problems = append(problems, "the simulator had no recorded exchange for "+req)
		}
	}
	for code := range unmapped {
		r.Unmapped = append(r.Unmapped, code)
	}
	sort.Strings(r.Unmapped)
	r.add("exchanges", problems)
	r.add("contract", contract)
}

func mergeSettings(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func indentJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out) + "\n"
}

// expectError compares an error with the recorded one.
func expectError(name string, err error, want *exchanges.Error) []string {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return []string{fmt.Sprintf("%s: got %v, want a %s error", name, err, want.Code)}
	}
	var problems []string
	if e.Code != want.Code {
		problems = append(problems, fmt.Sprintf("%s: got a %s error (%s), want %s", name, e.Code, e.Message, want.Code))
	}
	if want.CarrierCode != "" && e.CarrierCode != want.CarrierCode {
		problems = append(problems, fmt.Sprintf("%s: carrier code %q, want %q (errors keep the carrier's code)", name, e.CarrierCode, want.CarrierCode))
	}
	if want.CarrierMessage != "" && e.CarrierMessage != want.CarrierMessage {
		problems = append(problems, fmt.Sprintf("%s: carrier message %q, want %q (errors keep the carrier's words)", name, e.CarrierMessage, want.CarrierMessage))
	}
	if e.Source == "" {
		problems = append(problems, fmt.Sprintf("%s: error %q has no source", name, e.Message))
	}
	return problems
}

// leaks says whether an answer or error carries an account secret.
func leaks(out []byte, err error, secrets []string) string {
	text := string(out)
	if err != nil {
		var e *sdk.Error
		if errors.As(err, &e) {
			text += e.Message + e.CarrierCode + e.CarrierMessage
		} else {
			text += err.Error()
		}
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			return "a credential of the account appears in the answer or error"
		}
	}
	return ""
}

// offsetTime is an RFC 3339 time with a zone offset or Z.
var offsetTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)

// dateOnly is a calendar date, YYYY-MM-DD.
var dateOnly = regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)

// timeKeys are the canonical fields that hold times.
var timeKeys = []string{"time", "delivered_at", "estimated_delivery", "created_at", "valid_until", "valid_from", "generated_at", "cancelled_at", "pickup_date", "at"}

// checkAnswer holds a successful answer to the canonical contract.
func checkAnswer(f *exchanges.File, m *sdk.Manifest, out []byte) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, f.Name+": "+fmt.Sprintf(format, args...))
	}
	root := gjson.ParseBytes(out)
	if !root.IsObject() {
		bad("the answer is not a JSON object")
		return problems
	}
	walkTimes(root, "", func(path, v string) {
		// A date alone (a rate's estimated delivery) has no time to offset;
		// the response schema says which fields are dates.
		if !offsetTime.MatchString(v) && !dateOnly.MatchString(v) {
			bad("%s = %q is not an RFC 3339 time with an offset", path, v)
		}
	})
	switch f.Operation {
	case sdk.OpCancelShipment, sdk.OpNDRAction, sdk.OpGetPOD:
		// The answer is about the shipment asked about.
		want := gjson.Get(f.Canonical.Request, "tracking_number").String()
		if got := root.Get("tracking_number").String(); got != "" && got != want {
			bad("the answer is about %q, the request about %q", got, want)
		}
	}
	if f.Operation != sdk.OpTrack {
		return problems
	}
	asked := gjson.Get(f.Canonical.Request, "tracking_numbers").Array()
	results := root.Get("results").Array()
	if len(results) != len(asked) {
		bad("%d results for %d requested numbers: exactly one result per number", len(results), len(asked))
		return problems
	}
	for i, res := range results {
		want := strings.TrimSpace(asked[i].String())
		if got := res.Get("tracking_number").String(); got != want {
			bad("results[%d] is for %q, want %q (request order)", i, got, want)
		}
		st := model.TrackingStatus(res.Get("status").String())
		if !slices.Contains(model.TrackingStatuses, st) {
			bad("results[%d].status %q is not a canonical status", i, st)
		}
		if !res.Get("error").Exists() {
			if st != model.StatusUnknown && res.Get("raw_code").String() == "" && res.Get("raw_text").String() == "" {
				bad("results[%d] has status %s without the provider's raw code or text", i, st)
			}
		} else if res.Get("error.code").String() == "" {
			bad("results[%d].error has no code", i)
		}
		for j, e := range res.Get("events").Array() {
			if s := model.TrackingStatus(e.Get("status").String()); !slices.Contains(model.TrackingStatuses, s) {
				bad("results[%d].events[%d].status %q is not a canonical status", i, j, s)
			}
		}
	}
	return problems
}

// walkTimes calls fn for every string under a time key of v.
func walkTimes(v gjson.Result, path string, fn func(path, v string)) {
	switch {
	case v.IsObject():
		v.ForEach(func(k, val gjson.Result) bool {
			p := path + "." + k.String()
			if val.Type == gjson.String && slices.Contains(timeKeys, k.String()) {
				fn(strings.TrimPrefix(p, "."), val.String())
			}
			walkTimes(val, p, fn)
			return true
		})
	case v.IsArray():
		for i, e := range v.Array() {
			walkTimes(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// simulatorPolicy is the egress allow-list of a process checked against sim:
// its address alone (127.0.0.1/32), or nothing when there is no simulator or
// it is not at a literal address.
func simulatorPolicy(sim Simulator) string {
	if sim == nil {
		return ""
	}
	p, _ := egress.Parse([]string{simulatorHost(sim.URL())})
	return p.String()
}

// envEgress carries a conformance process's egress allow-list past the test
// binary's TestMain, which may set HUB_EGRESS_ALLOW for the package's own
// in-process tests; the kit's serving branch puts it back (see serve).
const envEgress = "HUB_CONFORMANCE_EGRESS_ALLOW"

// egressEnv is the environment that hands a connector process the allow-list.
func egressEnv(allow string) []string {
	return []string{egress.EnvVar + "=" + allow, envEgress + "=" + allow}
}

// serve serves c as a connector process the kit started, under the egress
// policy the kit chose for it.
func serve(c sdk.Connector) {
	if allow, ok := os.LookupEnv(envEgress); ok {
		os.Setenv(egress.EnvVar, allow)
	}
	sdk.Serve(c)
}

func simulatorHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if _, err := netip.ParseAddr(u.Hostname()); err != nil {
		return ""
	}
	return u.Hostname()
}

// checkEgress proves the connector dials through the egress guard: a second
// process whose policy admits nothing internal replays one recorded exchange
// against the (loopback) simulator, and the call must fail with the guard's
// invalid_request. A call that succeeds, or fails any other way, reached the
// simulator on a connection of the connector's own. It returns why it was
// skipped, or the problems.
func checkEgress(ctx context.Context, t Target, files []*exchanges.File, acct *sdk.Account) (skipped string, problems []string) {
	if acct == nil || simulatorHost(t.Simulator.URL()) == "" {
		return "no simulator at a literal address", nil
	}
	var f *exchanges.File
	for _, x := range files {
		if x.Operation != sdk.OpReceivePush {
			f = x
			break
		}
	}
	if f == nil {
		return "no recorded exchange that calls the provider", nil
	}
	p, err := host.Start(ctx, host.Config{Path: t.Path, Args: t.Args, Env: append(slices.Clip(t.Env), egressEnv("")...)})
	if err != nil {
		return "", []string{"starting the connector with an empty egress allow-list: " + err.Error()}
	}
	defer p.Kill()
	if sel, ok := t.Simulator.(selector); ok {
		sel.Select(f.Name)
		defer sel.Select("")
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	callAcct := *acct
	if len(f.Account.Settings) > 0 {
		callAcct.Settings = mergeSettings(acct.Settings, f.Account.Settings)
	}
	_, err = p.Invoke(cctx, &sdk.Call{Operation: f.Operation, Account: &callAcct, Payload: f.Request(&callAcct),
		RequestID: "conformance-egress-" + f.Name, IdempotencyKey: "conformance-egress-" + f.Name})
	if msg := egressProblem(err); msg != "" {
		return "", []string{fmt.Sprintf("%s replayed with HUB_EGRESS_ALLOW excluding the simulator at %s: %s", f.Name, t.Simulator.URL(), msg)}
	}
	return "", nil
}

// egressProblem says what is wrong with the outcome of a call the egress guard
// must have refused, or "".
func egressProblem(err error) string {
	if err == nil {
		return "the call succeeded, so the connector dialled around the egress guard (an HTTP client or dialer of its own); send through the SDK's transports"
	}
	e := sdk.AsError(err)
	if e.Code != sdk.CodeInvalidRequest || !strings.Contains(e.Message, "egress guard") {
		return fmt.Sprintf("got %s %q, not the egress guard's invalid_request: the connector dialled around the guard or did not pass its refusal on", e.Code, e.Message)
	}
	if !e.NotSent {
		return "the egress guard's refusal lost NotSent: nothing was sent"
	}
	return ""
}

// checkProcess runs the process contract: a classified not_found for an
// unknown operation, no internal error and no crash on malformed payloads, and
// a graceful stop on SIGTERM.
func checkProcess(ctx context.Context, p *host.Process, m *sdk.Manifest, acct *sdk.Account) []string {
	var problems []string
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := p.Invoke(cctx, &sdk.Call{Operation: "no_such_operation", Account: acct, Payload: []byte(`{}`)})
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeNotFound {
		problems = append(problems, fmt.Sprintf("an unknown operation answered %v, want not_found", err))
	}
	for _, op := range m.Operations {
		if op.Name == sdk.OpReceivePush {
			continue
		}
		for _, payload := range []string{`{`, `[]`, `"x"`, `{"tracking_numbers": 5, "reference": {}}`} {
			_, err := p.Invoke(cctx, &sdk.Call{Operation: op.Name, Account: acct, Payload: []byte(payload)})
			var e *sdk.Error
			if !errors.As(err, &e) {
				problems = append(problems, fmt.Sprintf("%s with %s: got %v, want a classified error", op.Name, payload, err))
			} else if e.Code == sdk.CodeInternal {
				problems = append(problems, fmt.Sprintf("%s with %s: internal error %q; bad input must be invalid_request", op.Name, payload, e.Message))
			}
		}
	}
	if err := p.Ping(cctx); err != nil {
		problems = append(problems, "the connector died on malformed input: "+err.Error())
		return problems
	}
	p.Stop(cctx)
	if err := p.ExitErr(); err != nil {
		problems = append(problems, "the connector did not exit cleanly on SIGTERM: "+err.Error())
	}
	return problems
}
