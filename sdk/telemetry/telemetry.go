// Package telemetry is the SDK's OpenTelemetry tracing: the tracer provider a
// connector process exports its spans with (configured from the standard
// OTEL_* environment the hub hands its connector processes), the W3C trace
// context that crosses the plugin boundary inside each call, and the client
// spans the SDK's transports open around outbound HTTP requests.
//
// W3C traceparent always propagates, even when no exporter is configured: a
// connector then records nothing, but its carrier requests still carry the trace
// id of the hub's request, so a carrier's own logs can be matched to it.
//
// The engine's tracing (engine/tracing) builds its provider with
// NewTracerProvider too. This package must not import engine/.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Exporter names, as OTEL_TRACES_EXPORTER spells them.
const (
	// ExporterNone records nothing; trace context still propagates.
	ExporterNone = "none"
	// ExporterOTLP exports spans to an OpenTelemetry collector over OTLP.
	ExporterOTLP = "otlp"
)

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL spells them.
const (
	// ProtocolHTTP is OTLP over HTTP with protobuf bodies (port 4318 by default).
	ProtocolHTTP = "http/protobuf"
	// ProtocolGRPC is OTLP over gRPC (port 4317 by default).
	ProtocolGRPC = "grpc"
)

// ScopeName is the instrumentation scope of the SDK's own spans.
const ScopeName = "github.com/carrierhub/hub/sdk"

// Options configures NewTracerProvider.
type Options struct {
	// Exporter is ExporterNone (the default) or ExporterOTLP.
	Exporter string
	// Endpoint is the collector's URL (http or https, which selects TLS). For
	// ProtocolHTTP, /v1/traces is appended to its path; for ProtocolGRPC the path
	// is ignored. Empty means http://localhost:4318 or http://localhost:4317.
	Endpoint string
	// Protocol is ProtocolHTTP (the default) or ProtocolGRPC.
	Protocol string
	// Headers are sent with every export (a collector's API key): secrets.
	Headers map[string]string
	// SampleRatio is the fraction of traces started here that are recorded, in
	// [0, 1]; a parent's sampling decision is always followed. Ignored when
	// SamplerFromEnv is set.
	SampleRatio float64
	// SamplerFromEnv leaves the sampler to OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG (parent-based, always on, when unset).
	SamplerFromEnv bool
	// ServiceName is the resource's service.name; required.
	ServiceName string
	// ServiceVersion is the resource's service.version.
	ServiceVersion string
	// Attributes are added to the resource.
	Attributes []attribute.KeyValue

	// fullURL says Endpoint is the traces URL itself (from
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): nothing is appended.
	fullURL bool
}

// Shutdown flushes a provider's pending spans and stops its exporter.
type Shutdown func(context.Context) error

// NewTracerProvider returns the tracer provider opts describe and the function
// that flushes and stops it. With ExporterNone it is a no-op provider, whose
// spans cost next to nothing and still carry their parent's trace context.
// Spans are exported in batches (OTEL_BSP_* tune the batching).
func NewTracerProvider(ctx context.Context, opts Options) (trace.TracerProvider, Shutdown, error) {
	switch opts.Exporter {
	case "", ExporterNone:
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	case ExporterOTLP:
	default:
		return nil, nil, fmt.Errorf("unknown trace exporter %q (want none or otlp)", opts.Exporter)
	}
	if opts.ServiceName == "" {
		return nil, nil, errors.New("tracing needs a service name")
	}
	if opts.SampleRatio < 0 || opts.SampleRatio > 1 {
		return nil, nil, fmt.Errorf("trace sample ratio %g is not between 0 and 1", opts.SampleRatio)
	}
	exp, err := newExporter(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	attrs := append([]attribute.KeyValue{semconv.ServiceName(opts.ServiceName)}, opts.Attributes...)
	if opts.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(opts.ServiceVersion))
	}
	// The explicit attributes come last, so they win over OTEL_RESOURCE_ATTRIBUTES.
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, nil, fmt.Errorf("building the trace resource: %w", err)
	}
	po := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if !opts.SamplerFromEnv {
		po = append(po, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))))
	}
	tp := sdktrace.NewTracerProvider(po...)
	return tp, tp.Shutdown, nil
}

