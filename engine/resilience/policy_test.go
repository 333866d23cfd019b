package resilience

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/carrierhub/hub/sdk"
)

func manifest(res sdk.Policy, trackTimeout time.Duration) *sdk.Manifest {
	return &sdk.Manifest{
		ID: "acme", Resilience: res,
		Operations: []sdk.OperationInfo{
			{Name: sdk.OpTrack, Idempotent: true, Timeout: sdk.Duration(trackTimeout)},
			{Name: sdk.OpCreateShipment},
		},
	}
}

func TestResolvePrecedence(t *testing.T) {
	d := sdk.Duration(time.Second)
	cases := []struct {
		name     string
		manifest sdk.Policy
		opTime   time.Duration
		ov       *Overrides
		op       sdk.Operation
		timeout  time.Duration
		attempts int
	}{
		{"defaults", sdk.Policy{}, 0, nil, sdk.OpTrack, 30 * time.Second, 3},
		{"manifest connector", sdk.Policy{Timeout: 20 * d, MaxAttempts: 2}, 0, nil, sdk.OpTrack, 20 * time.Second, 2},
		{"manifest operation beats manifest connector", sdk.Policy{Timeout: 20 * d}, 15 * time.Second, nil, sdk.OpTrack, 15 * time.Second, 3},
		{"manifest operation applies to its operation only", sdk.Policy{Timeout: 20 * d}, 15 * time.Second, nil, sdk.OpCreateShipment, 20 * time.Second, 3},
		{"connector override beats manifest operation", sdk.Policy{Timeout: 20 * d}, 15 * time.Second,
			&Overrides{Connectors: map[string]ConnectorOverrides{"acme": {Policy: sdk.Policy{Timeout: 12 * d}}}}, sdk.OpTrack, 12 * time.Second, 3},
		{"operation override beats connector override", sdk.Policy{Timeout: 20 * d}, 15 * time.Second,
			&Overrides{Connectors: map[string]ConnectorOverrides{"acme": {
				Policy:     sdk.Policy{Timeout: 12 * d, MaxAttempts: 4},
				Operations: map[sdk.Operation]sdk.Policy{sdk.OpTrack: {Timeout: 8 * d}},
			}}}, sdk.OpTrack, 8 * time.Second, 4},
		{"operation override of another operation does not apply", sdk.Policy{}, 0,
			&Overrides{Connectors: map[string]ConnectorOverrides{"acme": {
				Operations: map[sdk.Operation]sdk.Policy{sdk.OpCreateShipment: {Timeout: 8 * d, MaxAttempts: 1}},
			}}}, sdk.OpTrack, 30 * time.Second, 3},
		{"override of another connector does not apply", sdk.Policy{MaxAttempts: 2}, 0,
			&Overrides{Connectors: map[string]ConnectorOverrides{"other": {Policy: sdk.Policy{MaxAttempts: 5}}}}, sdk.OpTrack, 30 * time.Second, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Resolve(manifest(tc.manifest, tc.opTime), tc.op, tc.ov)
			if p.Timeout != tc.timeout || p.MaxAttempts != tc.attempts {
				t.Fatalf("timeout %v attempts %d, want %v %d", p.Timeout, p.MaxAttempts, tc.timeout, tc.attempts)
			}
		})
	}
}

func TestResolveDefaultsAndDerived(t *testing.T) {
	p := Resolve(manifest(sdk.Policy{RateLimit: 2.5}, 0), sdk.OpTrack, nil)
	want := DefaultPolicy()
	want.RateLimit, want.RateBurst = 2.5, 3
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	if Resolve(nil, sdk.OpTrack, nil) != DefaultPolicy() {
		t.Fatal("nil manifest does not give the defaults")
	}
	// Every sdk.Policy knob reaches the resolved policy.
	all := sdk.Policy{
		Timeout: sdk.Duration(time.Second), RateLimit: 1, RateBurst: 2, MaxAttempts: 4,
		BackoffBase: sdk.Duration(time.Millisecond), BackoffCap: sdk.Duration(time.Second),
		RetryAfterCap: sdk.Duration(3 * time.Second), RetryBudgetRatio: 0.1, RetryBudgetFloor: 1,
		RetryBudgetWindow: sdk.Duration(time.Minute), BreakerFailures: 2, BreakerFailureRatio: 0.9,
		BreakerMinRequests: 7, BreakerWindow: sdk.Duration(time.Minute), BreakerOpenFor: sdk.Duration(time.Minute),
		BreakerHalfOpenRequests: 3, MaxInFlight: 5, MaxQueued: 6,
	}
	p = Resolve(&sdk.Manifest{ID: "x"}, sdk.OpTrack, &Overrides{Connectors: map[string]ConnectorOverrides{"x": {Policy: all}}})
	got := Policy{
		Timeout: time.Second, RateLimit: 1, RateBurst: 2, MaxAttempts: 4, BackoffBase: time.Millisecond,
		BackoffCap: time.Second, RetryAfterCap: 3 * time.Second, RetryBudgetRatio: 0.1, RetryBudgetFloor: 1,
		RetryBudgetWindow: time.Minute, BreakerFailures: 2, BreakerFailureRatio: 0.9, BreakerMinRequests: 7,
		BreakerWindow: time.Minute, BreakerOpenFor: time.Minute, BreakerHalfOpenRequests: 3, MaxInFlight: 5, MaxQueued: 6,
	}
	if p != got {
		t.Fatalf("got %+v\nwant %+v", p, got)
	}
}

