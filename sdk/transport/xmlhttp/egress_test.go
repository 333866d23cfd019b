package xmlhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
)

// TestMain admits loopback through the egress guard, because these tests talk
// to httptest servers on 127.0.0.1; TestEgressGuard checks the default refuses
// them.
func TestMain(m *testing.M) { egresstest.Main(m) }

// TestEgressGuard: a Client without an HTTP client of its own dials through
// the guard, so by default loopback is refused before anything is sent.
func TestEgressGuard(t *testing.T) {
	var hits atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write([]byte("<ENVELOPE><STATUS>1</STATUS></ENVELOPE>"))
	}))
	defer local.Close()
	c := &Client{Provider: "Tally"}

	t.Setenv(egress.EnvVar, "")
	e := sdk.AsError(c.Post(context.Background(), local.URL, "<ENVELOPE/>", nil))
	if e == nil || e.Code != sdk.CodeInvalidRequest || !e.NotSent || !strings.Contains(e.Message, "egress guard") || hits.Load() != 0 {
		t.Fatalf("default policy: %+v (%d hits), want the guard's invalid_request", e, hits.Load())
	}

	t.Setenv(egress.EnvVar, "127.0.0.0/8")
	if err := c.Post(context.Background(), local.URL, "<ENVELOPE/>", nil); err != nil || hits.Load() != 1 {
		t.Fatalf("allowed: %v (%d hits)", err, hits.Load())
	}
}
