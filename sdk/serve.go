package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/carrierhub/hub/sdk/exchange"
	"github.com/carrierhub/hub/sdk/internal/pluginrpc"
	"github.com/carrierhub/hub/sdk/telemetry"
)

// Version is the SDK's version, reported to the hub at start.
const Version = "0.1.0"

// drainTimeout bounds how long a connector finishes in-flight calls after SIGTERM.
const drainTimeout = 10 * time.Second

// Serve runs c as a connector process and does not return. A connector's main is
// one line:
//
//	func main() { sdk.Serve(mycarrier.New()) }
//
// Serve speaks the hub's plugin protocol (go-plugin over gRPC, versions
// negotiated); the author never sees it. Anything the connector prints, before or
// after Serve, reaches the hub's log and never the handshake. slog's default
// logger writes JSON to stderr, which the hub forwards with the connector's name.
// The process exits when the hub dies (a lifeline pipe closes, or the parent
// changes) and, after draining in-flight calls, on SIGTERM.
func Serve(c Connector) {
	if err := serve(c); err != nil {
		fmt.Fprintf(os.Stderr, "connector: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serve(c Connector) error {
	d, err := NewDispatcher(c)
	if err != nil {
		return err
	}
	manifestJSON, err := json.Marshal(d.Manifest())
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	if os.Getenv(pluginrpc.EnvDescribe) == "1" {
		_, err := os.Stdout.Write(append(manifestJSON, '\n'))
		return err
	}

	stderr := os.Stderr // go-plugin replaces os.Stderr; logs keep the real one.
	slog.SetDefault(slog.New(slog.NewJSONHandler(stderr, nil)).With("connector", d.Manifest().ID))
	log.SetOutput(stderr)

	tuneGC()
	startCPUProfile()
	startTelemetry(d.Manifest())
	watchParent(pluginrpc.EnvLifelineFD)
	if fd, ok := envFD(pluginrpc.EnvHandshakeFD); ok {
		// go-plugin writes its handshake line to os.Stdout; point that at the
		// hub's private pipe. Stray writes to descriptor 1 still go to the log.
		os.Stdout = os.NewFile(uintptr(fd), "handshake")
	}

	srv := &rpcServer{d: d, manifestJSON: manifestJSON}
	srv.serveDataPlane(os.Getenv(pluginrpc.EnvDataSocket))
	go srv.calls.drainOnSIGTERM()

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  pluginrpc.Handshake,
		VersionedPlugins: pluginrpc.VersionedPlugins(srv),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.StatsHandler(&srv.calls))
			return grpc.NewServer(append(opts, pluginrpc.ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: stderr, JSONFormat: true}),
	})
	flushTelemetry()
	removeDataPlane()
	return nil
}

// stopProfile, when set, finishes the CPU profile started for EnvCPUProfile.
var stopProfile atomic.Pointer[func()]

// connectorGCPercent is a connector process's GOGC unless its environment sets
// one. A connector's live heap is small (tens of megabytes) while every call
// allocates its decoded payloads, so at Go's default of 100 it collects many
// times a second and spent a quarter of its CPU in the collector under load
// (bench/e2e); at 400 the heap still stays small.
const connectorGCPercent = 400

// tuneGC applies connectorGCPercent when GOGC is not set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(connectorGCPercent)
	}
}

