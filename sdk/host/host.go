// Package host is the hub's side of the connector protocol: it starts a connector
// executable, completes the go-plugin handshake on a private pipe, and calls the
// connector with sdk types. The engine's plugin manager and the SDK's conformance
// kit use it; nothing here leaks gRPC or go-plugin types.
//
// The hub offers the connector every protocol version it speaks and the
// connector picks the newest it shares (go-plugin's VersionedPlugins). Under
// version 3 a Process carries its calls in frames over a Unix socket of their
// own (the data plane), with no gRPC on the way; under version 2 it
// multiplexes them over one long-lived gRPC stream, which is also where
// version 3 falls back to when the connector serves no data plane; under
// version 1, which connectors built with older SDKs speak, each call is a
// unary RPC. Connections and streams are reopened after they break. Either
// way a call's error is an *sdk.Error, its deadline and cancellation reach the
// connector, and a process that dies fails every call it had.
package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/internal/pluginrpc"
	"github.com/carrierhub/hub/sdk/telemetry"
)

// Config says how to start a connector process.
type Config struct {
	// Path is the executable.
	Path string
	// Args are its arguments (for the hub's own binary, the hidden subcommand).
	Args []string
	// Env adds variables to the minimal environment a connector gets. The hub's
	// own environment is not passed on: it holds the hub's secrets.
	Env []string
	// Logger receives everything the connector logs or prints; nil discards it.
	Logger *slog.Logger
	// StartTimeout bounds the start, handshake included; 10s when zero.
	StartTimeout time.Duration
	// MaxProtocol caps the protocol versions offered to the connector, which
	// picks the newest it shares with the hub; zero offers every version this
	// hub speaks. Version 3 carries calls over the data plane's framed Unix
	// socket; version 2 multiplexes them over one gRPC stream; version 1, one
	// unary call each, is what connectors built with older SDKs speak.
	MaxProtocol int
}

// passEnv lists the variables of the hub's environment a connector inherits.
var passEnv = []string{
	"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"GOCOVERDIR", "GORACE", "GODEBUG", "GOGC", "GOMAXPROCS", "GOMEMLIMIT", "GOTRACEBACK",
	pluginrpc.EnvCPUProfile,
}

func environment(extra []string) []string {
	env := make([]string, 0, len(passEnv)+len(extra)+4)
	for _, k := range passEnv {
		if k == "GODEBUG" {
			env = append(env, "GODEBUG="+connectorGODEBUG(os.Getenv("GODEBUG")))
			continue
		}
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, extra...)
	return env
}

// connectorGODEBUG returns the GODEBUG a connector process runs with: the hub's,
// plus gcshrinkstackoff=1 unless the hub's names it. A connector runs calls on
// long-lived worker goroutines whose stacks a call grows (JSON and mapping
// evaluation recurse deeply); the collector shrinks idle stacks every cycle and
// the next call grows them again, which cost a fifth of a connector's CPU under
// load (bench/e2e). The workers are few, so keeping their stacks costs little
// memory.
func connectorGODEBUG(hub string) string {
	for _, kv := range strings.Split(hub, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "gcshrinkstackoff=") {
			return hub
		}
	}
	if hub == "" {
		return "gcshrinkstackoff=1"
	}
	return hub + ",gcshrinkstackoff=1"
}

// Process is a running connector.
type Process struct {
	cmd    *exec.Cmd
	client *plugin.Client
	rpc    pluginrpc.ConnectorClient
	mux    *pluginrpc.Mux        // nil under protocol version 1
	data   *pluginrpc.DataClient // nil unless the data plane is in use
	// dataDir holds the data plane's socket; removed when the process exits.
	dataDir  string
	protocol int
	manifest *sdk.Manifest
	lifeline *os.File
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	logger   *slog.Logger
	// inFlight counts calls sent and not yet answered, for Stop to drain.
	inFlight atomic.Int64
}

