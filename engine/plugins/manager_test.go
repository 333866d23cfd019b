package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// TestMain lets the test binary stand in for the hub binary: started as
// "connector-process ID" it serves the SDK's test connector.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "connector-process" {
		sdk.Serve(sdktest.New(os.Args[2]))
	}
	os.Exit(m.Run())
}

func newManager(t *testing.T, cfg plugins.Config, ids ...string) *plugins.Manager {
	t.Helper()
	for _, id := range ids {
		cfg.Builtins = append(cfg.Builtins, sdktest.New(id))
	}
	m, err := plugins.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	return m
}

var account = &sdk.Account{ID: "acc", Credentials: map[string]string{"api_key": "k"}}

func track(ctx context.Context, m *plugins.Manager, id string, numbers ...string) error {
	body, _ := json.Marshal(model.TrackRequest{TrackingNumbers: numbers})
	out, err := m.Invoke(ctx, id, &sdk.Call{Operation: sdk.OpTrack, Account: account, Payload: body})
	if err != nil {
		return err
	}
	var resp model.TrackResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return err
	}
	if len(resp.Results) != len(numbers) {
		return fmt.Errorf("got %d results for %d numbers", len(resp.Results), len(numbers))
	}
	return nil
}

func state(t *testing.T, m *plugins.Manager, id string) plugins.Status {
	t.Helper()
	st, ok := m.Status(id)
	if !ok {
		t.Fatalf("no connector %s", id)
	}
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func processGone(pid int) bool { return syscall.Kill(pid, 0) != nil }

func TestStartsOnFirstUse(t *testing.T) {
	m := newManager(t, plugins.Config{}, "alpha", "beta")
	if got := len(m.Connectors()); got != 2 {
		t.Fatalf("%d connectors listed", got)
	}
	if st := state(t, m, "alpha"); st.State != plugins.StateIdle || st.PID != 0 {
		t.Fatalf("before use: %+v", st)
	}
	if err := track(context.Background(), m, "alpha", "ok"); err != nil {
		t.Fatal(err)
	}
	if st := state(t, m, "alpha"); st.State != plugins.StateRunning || st.PID == 0 {
		t.Fatalf("after use: %+v", st)
	}
	if st := state(t, m, "beta"); st.State != plugins.StateIdle {
		t.Fatalf("unused connector started: %+v", st)
	}
}

func TestUnknownConnector(t *testing.T) {
	m := newManager(t, plugins.Config{}, "alpha")
	err := track(context.Background(), m, "nope", "ok")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeNotFound {
		t.Fatalf("got %v", err)
	}
}

func TestKilledMidRequestThenRestarted(t *testing.T) {
	m := newManager(t, plugins.Config{}, "alpha")
	if err := track(context.Background(), m, "alpha", "ok"); err != nil {
		t.Fatal(err)
	}
	pid := state(t, m, "alpha").PID
	errc := make(chan error, 1)
	go func() { errc <- track(context.Background(), m, "alpha", "sleep:5s") }()
	waitFor(t, "the call to be in flight", func() bool { return state(t, m, "alpha").InFlight == 1 })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeInternal || e.Source != sdk.SourceConnector {
		t.Fatalf("in-flight call got %v, want a classified internal error", err)
	}
	if err := track(context.Background(), m, "alpha", "ok"); err != nil {
		t.Fatalf("call after the crash: %v", err)
	}
	st := state(t, m, "alpha")
	if st.PID == pid || st.PID == 0 || st.Restarts != 1 || st.LastError == "" {
		t.Fatalf("after restart: %+v (old pid %d)", st, pid)
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	m := newManager(t, plugins.Config{}, "alpha")
	for i := range 3 {
		err := track(context.Background(), m, "alpha", "crash")
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInternal {
			t.Fatalf("crash %d: %v", i, err)
		}
	}
	if st := state(t, m, "alpha"); st.Restarts != 3 || st.State != plugins.StateCrashed {
		t.Fatalf("after three crashes: %+v", st)
	}
	// A caller whose deadline is shorter than the backoff is told so at once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	err := track(ctx, m, "alpha", "ok")
	var e *sdk.Error
	if !errors.As(err, &e) || (e.Code != sdk.CodeCarrierUnavailable && e.Code != sdk.CodeTimeout) {
		t.Fatalf("during backoff: %v", err)
	}
	if err := track(context.Background(), m, "alpha", "ok"); err != nil {
		t.Fatalf("after backoff: %v", err)
	}
}

func TestCrashLoopGivesUp(t *testing.T) {
	m := newManager(t, plugins.Config{MaxCrashes: 3}, "alpha")
	for i := range 3 {
		if err := track(context.Background(), m, "alpha", "crash"); err == nil {
			t.Fatalf("crash %d: no error", i)
		}
	}
	st := state(t, m, "alpha")
	if st.State != plugins.StateGaveUp || st.Restarts != 3 || !strings.Contains(st.LastError, "exited unexpectedly") {
		t.Fatalf("after three crashes in a row: %+v, want gave_up with the last exit", st)
	}
	err := track(context.Background(), m, "alpha", "ok")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeCarrierUnavailable || !strings.Contains(e.Message, "gave up after 3 consecutive crashes") {
		t.Fatalf("a call after giving up: %v, want carrier_unavailable naming the give-up", err)
	}
	if st := state(t, m, "alpha"); st.Restarts != 3 || st.PID != 0 {
		t.Fatalf("a call after giving up started the process again: %+v", st)
	}
}

func TestIdleProcessesAreReaped(t *testing.T) {
	m := newManager(t, plugins.Config{IdleTimeout: 200 * time.Millisecond}, "alpha")
	if err := track(context.Background(), m, "alpha", "ok"); err != nil {
		t.Fatal(err)
	}
	pid := state(t, m, "alpha").PID
	waitFor(t, "the idle process to stop", func() bool {
		return state(t, m, "alpha").State == plugins.StateIdle && processGone(pid)
	})
	if st := state(t, m, "alpha"); st.Restarts != 0 {
		t.Fatalf("reaping counted as a crash: %+v", st)
	}
	if err := track(context.Background(), m, "alpha", "ok"); err != nil {
		t.Fatalf("call after reaping: %v", err)
	}
}

func TestProcessCap(t *testing.T) {
	m := newManager(t, plugins.Config{MaxProcesses: 1}, "alpha", "beta")
	if err := track(context.Background(), m, "alpha", "ok"); err != nil {
		t.Fatal(err)
	}
	alphaPID := state(t, m, "alpha").PID
	if err := track(context.Background(), m, "beta", "ok"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alpha to be stopped for beta", func() bool { return processGone(alphaPID) })
	if st := state(t, m, "alpha"); st.State != plugins.StateIdle {
		t.Fatalf("alpha after eviction: %+v", st)
	}

	// With beta busy, alpha cannot start.
	errc := make(chan error, 1)
	go func() { errc <- track(context.Background(), m, "beta", "sleep:1s") }()
	waitFor(t, "beta to be busy", func() bool { return state(t, m, "beta").InFlight == 1 })
	err := track(context.Background(), m, "alpha", "ok")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeCarrierUnavailable || !e.NotSent {
		t.Fatalf("over the cap: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentCallsShareOneProcess(t *testing.T) {
	m := newManager(t, plugins.Config{}, "alpha")
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- track(context.Background(), m, "alpha", "ok", "sleep:10ms") }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if st := state(t, m, "alpha"); st.Restarts != 0 || st.State != plugins.StateRunning {
		t.Fatalf("after concurrent calls: %+v", st)
	}
}

func TestCloseStopsEveryProcess(t *testing.T) {
	m, err := plugins.New(context.Background(), plugins.Config{Builtins: []sdk.Connector{sdktest.New("alpha"), sdktest.New("beta")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alpha", "beta"} {
		if err := track(context.Background(), m, id, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	pids := []int{state(t, m, "alpha").PID, state(t, m, "beta").PID}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("process %d survived Close", pid)
		}
	}
	err = track(context.Background(), m, "alpha", "ok")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeCarrierUnavailable {
		t.Fatalf("call after Close: %v", err)
	}
}

func TestHealth(t *testing.T) {
	m := newManager(t, plugins.Config{}, "alpha")
	h, err := m.Health(context.Background(), "alpha", account)
	if err != nil || !h.CheckSupported || h.CheckError != nil || h.Status.State != plugins.StateRunning {
		t.Fatalf("health: %+v, %v", h, err)
	}
	h, err = m.Health(context.Background(), "alpha", &sdk.Account{Credentials: map[string]string{"api_key": "bad"}})
	if err != nil || h.CheckError == nil || h.CheckError.Code != sdk.CodeAuthFailed {
		t.Fatalf("health of a bad account: %+v, %v", h, err)
	}
}

func TestPluginDirectory(t *testing.T) {
	exe, _ := os.Executable()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nexec %q connector-process third_party \"$@\"\n", exe)
	if err := os.WriteFile(filepath.Join(dir, "hub-connector-third-party"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, plugins.Config{PluginDir: dir}, "alpha")
	man, ok := m.Manifest("third_party")
	if !ok || man.ID != "third_party" {
		t.Fatalf("plugin not discovered: %v", m.Connectors())
	}
	if err := track(context.Background(), m, "third_party", "ok"); err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Connectors() {
		if c.Manifest.ID == "third_party" && c.Builtin {
			t.Error("plugin listed as built-in")
		}
	}
}

// BenchmarkInvoke measures one call through the manager (process lookup and
// in-flight accounting on top of sdk/host's round trip).
func BenchmarkInvoke(b *testing.B) {
	m, err := plugins.New(context.Background(), plugins.Config{Builtins: []sdk.Connector{sdktest.New("alpha")}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	body, _ := json.Marshal(model.TrackRequest{TrackingNumbers: []string{"ok"}})
	call := &sdk.Call{Operation: sdk.OpTrack, Account: account, Payload: body}
	if _, err := m.Invoke(context.Background(), "alpha", call); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Invoke(context.Background(), "alpha", call); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
