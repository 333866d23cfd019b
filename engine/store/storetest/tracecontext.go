package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk/model"
)

// Trace contexts the trace cases use.
const (
	callTraceParent  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	callTraceState   = "hub=t61rcWkgMzE,vendor=opaque"
	givenTraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
)

// tracedContext returns a context whose span is callTraceParent's, as the
// API's server span would be, with callTraceState.
func tracedContext(t *testing.T, parent, state string) context.Context {
	t.Helper()
	parts := strings.Split(parent, "-")
	tid, err1 := trace.TraceIDFromHex(parts[1])
	sid, err2 := trace.SpanIDFromHex(parts[2])
	ts, err3 := trace.ParseTraceState(state)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("bad test trace context: %v %v %v", err1, err2, err3)
	}
	flags := trace.TraceFlags(0)
	if parts[3] == "01" {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, TraceState: ts})
	return trace.ContextWithSpanContext(ctxFor(t), sc)
}

// testEventsTraceContext: an event keeps the W3C trace context of the call that
// appended it (its context's span), or the one it was given; events appended
// by the store's state changes do too; a malformed given context is refused;
// an oversized trace state from a context is dropped, not cut.
func testEventsTraceContext(t *testing.T, s EventsStore) {
	tn := mustTenant(t, s, "Acme")
	traced := tracedContext(t, callTraceParent, callTraceState)
	given := ev(tn.ID, events.PODReceived, "AWB9", `{}`)
	given.TraceParent = givenTraceParent
	got, err := s.AppendEvents(traced, []events.Event{ev(tn.ID, events.PODReceived, "AWB1", `{}`), given})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].TraceParent != callTraceParent || got[0].TraceState != callTraceState ||
		got[1].TraceParent != givenTraceParent || got[1].TraceState != "" {
		t.Fatalf("appended trace contexts: %q %q / %q %q", got[0].TraceParent, got[0].TraceState, got[1].TraceParent, got[1].TraceState)
	}
	untraced, err := s.AppendEvents(ctxFor(t), []events.Event{ev(tn.ID, events.PODReceived, "AWB2", `{}`)})
	if err != nil || untraced[0].TraceParent != "" || untraced[0].TraceState != "" {
		t.Fatalf("an event appended outside any trace: %+v, %v", untraced, err)
	}

	// The events of state changes carry the changing call's context.
	booked, err := s.RecordShipment(traced, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
		TrackingNumber: "AWB3"}, json.RawMessage(`{"tracking_number":"AWB3"}`))
	if err != nil || len(booked) != 1 || booked[0].TraceParent != callTraceParent {
		t.Fatalf("RecordShipment: %+v, %v", booked, err)
	}
	other := tracedContext(t, givenTraceParent, "")
	moved, err := s.ApplyTracking(other, tn.ID, "delhivery", "acc_1", model.Tracking{TrackingNumber: "AWB3",
		Status: model.StatusDelivered, Events: []model.TrackingEvent{{Time: whT0, Status: model.StatusDelivered}}})
	if err != nil || len(moved) == 0 {
		t.Fatalf("ApplyTracking: %+v, %v", moved, err)
	}
	for _, e := range moved {
		if e.TraceParent != givenTraceParent || e.TraceState != "" {
			t.Errorf("ApplyTracking's %s: trace context %q %q", e.Type, e.TraceParent, e.TraceState)
		}
	}

	// Reading gives back what was stored.
	want := map[string][2]string{}
	for _, list := range [][]events.Stored{got, untraced, booked, moved} {
		for _, e := range list {
			want[e.ID] = [2]string{e.TraceParent, e.TraceState}
		}
	}
	all := readAll(t, s)
	if len(all) != len(want) {
		t.Fatalf("read %d events, appended %d", len(all), len(want))
	}
	for _, e := range all {
		if w := want[e.ID]; w != [2]string{e.TraceParent, e.TraceState} {
			t.Errorf("event %s read with trace context %q %q, stored %q", e.ID, e.TraceParent, e.TraceState, w)
		}
	}

	// A trace state longer than the W3C's 512 bytes is dropped, the parent kept.
	var members []string
	for i := range 20 {
		members = append(members, "k"+string(rune('a'+i))+"="+strings.Repeat("v", 40))
	}
	long, err := s.AppendEvents(tracedContext(t, callTraceParent, strings.Join(members, ",")),
		[]events.Event{ev(tn.ID, events.PODReceived, "AWB4", `{}`)})
	if err != nil || long[0].TraceParent != callTraceParent || long[0].TraceState != "" {
		t.Fatalf("an oversized trace state: %+v, %v", long, err)
	}

	bad := map[string][2]string{
		"not a traceparent":    {"00-zz", ""},
		"upper-case hex":       {strings.ToUpper(callTraceParent), ""},
		"zero trace id":        {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		"zero span id":         {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", ""},
		"version ff":           {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		"state without parent": {"", "a=b"},
		"control char state":   {callTraceParent, "a=b\n"},
		"oversized state":      {callTraceParent, strings.Repeat("a", store.MaxTraceState+1)},
	}
	for name, tc := range bad {
		e := ev(tn.ID, events.PODReceived, "AWB5", `{}`)
		e.TraceParent, e.TraceState = tc[0], tc[1]
		_, err := s.AppendEvents(traced, []events.Event{e})
		wantErr(t, name, err, store.ErrInvalid)
	}
}

// testWebhookTraceContext: a delivery keeps its event's trace context through
// insert, claim, get, and a replay.
func testWebhookTraceContext(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	ep := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: tn.ID, Enabled: true})
	traced := delivery(tn.ID, ep.ID, 1, "AWB1")
	traced.TraceParent, traced.TraceState = callTraceParent, callTraceState
	plain := delivery(tn.ID, ep.ID, 2, "AWB2")
	if n, err := ws.InsertWebhookDeliveries(ctx, []store.WebhookDelivery{traced, plain}, whT0); err != nil || n != 2 {
		t.Fatalf("InsertWebhookDeliveries = %d, %v", n, err)
	}
	claimed := claimDeliveries(t, ws, "d1", 10, whT0)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d deliveries, want 2", len(claimed))
	}
	for _, d := range claimed {
		want := [2]string{}
		if d.EventID == traced.EventID {
			want = [2]string{callTraceParent, callTraceState}
		}
		if got := [2]string{d.TraceParent, d.TraceState}; got != want {
			t.Errorf("claimed %s with trace context %q, want %q", d.EventID, got, want)
		}
	}
	if err := ws.CompleteWebhookDeliveries(ctx, []store.DeliveryOutcome{succeeded(claimed[0], whT0), succeeded(claimed[1], whT0)}, whT0); err != nil {
		t.Fatal(err)
	}
	later := whT0.Add(time.Hour)
	if r, err := ws.ReplayWebhookDeliveries(ctx, tn.ID, ep.ID, store.ReplayWindow{Since: whT0, Limit: 10}, later); err != nil || r.Queued != 2 {
		t.Fatalf("ReplayWebhookDeliveries = %+v, %v", r, err)
	}
	for _, d := range claimDeliveries(t, ws, "d2", 10, later) {
		if d.EventID == traced.EventID && (d.TraceParent != callTraceParent || d.TraceState != callTraceState) {
			t.Errorf("the replayed delivery was claimed with trace context %q %q", d.TraceParent, d.TraceState)
		}
	}
	got, err := ws.GetWebhookDelivery(ctx, traced.EventID, ep.ID)
	if err != nil || got.TraceParent != callTraceParent || got.TraceState != callTraceState {
		t.Fatalf("GetWebhookDelivery after replay: %q %q, %v", got.TraceParent, got.TraceState, err)
	}

	for name, tc := range map[string][2]string{
		"bad parent":           {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", ""},
		"state without parent": {"", "a=b"},
	} {
		d := delivery(tn.ID, ep.ID, 3, "AWB3")
		d.TraceParent, d.TraceState = tc[0], tc[1]
		_, err := ws.InsertWebhookDeliveries(ctx, []store.WebhookDelivery{d}, whT0)
		wantErr(t, name, err, store.ErrInvalid)
	}
}