// Start launches a connector and returns once it has answered Describe.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	hsR, hsW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating handshake pipe: %w", err)
	}
	defer hsR.Close()
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		hsW.Close()
		return nil, fmt.Errorf("creating lifeline pipe: %w", err)
	}

	protoEnv := []string{
		pluginrpc.Handshake.MagicCookieKey + "=" + pluginrpc.Handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=" + offeredVersions(cfg.MaxProtocol),
		pluginrpc.EnvHandshakeFD + "=3",
		pluginrpc.EnvLifelineFD + "=4",
	}
	dataDir, dataSocket := dataPlaneSocket(cfg.MaxProtocol, logger)
	if dataSocket != "" {
		protoEnv = append(protoEnv, pluginrpc.EnvDataSocket+"="+dataSocket)
	}

	out := &lineLogger{logger: logger, stream: "stdout"}
	errOut := &lineLogger{logger: logger, stream: "stderr"}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = environment(append(protoEnv, cfg.Env...))
	cmd.ExtraFiles = []*os.File{hsW, lifeR}
	cmd.Stdout = out
	cmd.Stderr = errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		hsW.Close()
		lifeR.Close()
		lifeW.Close()
		removeDataDir(dataDir)
		return nil, fmt.Errorf("starting connector %s: %w", cfg.Path, err)
	}
	hsW.Close()
	lifeR.Close()

	p := &Process{cmd: cmd, lifeline: lifeW, done: make(chan struct{}), logger: logger, dataDir: dataDir}
	go func() {
		p.waitErr = cmd.Wait()
		lifeW.Close()
		// The data plane's directory goes with the process, however it ended
		// (a crash included, after which nobody calls Kill or Stop).
		removeDataDir(dataDir)
		close(p.done)
	}()

	line, err := readHandshake(ctx, hsR, p.done)
	if err != nil {
		p.Kill()
		if tail := errOut.tail(); tail != "" {
			err = fmt.Errorf("%w; connector's last output: %s", err, tail)
		}
		return nil, err
	}
	if err := p.attach(ctx, line, logger); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// maxSocketPath is the longest Unix socket path every platform accepts
// (sun_path is 104 bytes on the BSDs and macOS, 108 on Linux).
const maxSocketPath = 100

// dataPlaneSocket makes a directory only this user can enter and returns it
// with the data plane's socket path in it, when the versions offered reach 3;
// without one (an old cap, or a temporary directory whose path is too long
// for a socket) calls travel over gRPC.
func dataPlaneSocket(maxProtocol int, logger *slog.Logger) (dir, socket string) {
	if maxProtocol > 0 && maxProtocol < 3 {
		return "", ""
	}
	dir, err := os.MkdirTemp("", "hub-connector-")
	if err != nil {
		logger.Warn("connector calls will travel over gRPC: no directory for the data plane's socket", "err", err)
		return "", ""
	}
	socket = filepath.Join(dir, "calls.sock")
	if len(socket) > maxSocketPath {
		logger.Warn("connector calls will travel over gRPC: the temporary directory's path is too long for a Unix socket (set TMPDIR to a shorter one)", "path", socket)
		removeDataDir(dir)
		return "", ""
	}
	return dir, socket
}

func removeDataDir(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// offeredVersions lists the protocol versions the hub offers, oldest first.
func offeredVersions(maxVersion int) string {
	if maxVersion <= 0 || maxVersion > pluginrpc.ProtocolVersion {
		maxVersion = pluginrpc.ProtocolVersion
	}
	vs := make([]string, 0, maxVersion)
	for v := 1; v <= maxVersion; v++ {
		vs = append(vs, strconv.Itoa(v))
	}
	return strings.Join(vs, ",")
}

// readHandshake reads the go-plugin handshake line, failing when the process
// exits first or ctx ends.
func readHandshake(ctx context.Context, r *os.File, exited <-chan struct{}) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			select {
			case <-exited:
				return "", errors.New("connector exited before the handshake")
			case <-time.After(100 * time.Millisecond):
			}
			return "", fmt.Errorf("reading handshake: %w", res.err)
		}
		return res.line, nil
	case <-exited:
		return "", errors.New("connector exited before the handshake")
	case <-ctx.Done():
		return "", fmt.Errorf("connector did not complete the handshake: %w", ctx.Err())
	}
}

