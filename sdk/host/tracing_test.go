package host_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/sdktest"
	"github.com/carrierhub/hub/sdk/telemetry"
)

func init() {
	connectorMains["connector-process-traceparent"] = func() { sdk.Serve(&traceparentConnector{sdktest.New("test_trace")}) }
}

// traceparentConnector answers Track with the W3C traceparent of the span its
// operation's context holds ("" for none) as the tracking number. Its process
// has no OTEL_* environment, so its tracer provider is a no-op one.
type traceparentConnector struct{ *sdktest.Connector }

func (c *traceparentConnector) Track(ctx context.Context, _ *sdk.Request[model.TrackRequest]) (*model.TrackResponse, error) {
	return &model.TrackResponse{Results: []model.Tracking{{TrackingNumber: telemetry.TraceParent(ctx), Status: model.StatusInTransit}}}, nil
}

var (
	spansOnce sync.Once
	spans     *tracetest.InMemoryExporter
)

// recordSpans installs a recording global tracer provider once per test binary
// and returns its exporter.
func recordSpans() *tracetest.InMemoryExporter {
	spansOnce.Do(func() {
		spans = tracetest.NewInMemoryExporter()
		telemetry.SetGlobal(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	})
	return spans
}

// TestTraceContextCrossesIntoTheConnector checks, under both protocol versions,
// that a call carries the hub's client span into the connector's context, even
// though the connector records no spans of its own.
func TestTraceContextCrossesIntoTheConnector(t *testing.T) {
	exp := recordSpans()
	forEachProtocol(t, func(t *testing.T, version int) {
		p := startArgs(t, version, "connector-process-traceparent", "test_trace")
		ctx, parent := otel.Tracer("test").Start(context.Background(), "caller")
		out, err := p.Invoke(ctx, &sdk.Call{Operation: sdk.OpTrack, Account: &sdk.Account{ID: "acct_1", Credentials: map[string]string{"api_key": "k"}},
			Payload: []byte(`{"tracking_numbers":["x"]}`)})
		parent.End()
		if err != nil {
			t.Fatal(err)
		}
		var resp model.TrackResponse
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != 1 {
			t.Fatalf("answer %s: %v", out, err)
		}
		got := resp.Results[0].TrackingNumber
		tid := parent.SpanContext().TraceID()
		var client *tracetest.SpanStub
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID() == tid && s.Name == "hub.connector.v1.Connector/Invoke" {
				client = &s
			}
		}
		if client == nil {
			t.Fatalf("no client span recorded in trace %s", tid)
		}
		if client.SpanKind != trace.SpanKindClient || client.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("client span kind %v parent %s, want client under %s", client.SpanKind, client.Parent.SpanID(), parent.SpanContext().SpanID())
		}
		want := "00-" + tid.String() + "-" + client.SpanContext.SpanID().String() + "-01"
		if got != want {
			t.Errorf("the connector's context holds traceparent %q, want %q (the hub's client span)", got, want)
		}
	})
}