func newExporter(ctx context.Context, opts Options) (sdktrace.SpanExporter, error) {
	endpoint := opts.Endpoint
	switch opts.Protocol {
	case "", ProtocolHTTP, "http":
		if endpoint == "" {
			endpoint = "http://localhost:4318"
		}
		u, err := parseEndpoint(endpoint)
		if err != nil {
			return nil, err
		}
		if !opts.fullURL {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		}
		eo := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}
		if len(opts.Headers) > 0 {
			eo = append(eo, otlptracehttp.WithHeaders(opts.Headers))
		}
		exp, err := otlptracehttp.New(ctx, eo...)
		if err != nil {
			return nil, fmt.Errorf("starting the OTLP/HTTP trace exporter: %w", err)
		}
		return exp, nil
	case ProtocolGRPC:
		if endpoint == "" {
			endpoint = "http://localhost:4317"
		}
		u, err := parseEndpoint(endpoint)
		if err != nil {
			return nil, err
		}
		u.Path = ""
		eo := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(u.String())}
		if len(opts.Headers) > 0 {
			eo = append(eo, otlptracegrpc.WithHeaders(opts.Headers))
		}
		exp, err := otlptracegrpc.New(ctx, eo...)
		if err != nil {
			return nil, fmt.Errorf("starting the OTLP/gRPC trace exporter: %w", err)
		}
		return exp, nil
	default:
		return nil, fmt.Errorf("unknown OTLP protocol %q (want http/protobuf or grpc)", opts.Protocol)
	}
}

// parseEndpoint checks a collector URL. Its error never repeats the URL, which
// may carry credentials.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("the OTLP endpoint is not an http:// or https:// URL with a host")
	}
	return u, nil
}

// ParseHeaders reads OTLP export headers written as OTEL_EXPORTER_OTLP_HEADERS
// writes them: key=value pairs separated by commas, URL-encoded. Its errors name
// the offending pair's position, never a value.
func ParseHeaders(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	for i, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("OTLP header %d is not key=value", i+1)
		}
		key, err := url.PathUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("OTLP header %d has a badly escaped key", i+1)
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("OTLP header %q has a badly escaped value", key)
		}
		out[key] = val
	}
	return out, nil
}

// Propagator returns the propagator the hub and its connectors speak: W3C
// TraceContext (traceparent, tracestate) and W3C Baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// SetGlobal installs tp as the global tracer provider and Propagator as the
// global propagator.
func SetGlobal(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())
}

// Environment names a connector process reads (see Setup).
const (
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvHeaders        = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesHeaders  = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvServiceName    = "OTEL_SERVICE_NAME"
)

// OptionsFromEnv reads a connector process's tracing options from the OTEL_*
// environment (lookup is usually os.LookupEnv). Spans are exported over OTLP when
// OTEL_TRACES_EXPORTER is otlp, or unset while an OTLP endpoint is set; otherwise
// nothing is recorded. The service name is "<OTEL_SERVICE_NAME or hub>-connector-<id>",
// so a connector's spans are told apart from the hub's; sampling follows the
// hub's decision carried in each call (OTEL_TRACES_SAMPLER may change that).
func OptionsFromEnv(lookup func(string) (string, bool), connectorID, version string) (Options, error) {
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := lookup(n); ok && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	prefix := get(EnvServiceName)
	if prefix == "" {
		prefix = "hub"
	}
	opts := Options{
		ServiceName:    prefix + "-connector-" + connectorID,
		ServiceVersion: version,
		SamplerFromEnv: true,
		Attributes:     []attribute.KeyValue{attribute.String("hub.connector", connectorID)},
	}
	exporter := get(EnvTracesExporter)
	tracesEndpoint, endpoint := get(EnvTracesEndpoint), get(EnvEndpoint)
	switch {
	case exporter == "" && tracesEndpoint == "" && endpoint == "":
		return Options{Exporter: ExporterNone}, nil
	case exporter == "", exporter == ExporterOTLP:
	case exporter == ExporterNone:
		return Options{Exporter: ExporterNone}, nil
	default:
		return Options{}, fmt.Errorf("%s=%q is not supported (want otlp or none)", EnvTracesExporter, exporter)
	}
	opts.Exporter = ExporterOTLP
	opts.Protocol = get(EnvTracesProtocol, EnvProtocol)
	if tracesEndpoint != "" {
		// The signal-specific endpoint is the full URL, used as it is.
		opts.Endpoint, opts.fullURL = tracesEndpoint, true
	} else {
		opts.Endpoint = endpoint
	}
	headers, err := ParseHeaders(get(EnvTracesHeaders, EnvHeaders))
	if err != nil {
		return Options{}, err
	}
	opts.Headers = headers
	return opts, nil
}

