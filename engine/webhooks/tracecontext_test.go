package webhooks_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/webhooks"
	"github.com/carrierhub/hub/sdk/telemetry"
)

// callerParent is the traceparent a TMS service sends with its API call, with
// a vendor's tracestate.
const (
	callerParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	callerState  = "vendor=t61rcWkgMzE"
)

// appendTraced appends one event through the store's outbox inside a span of
// tp, as the API's handling of a call would, and one outside any trace; it
// fans both out as the relay would and returns them with the call's span.
func appendTraced(t *testing.T, h *harness, tp trace.TracerProvider) (traced, untraced events.Stored, call trace.SpanContext) {
	t.Helper()
	es := h.st.(store.EventStore)
	ctx, span := tp.Tracer("test").Start(telemetry.ContinueTrace(t.Context(), callerParent, callerState), "POST /v1/shipments")
	call = span.SpanContext()
	got, err := es.AppendEvents(ctx, []events.Event{h.event("AWB1")})
	span.End()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := es.AppendEvents(context.Background(), []events.Event{h.event("AWB2")})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := es.ReadEvents(t.Context(), 0, 10)
	if err != nil || len(batch) != 2 {
		t.Fatalf("ReadEvents = %d events, %v", len(batch), err)
	}
	if err := webhooks.NewFanout(h.st, h.clk.Now).Deliver(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	return got[0], plain[0], call
}

// TestDeliveryContinuesTheEventsTrace: the event of a traced call keeps the
// call's trace context in the outbox; its delivery's client span is a child of
// the call's span, and the receiver gets that span's traceparent and the
// caller's tracestate, on both stores. The span names the endpoint without the
// URL's query.
func TestDeliveryContinuesTheEventsTrace(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		rc := newReceiver(t, nil)
		h.endpoint(store.WebhookEndpoint{URL: rc.URL + "/hooks?token=s3cret"})
		traced, untraced, call := appendTraced(t, h, tp)
		if traced.TraceParent != telemetry.TraceParent(trace.ContextWithSpanContext(context.Background(), call)) ||
			traced.TraceState != callerState {
			t.Fatalf("the outbox kept %q %q for the call's span %s", traced.TraceParent, traced.TraceState, call.SpanID())
		}
		if n := h.runOnce(h.dispatcher(func(c *webhooks.Config) { c.TracerProvider = tp })); n != 2 {
			t.Fatalf("claimed %d, want 2", n)
		}
		var delivery sdktrace.ReadOnlySpan
		var roots []sdktrace.ReadOnlySpan
		for _, s := range rec.Ended() {
			if s.Name() != webhooks.SpanName {
				continue
			}
			if s.Parent().SpanID() == call.SpanID() {
				delivery = s
			} else {
				roots = append(roots, s)
			}
		}
		if delivery == nil || delivery.SpanContext().TraceID() != call.TraceID() || delivery.SpanKind() != trace.SpanKindClient {
			t.Fatalf("no client delivery span is a child of the call's span %s: %v", call.SpanID(), rec.Ended())
		}
		attrs := map[string]string{}
		for _, kv := range delivery.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if attrs["hub.event.id"] != traced.ID || attrs["http.response.status_code"] != "204" ||
			attrs["url.full"] != rc.URL+"/hooks" || attrs["hub.tenant.id"] != h.tenant.ID {
			t.Errorf("delivery span attributes: %v", attrs)
		}
		for _, v := range attrs {
			if strings.Contains(v, "s3cret") {
				t.Errorf("a span attribute quotes the URL's query: %v", attrs)
			}
		}
		want := "00-" + call.TraceID().String() + "-" + delivery.SpanContext().SpanID().String() + "-01"
		seen := map[string][2]string{}
		for _, r := range rc.requests() {
			seen[r.header.Get("webhook-id")] = [2]string{r.header.Get("Traceparent"), r.header.Get("Tracestate")}
		}
		if got := seen[traced.ID]; got != [2]string{want, callerState} {
			t.Errorf("the receiver got trace context %q for the traced event, want %q", got, [2]string{want, callerState})
		}
		// An event of no trace starts its own: the receiver sees a trace, not the call's.
		if got := seen[untraced.ID]; len(roots) != 1 || strings.Contains(got[0], call.TraceID().String()) || got[1] != "" ||
			got[0] != "00-"+roots[0].SpanContext().TraceID().String()+"-"+roots[0].SpanContext().SpanID().String()+"-01" {
			t.Errorf("the untraced event's delivery: header %q, spans %v", got, roots)
		}
	})
}

// TestDeliveryTraceParentWithoutRecording: with tracing off (a no-op
// provider), the receiver still gets the caller's trace context as stored,
// and an event of no trace goes out without one.
func TestDeliveryTraceParentWithoutRecording(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, nil)
		h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		traced, untraced, _ := appendTraced(t, h, noop.NewTracerProvider())
		if traced.TraceParent != callerParent {
			t.Fatalf("the outbox kept %q, want the caller's %q", traced.TraceParent, callerParent)
		}
		h.runOnce(h.dispatcher(func(c *webhooks.Config) { c.TracerProvider = noop.NewTracerProvider() }))
		for _, r := range rc.requests() {
			tp, ts := r.header.Get("Traceparent"), r.header.Get("Tracestate")
			switch id := r.header.Get("webhook-id"); id {
			case traced.ID:
				if tp != callerParent || ts != callerState {
					t.Errorf("traced event delivered with %q %q", tp, ts)
				}
			case untraced.ID:
				if tp != "" || ts != "" {
					t.Errorf("untraced event delivered with %q %q", tp, ts)
				}
			}
			var back map[string]json.RawMessage
			if err := json.Unmarshal(r.body, &back); err != nil {
				t.Fatal(err)
			}
			for k := range back {
				if strings.Contains(k, "trace") {
					t.Errorf("the event's JSON holds %q; trace context belongs in headers", k)
				}
			}
		}
		if n := len(rc.requests()); n != 2 {
			t.Fatalf("receiver got %d requests, want 2", n)
		}
	})
}
