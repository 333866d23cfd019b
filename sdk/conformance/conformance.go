// Package conformance is the connector contract test kit. A connector's test calls
// it in one line:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, delhivery.New(), conformance.Options{Account: startSimulator, Cases: cases})
//	}
//
// Run re-executes the test binary as the connector process, exactly as the hub
// starts a connector (go-plugin handshake on a private pipe, lifeline, minimal
// environment), and checks the contract every connector must keep: a valid
// manifest, every declared operation implemented, classified errors for unknown
// operations and malformed payloads, survival of bad input, concurrent calls,
// a health check where the connector has one, and a graceful stop on SIGTERM.
// The connector's own cases then run against its simulator through the same
// process boundary, with an egress policy (HUB_EGRESS_ALLOW) that admits the
// simulator's address alone; and one case runs again in a process whose policy
// excludes it, which must fail with the egress guard's error (a connector that
// dials with a client of its own reaches the simulator and fails the check).
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/host"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// envServe tells a re-executed test binary which test should become the connector.
const envServe = "HUB_CONFORMANCE_SERVE"

// Options configure a conformance run.
type Options struct {
	// Account returns the account the cases run with, typically pointing BaseURL
	// at a simulator the function starts (and stops with t.Cleanup).
	Account func(t *testing.T) *sdk.Account
	// Cases are the connector's own calls and expectations.
	Cases []Case
	// Concurrency is how many copies of the first successful idempotent case run
	// at once; 50 when zero.
	Concurrency int
}

// Case is one call and what it must produce.
type Case struct {
	// Name names the subtest.
	Name string
	// Operation is the canonical operation.
	Operation sdk.Operation
	// Request is the canonical request; it is encoded as JSON.
	Request any
	// Build, when set, makes the request from the responses of the cases run
	// before it, by case name (track what create_shipment just booked).
	Build func(t *testing.T, earlier map[string][]byte) any
	// IdempotencyKey is passed with the call.
	IdempotencyKey string
	// WantCode is the expected error code; empty expects success.
	WantCode sdk.Code
	// Check inspects a successful response (canonical JSON).
	Check func(t *testing.T, response []byte)
}

// Run checks c against the connector contract, out of process. It must be called
// from a top-level test function, not a subtest.
func Run(t *testing.T, c sdk.Connector, opts Options) {
	if os.Getenv(envServe) == t.Name() {
		// This process is the connector. Noise on stdout must not break the handshake.
		fmt.Println("conformance: printing to stdout before Serve, as careless connectors do")
		serve(c)
	}
	t.Helper()
	if strings.Contains(t.Name(), "/") {
		t.Fatal("conformance.Run must be called from a top-level test function")
	}
	d, err := sdk.NewDispatcher(c)
	if err != nil {
		t.Fatalf("connector is not servable: %v", err)
	}
	want := d.Manifest()

	var acct *sdk.Account
	if opts.Account != nil {
		acct = opts.Account(t)
	}
	p := startProcess(t, simulatorAddr(acct))

	t.Run("manifest", func(t *testing.T) { checkManifest(t, want, p.Manifest()) })
	t.Run("unknown_operation", func(t *testing.T) {
		_, err := p.Invoke(context.Background(), &sdk.Call{Operation: "no_such_operation", Account: acct, Payload: []byte(`{}`)})
		expectCode(t, err, sdk.CodeNotFound)
	})
	t.Run("malformed_payload", func(t *testing.T) {
		for _, op := range want.Operations {
			for _, payload := range []string{`{`, `[]`, `"x"`, `{"tracking_numbers": 5, "reference": {}}`} {
				_, err := p.Invoke(context.Background(), &sdk.Call{Operation: op.Name, Account: acct, Payload: []byte(payload)})
				var e *sdk.Error
				if !errors.As(err, &e) {
					t.Errorf("%s with %s: got %v, want a classified error", op.Name, payload, err)
					continue
				}
				if e.Code == sdk.CodeInternal {
					t.Errorf("%s with %s: got internal error %q; bad input must be invalid_request", op.Name, payload, e.Message)
				}
			}
		}
		if err := p.Ping(context.Background()); err != nil {
			t.Fatalf("connector died on malformed input: %v", err)
		}
	})
	t.Run("health", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := p.CheckHealth(ctx, acct); err != nil {
			t.Errorf("health check with the test account: %v", err)
		}
	})

	// The concurrency check repeats the first successful idempotent case, with
	// the request it ran with.
	var firstOK *Case
	earlier := map[string][]byte{}
	for i := range opts.Cases {
		tc := opts.Cases[i]
		t.Run("case/"+tc.Name, func(t *testing.T) {
			if tc.Build != nil {
				tc.Request, tc.Build = tc.Build(t, earlier), nil
			}
			earlier[tc.Name] = runCase(t, p, acct, &tc)
		})
		if info, ok := want.Operation(tc.Operation); ok && info.Idempotent && tc.WantCode == "" && firstOK == nil {
			firstOK = &tc
		}
	}
	if probe := egressProbe(acct, opts.Cases); probe != nil {
		t.Run("egress", func(t *testing.T) {
			strict := startProcess(t, "")
			payload, err := json.Marshal(probe.Request)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err = strict.Invoke(ctx, &sdk.Call{Operation: probe.Operation, Account: acct, Payload: payload,
				IdempotencyKey: probe.IdempotencyKey, RequestID: "conformance-egress-" + probe.Name})
			if msg := egressProblem(err); msg != "" {
				t.Errorf("case %s with HUB_EGRESS_ALLOW excluding the simulator at %s: %s", probe.Name, acct.BaseURL, msg)
			}
		})
	}
	if firstOK != nil {
		t.Run("concurrency", func(t *testing.T) {
			n := opts.Concurrency
			if n == 0 {
				n = 50
			}
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() { defer wg.Done(); runCase(t, p, acct, firstOK) }()
			}
			wg.Wait()
		})
	}
	t.Run("graceful_stop", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		p.Stop(ctx)
		if err := p.ExitErr(); err != nil {
			t.Errorf("connector did not exit cleanly on SIGTERM: %v", err)
		}
	})
}

