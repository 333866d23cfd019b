// Package tracing is the hub's OpenTelemetry tracing: it builds the tracer
// provider from the configuration (OTLP over HTTP or gRPC, or a no-op provider
// that costs next to nothing), installs it with the W3C TraceContext and Baggage
// propagators as the global ones, and says what environment connector processes
// need to export their own spans into the same traces.
//
// The spans themselves are opened where the work happens: engine/api (one
// server span per request), engine/router (one span around the resilience
// call), sdk/host (the client span of each connector call, whose trace context
// crosses into the connector process), sdk.Serve and sdk/transport (the
// connector's server span and its outbound HTTP client spans).
//
// For work that continues a trace later, such as a webhook delivery of an
// event, TraceParent turns the current span into a string to store and
// ContextFrom turns it back into a parent. The outbox does this for every
// event: engine/store keeps the trace context of the appending call with each
// event and webhook delivery, and engine/webhooks and engine/bus open their
// delivery and publish spans as its children (with sdk/telemetry, which they
// use directly because this package's benchmarks import them).
package tracing

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/carrierhub/hub/sdk/telemetry"
)

// Exporter values of Config.Exporter.
const (
	// ExporterNone records no spans; trace context still propagates.
	ExporterNone = telemetry.ExporterNone
	// ExporterOTLP exports spans to an OpenTelemetry collector.
	ExporterOTLP = telemetry.ExporterOTLP
)

// Protocol values of Config.Protocol.
const (
	// ProtocolHTTP is OTLP/HTTP with protobuf bodies.
	ProtocolHTTP = "http"
	// ProtocolGRPC is OTLP/gRPC.
	ProtocolGRPC = "grpc"
)

// Config configures Setup.
type Config struct {
	// Exporter is ExporterNone (the default) or ExporterOTLP.
	Exporter string
	// Endpoint is the collector's base URL (http:// or https://, which selects
	// TLS); /v1/traces is appended for ProtocolHTTP. Empty means the protocol's
	// default on localhost (4318 for http, 4317 for grpc).
	Endpoint string
	// Protocol is ProtocolHTTP (the default) or ProtocolGRPC.
	Protocol string
	// Headers are sent to the collector with every export, written as
	// OTEL_EXPORTER_OTLP_HEADERS (key=value,key2=value2, URL-encoded). A secret.
	Headers string
	// SampleRatio is the fraction of traces started at the hub that are
	// recorded; a caller's traceparent decides for its own traces.
	SampleRatio float64
	// ServiceName is the hub's service.name; "hub" when empty. Connector
	// processes report as <ServiceName>-connector-<id>.
	ServiceName string
	// Version is the hub's service.version.
	Version string
}

// Validate checks c; its errors never quote headers or the endpoint.
func (c Config) Validate() error {
	switch c.Exporter {
	case "", ExporterNone:
		return nil
	case ExporterOTLP:
	default:
		return fmt.Errorf("exporter %q is not none or otlp", c.Exporter)
	}
	switch c.Protocol {
	case "", ProtocolHTTP, ProtocolGRPC:
	default:
		return fmt.Errorf("protocol %q is not http or grpc", c.Protocol)
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("sample ratio %g is not between 0 and 1", c.SampleRatio)
	}
	if _, err := telemetry.ParseHeaders(c.Headers); err != nil {
		return err
	}
	return nil
}

// Provider is the hub's tracer provider.
type Provider struct {
	trace.TracerProvider
	shutdown telemetry.Shutdown
	env      []string
}

// Setup builds the tracer provider cfg describes and installs it, with the W3C
// TraceContext and Baggage propagators, as the global one (sdk/host and the
// transports use the globals). The caller must call Shutdown, which flushes
// pending spans, before the process exits.
func Setup(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	opts, err := options(cfg)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	tp, shutdown, err := telemetry.NewTracerProvider(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	telemetry.SetGlobal(tp)
	return &Provider{TracerProvider: tp, shutdown: shutdown, env: ConnectorEnv(cfg)}, nil
}

func options(cfg Config) (telemetry.Options, error) {
	if cfg.Exporter == "" || cfg.Exporter == ExporterNone {
		return telemetry.Options{Exporter: ExporterNone}, nil
	}
	headers, err := telemetry.ParseHeaders(cfg.Headers)
	if err != nil {
		return telemetry.Options{}, err
	}
	return telemetry.Options{
		Exporter:       ExporterOTLP,
		Endpoint:       cfg.Endpoint,
		Protocol:       otlpProtocol(cfg.Protocol),
		Headers:        headers,
		SampleRatio:    cfg.SampleRatio,
		ServiceName:    serviceName(cfg),
		ServiceVersion: cfg.Version,
	}, nil
}

func serviceName(cfg Config) string {
	if cfg.ServiceName == "" {
		return "hub"
	}
	return cfg.ServiceName
}

func otlpProtocol(p string) string {
	if p == ProtocolGRPC {
		return telemetry.ProtocolGRPC
	}
	return telemetry.ProtocolHTTP
}

// Shutdown flushes pending spans and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.shutdown == nil {
		return nil
	}
	if err := p.shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flushing spans: %w", err)
	}
	return nil
}

// ConnectorEnv returns the OTEL_* variables that make a connector process
// export its spans as cfg says (see telemetry.OptionsFromEnv). They come after
// any OTEL_* variables passed through from the hub's environment, so the
// configuration wins. The headers are secrets: the list must not be logged.
func (p *Provider) ConnectorEnv() []string {
	if p == nil {
		return nil
	}
	return p.env
}

// ConnectorEnv returns the OTEL_* variables of cfg for connector processes.
func ConnectorEnv(cfg Config) []string {
	env := []string{telemetry.EnvServiceName + "=" + serviceName(cfg)}
	if cfg.Exporter == "" || cfg.Exporter == ExporterNone {
		return append(env, telemetry.EnvTracesExporter+"="+ExporterNone)
	}
	env = append(env,
		telemetry.EnvTracesExporter+"="+ExporterOTLP,
		telemetry.EnvProtocol+"="+otlpProtocol(cfg.Protocol),
		// A traces endpoint from the hub's environment would override the
		// configured one in the connector: blank it.
		telemetry.EnvTracesEndpoint+"=",
		telemetry.EnvTracesHeaders+"=",
		telemetry.EnvTracesProtocol+"=",
	)
	if cfg.Endpoint != "" {
		env = append(env, telemetry.EnvEndpoint+"="+cfg.Endpoint)
	} else {
		env = append(env, telemetry.EnvEndpoint+"=")
	}
	env = append(env, telemetry.EnvHeaders+"="+strings.TrimSpace(cfg.Headers))
	// Connector spans follow the hub's sampling decision carried in each call.
	env = append(env, "OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG="+strconv.FormatFloat(cfg.SampleRatio, 'g', -1, 64))
	return env
}

// TraceParent returns the W3C traceparent header value of ctx's span ("" when
// ctx has none), to be stored with work that continues the trace later: an
// outbox event whose webhook deliveries should join the request's trace.
func TraceParent(ctx context.Context) string {
	return telemetry.TraceParent(ctx)
}

// ContextFrom returns a context whose remote parent is the span traceparent
// names, so a span started from it (a webhook delivery) joins that trace. An
// empty or malformed value gives a context without a parent; never an error.
// Use trace.WithLinks(trace.LinkFromContext(ContextFrom(tp))) instead to start a
// new trace linked to the stored one.
func ContextFrom(traceparent string) context.Context {
	return telemetry.ContextFromTraceParent(traceparent)
}
