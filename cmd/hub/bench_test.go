package main

import (
	"context"
	"os"
	"testing"

	"github.com/carrierhub/hub/sdk/host"
)

// BenchmarkBuiltinColdStart measures starting a built-in connector the way the
// hub does: re-executing a binary that links the whole hub (this test binary
// stands in for it; see TestMain) with the hidden connector-process command,
// through the handshake and the first Describe.
func BenchmarkBuiltinColdStart(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := host.Start(context.Background(), host.Config{Path: exe, Args: []string{"connector-process", "delhivery_express"}})
		if err != nil {
			b.Fatal(err)
		}
		p.Kill()
	}
}
