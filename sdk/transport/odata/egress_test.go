package odata_test

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
	"github.com/carrierhub/hub/sdk/transport/odata"
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
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"value":[]}`))
	}))
	defer local.Close()
	c, err := odata.New(odata.Options{ServiceRoot: local.URL + "/data", Version: odata.V4})
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv(egress.EnvVar, "")
	_, err = c.Do(context.Background(), odata.Request{Query: odata.From("Orders")})
	e := sdk.AsError(err)
	if e == nil || e.Code != sdk.CodeInvalidRequest || !e.NotSent || !strings.Contains(e.Message, "egress guard") || hits.Load() != 0 {
		t.Fatalf("default policy: %+v (%d hits), want the guard's invalid_request", e, hits.Load())
	}

	t.Setenv(egress.EnvVar, "127.0.0.0/8")
	if _, err := c.Do(context.Background(), odata.Request{Query: odata.From("Orders")}); err != nil || hits.Load() != 1 {
		t.Fatalf("allowed: %v (%d hits)", err, hits.Load())
	}
}
