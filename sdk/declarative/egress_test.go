package declarative

import (
	"os"
	"testing"

	"github.com/carrierhub/hub/sdk/transport/egress"
)

// TestMain admits loopback through the egress guard, because these tests talk
// to simulators on 127.0.0.1 (the default refuses them: see egress's and
// rest's tests).
func TestMain(m *testing.M) {
	os.Setenv(egress.EnvVar, "127.0.0.0/8,::1")
	os.Exit(m.Run())
}
