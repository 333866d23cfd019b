package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/internal/pluginrpc"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// connectorMains are the extra connector executables this test binary can
// become, by first argument.
var connectorMains = map[string]func(){
	"connector-process-v1sdk":    serveAsOlderSDK,
	"connector-process-deadline": func() { sdk.Serve(&deadlineConnector{sdktest.New("test_deadline")}) },
	"pingpong-echo":              pingPongEcho,
	"connector-process-nodataplane": func() {
		os.Unsetenv(pluginrpc.EnvDataSocket)
		sdk.Serve(sdktest.New("test_nodataplane"))
	},
}

// deadlineConnector answers Track with its context's deadline in Unix
// nanoseconds ("none" without one) as the tracking number.
type deadlineConnector struct{ *sdktest.Connector }

func (c *deadlineConnector) Track(ctx context.Context, _ *sdk.Request[model.TrackRequest]) (*model.TrackResponse, error) {
	n := "none"
	if dl, ok := ctx.Deadline(); ok {
		n = strconv.FormatInt(dl.UnixNano(), 10)
	}
	return &model.TrackResponse{Results: []model.Tracking{{TrackingNumber: n, Status: model.StatusInTransit}}}, nil
}

// serveAsOlderSDK serves the sdktest connector the way an SDK from before
// protocol version 2 did: go-plugin offering only version 1, the Connector
// service alone, on the hub's handshake descriptor.
func serveAsOlderSDK() {
	d, err := sdk.NewDispatcher(sdktest.New("test_v1sdk"))
	if err != nil {
		panic(err)
	}
	manifest, _ := json.Marshal(d.Manifest())
	if os.Getenv(pluginrpc.EnvHandshakeFD) == "3" {
		os.Stdout = os.NewFile(3, "handshake")
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: pluginrpc.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			1: {pluginrpc.PluginName: &pluginrpc.GRPCPlugin{Impl: &olderServer{d: d, manifest: manifest}}},
		},
		GRPCServer: plugin.DefaultGRPCServer,
		Logger:     hclog.NewNullLogger(),
	})
	os.Exit(0)
}

// olderServer is protocol version 1 as an older SDK served it.
type olderServer struct {
	pluginrpc.UnimplementedConnectorServer
	d        *sdk.Dispatcher
	manifest []byte
}

func (s *olderServer) Describe(context.Context, *pluginrpc.DescribeRequest) (*pluginrpc.DescribeResponse, error) {
	return &pluginrpc.DescribeResponse{ManifestJson: s.manifest, SdkVersion: "0.0.1"}, nil
}

func (s *olderServer) Invoke(ctx context.Context, req *pluginrpc.InvokeRequest) (*pluginrpc.InvokeResponse, error) {
	a := req.GetAccount()
	out, err := s.d.Invoke(ctx, &sdk.Call{
		Operation: sdk.Operation(req.GetOperation()), Payload: req.GetPayload(),
		Account: &sdk.Account{ID: a.GetId(), Credentials: a.GetCredentials(), Settings: a.GetSettings()},
	})
	if err != nil {
		e := sdk.AsError(err)
		return &pluginrpc.InvokeResponse{Error: &pluginrpc.Error{
			Code: string(e.Code), Source: string(e.Source), Message: e.Message, RetryAfterMs: e.RetryAfter.Milliseconds(),
			CarrierCode: e.CarrierCode, CarrierMessage: e.CarrierMessage, NotSent: e.NotSent,
		}}, nil
	}
	return &pluginrpc.InvokeResponse{Payload: out}, nil
}

func TestOlderSDKConnectorNegotiatesProtocol1(t *testing.T) {
	// The hub offers every version; the connector knows only version 1.
	p := startArgs(t, 1, "connector-process-v1sdk", "x")
	resp, err := track(context.Background(), p, "ok1")
	if err != nil || resp.Results[0].TrackingNumber != "ok1" {
		t.Fatalf("track: %+v, %v", resp, err)
	}
	_, err = track(context.Background(), p, "error:rate_limited")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeRateLimited || e.RetryAfter != 7*time.Second || e.CarrierCode != "E42" {
		t.Fatalf("error crossed as %v", err)
	}
}

func TestProtocols2And3CarryTheAbsoluteDeadline(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			p := startArgs(t, version, "connector-process-deadline", "x")
			want := time.Now().Add(time.Hour)
			ctx, cancel := context.WithDeadline(context.Background(), want)
			defer cancel()
			resp, err := track(ctx, p, "ok")
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Results[0].TrackingNumber; got != strconv.FormatInt(want.UnixNano(), 10) {
				t.Fatalf("connector's deadline %s, hub's %d", got, want.UnixNano())
			}
			resp, err = track(context.Background(), p, "ok")
			if err != nil || resp.Results[0].TrackingNumber != "none" {
				t.Fatalf("call without a deadline: %+v, %v", resp, err)
			}
		})
	}
}

// A connector that negotiates version 3 but serves no data plane (one that
// could not open its socket) still runs, its calls on the gRPC stream.
func TestProtocol3FallsBackToTheStream(t *testing.T) {
	p := startArgs(t, 3, "connector-process-nodataplane", "x")
	if p.DataPlane() {
		t.Fatal("data plane in use though the connector serves none")
	}
	resp, err := track(context.Background(), p, "ok")
	if err != nil || len(resp.Results) != 1 {
		t.Fatalf("call over the stream: %+v, %v", resp, err)
	}
}

func TestCancellationReachesTheConnector(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := track(ctx, p, "sleep:1h"); done <- err }()
		waitInFlight(t, p, 1)
		cancel()
		var e *sdk.Error
		if err := <-done; !errors.As(err, &e) || e.Code != sdk.CodeTimeout || e.Source != sdk.SourceHub {
			t.Fatalf("cancelled call returned %v", err)
		}
		// The connector drains in-flight calls on SIGTERM for up to 10s; it
		// exits within the 5s given only if the cancellation ended the call.
		stop, cancelStop := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelStop()
		p.Stop(stop)
		if err := p.ExitErr(); err != nil {
			t.Fatalf("connector still ran the cancelled call: %v", err)
		}
	})
}

func TestCrashFailsEveryPendingCall(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		errs := make(chan error, 8)
		for range 8 {
			go func() { _, err := track(context.Background(), p, "sleep:1h"); errs <- err }()
		}
		waitInFlight(t, p, 8)
		if _, err := track(context.Background(), p, "crash"); err == nil {
			t.Fatal("crashing call succeeded")
		}
		for range 8 {
			var e *sdk.Error
			if err := <-errs; !errors.As(err, &e) || e.Code != sdk.CodeInternal || e.Source != sdk.SourceConnector || !strings.Contains(e.Message, "exited") {
				t.Fatalf("pending call got %v, want an internal error saying the connector exited", err)
			}
		}
		// Later calls fail the same way, without hanging.
		var e *sdk.Error
		if _, err := track(context.Background(), p, "ok"); !errors.As(err, &e) || e.Code != sdk.CodeInternal {
			t.Fatalf("call after the crash got %v", err)
		}
	})
}

func TestOversizedCallIsRefusedBeforeSending(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			p := start(t, version)
			huge := make([]byte, pluginrpc.MaxMessageSize+1)
			_, err := p.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: account, Payload: huge})
			var e *sdk.Error
			if !errors.As(err, &e) || e.Code != sdk.CodeInvalidRequest || e.Source != sdk.SourceHub || !e.NotSent {
				t.Fatalf("oversized call got %v", err)
			}
			// The stream or connection other calls share is intact.
			if _, err := track(context.Background(), p, "ok"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
