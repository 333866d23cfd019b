package tracing

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// received is what a test collector got: span names by service, and the
// collector key header of each export.
type received struct {
	mu       sync.Mutex
	services map[string][]string
	keys     []string
}

func (r *received) add(req *collectortrace.ExportTraceServiceRequest, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.services == nil {
		r.services = map[string][]string{}
	}
	r.keys = append(r.keys, key)
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.services[service] = append(r.services[service], s.GetName())
			}
		}
	}
}

type grpcCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	got *received
}

func (g *grpcCollector) Export(ctx context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	key := ""
	if v := md.Get("x-collector-key"); len(v) > 0 {
		key = v[0]
	}
	g.got.add(req, key)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// TestSetupExportsOverOTLP sets the global provider up for each protocol,
// records a span, and checks Shutdown flushed it to the collector with the
// configured headers and service name. Not parallel: Setup sets globals.
func TestSetupExportsOverOTLP(t *testing.T) {
	for _, protocol := range []string{ProtocolHTTP, ProtocolGRPC} {
		t.Run(protocol, func(t *testing.T) {
			got := &received{}
			var endpoint string
			switch protocol {
			case ProtocolHTTP:
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/base/v1/traces" {
						http.NotFound(w, r)
						return
					}
					body, _ := io.ReadAll(r.Body)
					var req collectortrace.ExportTraceServiceRequest
					if err := proto.Unmarshal(body, &req); err != nil {
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
					got.add(&req, r.Header.Get("X-Collector-Key"))
					w.Header().Set("Content-Type", "application/x-protobuf")
				}))
				defer srv.Close()
				endpoint = srv.URL + "/base"
			case ProtocolGRPC:
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				gs := grpc.NewServer()
				collectortrace.RegisterTraceServiceServer(gs, &grpcCollector{got: got})
				go func() { _ = gs.Serve(ln) }()
				defer gs.Stop()
				endpoint = "http://" + ln.Addr().String()
			}
			ctx := context.Background()
			p, err := Setup(ctx, Config{Exporter: ExporterOTLP, Endpoint: endpoint, Protocol: protocol,
				Headers: "x-collector-key=k%20ey", SampleRatio: 1, Version: "1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			_, span := otel.Tracer("test").Start(ctx, "work")
			if !span.IsRecording() {
				t.Error("the global provider records nothing")
			}
			span.End()
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			got.mu.Lock()
			defer got.mu.Unlock()
			if !slices.Equal(got.services["hub"], []string{"work"}) || len(got.keys) == 0 || got.keys[0] != "k ey" {
				t.Errorf("collector got %v with keys %q", got.services, got.keys)
			}
		})
	}
	// Exporter none: a no-op provider that still propagates.
	p, err := Setup(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.TracerProvider.(noop.TracerProvider); !ok {
		t.Errorf("exporter none: %T", p.TracerProvider)
	}
	ctx := ContextFrom("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, span := otel.Tracer("test").Start(ctx, "work")
	defer span.End()
	if span.IsRecording() || TraceParent(ctx) != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("no-op span: recording %v, traceparent %q", span.IsRecording(), TraceParent(ctx))
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Exporter: "zipkin"},
		{Exporter: ExporterOTLP, Protocol: "thrift"},
		{Exporter: ExporterOTLP, SampleRatio: -0.1},
		{Exporter: ExporterOTLP, SampleRatio: 1.5},
		{Exporter: ExporterOTLP, Headers: "authorization"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := Setup(context.Background(), Config{Exporter: ExporterOTLP, Endpoint: "https://user:hunter2@"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad endpoint: %v", err)
	}
	if err := (Config{Exporter: ExporterOTLP, Headers: "a=hunter2,b"}).Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad headers: %v", err)
	}
	if err := (Config{Exporter: ExporterOTLP, Protocol: ProtocolGRPC, SampleRatio: 0.5, Headers: "a=b"}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestConnectorEnv(t *testing.T) {
	t.Parallel()
	lookup := func(env []string) map[string]string {
		m := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v // the last one wins, as in exec.Cmd
		}
		return m
	}
	off := lookup(ConnectorEnv(Config{}))
	if off["OTEL_TRACES_EXPORTER"] != "none" || off["OTEL_SERVICE_NAME"] != "hub" {
		t.Errorf("exporter none: %v", off)
	}
	on := lookup(ConnectorEnv(Config{Exporter: ExporterOTLP, Endpoint: "https://c:4318", Protocol: ProtocolGRPC, Headers: "k=v",
		SampleRatio: 0.25, ServiceName: "hub-eu"}))
	want := map[string]string{
		"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_EXPORTER_OTLP_HEADERS": "k=v", "OTEL_SERVICE_NAME": "hub-eu", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG": "0.25", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
	}
	for k, v := range want {
		if got, ok := on[k]; !ok || got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestTraceParentAndContextFrom(t *testing.T) {
	t.Parallel()
	if TraceParent(context.Background()) != "" {
		t.Error("a context without a span has a traceparent")
	}
	if sc := trace.SpanContextFromContext(ContextFrom("garbage")); sc.IsValid() {
		t.Error("a malformed traceparent gave a parent")
	}
	// A delivery span started from a stored traceparent is its child.
	stored := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ctx := ContextFrom(stored)
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsRemote() || sc.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || sc.SpanID().String() != "b7ad6b7169203331" || !sc.IsSampled() {
		t.Errorf("ContextFrom(%q) = %+v", stored, sc)
	}
	if got := TraceParent(ctx); got != stored {
		t.Errorf("TraceParent(ContextFrom(x)) = %q", got)
	}
}
