package nic

import (
	"testing"

	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
)

// TestMain admits loopback through the egress guard, because these tests talk
// to simulators on 127.0.0.1 (the default refuses them: see egress's and
// rest's tests).
func TestMain(m *testing.M) { egresstest.Main(m) }
