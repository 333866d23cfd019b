package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/internal/syncbuf"
	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk"
)

// seekManifest is a connector that can look its bookings up by reference.
var seekManifest = &sdk.Manifest{
	ID: "seek", Name: "Seek Express", Version: "1.0.0", Category: "carrier_parcel", Docs: "https://example.test/seek",
	Operations: []sdk.OperationInfo{{Name: sdk.OpCreateShipment}, {Name: sdk.OpFindShipment, Idempotent: true}},
	Account:    sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://seek.test"}},
}

// processDied is what engine/plugins returns for a call whose connector process was
// killed mid-call (sdk/host's transportError).
var processDied = &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: "connector process exited during the call (signal: killed)"}

// unknownHarness is the API over a real store and router whose connectors' create
// and find_shipment run the harness's functions, with the router's Unknown hook
// recording unconfirmed shipments as the hub does.
type unknownHarness struct {
	*harness
	st     store.Store
	clock  *testclock.Clock
	mu     sync.Mutex
	create func(call *sdk.Call) ([]byte, error)
	find   func(call *sdk.Call) ([]byte, error)
	calls  map[sdk.Operation]*atomic.Int64
	booked []string // create_shipment answers recorded by AfterCall
}

const settleAfter = 3 * time.Second

func newUnknownHarness(t *testing.T, backend string) *unknownHarness {
	t.Helper()
	st := openStore(t, backend)
	h := &unknownHarness{harness: &harness{t: t, logs: &syncbuf.Buffer{}}, st: st,
		clock: testclock.New(time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)),
		calls: map[sdk.Operation]*atomic.Int64{sdk.OpCreateShipment: {}, sdk.OpFindShipment: {}}}
	h.create = func(*sdk.Call) ([]byte, error) {
		return []byte(`{"tracking_number":"AWB-NEW","reference":"ORDER-77"}`), nil
	}
	h.find = func(*sdk.Call) ([]byte, error) {
		return nil, sdk.CarrierError(sdk.CodeNotFound, "404", "no such order")
	}
	h.conns = &fakeConnectors{
		infos: []plugins.Info{{Manifest: acmeManifest}, {Manifest: seekManifest}},
		invoke: func(_ context.Context, _ string, call *sdk.Call) ([]byte, error) {
			h.calls[call.Operation].Add(1)
			h.mu.Lock()
			fn := h.create
			if call.Operation == sdk.OpFindShipment {
				fn = h.find
			}
			h.mu.Unlock()
			return fn(call)
		},
	}
	ctx := t.Context()
	ta, err := st.CreateTenant(ctx, "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	h.tenantA = ta.ID
	_, h.keyA, _ = st.CreateAPIKey(ctx, ta.ID, "a", false)
	for _, c := range []string{"acme", "seek"} {
		if _, err := st.CreateAccount(ctx, store.Account{TenantID: ta.ID, ConnectorID: c, Name: "main", Environment: "sandbox",
			Credentials: map[string]string{"api_token": "tok-SECRET-1"}, Settings: map[string]string{"client_name": "C1"}}); err != nil {
			t.Fatal(err)
		}
	}
	rt, err := router.New(router.Config{Overrides: &noRetries, Connectors: h.conns, Accounts: st, Now: h.clock.Now,
		SettleAfter: settleAfter, Logger: slog.New(slog.DiscardHandler),
		Unknown: func(ctx context.Context, u router.Unknown) error {
			_, err := st.RecordUnconfirmed(ctx, store.UnconfirmedShipment{TenantID: u.TenantID, ConnectorID: u.ConnectorID,
				AccountID: u.AccountID, Operation: string(u.Operation), Reference: u.Reference, IdempotencyKey: u.IdempotencyKey,
				RequestID: u.RequestID, Reason: string(u.Cause.Code) + ": " + u.Cause.Message})
			return err
		},
		AfterCall: func(_ context.Context, _, _, _ string, op sdk.Operation, response []byte) error {
			if op == sdk.OpCreateShipment {
				h.mu.Lock()
				h.booked = append(h.booked, string(response))
				h.mu.Unlock()
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(New(Config{Store: st, Router: rt, Connectors: h.conns, Version: "test", Now: h.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil))}))
	t.Cleanup(h.srv.Close)
	return h
}

// noRetries makes every call one attempt with a breaker that never opens.
var noRetries = resilience.Overrides{Connectors: map[string]resilience.ConnectorOverrides{
	"acme": oneAttempt.Connectors["acme"], "seek": oneAttempt.Connectors["acme"],
}}

func (h *unknownHarness) set(create, find func(call *sdk.Call) ([]byte, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if create != nil {
		h.create = create
	}
	if find != nil {
		h.find = find
	}
}

func (h *unknownHarness) post(connector, key string, headers ...string) reply {
	h.t.Helper()
	if key != "" {
		headers = append([]string{"Idempotency-Key: " + key}, headers...)
	}
	return h.do("POST", "/v1/connectors/"+connector+"/create_shipment", h.keyA, shipmentBody, headers...)
}

func (h *unknownHarness) count(op sdk.Operation) int64 { return h.calls[op].Load() }

func (h *unknownHarness) unconfirmed(state string) []store.UnconfirmedShipment {
	h.t.Helper()
	r := h.do("GET", "/v1/unconfirmed-shipments?state="+state, h.keyA, "")
	var list []store.UnconfirmedShipment
	if r.status != 200 || json.Unmarshal(r.body, &list) != nil {
		h.t.Fatalf("GET /v1/unconfirmed-shipments?state=%s: %d %s", state, r.status, r.body)
	}
	return list
}

// wantUnknown checks a 502 outcome_unknown answer and its Retry-After.
func wantUnknown(t *testing.T, what string, r reply, retryAfter string) Problem {
	t.Helper()
	p := r.problem(t)
	if r.status != 502 || p.Code != string(sdk.CodeOutcomeUnknown) || r.header.Get("Retry-After") != retryAfter {
		t.Fatalf("%s: %d %s (Retry-After %q), want 502 outcome_unknown with Retry-After %q", what, r.status, r.body,
			r.header.Get("Retry-After"), retryAfter)
	}
	if r.header.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("%s: an unknown outcome was replayed as an answer", what)
	}
	return p
}

// TestUnknownOutcomeSettledByLookup is the attack on a connector that can look
// bookings up: its process dies during a create (the provider booked it). The
// caller gets 502 outcome_unknown with Retry-After, not internal; the hub records
// the shipment as unconfirmed; a retry with the same key before Retry-After is
// told to wait, and after it is answered with the booking the provider has, found
// by the reference, without a second create; the booking is recorded and replayed
// from then on.
func TestUnknownOutcomeSettledByLookup(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			h := newUnknownHarness(t, backend)
			h.set(func(*sdk.Call) ([]byte, error) { return nil, processDied }, nil)
			first := h.post("seek", "order-77")
			p := wantUnknown(t, "first answer", first, "3")
			if p.Source != "connector" || !strings.Contains(p.Detail, `"ORDER-77"`) || !strings.Contains(p.Detail, "same Idempotency-Key") ||
				!strings.Contains(p.Detail, "exited during the call") {
				t.Fatalf("first problem %+v", p)
			}
			list := h.unconfirmed("unconfirmed")
			if len(list) != 1 || list[0].Reference != "ORDER-77" || list[0].IdempotencyKey != "order-77" ||
				list[0].ConnectorID != "seek" || list[0].State != store.Unconfirmed || !strings.Contains(list[0].Reason, "exited") ||
				list[0].RequestID != p.RequestID {
				t.Fatalf("unconfirmed shipments = %+v", list)
			}

			// Before Retry-After: told to wait; nothing is called.
			h.clock.Add(time.Second)
			wantUnknown(t, "retry during the hold", h.post("seek", "order-77"), "2")
			if h.count(sdk.OpCreateShipment) != 1 || h.count(sdk.OpFindShipment) != 0 {
				t.Fatalf("calls during the hold: create %d, find %d", h.count(sdk.OpCreateShipment), h.count(sdk.OpFindShipment))
			}
			// Another request under the key is still a mismatch.
			if r := h.do("POST", "/v1/connectors/seek/create_shipment", h.keyA, `{"reference":"OTHER"}`, "Idempotency-Key: order-77"); r.status != 422 {
				t.Fatalf("another body under the key: %d %s", r.status, r.body)
			}

			// After it: the provider has the booking, found by its reference.
			h.clock.Add(2 * time.Second)
			h.set(nil, func(call *sdk.Call) ([]byte, error) {
				if string(call.Payload) != `{"reference":"ORDER-77"}` || call.IdempotencyKey != "" {
					t.Errorf("find_shipment got %s (key %q)", call.Payload, call.IdempotencyKey)
				}
				return []byte(`{"tracking_number":"AWB-9","reference":"ORDER-77"}`), nil
			})
			settled := h.post("seek", "order-77")
			if settled.status != 200 || string(settled.body) != `{"tracking_number":"AWB-9","reference":"ORDER-77"}` ||
				settled.header.Get("Hub-Settled") != "found" {
				t.Fatalf("settling retry: %d %v %s", settled.status, settled.header, settled.body)
			}
			if h.count(sdk.OpCreateShipment) != 1 || h.count(sdk.OpFindShipment) != 1 {
				t.Fatalf("calls: create %d, find %d; want the create once and one lookup", h.count(sdk.OpCreateShipment), h.count(sdk.OpFindShipment))
			}
			h.mu.Lock()
			booked := append([]string(nil), h.booked...)
			h.mu.Unlock()
			if len(booked) != 1 || !strings.Contains(booked[0], "AWB-9") {
				t.Fatalf("bookings recorded: %v", booked)
			}
			wantReplayOf(t, "after settling", h.post("seek", "order-77"), reply{status: 200, header: settled.header, body: settled.body})
			if h.count(sdk.OpFindShipment) != 1 {
				t.Fatal("a settled key looked the shipment up again")
			}
			if got := h.unconfirmed("booked"); len(got) != 1 || got[0].TrackingNumber != "AWB-9" || got[0].Resolution == "" {
				t.Fatalf("booked = %+v", got)
			}
			if got := h.unconfirmed(""); len(got) != 0 {
				t.Fatalf("still unconfirmed: %+v", got)
			}
		})
	}
}

