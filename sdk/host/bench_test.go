package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/host"
	"github.com/carrierhub/hub/sdk/internal/pluginrpc"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// shipmentPayload returns a create_shipment request of about size bytes; the
// test connector echoes the description, so the response is as large.
func shipmentPayload(size int) []byte {
	req := model.ShipmentRequest{
		Reference: "ok-bench",
		ShipFrom:  model.Address{Name: "Warehouse", City: "Pune", PostalCode: "411001", CountryCode: "IN"},
		ShipTo:    model.Address{Name: "Customer", City: "Delhi", PostalCode: "110001", CountryCode: "IN"},
		Parcels:   []model.Parcel{{Weight: model.Weight{Value: 1.2, Unit: model.Kilogram}}},
	}
	base, _ := json.Marshal(req)
	req.Parcels[0].Description = strings.Repeat("x", max(0, size-len(base)-20))
	out, _ := json.Marshal(req)
	return out
}

func benchRoundTrip(b *testing.B, version, size int, parallel bool) {
	p := start(b, version)
	call := &sdk.Call{Operation: sdk.OpCreateShipment, Account: account, Payload: shipmentPayload(size)}
	ctx := context.Background()
	b.SetBytes(int64(len(call.Payload)))
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			if _, err := p.Invoke(ctx, call); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Invoke(ctx, call); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRoundTrip measures hub → connector process → hub for one canonical
// call, through this package (go-plugin's gRPC connection, reattached), under
// protocol version 1 (a unary call each) and version 2 (calls multiplexed on a
// stream) side by side. BenchmarkDispatchInProcess is the floor: the
// connector's own work on the same payload.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, mode := range []string{"sequential", "parallel"} {
			for _, v := range protocols {
				b.Run(fmt.Sprintf("%s/%s/v%d", sizeName(size), mode, v), func(b *testing.B) {
					benchRoundTrip(b, v, size, mode == "parallel")
				})
			}
		}
	}
}

// BenchmarkColdStart measures starting a connector until it has answered its
// first call: this package's start beside stock go-plugin's client (Cmd-based,
// no AutoMTLS), the same connector binary in both.
func BenchmarkColdStart(b *testing.B) {
	exe, _ := os.Executable()
	payload, _ := json.Marshal(model.TrackRequest{TrackingNumbers: []string{"ok"}})
	call := &sdk.Call{Operation: sdk.OpTrack, Account: account, Payload: payload}
	b.Run("host", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := host.Start(context.Background(), host.Config{Path: exe, Args: []string{"connector-process-quiet", "cold"}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Invoke(context.Background(), call); err != nil {
				b.Fatal(err)
			}
			p.Kill()
		}
	})
	b.Run("stock-go-plugin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := plugin.NewClient(&plugin.ClientConfig{
				HandshakeConfig:  pluginrpc.Handshake,
				VersionedPlugins: pluginrpc.VersionedPlugins(nil),
				Cmd:              exec.Command(exe, "connector-process-quiet", "cold"),
				AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
				Logger:           hclog.NewNullLogger(),
			})
			rpc, err := c.Client()
			if err != nil {
				b.Fatal(err)
			}
			raw, err := rpc.Dispense(pluginrpc.PluginName)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := raw.(*pluginrpc.Clients).Connector.Invoke(context.Background(), &pluginrpc.InvokeRequest{Operation: "track", Payload: payload, Account: &pluginrpc.Account{Credentials: map[string]string{"api_key": "k"}}}); err != nil {
				b.Fatal(err)
			}
			c.Kill()
		}
	})
}

// BenchmarkDispatchInProcess is the floor under BenchmarkRoundTrip: the same
// call through the connector's Dispatcher in this process, with no transport,
// so what remains of a round trip is the protocol's own cost.
func BenchmarkDispatchInProcess(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(sizeName(size), func(b *testing.B) {
			d, err := sdk.NewDispatcher(sdktest.New("test_echo"))
			if err != nil {
				b.Fatal(err)
			}
			call := &sdk.Call{Operation: sdk.OpCreateShipment, Account: account, Payload: shipmentPayload(size)}
			b.SetBytes(int64(len(call.Payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Invoke(context.Background(), call); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnixPingPong is the floor of BenchmarkRoundTrip on the same
// machine: 1 KB there and back between this process and a child over a Unix
// socket, one goroutine at each end and nothing else, so what a round trip
// costs beyond it is the protocol's and the connector's own.
func BenchmarkUnixPingPong(b *testing.B) {
	path := filepath.Join(b.TempDir(), "pingpong.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	exe, _ := os.Executable()
	child := exec.Command(exe, "pingpong-echo", path)
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer child.Wait()
	conn, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := conn.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// pingPongEcho is BenchmarkUnixPingPong's child: it echoes 1 KB messages on
// the socket at os.Args[2] until the benchmark hangs up.
func pingPongEcho() {
	conn, err := net.Dial("unix", os.Args[2])
	if err != nil {
		os.Exit(1)
	}
	buf := make([]byte, 1<<10)
	for {
		if _, err := io.ReadFull(conn, buf); err != nil {
			os.Exit(0)
		}
		if _, err := conn.Write(buf); err != nil {
			os.Exit(0)
		}
	}
}

func sizeName(size int) string { return strconv.Itoa(size>>10) + "KB" }
