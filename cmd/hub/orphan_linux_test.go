package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes a hub started by a test receive SIGKILL if the test binary
// itself dies (a `go test -timeout` panic skips t.Cleanup), so no `hub serve`
// outlives its test.
func dieWithTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