// startCPUProfile starts the debugging CPU profile when the hub asked for one.
func startCPUProfile() {
	path := os.Getenv(pluginrpc.EnvCPUProfile)
	if path == "" {
		return
	}
	f, err := os.Create(path + "." + strconv.Itoa(os.Getpid()))
	if err != nil {
		slog.Warn("cpu profile not written", "err", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		slog.Warn("cpu profile not written", "err", err)
		f.Close()
		return
	}
	stop := func() {
		pprof.StopCPUProfile()
		f.Close()
	}
	stopProfile.Store(&stop)
}

// stopTelemetry, when set, flushes the connector's spans.
var stopTelemetry atomic.Pointer[telemetry.Shutdown]

// telemetryFlushTimeout bounds the span flush at exit.
const telemetryFlushTimeout = 3 * time.Second

// startTelemetry installs the connector's tracer provider from the OTEL_*
// environment the hub passes on. A configuration it cannot use is logged and
// leaves tracing off (trace context still propagates).
func startTelemetry(m *Manifest) {
	shutdown, err := telemetry.Setup(context.Background(), m.ID, m.Version)
	if err != nil {
		slog.Warn("tracing is off", "err", err)
	}
	stopTelemetry.Store(&shutdown)
}

// flushTelemetry flushes the connector's spans once, within a bound.
func flushTelemetry() {
	if stop := stopTelemetry.Swap(nil); stop != nil {
		ctx, cancel := context.WithTimeout(context.Background(), telemetryFlushTimeout)
		_ = (*stop)(ctx)
		cancel()
	}
}

// exit ends the connector process, finishing the CPU profile and flushing
// spans first.
func exit(code int) {
	if stop := stopProfile.Swap(nil); stop != nil {
		(*stop)()
	}
	flushTelemetry()
	removeDataPlane()
	os.Exit(code)
}

// dataPlaneSocket is the data plane's socket path once it listens.
var dataPlaneSocket atomic.Pointer[string]

// removeDataPlane removes the data plane's socket and the directory the hub
// made for it, which the hub removes too when it outlives the connector; a
// hub killed first would otherwise leave them behind.
func removeDataPlane() {
	if path := dataPlaneSocket.Swap(nil); path != nil {
		_ = os.Remove(*path)
		_ = os.Remove(filepath.Dir(*path)) // only when empty
	}
}

func envFD(name string) (int, bool) {
	v := os.Getenv(name)
	if v == "" {
		return 0, false
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return 0, false
	}
	return fd, true
}

// watchParent makes the process exit when the hub is gone: at once when the
// lifeline pipe reports EOF, and within a second when the parent PID changes
// (the hub was killed and the process re-parented), for hosts without a lifeline.
func watchParent(lifelineEnv string) {
	if fd, ok := envFD(lifelineEnv); ok {
		lifeline := os.NewFile(uintptr(fd), "lifeline")
		go func() {
			_, _ = io.Copy(io.Discard, lifeline)
			exit(0)
		}()
	}
	ppid := os.Getppid()
	if ppid <= 1 {
		return
	}
	go func() {
		for range time.Tick(time.Second) {
			if os.Getppid() != ppid {
				exit(0)
			}
		}
	}()
}

// rpcServer serves the connector protocol on top of a Dispatcher.
type rpcServer struct {
	pluginrpc.UnimplementedConnectorServer
	pluginrpc.UnimplementedCallStreamServer
	d            *Dispatcher
	manifestJSON []byte
	calls        callTracker
	// dataPlane is the socket path the data plane listens on; empty when it
	// serves none.
	dataPlane string
}

// serveDataPlane listens for protocol version 3's data plane at path, which
// the hub names when it offers that version, and serves it for the process's
// life. When it cannot listen the hub is not told of a data plane and calls
// over the gRPC stream instead.
func (s *rpcServer) serveDataPlane(path string) {
	if path == "" {
		return
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		slog.Warn("calls will travel over gRPC: the data plane's socket could not be opened", "err", err)
		return
	}
	s.dataPlane = path
	dataPlaneSocket.Store(&path)
	go func() { _ = pluginrpc.ServeData(l, s.invoke, &s.calls.inflight) }()
}

func (s *rpcServer) Describe(context.Context, *pluginrpc.DescribeRequest) (*pluginrpc.DescribeResponse, error) {
	return &pluginrpc.DescribeResponse{ManifestJson: s.manifestJSON, SdkVersion: Version, DataPlane: s.dataPlane}, nil
}

func (s *rpcServer) Invoke(ctx context.Context, req *pluginrpc.InvokeRequest) (*pluginrpc.InvokeResponse, error) {
	return s.invoke(ctx, req), nil
}

// Calls serves protocol version 2's call stream. Its calls are counted for the
// SIGTERM drain one by one; the stream itself is not.
func (s *rpcServer) Calls(stream pluginrpc.CallStream_CallsServer) error {
	return pluginrpc.ServeCalls(stream, s.invoke, &s.calls.inflight)
}

// serverSpan are the options of a call's span, made once.
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// invoke runs one call in a server span: a child of the hub's client span when
// the request carries trace context. The operation's ctx holds the span, so the
// transports' client spans and their traceparent headers continue the hub's
// trace.
func (s *rpcServer) invoke(ctx context.Context, req *pluginrpc.InvokeRequest) *pluginrpc.InvokeResponse {
	ctx = telemetry.Extract(ctx, req.GetTrace())
	ctx, span := otel.GetTracerProvider().Tracer(telemetry.ScopeName).Start(ctx, "connector call", serverSpan...)
	defer span.End()
	if span.IsRecording() {
		span.SetName("connector " + req.GetOperation())
	}
	resp := s.dispatch(ctx, req)
	if span.IsRecording() {
		span.SetAttributes(telemetry.AttrConnector.String(s.d.Manifest().ID), telemetry.AttrOperation.String(req.GetOperation()),
			telemetry.AttrAccount.String(req.GetAccount().GetId()), telemetry.AttrRequestID.String(req.GetRequestId()))
		if e := resp.GetError(); e != nil {
			span.SetAttributes(telemetry.AttrErrorCode.String(e.GetCode()), telemetry.AttrErrorSrc.String(e.GetSource()))
			span.SetStatus(codes.Error, e.GetCode())
		}
	}
	return resp
}

// dispatch runs one call, refusing it while the process drains.
func (s *rpcServer) dispatch(ctx context.Context, req *pluginrpc.InvokeRequest) *pluginrpc.InvokeResponse {
	if s.calls.draining.Load() {
		return &pluginrpc.InvokeResponse{Error: errorToProto(&Error{
			Code: CodeCarrierUnavailable, Source: SourceConnector, NotSent: true,
			Message: "connector process is shutting down",
		})}
	}
	out, err := s.d.Invoke(ctx, &Call{
		Operation:      Operation(req.GetOperation()),
		Account:        accountFromProto(req.GetAccount()),
		IdempotencyKey: req.GetIdempotencyKey(),
		RequestID:      req.GetRequestId(),
		Payload:        req.GetPayload(),
	})
	if err != nil {
		return &pluginrpc.InvokeResponse{Error: errorToProto(AsError(err))}
	}
	return &pluginrpc.InvokeResponse{Payload: out}
}

func (s *rpcServer) CheckHealth(ctx context.Context, req *pluginrpc.CheckHealthRequest) (*pluginrpc.CheckHealthResponse, error) {
	var acct *Account
	if req.GetAccount() != nil {
		acct = accountFromProto(req.GetAccount())
	}
	supported, err := s.d.CheckHealth(ctx, acct)
	resp := &pluginrpc.CheckHealthResponse{Supported: supported}
	if err != nil {
		resp.Error = errorToProto(AsError(err))
	}
	return resp, nil
}

// Exchanges answers the account's latest provider exchanges from the
// process's log (sdk/exchange), redacted as they leave it.
func (s *rpcServer) Exchanges(_ context.Context, req *pluginrpc.ExchangesRequest) (*pluginrpc.ExchangesResponse, error) {
	limit := int(req.GetLimit())
	if limit <= 0 || limit > exchange.PerAccount {
		limit = exchange.PerAccount
	}
	b, err := json.Marshal(exchange.Default.Recent(req.GetAccountId(), limit))
	if err != nil {
		return nil, err
	}
	return &pluginrpc.ExchangesResponse{RecordsJson: b}, nil
}

// callTracker counts calls from their arrival until their answer is written, so
// a SIGTERM can wait for exactly those: unary calls of the connector service
// through gRPC stats (Begin to End), calls on a version 2 call stream through
// pluginrpc.ServeCalls and on version 3's data plane through pluginrpc.ServeData. Long-lived streams, go-plugin's own and the call
// stream, are not counted.
type callTracker struct {
	inflight atomic.Int64
	draining atomic.Bool
}

type trackedKey struct{}

// TagRPC marks calls of the connector service.
func (t *callTracker) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if strings.HasPrefix(info.FullMethodName, "/hub.connector.v1.Connector/") {
		return context.WithValue(ctx, trackedKey{}, true)
	}
	return ctx
}