// attach parses the handshake line (core|app|network|addr|protocol|cert) and
// connects go-plugin's client to the address it names.
func (p *Process) attach(ctx context.Context, line string, logger *slog.Logger) error {
	parts := strings.Split(line, "|")
	if len(parts) < 5 {
		return fmt.Errorf("malformed handshake %q", line)
	}
	if core, _ := strconv.Atoi(parts[0]); core != plugin.CoreProtocolVersion {
		return fmt.Errorf("connector speaks go-plugin core protocol %s, the hub %d", parts[0], plugin.CoreProtocolVersion)
	}
	version, err := strconv.Atoi(parts[1])
	if err != nil {
		return fmt.Errorf("malformed protocol version in handshake %q", line)
	}
	plugins, ok := pluginrpc.VersionedPlugins(nil)[version]
	if !ok {
		return fmt.Errorf("connector speaks protocol version %d, which this hub does not (it speaks %d)", version, pluginrpc.ProtocolVersion)
	}
	if plugin.Protocol(parts[4]) != plugin.ProtocolGRPC {
		return fmt.Errorf("connector offers protocol %q; only grpc is supported", parts[4])
	}
	var addr net.Addr
	switch parts[2] {
	case "unix":
		addr = &net.UnixAddr{Name: parts[3], Net: "unix"}
	case "tcp":
		addr, err = net.ResolveTCPAddr("tcp", parts[3])
		if err != nil {
			return fmt.Errorf("resolving connector address: %w", err)
		}
	default:
		return fmt.Errorf("connector listens on unsupported network %q", parts[2])
	}
	out := &lineLogger{logger: logger, stream: "stdout"}
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginrpc.Handshake,
		Plugins:          plugins,
		Reattach:         &plugin.ReattachConfig{Protocol: plugin.ProtocolGRPC, ProtocolVersion: version, Addr: addr, Pid: p.cmd.Process.Pid},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		SyncStdout:       out,
		SyncStderr:       &lineLogger{logger: logger, stream: "stderr"},
		GRPCDialOptions:  pluginrpc.DialOptions(),
		Logger:           hclog.NewNullLogger(),
	})
	rpcClient, err := p.client.Client()
	if err != nil {
		return fmt.Errorf("connecting to connector: %w", err)
	}
	raw, err := rpcClient.Dispense(pluginrpc.PluginName)
	if err != nil {
		return fmt.Errorf("dispensing connector: %w", err)
	}
	clients, ok := raw.(*pluginrpc.Clients)
	if !ok {
		return fmt.Errorf("dispensing connector: unexpected client %T", raw)
	}
	p.rpc = clients.Connector
	p.protocol = version
	if clients.Stream != nil {
		p.mux = pluginrpc.NewMux(clients.Stream)
	}
	resp, err := p.rpc.Describe(ctx, &pluginrpc.DescribeRequest{})
	if err != nil {
		return fmt.Errorf("describing connector: %w", err)
	}
	var m sdk.Manifest
	if err := json.Unmarshal(resp.GetManifestJson(), &m); err != nil {
		return fmt.Errorf("decoding connector manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return err
	}
	p.manifest = &m
	p.useDataPlane(ctx, resp.GetDataPlane(), logger)
	return nil
}

// useDataPlane moves calls onto the data plane when the connector serves one
// at the socket the hub named; otherwise they stay on the gRPC stream.
func (p *Process) useDataPlane(ctx context.Context, served string, logger *slog.Logger) {
	if p.protocol < 3 || served == "" || p.dataDir == "" {
		return
	}
	if served != filepath.Join(p.dataDir, "calls.sock") {
		logger.Warn("connector calls will travel over gRPC: the connector serves its data plane at a path the hub did not name", "path", served)
		return
	}
	dc := pluginrpc.NewDataClient(served)
	if err := dc.Connect(ctx); err != nil {
		logger.Warn("connector calls will travel over gRPC: the data plane did not answer", "err", err)
		dc.Close()
		return
	}
	p.data = dc
}

// PID returns the connector's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Protocol returns the protocol version the connector negotiated.
func (p *Process) Protocol() int { return p.protocol }

// DataPlane reports whether calls travel over the data plane's framed Unix
// socket rather than gRPC.
func (p *Process) DataPlane() bool { return p.data != nil }