// Setup installs a connector process's global tracer provider and propagator
// from the environment (see OptionsFromEnv) and returns the function that
// flushes its spans, which the process calls before it exits. A configuration it
// cannot use leaves a no-op provider and is returned as the error, so the
// connector still serves calls and still propagates trace context.
func Setup(ctx context.Context, connectorID, version string) (Shutdown, error) {
	noopShutdown := func(context.Context) error { return nil }
	opts, err := OptionsFromEnv(os.LookupEnv, connectorID, version)
	if err != nil {
		SetGlobal(noop.NewTracerProvider())
		return noopShutdown, err
	}
	tp, shutdown, err := NewTracerProvider(ctx, opts)
	if err != nil {
		SetGlobal(noop.NewTracerProvider())
		return noopShutdown, err
	}
	SetGlobal(tp)
	return shutdown, nil
}

// Inject returns ctx's trace context as the W3C fields a call carries across
// the plugin boundary (traceparent, tracestate, baggage); nil when ctx holds
// none.
func Inject(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	m := make(propagation.MapCarrier, 2)
	otel.GetTextMapPropagator().Inject(ctx, m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// Extract returns ctx carrying the remote trace context in fields, as Inject
// wrote them; ctx itself when fields is empty.
func Extract(ctx context.Context, fields map[string]string) context.Context {
	if len(fields) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(fields))
}

// TraceParent returns the W3C traceparent header value of ctx's span, or ""
// when ctx has no valid span context.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return formatTraceParent(sc)
}

func formatTraceParent(sc trace.SpanContext) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	copy(b[:], "00-")
	hexTo(b[3:35], tid[:])
	b[35] = '-'
	hexTo(b[36:52], sid[:])
	b[52] = '-'
	hexTo(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

func hexTo(dst, src []byte) {
	const digits = "0123456789abcdef"
	for i, c := range src {
		dst[2*i] = digits[c>>4]
		dst[2*i+1] = digits[c&0x0f]
	}
}

// ContextFromTraceParent returns a background context whose remote parent is
// the span traceparent names, for work that continues a trace later (a webhook
// delivery of an event stored with TraceParent). A malformed or empty value
// gives a context without trace context, never an error.
func ContextFromTraceParent(traceparent string) context.Context {
	ctx := context.Background()
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// TraceState returns the W3C tracestate header value of ctx's span, or "" when
// ctx has no valid span context or its trace state is empty.
func TraceState(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceState().String()
}

// ContinueTrace returns ctx with the span traceparent names, and tracestate, as
// its remote parent: a span started from it joins that trace, while ctx keeps
// its deadline and cancellation. An empty or malformed traceparent returns ctx
// unchanged; a malformed tracestate is dropped. Never an error: stored trace
// context is a hint, not a requirement.
func ContinueTrace(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return ctx
	}
	m := propagation.MapCarrier{"traceparent": traceparent}
	if tracestate != "" {
		m["tracestate"] = tracestate
	}
	return propagation.TraceContext{}.Extract(ctx, m)
}

// Attribute keys the hub and the SDK put on spans. They hold ids, never
// credentials or payloads.
const (
	AttrConnector = attribute.Key("hub.connector")
	AttrOperation = attribute.Key("hub.operation")
	AttrAccount   = attribute.Key("hub.account.id")
	AttrTenant    = attribute.Key("hub.tenant.id")
	AttrRequestID = attribute.Key("hub.request_id")
	AttrErrorCode = attribute.Key("hub.error.code")
	AttrErrorSrc  = attribute.Key("hub.error.source")
	AttrAttempt   = attribute.Key("hub.attempt")
)
