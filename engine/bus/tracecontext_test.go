package bus_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/carrierhub/hub/engine/bus"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/telemetry"
)

const (
	callerParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	callerState  = "vendor=t61rcWkgMzE"
)

// stores lists the backends: SQLite always, Postgres when HUB_POSTGRES_URL is set.
func stores(t *testing.T) map[string]func(t *testing.T) relayStore {
	out := map[string]func(t *testing.T) relayStore{
		"sqlite": func(t *testing.T) relayStore { return storetest.OpenSQLite(t).(relayStore) },
	}
	admin := os.Getenv("HUB_POSTGRES_URL")
	if admin == "" {
		t.Log("HUB_POSTGRES_URL is not set; Postgres cases skipped (source .ci/postgres.sh to run them)")
		return out
	}
	out["postgres"] = func(t *testing.T) relayStore {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		s, err := store.Open(t.Context(), store.Config{PostgresURL: storetest.FreshPostgresDB(t, admin), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.(relayStore)
	}
	return out
}

// TestEventSinkCarriesTraceContext: a shipment booked inside a call's span
// (which continues a caller's traceparent and tracestate) goes through the
// outbox and the relay to Kafka and to the in-process bus; its message carries
// the traceparent of a producer span that is a child of the call's span, and
// the caller's tracestate, on both stores. A message of no trace has none.
func TestEventSinkCarriesTraceContext(t *testing.T) {
	buses := map[string]func(t *testing.T) bus.Bus{
		"memory": func(t *testing.T) bus.Bus {
			b := bus.NewMemory(bus.MemoryConfig{})
			t.Cleanup(func() { b.Close() })
			return b
		},
		"kafka": func(t *testing.T) bus.Bus { return newKafka(t, startKafka(t)) },
	}
	for sname, open := range stores(t) {
		for bname, newBus := range buses {
			t.Run(sname+"/"+bname, func(t *testing.T) {
				t.Parallel()
				s, b := open(t), newBus(t)
				rec := tracetest.NewSpanRecorder()
				tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
				t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				sink := &bus.EventSink{Bus: b, TracerProvider: tp}
				r, err := events.NewRelay(s, []events.Sink{sink}, events.RelayConfig{PollInterval: 20 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go r.Run(ctx)

				tn, err := s.CreateTenant(ctx, "Acme")
				if err != nil {
					t.Fatal(err)
				}
				callCtx, span := tp.Tracer("test").Start(telemetry.ContinueTrace(ctx, callerParent, callerState), "POST /v1/shipments")
				call := span.SpanContext()
				booked, err := s.RecordShipment(callCtx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
					TrackingNumber: "AWB1"}, json.RawMessage(`{"tracking_number":"AWB1"}`))
				span.End()
				if err != nil {
					t.Fatal(err)
				}
				// A poll outside any trace moves it on.
				if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", model.Tracking{TrackingNumber: "AWB1",
					Status: model.StatusInTransit, Events: []model.TrackingEvent{{Time: time.Now(), Status: model.StatusInTransit}}}); err != nil {
					t.Fatal(err)
				}
				r.Notify()

				got := make(chan bus.Message, 10)
				for _, topic := range []string{sink.Topic(events.ShipmentCreated), sink.Topic(events.TrackingUpdated)} {
					go b.Subscribe(ctx, topic, "test", func(_ context.Context, m bus.Message) error {
						got <- m
						return nil
					})
				}
				msgs := map[string]bus.Message{}
				for len(msgs) < 2 {
					select {
					case m := <-got:
						msgs[m.Headers["type"]] = m
					case <-time.After(30 * time.Second):
						t.Fatalf("messages received in 30 s: %v", msgs)
					}
				}
				// The span ends when the publish returns, which a consumer may beat.
				var publish sdktrace.ReadOnlySpan
				deadline := time.After(30 * time.Second)
				for publish == nil {
					for _, sp := range rec.Ended() {
						if sp.SpanKind() == trace.SpanKindProducer {
							if publish != nil {
								t.Fatalf("two publish spans; the untraced event should open none: %v", rec.Ended())
							}
							publish = sp
						}
					}
					if publish == nil {
						select {
						case <-deadline:
							t.Fatalf("no publish span ended in 30 s: %v", rec.Ended())
						case <-time.After(10 * time.Millisecond):
						}
					}
				}
				if publish == nil || publish.Parent().SpanID() != call.SpanID() || publish.SpanContext().TraceID() != call.TraceID() ||
					publish.Name() != "publish "+sink.Topic(events.ShipmentCreated) {
					t.Fatalf("no producer span is a child of the call's span %s: %v", call.SpanID(), rec.Ended())
				}
				created := msgs[string(events.ShipmentCreated)]
				want := "00-" + call.TraceID().String() + "-" + publish.SpanContext().SpanID().String() + "-01"
				if created.Headers[bus.HeaderTraceParent] != want || created.Headers[bus.HeaderTraceState] != callerState ||
					created.Headers["id"] != booked[0].ID {
					t.Errorf("shipment.created headers %v, want traceparent %s and tracestate %s", created.Headers, want, callerState)
				}
				if h := msgs[string(events.TrackingUpdated)].Headers; h[bus.HeaderTraceParent] != "" || h[bus.HeaderTraceState] != "" {
					t.Errorf("the untraced tracking.updated carries trace headers: %v", h)
				}
			})
		}
	}
}

// TestEventSinkTraceContextWithoutRecording: with tracing off, the message
// carries the stored traceparent itself.
func TestEventSinkTraceContextWithoutRecording(t *testing.T) {
	b := bus.NewMemory(bus.MemoryConfig{})
	defer b.Close()
	sink := &bus.EventSink{Bus: b, TracerProvider: noop.NewTracerProvider()}
	ev := events.Stored{Seq: 1, Event: events.Event{ID: "evt_1", Type: events.PODReceived, TenantID: "ten_1", Subject: "AWB1",
		Data: json.RawMessage(`{}`), TraceParent: callerParent, TraceState: callerState}}
	bad := ev
	bad.ID, bad.Seq, bad.TraceParent = "evt_2", 2, "00-not-a-traceparent"
	if err := sink.Deliver(t.Context(), []events.Stored{ev, bad}); err != nil {
		t.Fatal(err)
	}
	got := make(chan bus.Message, 2)
	go b.Subscribe(t.Context(), sink.Topic(events.PODReceived), "test", func(_ context.Context, m bus.Message) error {
		got <- m
		return nil
	})
	first, second := <-got, <-got
	if first.Headers[bus.HeaderTraceParent] != callerParent || first.Headers[bus.HeaderTraceState] != callerState {
		t.Errorf("headers %v, want the stored trace context", first.Headers)
	}
	if _, ok := second.Headers[bus.HeaderTraceParent]; ok {
		t.Errorf("a malformed stored traceparent was sent on: %v", second.Headers)
	}
}
