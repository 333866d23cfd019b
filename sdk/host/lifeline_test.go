package host_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk/host"
	"github.com/carrierhub/hub/sdk/internal/pluginrpc"
)

// fakeHub starts a connector, prints its pid and waits to be killed.
func fakeHub() {
	exe, _ := os.Executable()
	p, err := host.Start(context.Background(), host.Config{Path: exe, Args: []string{"connector-process", "orphan"}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", p.PID())
	select {}
}

// alive reports whether pid runs; a zombie (exited, not yet reaped by whoever
// adopted it) counts as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestConnectorDiesWithTheHub(t *testing.T) {
	exe, _ := os.Executable()
	hub := exec.Command(exe, "fake-hub")
	out, err := hub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pid ") {
		_ = hub.Process.Kill()
		t.Fatalf("fake hub said %q, %v", line, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if !alive(pid) {
		t.Fatalf("connector %d not running while the hub lives", pid)
	}
	socket := envOf(t, pid, pluginrpc.EnvDataSocket)
	if _, err := os.Stat(socket); err != nil {
		t.Fatalf("connector's data plane socket: %v", err)
	}
	if err := hub.Process.Kill(); err != nil { // SIGKILL: the hub gets no chance to clean up
		t.Fatal(err)
	}
	_ = hub.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("connector %d outlived the SIGKILLed hub by more than 5s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The hub had no chance to remove the data plane's directory: the
	// connector did, on its way out.
	if _, err := os.Stat(filepath.Dir(socket)); !os.IsNotExist(err) {
		t.Fatalf("data plane directory %s left behind: %v", filepath.Dir(socket), err)
	}
}

// envOf returns the variable name of process pid's environment.
func envOf(t *testing.T, pid int, name string) string {
	t.Helper()
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	t.Fatalf("process %d has no %s", pid, name)
	return ""
}
