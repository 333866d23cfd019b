package inbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/events/recorder"
	"github.com/carrierhub/hub/engine/inbound"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// testStore opens an embedded store with one tenant.
func testStore(t *testing.T) (store.Store, string) {
	t.Helper()
	st := storetest.OpenSQLite(t)
	tn, err := st.CreateTenant(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	return st, tn.ID
}

// eventRecorder is recorder.Recorder keeping the events it appended.
type eventRecorder struct {
	rec *recorder.Recorder
	mu  sync.Mutex
	all []events.Stored
}

func (r *eventRecorder) AfterCall(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) ([]events.Stored, error) {
	evs, err := r.rec.AfterCall(ctx, tenantID, connectorID, accountID, op, response)
	r.mu.Lock()
	r.all = append(r.all, evs...)
	r.mu.Unlock()
	return evs, err
}

func (r *eventRecorder) AfterCreate(ctx context.Context, tenantID, connectorID, accountID string, response []byte, firstPoll *time.Time) ([]events.Stored, error) {
	evs, err := r.rec.AfterCreate(ctx, tenantID, connectorID, accountID, response, firstPoll)
	r.mu.Lock()
	r.all = append(r.all, evs...)
	r.mu.Unlock()
	return evs, err
}

func (r *eventRecorder) take() []events.Type {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Type
	for _, e := range r.all {
		out = append(out, e.Type)
	}
	r.all = nil
	return out
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func tracking(number string, st model.TrackingStatus, at time.Time) model.Tracking {
	return model.Tracking{TrackingNumber: number, Status: st, RawCode: string(st),
		Events: []model.TrackingEvent{{Time: at, Status: st, RawCode: string(st)}}}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestRecordingPushIsRecordedOnceAndDefersPolls(t *testing.T) {
	st, tenant := testStore(t)
	rec := &eventRecorder{rec: recorder.New(st, nil)}
	r := &inbound.Recording{Recorder: rec, Store: st, Polls: true,
		Schedule: inbound.Schedule{Interval: 10 * time.Minute, PushSilence: 6 * time.Hour}, Now: func() time.Time { return t0 }}
	push := func(resp model.PushResponse) []events.Type {
		t.Helper()
		if err := r.AfterCall(t.Context(), tenant, "delhivery_express", "acc_1", sdk.OpReceivePush, mustJSON(resp)); err != nil {
			t.Fatal(err)
		}
		return rec.take()
	}
	moving := model.PushResponse{Results: []model.Tracking{tracking("AWB1", model.StatusInTransit, t0.Add(-time.Hour))}}
	if got := push(moving); fmt.Sprint(got) != "[tracking.updated]" {
		t.Fatalf("first push: %v", got)
	}
	// The provider retries the same push: nothing new.
	if got := push(moving); len(got) != 0 {
		t.Fatalf("retried push appended %v", got)
	}
	sh, err := st.GetShipment(t.Context(), tenant, "delhivery_express", "AWB1")
	if err != nil || sh.Status != model.StatusInTransit || sh.NextPollAt == nil || !sh.NextPollAt.Equal(t0.Add(6*time.Hour)) {
		t.Fatalf("after push: %+v %v", sh, err)
	}
	delivered := tracking("AWB1", model.StatusDelivered, t0.Add(-time.Minute))
	got := push(model.PushResponse{Results: []model.Tracking{delivered}, PODs: []model.ProofOfDelivery{{TrackingNumber: "AWB1", ReceivedBy: "R. Iyer"}}})
	if fmt.Sprint(got) != "[tracking.updated shipment.delivered pod.received]" {
		t.Fatalf("delivered push: %v", got)
	}
	sh, _ = st.GetShipment(t.Context(), tenant, "delhivery_express", "AWB1")
	if sh.Status != model.StatusDelivered || sh.NextPollAt != nil {
		t.Fatalf("a delivered shipment is still polled: %+v", sh)
	}
	// A result with an item error is not applied; a response that does not decode is an error.
	if got := push(model.PushResponse{Results: []model.Tracking{{TrackingNumber: "AWB2", Status: model.StatusUnknown, Error: &model.ItemError{Code: "not_found", Message: "x"}}}}); len(got) != 0 {
		t.Errorf("item error recorded %v", got)
	}
	if err := r.AfterCall(t.Context(), tenant, "delhivery_express", "acc_1", sdk.OpReceivePush, []byte(`[`)); err == nil {
		t.Errorf("an unreadable push response was accepted")
	}
}

func TestRecordingSchedulesTheFirstPoll(t *testing.T) {
	st, tenant := testStore(t)
	rec := &eventRecorder{rec: recorder.New(st, nil)}
	r := &inbound.Recording{Recorder: rec, Store: st, Polls: true, Schedule: inbound.Schedule{Interval: 10 * time.Minute},
		Now: func() time.Time { return t0 }, Tracks: func(id string) bool { return id == "delhivery_express" }}
	if err := r.AfterCall(t.Context(), tenant, "delhivery_express", "acc_1", sdk.OpCreateShipment, []byte(`{"tracking_number":"AWB9"}`)); err != nil {
		t.Fatal(err)
	}
	sh, _ := st.GetShipment(t.Context(), tenant, "delhivery_express", "AWB9")
	if sh.NextPollAt == nil || !sh.NextPollAt.Equal(t0.Add(20*time.Minute)) {
		t.Errorf("booked (pending) shipment's first poll: %v, want in 2 intervals", sh.NextPollAt)
	}
	// A connector without track is not scheduled.
	if err := r.AfterCall(t.Context(), tenant, "no_track", "acc_1", sdk.OpCreateShipment, []byte(`{"tracking_number":"AWB8"}`)); err != nil {
		t.Fatal(err)
	}
	if sh, _ := st.GetShipment(t.Context(), tenant, "no_track", "AWB8"); sh.NextPollAt != nil {
		t.Errorf("a connector without track got a poll: %v", sh.NextPollAt)
	}
	// A tracked, out-for-delivery shipment polls at a third of the interval.
	resp := mustJSON(model.TrackResponse{Results: []model.Tracking{tracking("AWB7", model.StatusOutForDelivery, t0)}})
	if err := r.AfterCall(t.Context(), tenant, "delhivery_express", "acc_1", sdk.OpTrack, resp); err != nil {
		t.Fatal(err)
	}
	if sh, _ := st.GetShipment(t.Context(), tenant, "delhivery_express", "AWB7"); sh.NextPollAt == nil || !sh.NextPollAt.Equal(t0.Add(10*time.Minute/3)) {
		t.Errorf("out for delivery: %v", sh.NextPollAt)
	}
	// Its booking, recorded after, keeps the poll already scheduled.
	if err := r.AfterCall(t.Context(), tenant, "delhivery_express", "acc_1", sdk.OpCreateShipment, []byte(`{"tracking_number":"AWB7"}`)); err != nil {
		t.Fatal(err)
	}
	if sh, _ := st.GetShipment(t.Context(), tenant, "delhivery_express", "AWB7"); !sh.Booked || sh.NextPollAt == nil || !sh.NextPollAt.Equal(t0.Add(10*time.Minute/3)) {
		t.Errorf("booked after tracking: booked %v, next poll %v", sh.Booked, sh.NextPollAt)
	}
}

// fakeRouter answers track calls with answer and passes results to after, as
// the router's AfterCall does.
type fakeRouter struct {
	mu     sync.Mutex
	calls  []router.Route
	sizes  []int
	answer func(rt router.Route, numbers []string) (*model.TrackResponse, error)
	after  func(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) error
	during func(numbers []string)
}

func (f *fakeRouter) Invoke(ctx context.Context, rt router.Route, body []byte) ([]byte, error) {
	var req model.TrackRequest
	if err := json.Unmarshal(body, &req); err != nil || rt.Operation != sdk.OpTrack {
		return nil, fmt.Errorf("unexpected call %v %s", rt.Operation, body)
	}
	f.mu.Lock()
	f.calls = append(f.calls, rt)
	f.sizes = append(f.sizes, len(req.TrackingNumbers))
	f.mu.Unlock()
	if f.during != nil {
		f.during(req.TrackingNumbers)
	}
	resp, err := f.answer(rt, req.TrackingNumbers)
	if err != nil {
		return nil, err
	}
	out := mustJSON(resp)
	if f.after != nil {
		if err := f.after(ctx, rt.TenantID, rt.ConnectorID, rt.AccountID, rt.Operation, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// seed records n booked shipments of an account, due for polling at due.
func seed(t *testing.T, st store.Store, tenant, account, prefix string, n int, due time.Time) {
	t.Helper()
	for i := range n {
		num := fmt.Sprintf("%s%03d", prefix, i)
		if _, err := st.RecordShipment(t.Context(), store.Shipment{TenantID: tenant, ConnectorID: "delhivery_express",
			AccountID: account, TrackingNumber: num}, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if err := st.SetNextPoll(t.Context(), tenant, "delhivery_express", num, due); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPollerBatchesClaimsAndSchedules(t *testing.T) {
	st, tenant := testStore(t)
	seed(t, st, tenant, "acc_a", "A", 120, t0.Add(-time.Minute))
	seed(t, st, tenant, "acc_b", "B", 3, t0.Add(-time.Minute))
	seed(t, st, tenant, "acc_b", "L", 2, t0.Add(time.Hour)) // not due yet
	rec := &eventRecorder{rec: recorder.New(st, nil)}
	recording := &inbound.Recording{Recorder: rec, Store: st}
	const iv = 15 * time.Minute
	fr := &fakeRouter{after: recording.AfterCall}
	fr.answer = func(_ router.Route, numbers []string) (*model.TrackResponse, error) {
		var out model.TrackResponse
		for i, n := range numbers {
			s := model.StatusInTransit
			switch {
			case n == "A000":
				s = model.StatusDelivered
			case i%2 == 1:
				s = model.StatusOutForDelivery
			}
			out.Results = append(out.Results, tracking(n, s, t0.Add(-time.Minute)))
		}
		return &out, nil
	}
	// While a batch's call runs, its shipments are claimed: not due for anyone else.
	var claimErr error
	fr.during = func(numbers []string) {
		due, err := st.DueForPoll(context.Background(), t0, 1000)
		for _, sh := range due {
			for _, n := range numbers {
				if sh.TrackingNumber == n {
					claimErr = fmt.Errorf("%s is due during its own call", n)
				}
			}
		}
		if err != nil {
			claimErr = err
		}
	}
	p, err := inbound.NewPoller(inbound.PollerConfig{Store: st, Router: fr, Schedule: inbound.Schedule{Interval: iv},
		Jitter: -1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := p.PollOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if claimErr != nil {
		t.Error(claimErr)
	}
	if stats.Shipments != 123 || stats.Calls != 4 || stats.Failed != 0 {
		t.Errorf("stats %+v, want 123 shipments in 4 calls", stats)
	}
	if fmt.Sprint(fr.sizes) != "[50 50 20 3]" {
		t.Errorf("batch sizes %v, want [50 50 20 3]", fr.sizes)
	}
	for _, c := range fr.calls {
		if c.TenantID != tenant || c.ConnectorID != "delhivery_express" {
			t.Errorf("call %+v", c)
		}
	}
	check := func(num string, want *time.Time) {
		t.Helper()
		sh, err := st.GetShipment(t.Context(), tenant, "delhivery_express", num)
		if err != nil {
			t.Fatal(err)
		}
		if (want == nil) != (sh.NextPollAt == nil) || (want != nil && !sh.NextPollAt.Equal(*want)) {
			t.Errorf("%s (%s): next poll %v, want %v", num, sh.Status, sh.NextPollAt, want)
		}
	}
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	check("A000", nil)                        // delivered: polling stops
	check("A001", at(iv/3))                   // out for delivery
	check("A002", at(iv))                     // in transit
	check("L000", at(time.Hour))              // never claimed
	if got := rec.take(); len(got) != 123+1 { // one tracking.updated each, shipment.delivered once
		t.Errorf("%d events", len(got))
	}
	// Nothing is due now: a second pass calls nobody.
	if stats, err := p.PollOnce(t.Context()); err != nil || stats.Calls != 0 {
		t.Errorf("second pass %+v %v", stats, err)
	}
}

func TestPollerFailures(t *testing.T) {
	st, tenant := testStore(t)
	const iv = 10 * time.Minute
	now := t0
	fr := &fakeRouter{}
	p, err := inbound.NewPoller(inbound.PollerConfig{Store: st, Router: fr, Schedule: inbound.Schedule{Interval: iv},
		Jitter: -1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	next := func(num string) time.Duration {
		sh, _ := st.GetShipment(t.Context(), tenant, "delhivery_express", num)
		if sh.NextPollAt == nil {
			return -1
		}
		return sh.NextPollAt.Sub(now)
	}

	// An outage backs off: half to all of the interval, then doubling.
	seed(t, st, tenant, "acc_a", "F", 2, now)
	fr.answer = func(router.Route, []string) (*model.TrackResponse, error) {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, Message: "502"}
	}
	if stats, _ := p.PollOnce(t.Context()); stats.Failed != 1 {
		t.Fatalf("stats %+v", stats)
	}
	if d := next("F000"); d < iv/2 || d > iv {
		t.Errorf("first backoff %s", d)
	}
	now = now.Add(iv)
	if _, err := p.PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := next("F001"); d < iv || d > 2*iv {
		t.Errorf("second backoff %s", d)
	}

	// A batch refused for its content is split, so the good numbers still get polled.
	now = now.Add(24 * time.Hour)
	seed(t, st, tenant, "acc_c", "S", 3, now)
	fr.sizes = nil
	fr.answer = func(_ router.Route, numbers []string) (*model.TrackResponse, error) {
		for _, n := range numbers {
			if n == "S001" {
				return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Message: "bad waybill"}
			}
		}
		var out model.TrackResponse
		for _, n := range numbers {
			out.Results = append(out.Results, tracking(n, model.StatusInTransit, now))
		}
		return &out, nil
	}
	fr.after = (&inbound.Recording{Recorder: &eventRecorder{rec: recorder.New(st, nil)}}).AfterCall
	if _, err := p.PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fr.sizes[len(fr.sizes)-4:]) != "[3 1 1 1]" {
		t.Errorf("calls %v, want the batch of 3 then each alone", fr.sizes)
	}
	if d := next("S000"); d != iv {
		t.Errorf("good number next poll %s, want %s", d, iv)
	}
	if d := next("S001"); d < inbound.MaxBackoff/2 || d > inbound.MaxBackoff {
		t.Errorf("refused number next poll %s, want the longest backoff", d)
	}

	// The hub refusing (the account is gone) stops polling.
	now = now.Add(7 * time.Hour)
	seed(t, st, tenant, "acc_gone", "G", 1, now)
	fr.answer = func(router.Route, []string) (*model.TrackResponse, error) {
		return nil, &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceHub, Message: "no account"}
	}
	if _, err := p.PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := next("G000"); d != -1 {
		t.Errorf("gone account still polled in %s", d)
	}
}

// countingLister counts store reads.
type countingLister struct {
	inbound.AccountLister
	mu    sync.Mutex
	reads int
}

func (c *countingLister) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.AccountLister.ListTenants(ctx)
}

func TestAccountsLookup(t *testing.T) {
	st, tenant := testStore(t)
	acc, err := st.CreateAccount(t.Context(), store.Account{TenantID: tenant, ConnectorID: "delhivery_express", Name: "main",
		Environment: "sandbox", Credentials: map[string]string{"api_token": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingLister{AccountLister: st}
	a := inbound.NewAccounts(cl, time.Hour)
	for range 3 {
		tn, conn, err := a.Lookup(t.Context(), acc.ID)
		if err != nil || tn != tenant || conn != "delhivery_express" {
			t.Fatalf("lookup: %s %s %v", tn, conn, err)
		}
	}
	for _, id := range []string{"", "nope", "acc_UPPER", "acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", "acc_bbbbbbbbbbbbbbbbbbbbbbbbbb"} {
		if _, _, err := a.Lookup(t.Context(), id); err != inbound.ErrUnknownAccount {
			t.Errorf("%q: %v", id, err)
		}
	}
	// One rebuild answered everything: made-up ids do not scan the store again.
	if cl.reads != 1 {
		t.Errorf("%d store scans, want 1", cl.reads)
	}
}

func TestScheduleNext(t *testing.T) {
	s := inbound.Schedule{Interval: 15 * time.Minute}
	for st, want := range map[model.TrackingStatus]time.Duration{
		model.StatusPending: 30 * time.Minute, model.StatusUnknown: 30 * time.Minute, model.StatusInTransit: 15 * time.Minute,
		model.StatusOutForDelivery: 5 * time.Minute, model.StatusException: 15 * time.Minute, model.StatusReturning: 15 * time.Minute,
	} {
		if got, ok := s.Next(st); !ok || got != want {
			t.Errorf("%s: %s %v, want %s", st, got, ok, want)
		}
	}
	for _, st := range []model.TrackingStatus{model.StatusDelivered, model.StatusReturned, model.StatusCancelled} {
		if _, ok := s.Next(st); ok {
			t.Errorf("%s is polled", st)
		}
	}
	for n := 1; n < 80; n++ {
		if d := s.Backoff(n); d <= 0 || d > inbound.MaxBackoff {
			t.Errorf("backoff %d: %s", n, d)
		}
	}
}
