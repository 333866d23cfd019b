package host_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk/host"
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
}