func TestRetrySafe(t *testing.T) {
	m := manifest(sdk.Policy{}, 0)
	if !RetrySafe(m, sdk.OpTrack, "") || RetrySafe(m, sdk.OpCreateShipment, "") || !RetrySafe(m, sdk.OpCreateShipment, "k1") {
		t.Fatal("RetrySafe disagrees with the manifest")
	}
}

func TestOverridesFromYAMLAndJSON(t *testing.T) {
	src := `
connectors:
  delhivery:
    timeout: 20s
    rate_limit: 0.66
    operations:
      create_shipment:
        max_attempts: 1
`
	var ov Overrides
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&ov); err != nil {
		t.Fatal(err)
	}
	if err := ov.Validate(); err != nil {
		t.Fatal(err)
	}
	c := ov.Connectors["delhivery"]
	if c.Timeout != sdk.Duration(20*time.Second) || c.RateLimit != 0.66 || c.Operations[sdk.OpCreateShipment].MaxAttempts != 1 {
		t.Fatalf("decoded %+v", ov)
	}
	js, err := json.Marshal(ov)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte(`"delhivery":{"timeout":"20s","rate_limit":0.66,"operations"`)) {
		t.Fatalf("json %s", js)
	}
	var back Overrides
	if err := json.Unmarshal(js, &back); err != nil || back.Connectors["delhivery"].Timeout != c.Timeout {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestOverridesValidate(t *testing.T) {
	cases := []struct {
		ov   Overrides
		want string
	}{
		{Overrides{Connectors: map[string]ConnectorOverrides{"a": {Policy: sdk.Policy{MaxAttempts: 11}}}}, "connectors.a.max_attempts"},
		{Overrides{Connectors: map[string]ConnectorOverrides{"a": {Operations: map[sdk.Operation]sdk.Policy{"fly": {}}}}}, `unknown operation "fly"`},
		{Overrides{Connectors: map[string]ConnectorOverrides{"a": {Operations: map[sdk.Operation]sdk.Policy{sdk.OpTrack: {RetryBudgetRatio: 2}}}}}, "connectors.a.operations.track.retry_budget_ratio"},
		{Overrides{Connectors: map[string]ConnectorOverrides{"a": {Policy: sdk.Policy{BackoffBase: sdk.Duration(time.Second), BackoffCap: sdk.Duration(time.Millisecond)}}}}, "backoff_cap must not be less than backoff_base"},
		{Overrides{Connectors: map[string]ConnectorOverrides{"a": {Operations: map[sdk.Operation]sdk.Policy{sdk.OpTrack: {BreakerOpenFor: sdk.Duration(time.Second)}}}}}, "connectors.a.operations.track.breaker_open_for: is kept per connector"},
		{Overrides{Connectors: map[string]ConnectorOverrides{"a": {Operations: map[sdk.Operation]sdk.Policy{sdk.OpTrack: {MaxInFlight: 3}}}}}, "operations.track.max_in_flight: is kept per connector"},
	}
	for _, tc := range cases {
		err := tc.ov.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want it to mention %q", err, tc.want)
		}
	}
}

func TestManifestResilienceKeys(t *testing.T) {
	base := "id: acme\nname: Acme\nversion: 1.0.0\ncategory: carrier_parcel\nprotocols: [rest_json]\ndocs: https://example.test/docs\n" +
		"operations:\n  - name: track\n    idempotent: true\naccount: {credentials: [], environments: {}}\n"
	ok := base + "resilience:\n  timeout: 10s\n  backoff_base: 50ms\n  breaker_failures: 3\n  breaker_open_for: 1m\n  rate_limit: 0.66\n  rate_burst: 5\n  max_in_flight: 8\n  max_queued: 16\n"
	m, err := sdk.LoadManifest(fstest.MapFS{"m.yaml": {Data: []byte(ok)}}, "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := Resolve(m, sdk.OpTrack, nil)
	if p.Timeout != 10*time.Second || p.BackoffBase != 50*time.Millisecond || p.BreakerFailures != 3 || p.RateBurst != 5 || p.MaxQueued != 16 {
		t.Fatalf("resolved %+v", p)
	}
	bad := base + "resilience:\n  breaker_failure_ratio: 1.5\n"
	if _, err := sdk.LoadManifest(fstest.MapFS{"m.yaml": {Data: []byte(bad)}}, "m.yaml"); err == nil || !strings.Contains(err.Error(), "resilience.breaker_failure_ratio") {
		t.Fatalf("got %v", err)
	}
	unknown := base + "resilience:\n  retries: 5\n"
	if _, err := sdk.LoadManifest(fstest.MapFS{"m.yaml": {Data: []byte(unknown)}}, "m.yaml"); err == nil {
		t.Fatal("an unknown resilience key was accepted")
	}
}
