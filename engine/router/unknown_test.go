package router

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// findManifest serves create_shipment and can look bookings up.
var findManifest = &sdk.Manifest{
	ID: "seek", Name: "Seek", Version: "1.0.0", Category: "carrier_parcel", Docs: "https://example.test",
	Operations: []sdk.OperationInfo{{Name: sdk.OpCreateShipment}, {Name: sdk.OpFindShipment, Idempotent: true},
		{Name: sdk.OpSchedulePickup}},
	Account: sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://seek.test"}},
}

type unknownRecorder struct {
	mu      sync.Mutex
	unknown []Unknown
	after   []string
}

// newUnknownRouter routes to "acme" (testManifest: create_shipment, no lookup)
// and "seek" (findManifest), with fast retries.
func newUnknownRouter(t *testing.T, invoke func(ctx context.Context, id string, call *sdk.Call) ([]byte, error)) (*Router, *unknownRecorder) {
	t.Helper()
	rec := &unknownRecorder{}
	fast := resilience.ConnectorOverrides{Policy: sdk.Policy{MaxAttempts: 3, BackoffBase: sdk.Duration(time.Millisecond),
		BackoffCap: sdk.Duration(time.Millisecond), BreakerFailures: 1 << 20, BreakerMinRequests: 1 << 20}}
	r, err := New(Config{
		Connectors: &fakeConnectors{
			manifest: func(id string) (*sdk.Manifest, bool) {
				switch id {
				case "acme":
					return testManifest, true
				case "seek":
					return findManifest, true
				}
				return nil, false
			},
			invoke: invoke,
		},
		Accounts: memAccounts(
			store.Account{ID: "a1", TenantID: "t1", ConnectorID: "acme", Name: "main", Environment: "sandbox"},
			store.Account{ID: "s1", TenantID: "t1", ConnectorID: "seek", Name: "main", Environment: "sandbox"}),
		AccountTTL:  -1,
		Overrides:   &resilience.Overrides{Connectors: map[string]resilience.ConnectorOverrides{"acme": fast, "seek": fast}},
		SettleAfter: 4 * time.Second,
		Logger:      slog.New(slog.DiscardHandler),
		Unknown: func(_ context.Context, u Unknown) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.unknown = append(rec.unknown, u)
			return nil
		},
		AfterCall: func(_ context.Context, _, _, accountID string, op sdk.Operation, response []byte) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.after = append(rec.after, accountID+" "+string(op)+" "+string(response))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, rec
}

// TestUnknownOutcomes: a create's failure is outcome_unknown exactly when an
// attempt may have reached the provider and no answer came back; reads never are;
// the message says what to do, Retry-After only when a retry with the key can
// settle it, and the hook records it.
func TestUnknownOutcomes(t *testing.T) {
	t.Parallel()
	died := &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: "connector process exited during the call (signal: killed)"}
	for _, c := range []struct {
		name    string
		errs    []*sdk.Error // one per attempt
		op      sdk.Operation
		unknown bool
	}{
		{"process died", []*sdk.Error{died}, sdk.OpCreateShipment, true},
		{"stream broke", []*sdk.Error{{Code: sdk.CodeInternal, Source: sdk.SourceHub, Message: "connector call stream broke"}}, sdk.OpCreateShipment, true},
		{"timed out after sending", []*sdk.Error{{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: "no answer before the deadline"}}, sdk.OpCreateShipment, true},
		{"hub deadline waiting on the connector", []*sdk.Error{{Code: sdk.CodeTimeout, Source: sdk.SourceHub, Message: "the connector did not answer before the deadline"}}, sdk.OpCreateShipment, true},
		{"connection reset after writing", []*sdk.Error{{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "connection reset by peer"}}, sdk.OpCreateShipment, true},
		{"connector says so", []*sdk.Error{{Code: sdk.CodeOutcomeUnknown, Source: sdk.SourceConnector, Message: "SOAP answer lost"}}, sdk.OpSchedulePickup, true},
		// An answered failure is retried under a key (RetrySafe); an unanswered
		// one never is, key or not: it ends the call as unknown.
		{"answered, then unanswered", []*sdk.Error{sdk.CarrierError(sdk.CodeCarrierUnavailable, "503", "down"),
			{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: "no answer"}}, sdk.OpCreateShipment, true},
		{"unanswered is not retried", []*sdk.Error{{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "connection reset by peer"},
			{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceHub, NotSent: true, Message: "breaker open"}}, sdk.OpCreateShipment, true},
		{"never sent", []*sdk.Error{{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, NotSent: true, Message: "connection refused"}}, sdk.OpCreateShipment, false},
		{"provider answered 5xx", []*sdk.Error{sdk.CarrierError(sdk.CodeCarrierUnavailable, "503", "down")}, sdk.OpCreateShipment, false},
		{"provider refused", []*sdk.Error{sdk.CarrierError(sdk.CodeConflict, "DUP", "duplicate order id")}, sdk.OpCreateShipment, false},
		{"read died", []*sdk.Error{died}, sdk.OpFindShipment, false},
	} {
		for _, key := range []string{"", "k1"} {
			t.Run(c.name+"/key="+key, func(t *testing.T) {
				t.Parallel()
				var mu sync.Mutex
				attempt := 0
				r, rec := newUnknownRouter(t, func(_ context.Context, _ string, call *sdk.Call) ([]byte, error) {
					mu.Lock()
					defer mu.Unlock()
					e := c.errs[min(attempt, len(c.errs)-1)]
					attempt++
					return nil, e
				})
				body := `{"reference":"ORD-1"}`
				if c.op == sdk.OpFindShipment {
					key = ""
				}
				_, err := r.Invoke(t.Context(), Route{TenantID: "t1", ConnectorID: "seek", Operation: c.op, IdempotencyKey: key, RequestID: "req-1"}, []byte(body))
				e := sdktest.Error(t, err)
				want := c.unknown
				if c.name == "answered, then unanswered" && key == "" {
					want = false // the answered failure of a create without a key is not retried
				}
				if (e.Code == sdk.CodeOutcomeUnknown) != want {
					t.Fatalf("error %+v; want outcome_unknown %v", e, want)
				}
				mu.Lock()
				switch {
				case c.name == "unanswered is not retried" && attempt != 1:
					t.Errorf("%d attempts; an unanswered create was retried", attempt)
				case c.name == "answered, then unanswered" && key != "" && attempt != 2:
					t.Errorf("%d attempts; want the answered failure retried once", attempt)
				}
				mu.Unlock()
				rec.mu.Lock()
				defer rec.mu.Unlock()
				if !want {
					if len(rec.unknown) != 0 {
						t.Fatalf("recorded %+v", rec.unknown)
					}
					return
				}

				switch {
				case key == "":
					if e.RetryAfter != 0 || !strings.Contains(e.Message, "without an Idempotency-Key") {
						t.Errorf("without a key: %+v", e)
					}
				case c.op == sdk.OpCreateShipment:
					if e.RetryAfter != 4*time.Second || !strings.Contains(e.Message, `looks the shipment up by its reference "ORD-1"`) {
						t.Errorf("with a key and a lookup: %+v", e)
					}
				default:
					if e.RetryAfter != 4*time.Second || !strings.Contains(e.Message, ConfirmNotCreatedHeader) {
						t.Errorf("with a key and no lookup: %+v", e)
					}
				}
				if len(rec.unknown) != 1 {
					t.Fatalf("recorded %d unknown outcomes, want 1", len(rec.unknown))
				}
				u := rec.unknown[0]
				if u.TenantID != "t1" || u.ConnectorID != "seek" || u.AccountID != "s1" || u.Operation != c.op ||
					u.IdempotencyKey != key || u.RequestID != "req-1" || u.Reference != "ORD-1" || u.Err != e || u.Cause == nil {
					t.Fatalf("recorded %+v", u)
				}
			})
		}
	}
}

