package rest

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

// TestEgressGuard: with the default policy a Client's request to 127.0.0.1
// (the account's token with it) never leaves, and the caller gets the guard's
// error, not the local service's answer; allowing 127.0.0.0/8 lets it through.
// OAuth2 token requests go through the same guard.
func TestEgressGuard(t *testing.T) {
	var hits atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, `{"message":"internal admin console says hello"}`, http.StatusForbidden)
	}))
	defer local.Close()

	t.Setenv(egress.EnvVar, "")
	c := newClient(t, local.URL, func(c *Config) { c.Auth = APIKey{Key: "s3cr3t-token", Prefix: "Token "} })
	err := c.GetJSON(context.Background(), "/api/v1/packages/json/", nil, nil)
	e := sdk.AsError(err)
	if e == nil || e.Code != sdk.CodeInvalidRequest || !e.NotSent || e.Source != sdk.SourceConnector {
		t.Fatalf("error %+v, want invalid_request, not sent, from the connector", e)
	}
	if !strings.Contains(e.Message, "egress guard") || !strings.Contains(e.Message, "127.0.0.1") || !strings.Contains(e.Message, "loopback") {
		t.Errorf("message %q does not name the guard, the host and the class", e.Message)
	}
	if e.CarrierMessage != "" || strings.Contains(e.Message, "hello") || hits.Load() != 0 {
		t.Fatalf("the local service was reached (%d hits) or quoted: %+v", hits.Load(), e)
	}

	oauth := newClient(t, "https://api.carrier.example", func(c *Config) {
		c.Auth = &OAuth2{TokenURL: local.URL + "/oauth/token", ClientID: "c", ClientSecret: "s3cr3t-value", Cache: NewTokenCache(nil, nil)}
	})
	e = sdk.AsError(oauth.GetJSON(context.Background(), "/x", nil, nil))
	if e == nil || e.Code != sdk.CodeInvalidRequest || !e.NotSent || !strings.Contains(e.Message, "egress guard") || hits.Load() != 0 {
		t.Fatalf("token request to loopback: %+v (%d hits)", e, hits.Load())
	}

	t.Setenv(egress.EnvVar, "127.0.0.0/8")
	e = sdk.AsError(c.GetJSON(context.Background(), "/api/v1/packages/json/", nil, nil))
	if e == nil || e.Code != sdk.CodeAuthFailed || hits.Load() != 1 {
		t.Fatalf("allowed: %+v (%d hits), want the service's own 403", e, hits.Load())
	}
}
