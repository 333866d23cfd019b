//go:build !linux

package main

import "os/exec"

// dieWithTest has no portable equivalent outside Linux; t.Cleanup still stops
// the hub when the test ends normally.
func dieWithTest(*exec.Cmd) {}