// Manifest returns the manifest the connector described itself with.
func (p *Process) Manifest() *sdk.Manifest { return p.manifest }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr returns how the process ended, once Done is closed.
func (p *Process) ExitErr() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Invoke runs one call in the connector. Its error is always an *sdk.Error: the
// connector's own classification, or one the hub makes when the process fails.
//
// Under protocol version 2 the call travels on the process's call stream: the
// connector's context has ctx's deadline, and ends when ctx does.
//
// The call runs in a client span (a child of ctx's span) whose W3C trace
// context travels in the request, under either protocol version, so the
// connector's spans join the caller's trace.
func (p *Process) Invoke(ctx context.Context, call *sdk.Call) ([]byte, error) {
	ctx, span := otel.GetTracerProvider().Tracer(tracerScope).Start(ctx, invokeSpanName, clientSpan...)
	defer span.End()
	if span.IsRecording() {
		system := rpcSystem
		if p.data != nil {
			system = rpcSystemDataPlane
		}
		span.SetAttributes(system, rpcService, rpcMethod, telemetry.AttrOperation.String(string(call.Operation)),
			attribute.Int("hub.connector.protocol", p.protocol))
	}
	req := &pluginrpc.InvokeRequest{
		Operation:      string(call.Operation),
		Account:        accountToProto(call.Account),
		Payload:        call.Payload,
		IdempotencyKey: call.IdempotencyKey,
		RequestId:      call.RequestID,
		Trace:          telemetry.Inject(ctx),
	}
	out, err := p.invoke(ctx, req)
	if err != nil && span.IsRecording() {
		se := sdk.AsError(err)
		span.SetAttributes(telemetry.AttrErrorCode.String(string(se.Code)), telemetry.AttrErrorSrc.String(string(se.Source)))
		span.SetStatus(otelcodes.Error, string(se.Code))
	}
	return out, err
}

// Span options and attributes of a connector call (RPC conventions), made once:
// an option built per call costs allocations even when tracing is off.
var (
	clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

	rpcSystem          = attribute.String("rpc.system", "grpc")
	rpcSystemDataPlane = attribute.String("rpc.system", "hub.dataplane")
	rpcService         = attribute.String("rpc.service", "hub.connector.v1.Connector")
	rpcMethod          = attribute.String("rpc.method", "Invoke")
)

const (
	tracerScope    = "github.com/carrierhub/hub/sdk/host"
	invokeSpanName = "hub.connector.v1.Connector/Invoke"
)

func (p *Process) invoke(ctx context.Context, req *pluginrpc.InvokeRequest) ([]byte, error) {
	if p.data == nil { // the data plane measures the call as it encodes it
		if n := proto.Size(req); n > pluginrpc.MaxMessageSize {
			return nil, tooLarge(&pluginrpc.TooLargeError{Size: n})
		}
	}
	p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	var resp *pluginrpc.InvokeResponse
	var err error
	switch {
	case p.data != nil:
		resp, err = p.data.Invoke(ctx, req)
	case p.mux != nil:
		resp, err = p.mux.Invoke(ctx, req)
	default:
		resp, err = p.rpc.Invoke(ctx, req)
	}
	if err != nil {
		if tl, ok := errors.AsType[*pluginrpc.TooLargeError](err); ok {
			return nil, tooLarge(tl)
		}
		return nil, p.transportError(ctx, err)
	}
	if e := resp.GetError(); e != nil {
		return nil, errorFromProto(e)
	}
	return resp.GetPayload(), nil
}

// tooLarge is the refusal of a call the protocol cannot carry.
func tooLarge(e *pluginrpc.TooLargeError) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceHub, NotSent: true, Message: e.Error()}
}

// CheckHealth runs the connector's own health check for account (nil for the
// connector itself). supported is false when the connector has none.
func (p *Process) CheckHealth(ctx context.Context, account *sdk.Account) (supported bool, err error) {
	req := &pluginrpc.CheckHealthRequest{}
	if account != nil {
		req.Account = accountToProto(account)
	}
	resp, err := p.rpc.CheckHealth(ctx, req)
	if err != nil {
		return false, p.transportError(ctx, err)
	}
	if e := resp.GetError(); e != nil {
		return resp.GetSupported(), errorFromProto(e)
	}
	return resp.GetSupported(), nil
}

// Exchanges returns an account's latest provider exchanges (sdk/exchange's
// records as JSON, newest first), redacted by the connector. A connector built
// before the protocol had them answers ErrNoExchanges.
func (p *Process) Exchanges(ctx context.Context, accountID string, limit int) (json.RawMessage, error) {
	resp, err := p.rpc.Exchanges(ctx, &pluginrpc.ExchangesRequest{AccountId: accountID, Limit: int32(min(limit, 1<<20))})
	if status.Code(err) == codes.Unimplemented {
		return nil, ErrNoExchanges
	}
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	return resp.GetRecordsJson(), nil
}

