package pluginrpc

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the newest connector protocol this SDK speaks. go-plugin
// negotiates it through VersionedPlugins: a hub offers every version it knows and
// the connector picks the newest it shares.
const ProtocolVersion = 1

// PluginName is the key of the connector service in the plugin set.
const PluginName = "connector"

// Handshake guards against running a connector binary by hand or a foreign plugin.
// It is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
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
)

// GRPCPlugin adapts the connector service to go-plugin.
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
	return NewConnectorClient(c), nil
}

// VersionedPlugins returns the plugin sets by protocol version; server is nil on
// the hub side.
func VersionedPlugins(server ConnectorServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {PluginName: &GRPCPlugin{Impl: server}},
	}
}

// Window sizes for both ends: canonical payloads reach hundreds of kilobytes
// (label PDFs), and gRPC's 64 KiB default costs a flow-control round trip per
// window on a loopback socket.
const windowSize = 4 << 20

// ServerOptions are the gRPC server options a connector process uses.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(windowSize),
		grpc.InitialConnWindowSize(windowSize),
		grpc.MaxRecvMsgSize(64 << 20),
		grpc.MaxSendMsgSize(64 << 20),
	}
}

// DialOptions are the gRPC dial options the hub uses toward a connector.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(windowSize),
	}
}