// TestAbandonedClaimIsSettled: a create whose hub died mid-call leaves its key
// in progress. Once that claim's lease has run out, the retry (on any replica)
// settles it as an unknown outcome, looking the booking up instead of calling
// create again, and records it among the unconfirmed shipments.
func TestAbandonedClaimIsSettled(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			h := newUnknownHarness(t, backend)
			accts, err := h.st.ListAccounts(t.Context(), h.tenantA, "seek")
			if err != nil || len(accts) != 1 {
				t.Fatalf("seek's accounts: %v %v", accts, err)
			}
			seek := accts[0].ID
			// The dead hub's claim, as its Begin made it.
			scope := store.IdempotencyScope{TenantID: h.tenantA, ConnectorID: "seek", Operation: "create_shipment", Key: "order-77"}
			now := h.clock.Now()
			if _, claimed, err := h.st.ClaimIdempotencyKey(t.Context(), scope,
				idempotency.Fingerprint("create_shipment", seek, []byte(shipmentBody)), now, now.Add(time.Minute)); err != nil || !claimed {
				t.Fatalf("claim: %v %v", claimed, err)
			}
			if r := h.post("seek", "order-77"); r.status != 409 {
				t.Fatalf("retry while the dead claim's lease lasts: %d %s", r.status, r.body)
			}
			h.clock.Add(time.Minute)
			h.set(nil, func(*sdk.Call) ([]byte, error) {
				return []byte(`{"tracking_number":"AWB-9","reference":"ORDER-77"}`), nil
			})
			settled := h.post("seek", "order-77")
			if settled.status != 200 || settled.header.Get("Hub-Settled") != "found" || !strings.Contains(string(settled.body), "AWB-9") {
				t.Fatalf("retry after the lease: %d %v %s", settled.status, settled.header, settled.body)
			}
			if h.count(sdk.OpCreateShipment) != 0 || h.count(sdk.OpFindShipment) != 1 {
				t.Fatalf("calls: create %d, find %d; want one lookup and no create", h.count(sdk.OpCreateShipment), h.count(sdk.OpFindShipment))
			}
			if got := h.unconfirmed("booked"); len(got) != 1 || got[0].TrackingNumber != "AWB-9" || got[0].Reference != "ORDER-77" ||
				got[0].AccountID != seek || !strings.Contains(got[0].Reason, "stopped before its answer was stored") {
				t.Fatalf("booked = %+v", got)
			}
		})
	}
}

