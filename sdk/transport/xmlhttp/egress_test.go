package xmlhttp

import (
	"context"
	"testing"

	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
)

// TestMain admits loopback through the egress guard, because these tests talk
// to httptest servers on 127.0.0.1; TestEgressGuard checks the default refuses
// them.
func TestMain(m *testing.M) { egresstest.Main(m) }

// TestEgressGuard: a Client without an HTTP client of its own dials through
// the guard, so by default loopback is refused before anything is sent.
func TestEgressGuard(t *testing.T) {
	c := &Client{Provider: "Tally"}
	egresstest.CheckGuard(t, "text/xml", "<ENVELOPE><STATUS>1</STATUS></ENVELOPE>", func(url string) error {
		return c.Post(context.Background(), url, "<ENVELOPE/>", nil)
	})
}