// startProcess starts the connector with allow as its egress allow-list.
func startProcess(t *testing.T, allow string) *host.Process {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	top, _, _ := strings.Cut(t.Name(), "/")
	p, err := host.Start(context.Background(), host.Config{
		Path:   exe,
		Args:   []string{"-test.run=^" + regexp.QuoteMeta(top) + "$"},
		Env:    append([]string{envServe + "=" + top}, egressEnv(allow)...),
		Logger: nil,
	})
	if err != nil {
		t.Fatalf("starting the connector out of process: %v", err)
	}
	t.Cleanup(p.Kill)
	return p
}

// simulatorAddr is the egress allow-list of the cases: the address of the
// account's base URL when it is a literal one, else 127.0.0.1 (where test
// simulators listen).
func simulatorAddr(acct *sdk.Account) string {
	if acct != nil {
		if h := simulatorHost(acct.BaseURL); h != "" {
			return h
		}
	}
	return "127.0.0.1"
}

// egressProbe is the case the egress check replays: the first that expects
// success and calls the provider, when the account's base URL is a literal
// address the guard refuses by default (a simulator on loopback).
func egressProbe(acct *sdk.Account, cases []Case) *Case {
	if acct == nil {
		return nil
	}
	h := simulatorHost(acct.BaseURL)
	if h == "" || egress.MustParse().CheckHost(h) == nil {
		return nil
	}
	for i, c := range cases {
		if c.WantCode == "" && c.Build == nil && c.Operation != sdk.OpReceivePush {
			return &cases[i]
		}
	}
	return nil
}

func checkManifest(t *testing.T, want, got *sdk.Manifest) {
	if got.ID != want.ID || got.Version != want.Version || len(got.Operations) != len(want.Operations) {
		t.Errorf("manifest over the wire %s@%s (%d operations) differs from in process %s@%s (%d)",
			got.ID, got.Version, len(got.Operations), want.ID, want.Version, len(want.Operations))
	}
	if len(got.Account.Environments) == 0 {
		t.Error("manifest declares no environments (base URLs)")
	}
	for env, u := range got.Account.Environments {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			t.Errorf("environment %s has base URL %q, want an http(s) URL", env, u)
		}
	}
	if !strings.HasPrefix(got.Docs, "http") {
		t.Errorf("docs %q is not a URL of the provider's documentation", got.Docs)
	}
}

// runCase runs one case and returns its successful response, if any.
func runCase(t *testing.T, p *host.Process, acct *sdk.Account, tc *Case) []byte {
	payload, err := json.Marshal(tc.Request)
	if err != nil {
		t.Errorf("encoding request: %v", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := p.Invoke(ctx, &sdk.Call{Operation: tc.Operation, Account: acct, Payload: payload, IdempotencyKey: tc.IdempotencyKey, RequestID: "conformance-" + tc.Name})
	if tc.WantCode != "" {
		expectCode(t, err, tc.WantCode)
		return nil
	}
	if err != nil {
		t.Errorf("%s: %v", tc.Name, err)
		return nil
	}
	if !json.Valid(out) {
		t.Errorf("%s: response is not JSON: %.200s", tc.Name, out)
		return nil
	}
	if tc.Check != nil {
		tc.Check(t, out)
	}
	return out
}

func expectCode(t *testing.T, err error, want sdk.Code) {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Errorf("got %v, want a classified %s error", err, want)
		return
	}
	if e.Code != want {
		t.Errorf("got %s error %q, want %s", e.Code, e.Message, want)
	}
	if e.Source == "" {
		t.Errorf("error %q has no source", e.Message)
	}
}