// ErrNoExchanges is the answer of a connector that keeps no provider exchanges.
var ErrNoExchanges = errors.New("this connector keeps no record of its provider exchanges (built with an older SDK)")

// Ping checks the process answers on its connection.
func (p *Process) Ping(ctx context.Context) error {
	_, err := p.rpc.Describe(ctx, &pluginrpc.DescribeRequest{})
	if err != nil {
		return p.transportError(ctx, err)
	}
	return nil
}

// exitWait bounds how long a call whose connection broke waits to learn
// whether the process exited, which is usually a matter of milliseconds.
const exitWait = time.Second

// transportError classifies a failed RPC. A call may have reached the carrier
// before the process failed, so none of these is marked NotSent. A process that
// died is the connector's failure; a broken connection to a live process, or
// any other failure of the protocol, is the hub's.
func (p *Process) transportError(ctx context.Context, err error) *sdk.Error {
	// The data plane's read deadline may see the call's deadline pass a
	// moment before ctx does.
	if ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceHub, Message: "the connector did not answer before the deadline"}
	}
	if ctx.Err() == context.Canceled {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceHub, Message: "the call was cancelled"}
	}
	var se *pluginrpc.StreamError
	broken := errors.As(err, &se)
	if broken || status.Code(err) == codes.Unavailable || status.Code(err) == codes.Canceled {
		// The connection broke, most likely because the process died: wait
		// until it is reaped, so that every call it took down says so.
		wait := time.NewTimer(exitWait)
		defer wait.Stop()
		select {
		case <-p.done:
			return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: fmt.Sprintf("connector process exited during the call (%v)", p.waitErr)}
		case <-wait.C:
		case <-ctx.Done():
		}
	}
	if broken {
		return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub, Message: "connector call stream broke: " + status.Convert(se.Err).Message()}
	}
	return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub, Message: "connector connection failed: " + status.Convert(err).Message()}
}

// InFlight is how many calls are sent to the connector and not yet answered.
func (p *Process) InFlight() int { return int(p.inFlight.Load()) }

// Stop lets the calls in flight finish, even one still on its way to the
// connector, then asks the connector to exit (SIGTERM, on which it drains
// what it still runs), and kills it when ctx ends first.
func (p *Process) Stop(ctx context.Context) {
	drain := time.NewTicker(5 * time.Millisecond)
	defer drain.Stop()
	for p.inFlight.Load() > 0 {
		select {
		case <-drain.C:
		case <-p.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || isDone(p.done) {
			break
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.release()
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Kill ends the process at once and waits for it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.release()
}

// release frees go-plugin's client in the background: after a reattached
// process exits, go-plugin notices only at its next one-second poll.
func (p *Process) release() {
	p.stopOnce.Do(func() {
		if p.data != nil {
			p.data.Close()
		}
		if p.mux != nil {
			p.mux.Close()
		}
		if p.client != nil {
			go p.client.Kill()
		}
	})
}

// Describe runs a connector executable just long enough to read its manifest,
// without the plugin handshake.
func Describe(ctx context.Context, path string, args ...string) (*sdk.Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = environment([]string{pluginrpc.EnvDescribe + "=1"})
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	// The manifest is the last line: anything printed before it is noise.
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var m sdk.Manifest
	if err := json.Unmarshal(lines[len(lines)-1], &m); err != nil {
		return nil, fmt.Errorf("describing %s: decoding manifest: %w", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("describing %s: %w", path, err)
	}
	return &m, nil
}

func accountToProto(a *sdk.Account) *pluginrpc.Account {
	if a == nil {
		return nil
	}
	return &pluginrpc.Account{
		Id: a.ID, TenantId: a.TenantID, Environment: a.Environment, BaseUrl: a.BaseURL,
		Credentials: a.Credentials, Settings: a.Settings,
	}
}

func errorFromProto(e *pluginrpc.Error) *sdk.Error {
	return &sdk.Error{
		Code: sdk.Code(e.GetCode()), Source: sdk.Source(e.GetSource()), Message: e.GetMessage(),
		Field: e.GetField(), RetryAfter: time.Duration(e.GetRetryAfterMs()) * time.Millisecond,
		CarrierCode: e.GetCarrierCode(), CarrierMessage: e.GetCarrierMessage(), NotSent: e.GetNotSent(),
	}
}

var _ io.Writer = (*lineLogger)(nil)
