// Package egresstest admits loopback through the egress guard for tests
// whose providers are httptest servers and simulators on 127.0.0.1, as a
// laptop trying the hub would with egress.allow. Tests that check the guard
// itself narrow it again with t.Setenv; CheckGuard does so for an HTTP client.
package egresstest

import (
	"os"
	"testing"

	"github.com/carrierhub/hub/sdk/transport/egress"
)

// Loopback is the allow-list that admits IPv4 and IPv6 loopback.
const Loopback = "127.0.0.0/8,::1/128"

// Main runs a package's tests with loopback admitted:
//
//	func TestMain(m *testing.M) { egresstest.Main(m) }
func Main(m *testing.M) {
	if err := os.Setenv(egress.EnvVar, Loopback); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
