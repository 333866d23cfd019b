package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/host"
	"github.com/carrierhub/hub/sdk/internal/pluginrpc"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// TestMain doubles the test binary as a connector executable: started as
// "<test binary> connector-process ID" it serves the sdktest connector.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "connector-process" {
		fmt.Println("noise printed before Serve must not break the handshake")
		sdk.Serve(sdktest.New(os.Args[2]))
	}
	if len(os.Args) == 3 && os.Args[1] == "connector-process-quiet" {
		sdk.Serve(sdktest.New(os.Args[2]))
	}
	if len(os.Args) == 3 && connectorMains[os.Args[1]] != nil {
		connectorMains[os.Args[1]]()
	}
	if len(os.Args) == 2 && os.Args[1] == "fake-hub" {
		fakeHub()
	}
	os.Exit(m.Run())
}

// protocols are the protocol versions every behaviour test runs under.
var protocols = []int{1, 2, 3}

// start runs the sdktest connector, offering it protocol versions up to
// version, and checks it negotiated that version.
func start(t testing.TB, version int) *host.Process {
	t.Helper()
	return startArgs(t, version, "connector-process", "test_echo")
}

func startArgs(t testing.TB, version int, args ...string) *host.Process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := host.Start(context.Background(), host.Config{Path: exe, Args: args, MaxProtocol: version})
	if err != nil {
		t.Fatalf("starting connector: %v", err)
	}
	if p.Protocol() != version {
		p.Kill()
		t.Fatalf("connector negotiated protocol %d, want %d", p.Protocol(), version)
	}
	if want := version >= 3 && args[0] != "connector-process-nodataplane"; p.DataPlane() != want {
		p.Kill()
		t.Fatalf("protocol %d: data plane in use %v, want %v", version, p.DataPlane(), want)
	}
	t.Cleanup(func() {
		// A graceful stop lets a connector write its EnvCPUProfile profile.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Stop(ctx)
	})
	return p
}

// forEachProtocol runs test once per protocol version, in parallel subtests.
func forEachProtocol(t *testing.T, test func(t *testing.T, version int)) {
	for _, v := range protocols {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			t.Parallel()
			test(t, v)
		})
	}
}

var account = &sdk.Account{ID: "acc_1", TenantID: "ten_1", Environment: "sandbox", Credentials: map[string]string{"api_key": "k"}}

func track(ctx context.Context, p *host.Process, numbers ...string) (*model.TrackResponse, error) {
	body, _ := json.Marshal(model.TrackRequest{TrackingNumbers: numbers})
	out, err := p.Invoke(ctx, &sdk.Call{Operation: sdk.OpTrack, Account: account, Payload: body})
	if err != nil {
		return nil, err
	}
	var resp model.TrackResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func TestInvokeRoundTrip(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		if p.Manifest().ID != "test_echo" {
			t.Fatalf("manifest id = %q", p.Manifest().ID)
		}
		resp, err := track(context.Background(), p, "ok1", "print", "ok2")
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 3 || resp.Results[2].TrackingNumber != "ok2" || resp.Results[0].Status != model.StatusInTransit {
			t.Fatalf("unexpected response %+v", resp)
		}
	})
}

