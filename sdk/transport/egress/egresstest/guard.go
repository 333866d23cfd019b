package egresstest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// CheckGuard checks that a client which dials through the guard is refused
// loopback by the default policy before anything is sent, and reaches it once
// loopback is allowed. call makes one request to url, a local server that
// answers with contentType and body.
func CheckGuard(t *testing.T, contentType, body string, call func(url string) error) {
	t.Helper()
	var hits atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", contentType)
		w.Write([]byte(body))
	}))
	defer local.Close()

	t.Setenv(egress.EnvVar, "")
	e := sdk.AsError(call(local.URL))
	if e == nil || e.Code != sdk.CodeInvalidRequest || !e.NotSent || !strings.Contains(e.Message, "egress guard") || hits.Load() != 0 {
		t.Fatalf("default policy: %+v (%d hits), want the guard's invalid_request", e, hits.Load())
	}

	t.Setenv(egress.EnvVar, Loopback)
	if err := call(local.URL); err != nil || hits.Load() != 1 {
		t.Fatalf("allowed: %v (%d hits)", err, hits.Load())
	}
}