// TestUnknownOutcomeLookupFindsNothing: when the provider has no shipment with the
// reference, the settling retry makes the create, once, and its answer is the key's.
// A lookup that fails leaves the outcome unknown.
func TestUnknownOutcomeLookupFindsNothing(t *testing.T) {
	t.Parallel()
	h := newUnknownHarness(t, "sqlite")
	h.set(func(*sdk.Call) ([]byte, error) {
		return nil, &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: "POST /orders on Seek: no answer before the deadline"}
	}, func(*sdk.Call) ([]byte, error) {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, Message: "Seek is down", RetryAfter: 7 * time.Second}
	})
	wantUnknown(t, "timed out after sending", h.post("seek", "k2"), "3")
	h.clock.Add(settleAfter)
	p := wantUnknown(t, "lookup failed", h.post("seek", "k2"), "7")
	if !strings.Contains(p.Detail, "Seek is down") {
		t.Fatalf("lookup failure problem %+v", p)
	}
	h.set(func(*sdk.Call) ([]byte, error) {
		return []byte(`{"tracking_number":"AWB-NEW","reference":"ORDER-77"}`), nil
	}, func(*sdk.Call) ([]byte, error) {
		return nil, sdk.CarrierError(sdk.CodeNotFound, "404", "no such order")
	})
	r := h.post("seek", "k2")
	if r.status != 200 || !strings.Contains(string(r.body), "AWB-NEW") || r.header.Get("Hub-Settled") != "not_found" {
		t.Fatalf("settling retry: %d %v %s", r.status, r.header, r.body)
	}
	if h.count(sdk.OpCreateShipment) != 2 || h.count(sdk.OpFindShipment) != 2 {
		t.Fatalf("calls: create %d, find %d; want 2 and 2", h.count(sdk.OpCreateShipment), h.count(sdk.OpFindShipment))
	}
	wantReplayOf(t, "after booking", h.post("seek", "k2"), r)
	if got := h.unconfirmed("not_booked"); len(got) != 1 || !strings.Contains(got[0].Resolution, "found nothing") {
		t.Fatalf("not_booked = %+v", got)
	}
}

