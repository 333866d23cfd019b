package pluginrpc

import (
	"context"
	"runtime"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the newest connector protocol this SDK speaks. go-plugin
// negotiates it through VersionedPlugins: a hub offers every version it knows and
// the connector picks the newest it shares. Version 1 calls Invoke once per
// call; version 2 multiplexes calls over a CallStream stream; version 3 carries
// them over the framed Unix socket of dataplane.go, and keeps the stream for a
// connector that serves no data plane.
const ProtocolVersion = 3

// PluginName is the key of the connector service in the plugin set.
const PluginName = "connector"

// Handshake guards against running a connector binary by hand or a foreign plugin.
// It is not a security measure.
// Its ProtocolVersion is the oldest version, go-plugin's default when no
// versions are negotiated.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "HUB_CONNECTOR_PLUGIN",
	MagicCookieValue: "7f3c1e5a9b2d4c6e8a0f1b3d5e7c9a2b",
}

// Environment variables through which the hub hands a connector process its
// private file descriptors.
const (
	// EnvHandshakeFD names the descriptor the go-plugin handshake line is written
	// to, instead of stdout, so nothing a connector prints can corrupt it.
	EnvHandshakeFD = "HUB_CONNECTOR_HANDSHAKE_FD"
	// EnvLifelineFD names the read end of a pipe whose write end only the hub
	// holds. When the hub dies, for whatever reason, the read sees EOF and the
	// connector exits.
	EnvLifelineFD = "HUB_CONNECTOR_LIFELINE_FD"
	// EnvDescribe asks the connector binary to print its manifest as JSON on
	// stdout and exit, which is how a hub learns about third-party connectors
	// without keeping them running.
	EnvDescribe = "HUB_CONNECTOR_DESCRIBE"
	// EnvCPUProfile, a debugging aid, names a file a connector process writes
	// a CPU profile of its whole life to (with ".<pid>" appended, so several
	// processes do not overwrite each other). The profile is written when the
	// process exits on SIGTERM or when the hub goes away; a killed process
	// writes none.
	EnvCPUProfile = "HUB_CONNECTOR_CPUPROFILE"
	// EnvDataSocket names the path, in a directory only the hub's user can
	// enter, where a connector speaking protocol version 3 listens for the
	// data plane; it reports the path back in its DescribeResponse.
	EnvDataSocket = "HUB_CONNECTOR_DATA_SOCKET"
)

// Clients are the hub's clients of one connector process. Stream is nil when
// the process negotiated protocol version 1.
type Clients struct {
	Connector ConnectorClient
	Stream    CallStreamClient
}

// Server is what a connector process serves in protocol version 2.
type Server interface {
	ConnectorServer
	CallStreamServer
}

// GRPCPlugin adapts the connector service of protocol version 1 to go-plugin.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is set in the connector process.
	Impl ConnectorServer
}

// GRPCServer registers the connector service on go-plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterConnectorServer(s, p.Impl)
	return nil
}

// GRPCClient returns the connector service's client on go-plugin's connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Clients{Connector: NewConnectorClient(c)}, nil
}

// GRPCPluginV2 adapts protocol versions 2 and 3, the connector service plus
// the call stream, to go-plugin.
type GRPCPluginV2 struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is set in the connector process.
	Impl Server
}

// GRPCServer registers both services on go-plugin's gRPC server.
func (p *GRPCPluginV2) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterConnectorServer(s, p.Impl)
	RegisterCallStreamServer(s, p.Impl)
	return nil
}

// GRPCClient returns both services' clients on go-plugin's connection.
func (p *GRPCPluginV2) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Clients{Connector: NewConnectorClient(c), Stream: NewCallStreamClient(c)}, nil
}

// VersionedPlugins returns the plugin sets by protocol version; server is nil on
// the hub side.
func VersionedPlugins(server Server) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {PluginName: &GRPCPlugin{Impl: server}},
		2: {PluginName: &GRPCPluginV2{Impl: server}},
		// Version 3 serves the same services; its calls move to the data plane.
		3: {PluginName: &GRPCPluginV2{Impl: server}},
	}
}

// Window sizes for both ends: canonical payloads reach hundreds of kilobytes
// (label PDFs), and gRPC's 64 KiB default costs a flow-control round trip per
// window on a loopback socket.
const windowSize = 4 << 20

// MaxMessageSize bounds one message, request or response, in either
// direction; a call's payload must leave room for its account and framing.
const MaxMessageSize = 64 << 20

// ServerOptions are the gRPC server options a connector process uses.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(windowSize),
		grpc.InitialConnWindowSize(windowSize),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		// Stream workers are long-lived goroutines that run calls: a fresh
		// goroutine per call grows its stack again for every JSON decode,
		// which measured at a tenth of the connector's CPU.
		grpc.NumStreamWorkers(uint32(max(2, runtime.GOMAXPROCS(0)))),
		grpc.SharedWriteBuffer(true),
	}
}

// DialOptions are the gRPC dial options the hub uses toward a connector.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(windowSize),
		grpc.WithSharedWriteBuffer(true),
		// gRPC's client accepts 4 MiB by default. A larger answer would
		// fail its call, and under version 2 break the stream it shares.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	}
}
