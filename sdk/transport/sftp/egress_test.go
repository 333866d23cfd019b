package sftp

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
)

// TestMain admits loopback through the egress guard, because these tests talk
// to sshd on 127.0.0.1; TestEgressGuard checks the default refuses it.
func TestMain(m *testing.M) { egresstest.Main(m) }

// TestEgressGuard: Dial's TCP connection goes through the guard, with the
// Config's policy or, without one, the process's.
func TestEgressGuard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := Config{Host: "127.0.0.1", Port: port, User: "u", Password: "secret-pw", InsecureIgnoreHostKeyForTestsOnly: true}
	refused := func(what string, err error) {
		t.Helper()
		e := sdk.AsError(err)
		if e == nil || e.Code != sdk.CodeInvalidRequest || !e.NotSent || !strings.Contains(e.Message, "egress guard") || !strings.Contains(e.Message, "loopback") {
			t.Fatalf("%s: %+v, want the guard's invalid_request", what, e)
		}
	}

	strict := cfg
	strict.Egress = egress.MustParse()
	_, err = Dial(context.Background(), strict)
	refused("a policy without loopback", err)

	t.Setenv(egress.EnvVar, "")
	_, err = Dial(context.Background(), cfg)
	refused("the default policy", err)
	if accepted.Load() != 0 {
		t.Fatalf("the guard let %d connections through", accepted.Load())
	}

	allowed := cfg
	allowed.Egress = egress.MustParse("127.0.0.1")
	_, err = Dial(context.Background(), allowed) // connects; the handshake then fails
	if e := sdk.AsError(err); e == nil || strings.Contains(e.Message, "egress guard") {
		t.Fatalf("an allowed address: %+v", e)
	}
}