// TestUnknownOutcomeNeedsTheCallersWord: a connector that cannot look bookings
// up. The first answer says what to check; a retry after Retry-After is a 409
// naming the reference and Hub-Confirm-Not-Created, and calls nothing; only a
// retry with Hub-Confirm-Not-Created: true makes the create again.
func TestUnknownOutcomeNeedsTheCallersWord(t *testing.T) {
	t.Parallel()
	h := newUnknownHarness(t, "sqlite")
	h.set(func(*sdk.Call) ([]byte, error) { return nil, processDied }, nil)
	p := wantUnknown(t, "first answer", h.post("acme", "k3"), "3")
	if !strings.Contains(p.Detail, router.ConfirmNotCreatedHeader) || !strings.Contains(p.Detail, `"ORDER-77"`) {
		t.Fatalf("first problem %+v", p)
	}
	h.clock.Add(settleAfter)
	for range 2 {
		r := h.post("acme", "k3")
		q := r.problem(t)
		if r.status != 409 || q.Code != "outcome_unknown" || r.header.Get("Retry-After") != "" ||
			len(q.Errors) != 1 || q.Errors[0].Parameter != router.ConfirmNotCreatedHeader ||
			!strings.Contains(q.Detail, `"ORDER-77"`) || !strings.Contains(q.Detail, "acc_") {
			t.Fatalf("retry without the caller's word: %d %s", r.status, r.body)
		}
	}
	if r := h.post("acme", "k3", router.ConfirmNotCreatedHeader+": yes"); r.status != 400 || r.problem(t).Errors[0].Parameter != router.ConfirmNotCreatedHeader {
		t.Fatalf("confirmation not true: %d %s", r.status, r.body)
	}
	if h.count(sdk.OpCreateShipment) != 1 || h.count(sdk.OpFindShipment) != 0 {
		t.Fatalf("calls before the caller's word: create %d, find %d", h.count(sdk.OpCreateShipment), h.count(sdk.OpFindShipment))
	}
	h.set(func(*sdk.Call) ([]byte, error) { return []byte(`{"tracking_number":"AWB-2"}`), nil }, nil)
	r := h.post("acme", "k3", router.ConfirmNotCreatedHeader+": true")
	if r.status != 200 || r.header.Get("Hub-Settled") != "confirmed" || h.count(sdk.OpCreateShipment) != 2 {
		t.Fatalf("confirmed retry: %d %v %s, %d creates", r.status, r.header, r.body, h.count(sdk.OpCreateShipment))
	}
	wantReplayOf(t, "after the confirmed create", h.post("acme", "k3"), r)
	if got := h.unconfirmed("not_booked"); len(got) != 1 || !strings.Contains(got[0].Resolution, "caller") {
		t.Fatalf("not_booked = %+v", got)
	}

	// A confirmed create that dies again is unknown again, not replayed.
	h.set(func(*sdk.Call) ([]byte, error) { return nil, processDied }, nil)
	wantUnknown(t, "second key", h.post("acme", "k4"), "3")
	h.clock.Add(settleAfter)
	wantUnknown(t, "confirmed, died again", h.post("acme", "k4", router.ConfirmNotCreatedHeader+": true"), "3")
	if got := h.unconfirmed("unconfirmed"); len(got) != 1 || got[0].IdempotencyKey != "k4" {
		t.Fatalf("unconfirmed = %+v", got)
	}
}