// HandleRPC counts marked calls in and out.
func (t *callTracker) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if ctx.Value(trackedKey{}) == nil {
		return
	}
	switch s.(type) {
	case *stats.Begin:
		t.inflight.Add(1)
	case *stats.End:
		t.inflight.Add(-1)
	}
}

// TagConn implements stats.Handler.
func (t *callTracker) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler.
func (t *callTracker) HandleConn(context.Context, stats.ConnStats) {}

// drainOnSIGTERM waits, on SIGTERM, until in-flight calls have been answered
// (refusing new ones), then exits.
func (t *callTracker) drainOnSIGTERM() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	<-ch
	t.draining.Store(true)
	deadline := time.Now().Add(drainTimeout)
	for t.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	exit(0)
}

func accountFromProto(a *pluginrpc.Account) *Account {
	if a == nil {
		return nil
	}
	return &Account{
		ID: a.GetId(), TenantID: a.GetTenantId(), Environment: a.GetEnvironment(), BaseURL: a.GetBaseUrl(),
		Credentials: a.GetCredentials(), Settings: a.GetSettings(),
	}
}

func errorToProto(e *Error) *pluginrpc.Error {
	return &pluginrpc.Error{
		Code: string(e.Code), Source: string(e.Source), Message: e.Message, Field: e.Field,
		RetryAfterMs: e.RetryAfter.Milliseconds(), CarrierCode: e.CarrierCode,
		CarrierMessage: e.CarrierMessage, NotSent: e.NotSent,
	}
}
