package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

type fakeProcs []plugins.Info

func (f fakeProcs) Connectors() []plugins.Info { return f }

type fakeSnaps map[string]resilience.ConnectorHealth

func (f fakeSnaps) Resilience(id string) (resilience.ConnectorHealth, bool) {
	h, ok := f[id]
	return h, ok
}

// exercised returns metrics with every instrument observed at least once.
func exercised() *Metrics {
	m := New()
	m.ObserveRequest("POST /v1/connectors/{id}/{operation}", "POST", 200, 3*time.Millisecond)
	m.ObserveRequest("unmatched", "GET", 404, time.Millisecond)
	m.ObserveCall("delhivery", sdk.OpTrack, nil, 120*time.Millisecond)
	m.ObserveCall("delhivery", sdk.OpTrack, &sdk.Error{Code: sdk.CodeCarrierUnavailable}, 2*time.Second)
	m.ObserveReplay("delhivery", sdk.OpCreateShipment, "replayed")
	m.ObserveStart("delhivery", 11*time.Millisecond, nil)
	m.ObserveStart("bluedart", 0, errors.New("exec format error"))
	o := m.Resilience()
	o.CallDone("delhivery", "acc_1", sdk.OpTrack, nil, 3)
	o.Retry("delhivery", "acc_1", sdk.OpTrack, 2, sdk.CodeCarrierUnavailable, 100*time.Millisecond)
	o.RetryRefused("delhivery", "acc_1", sdk.OpTrack, sdk.CodeCarrierUnavailable)
	o.BreakerChange("delhivery", "acc_1", resilience.BreakerClosed, resilience.BreakerOpen)
	o.RateLimitWait("delhivery", "acc_1", 250*time.Millisecond)
	o.RateLimitReject("delhivery", "acc_1", time.Second)
	o.BulkheadReject("delhivery", 64, 256)
	m.Watch(fakeProcs{
		{Manifest: &sdk.Manifest{ID: "delhivery"}, Status: plugins.Status{State: plugins.StateRunning, PID: 1, Restarts: 2, InFlight: 1}},
		{Manifest: &sdk.Manifest{ID: "bluedart"}, Status: plugins.Status{State: plugins.StateIdle}},
	}, fakeSnaps{"delhivery": {Connector: "delhivery", InFlight: 3, Queued: 1, Accounts: []resilience.AccountHealth{
		{Account: "acc_1", Breaker: resilience.BreakerOpen, Requests: 10, Failures: 7, RateLimit: 2, RateBurst: 4, TokensAvailable: 1},
		{Account: "acc_2", Breaker: resilience.BreakerClosed, Requests: 10, Failures: 0},
	}}})
	m.ObserveDelivery(204, "succeeded", 30*time.Millisecond)
	m.ObserveDelivery(0, "retry", 15*time.Second)
	m.WatchPipeline(fakePipeline{}, []string{"webhooks", "bus:hub.events"}, "bus:hub.events")
	return m
}

type fakePipeline struct{}

func (fakePipeline) OutboxBacklog(_ context.Context, sink string) (store.Backlog, error) {
	if sink == "webhooks" {
		return store.Backlog{OutboxDepth: 12, OutboxOldest: time.Now().Add(-90 * time.Second)}, nil
	}
	return store.Backlog{}, nil
}

func (fakePipeline) WebhookBacklog(context.Context) (store.DeliveryBacklog, error) {
	return store.DeliveryBacklog{Pending: 40, OldestDue: time.Now().Add(-time.Minute), EndpointsEnabled: 3, EndpointsDisabled: 1}, nil
}

// TestMetricsLintClean runs client_golang's linter over everything the hub exports.
func TestMetricsLintClean(t *testing.T) {
	problems, err := testutil.GatherAndLint(exercised().Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestMetricValues(t *testing.T) {
	m := exercised()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`hub_connector_calls_total{code="ok",connector="delhivery",operation="track"} 1`,
		`hub_connector_calls_total{code="carrier_unavailable",connector="delhivery",operation="track"} 1`,
		`hub_connector_attempts_total{connector="delhivery",operation="track"} 3`,
		`hub_circuit_breaker_transitions_total{connector="delhivery",from="closed",to="open"} 1`,
		`hub_circuit_breakers{connector="delhivery",state="open"} 1`,
		`hub_connector_error_ratio{connector="delhivery"} 0.35`,
		`hub_rate_limit_headroom_ratio{connector="delhivery"} 0.25`,
		`hub_connector_process_state{connector="delhivery",state="running"} 1`,
		`hub_connector_process_restarts_total{connector="delhivery"} 2`,
		`hub_connector_start_failures_total{connector="bluedart"} 1`,
		`hub_idempotency_replays_total{connector="delhivery",operation="create_shipment",outcome="replayed"} 1`,
		`hub_http_requests_total{method="POST",route="POST /v1/connectors/{id}/{operation}",status="200"} 1`,
		`hub_webhook_deliveries_total{outcome="succeeded",status_class="2xx"} 1`,
		`hub_webhook_deliveries_total{outcome="retry",status_class="none"} 1`,
		`hub_outbox_depth{sink="webhooks"} 12`,
		`hub_kafka_relay_lag 0`,
		`hub_webhook_deliveries_pending 40`,
		`hub_webhook_endpoints{state="disabled"} 1`,
		`hub_pipeline_scrape_errors 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(text, "acc_1") {
		t.Error("an account id became a label")
	}
}

func TestNilMetricsIgnoreEverything(t *testing.T) {
	var m *Metrics
	m.ObserveRequest("r", "GET", 200, time.Second)
	m.ObserveCall("c", sdk.OpTrack, nil, time.Second)
	m.ObserveReplay("c", sdk.OpTrack, "replayed")
	m.ObserveStart("c", time.Second, nil)
	m.Resilience().Retry("c", "a", sdk.OpTrack, 2, sdk.CodeTimeout, 0)
	m.Watch(fakeProcs{}, nil)
}