// TestSettle: a create_shipment through a connector that serves find_shipment is
// looked up by its reference; a booking found is recorded as the create's; the
// provider's not_found is NotFound, the hub's own is an error; other operations,
// connectors without the lookup and requests without a reference cannot be settled.
func TestSettle(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	answer := func(*sdk.Call) ([]byte, error) { return []byte(`{"tracking_number":"W1","reference":"ORD-1"}`), nil }
	r, rec := newUnknownRouter(t, func(_ context.Context, _ string, call *sdk.Call) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if call.Operation != sdk.OpFindShipment || string(call.Payload) != `{"reference":"ORD-1"}` {
			t.Errorf("called %s with %s", call.Operation, call.Payload)
		}
		return answer(call)
	})
	set := func(f func(*sdk.Call) ([]byte, error)) { mu.Lock(); answer = f; mu.Unlock() }
	ctx := t.Context()
	create := Route{TenantID: "t1", ConnectorID: "seek", Operation: sdk.OpCreateShipment, IdempotencyKey: "k", RequestID: "r"}
	body := []byte(`{"reference":"ORD-1","parcels":[]}`)

	st, out, err := r.Settle(ctx, create, body)
	if err != nil || st != Found || string(out) != `{"tracking_number":"W1","reference":"ORD-1"}` {
		t.Fatalf("Settle = %v %s %v", st, out, err)
	}
	rec.mu.Lock()
	if len(rec.after) != 2 || rec.after[1] != `s1 create_shipment {"tracking_number":"W1","reference":"ORD-1"}` {
		t.Errorf("recorded %q; want the lookup, then the booking as create_shipment", rec.after)
	}
	rec.mu.Unlock()

	set(func(*sdk.Call) ([]byte, error) {
		return nil, sdk.CarrierError(sdk.CodeNotFound, "", "No such waybill or Order Id found")
	})
	if st, _, err := r.Settle(ctx, create, body); err != nil || st != NotFound {
		t.Fatalf("provider's not_found: %v %v", st, err)
	}
	set(func(*sdk.Call) ([]byte, error) { return []byte(`{"tracking_number":"W2","reference":"ORD-2"}`), nil })
	if _, _, err := r.Settle(ctx, create, body); err == nil || !strings.Contains(err.Error(), `"ORD-2"`) {
		t.Fatalf("another reference's booking: %v", err)
	}
	set(func(*sdk.Call) ([]byte, error) { return []byte(`{}`), nil })
	if _, _, err := r.Settle(ctx, create, body); err == nil {
		t.Fatal("a booking without a number was accepted")
	}
	set(func(*sdk.Call) ([]byte, error) {
		return nil, sdk.CarrierError(sdk.CodeCarrierUnavailable, "503", "down")
	})
	if _, _, err := r.Settle(ctx, create, body); sdktest.Error(t, err).Code != sdk.CodeCarrierUnavailable {
		t.Fatalf("lookup failed: %v", err)
	}
	gone := create
	gone.AccountID = "nope"
	if st, _, err := r.Settle(ctx, gone, body); err == nil || st == NotFound {
		t.Fatalf("the hub's own not_found: %v %v", st, err)
	}
	for name, c := range map[string]struct {
		rt   Route
		body string
	}{
		"no lookup":    {Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpCreateShipment, IdempotencyKey: "k"}, `{"reference":"ORD-1"}`},
		"no reference": {create, `{"parcels":[]}`},
		"pickup":       {Route{TenantID: "t1", ConnectorID: "seek", Operation: sdk.OpSchedulePickup, IdempotencyKey: "k"}, `{"reference":"ORD-1"}`},
	} {
		if st, out, err := r.Settle(ctx, c.rt, []byte(c.body)); st != CannotSettle || out != nil || err != nil {
			t.Errorf("%s: Settle = %v %s %v", name, st, out, err)
		}
	}
}
