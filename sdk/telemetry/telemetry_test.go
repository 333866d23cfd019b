package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

const sampleParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParseHeaders(t *testing.T) {
	t.Parallel()
	got, err := ParseHeaders(" api-key = s%3Dcr3t , x-team=ops ")
	if err != nil || got["api-key"] != "s=cr3t" || got["x-team"] != "ops" || len(got) != 2 {
		t.Errorf("ParseHeaders = %v, %v", got, err)
	}
	if got, err := ParseHeaders("  "); err != nil || got != nil {
		t.Errorf("blank: %v, %v", got, err)
	}
	for _, bad := range []string{"novalue", "=v", "k=%zzsecret", "a=1,,b=2"} {
		_, err := ParseHeaders(bad)
		if err == nil {
			t.Errorf("ParseHeaders(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "%zz") {
			t.Errorf("ParseHeaders(%q) error quotes the value: %v", bad, err)
		}
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestOptionsFromEnv(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want Options
		err  bool
	}{
		{"nothing set", nil, Options{Exporter: ExporterNone}, false},
		{"exporter none wins over an endpoint", map[string]string{EnvTracesExporter: "none", EnvEndpoint: "http://c:4318"}, Options{Exporter: ExporterNone}, false},
		{"endpoint alone means otlp", map[string]string{EnvEndpoint: "http://c:4318", EnvServiceName: "hub-prod"},
			Options{Exporter: ExporterOTLP, Endpoint: "http://c:4318", ServiceName: "hub-prod-connector-acme"}, false},
		{"traces endpoint is used as it is", map[string]string{EnvTracesExporter: "otlp", EnvTracesEndpoint: "https://c/custom", EnvEndpoint: "http://other"},
			Options{Exporter: ExporterOTLP, Endpoint: "https://c/custom", fullURL: true, ServiceName: "hub-connector-acme"}, false},
		{"protocol and headers", map[string]string{EnvTracesExporter: "otlp", EnvProtocol: "grpc", EnvHeaders: "k=v"},
			Options{Exporter: ExporterOTLP, Protocol: "grpc", Headers: map[string]string{"k": "v"}, ServiceName: "hub-connector-acme"}, false},
		{"unknown exporter", map[string]string{EnvTracesExporter: "zipkin"}, Options{}, true},
		{"bad headers", map[string]string{EnvTracesExporter: "otlp", EnvHeaders: "nope"}, Options{}, true},
	}
	for _, c := range cases {
		got, err := OptionsFromEnv(env(c.env), "acme", "1.0.0")
		if (err != nil) != c.err {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if c.err || c.want.Exporter == ExporterNone {
			if got.Exporter != c.want.Exporter {
				t.Errorf("%s: exporter %q", c.name, got.Exporter)
			}
			continue
		}
		if got.Exporter != c.want.Exporter || got.Endpoint != c.want.Endpoint || got.fullURL != c.want.fullURL ||
			got.Protocol != c.want.Protocol || got.ServiceName != c.want.ServiceName || len(got.Headers) != len(c.want.Headers) ||
			!got.SamplerFromEnv || got.ServiceVersion != "1.0.0" {
			t.Errorf("%s: got %+v", c.name, got)
		}
	}
}

func TestNewTracerProviderRefusesBadOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, o := range []Options{
		{Exporter: "jaeger"},
		{Exporter: ExporterOTLP},
		{Exporter: ExporterOTLP, ServiceName: "s", SampleRatio: 2},
		{Exporter: ExporterOTLP, ServiceName: "s", Endpoint: "ftp://user:pw@c"},
		{Exporter: ExporterOTLP, ServiceName: "s", Protocol: "thrift"},
	} {
		_, _, err := NewTracerProvider(ctx, o)
		if err == nil {
			t.Errorf("%+v accepted", o)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("error quotes the endpoint: %v", err)
		}
	}
	tp, shutdown, err := NewTracerProvider(ctx, Options{})
	if err != nil || shutdown(ctx) != nil {
		t.Fatal(err)
	}
	if _, ok := tp.(noop.TracerProvider); !ok {
		t.Errorf("no exporter gives %T, want the no-op provider", tp)
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := ContextFromTraceParent(sampleParent)
	if got := TraceParent(ctx); got != sampleParent {
		t.Errorf("TraceParent(ContextFromTraceParent(x)) = %q", got)
	}
	for _, bad := range []string{"", "00-zz", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if got := TraceParent(ContextFromTraceParent(bad)); got != "" {
			t.Errorf("%q gives traceparent %q", bad, got)
		}
	}
	unsampled := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	if got := TraceParent(ContextFromTraceParent(unsampled)); got != unsampled {
		t.Errorf("unsampled: %q", got)
	}
}

func TestInjectExtract(t *testing.T) {
	t.Parallel()
	if m := Inject(context.Background()); m != nil {
		t.Errorf("no span: %v", m)
	}
	// Inject and Extract use the global propagator; use the hub's explicitly.
	p := Propagator()
	ctx := ContextFromTraceParent(sampleParent)
	m := propagation.MapCarrier{}
	p.Inject(ctx, m)
	back := p.Extract(context.Background(), m)
	if got := TraceParent(back); got != sampleParent {
		t.Errorf("round trip through the call's trace map: %q", got)
	}
}

// sendThrough runs StartHTTP/Result/End around one request to srv under tp
// and returns the traceparent the server saw.
func sendThrough(t *testing.T, tp trace.TracerProvider, parent context.Context, srvURL string) string {
	t.Helper()
	tr := tp.Tracer("test")
	ctx, span := tr.Start(parent, "operation")
	defer span.End()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srvURL+"/track?token=s3cret&awb=1", nil)
	hs := startHTTPWith(tp, req, "Acme")
	resp, err := http.DefaultClient.Do(req)
	hs.Result(resp, err)
	hs.End()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("X-Seen")
}

func TestStartHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Header.Get("Traceparent"))
		if r.Header.Get("Baggage") != "" {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()

	// Tracing off: the carrier still gets the caller's trace context.
	if got := sendThrough(t, noop.NewTracerProvider(), ContextFromTraceParent(sampleParent), srv.URL); got != sampleParent {
		t.Errorf("no-op provider: the carrier saw %q, want the caller's %q", got, sampleParent)
	}
	// No trace at all: no header.
	if got := sendThrough(t, noop.NewTracerProvider(), context.Background(), srv.URL); got != "" {
		t.Errorf("no trace: the carrier saw %q", got)
	}
	// Tracing on: a client span, child of the operation's, whose id the carrier sees.
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	// The caller's baggage stays inside: the server answers 418 if it sees any.
	member, _ := baggage.NewMember("tenant", "acme")
	bag, _ := baggage.New(member)
	got := sendThrough(t, tp, baggage.ContextWithBaggage(ContextFromTraceParent(sampleParent), bag), srv.URL)
	var client tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			client = s
		}
	}
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + client.SpanContext.SpanID().String() + "-01"
	if got != want {
		t.Errorf("recording provider: the carrier saw %q, want %q", got, want)
	}
	attrs := map[string]string{}
	for _, kv := range client.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["url.full"] != srv.URL+"/track" || attrs["http.response.status_code"] != "200" || attrs["hub.provider"] != "Acme" ||
		attrs["http.request.method"] != "GET" || client.Name != "GET" {
		t.Errorf("client span %q attributes %v", client.Name, attrs)
	}
}