func TestErrorsCrossTheBoundaryIntact(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		_, err := track(context.Background(), p, "error:rate_limited")
		var e *sdk.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v is not *sdk.Error", err, err)
		}
		want := sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceCarrier, Message: "carrier says no", RetryAfter: 7 * time.Second, CarrierCode: "E42", CarrierMessage: "carrier says no"}
		if *e != want {
			t.Fatalf("got %+v, want %+v", *e, want)
		}

		_, err = track(context.Background(), p, "panic")
		if !errors.As(err, &e) || e.Code != sdk.CodeInternal || !strings.Contains(e.Message, "panicked") {
			t.Fatalf("panic surfaced as %v", err)
		}
		// The process survived the panic.
		if _, err := track(context.Background(), p, "ok"); err != nil {
			t.Fatalf("call after panic: %v", err)
		}

		_, err = p.Invoke(context.Background(), &sdk.Call{Operation: "fly_to_moon", Account: account, Payload: []byte(`{}`)})
		if !errors.As(err, &e) || e.Code != sdk.CodeNotFound {
			t.Fatalf("unknown operation surfaced as %v", err)
		}
		_, err = p.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: account, Payload: []byte(`{"tracking_numbers":`)})
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalidRequest {
			t.Fatalf("malformed payload surfaced as %v", err)
		}
		_, err = p.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: &sdk.Account{}, Payload: []byte(`{"tracking_numbers":["ok"]}`)})
		if !errors.As(err, &e) || e.Code != sdk.CodeAuthFailed || strings.Contains(e.Message, "k\"") {
			t.Fatalf("missing credential surfaced as %v", err)
		}
	})
}

func TestDeadlineReachesTheConnector(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := track(ctx, p, "sleep:10s")
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeTimeout {
			t.Fatalf("got %v, want a timeout", err)
		}
		if _, err := track(context.Background(), p, "ok"); err != nil {
			t.Fatalf("call after timeout: %v", err)
		}
	})
}

func TestCrashMidCallIsClassified(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		var socket string
		if version >= 3 {
			socket = envOf(t, p.PID(), pluginrpc.EnvDataSocket)
		}
		_, err := track(context.Background(), p, "crash")
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInternal || e.Source != sdk.SourceConnector {
			t.Fatalf("got %v, want an internal error from the connector", err)
		}
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("process still running after crash")
		}
		// A crash removes nothing itself; the hub removes the data plane's
		// directory once the process has exited, before Done.
		if socket != "" {
			if _, err := os.Stat(filepath.Dir(socket)); !os.IsNotExist(err) {
				t.Fatalf("data plane directory left after the crash: %v", err)
			}
		}
	})
}

func TestConcurrentCalls(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := fmt.Sprintf("ok%d", i)
				resp, err := track(context.Background(), p, n, "sleep:20ms")
				if err == nil && resp.Results[0].TrackingNumber != n {
					err = fmt.Errorf("answer for %s went to %s", resp.Results[0].TrackingNumber, n)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

func TestHealthCheck(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		supported, err := p.CheckHealth(context.Background(), account)
		if !supported || err != nil {
			t.Fatalf("healthy account: supported=%v err=%v", supported, err)
		}
		bad := &sdk.Account{Credentials: map[string]string{"api_key": "bad"}}
		_, err = p.CheckHealth(context.Background(), bad)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeAuthFailed || e.CarrierCode != "401" {
			t.Fatalf("bad account: %v", err)
		}
		if err := p.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStopIsGraceful(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, version int) {
		p := start(t, version)
		done := make(chan error, 1)
		go func() { _, err := track(context.Background(), p, "sleep:300ms"); done <- err }()
		waitInFlight(t, p, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Stop(ctx)
		if err := <-done; err != nil {
			t.Fatalf("in-flight call during graceful stop: %v", err)
		}
		if err := p.ExitErr(); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	})
}

func TestDescribeWithoutHandshake(t *testing.T) {
	exe, _ := os.Executable()
	m, err := host.Describe(context.Background(), exe, "connector-process", "test_described")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "test_described" || len(m.Operations) != 2 {
		t.Fatalf("manifest %+v", m)
	}
}

func TestStartFailsClearlyForANonConnector(t *testing.T) {
	_, err := host.Start(context.Background(), host.Config{Path: "/bin/echo", Args: []string{"hello"}, StartTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exited before the handshake") {
		t.Fatalf("got %v", err)
	}
}

// waitInFlight waits until n calls are sent to p's connector and unanswered.
func waitInFlight(t *testing.T, p *host.Process, n int) {
	t.Helper()
	for p.InFlight() < n {
		select {
		case <-p.Done():
			t.Fatalf("connector exited with %d of %d calls in flight", p.InFlight(), n)
		case <-time.After(time.Millisecond):
		}
	}
}