// TestUnknownOutcomeWithoutAKey: without an Idempotency-Key the hub cannot settle
// anything: the answer is outcome_unknown without Retry-After (a blind retry could
// book twice), saying to check the provider, and the shipment is still recorded.
// A failure the provider answered, or one that provably never left, is not unknown.
func TestUnknownOutcomeWithoutAKey(t *testing.T) {
	t.Parallel()
	h := newUnknownHarness(t, "sqlite")
	h.set(func(*sdk.Call) ([]byte, error) { return nil, processDied }, nil)
	r := h.post("seek", "")
	p := wantUnknown(t, "no key", r, "")
	if !strings.Contains(p.Detail, "without an Idempotency-Key") {
		t.Fatalf("problem %+v", p)
	}
	if got := h.unconfirmed("unconfirmed"); len(got) != 1 || got[0].IdempotencyKey != "" || got[0].Reference != "ORDER-77" {
		t.Fatalf("unconfirmed = %+v", got)
	}
	for _, e := range []*sdk.Error{
		sdk.CarrierError(sdk.CodeCarrierUnavailable, "503", "down"),
		{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, NotSent: true, Message: "connection refused"},
	} {
		h.set(func(*sdk.Call) ([]byte, error) { return nil, e }, nil)
		if r := h.post("seek", "k-"+string(e.Source)); r.status != 503 || r.problem(t).Code != "carrier_unavailable" {
			t.Fatalf("%v: %d %s", e, r.status, r.body)
		}
	}
	if got := h.unconfirmed("all"); len(got) != 1 {
		t.Fatalf("recorded %d, want only the unknown one", len(got))
	}
	if r := h.do("GET", "/v1/unconfirmed-shipments?state=lost", h.keyA, ""); r.status != 422 || r.problem(t).Errors[0].Parameter != "state" {
		t.Fatalf("bad state: %d %s", r.status, r.body)
	}
}
