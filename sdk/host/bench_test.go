package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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

func sizeName(size int) string { return strconv.Itoa(size>>10) + "KB" }
