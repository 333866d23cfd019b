package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/sdk/simulator/faultcarrier"
)

const stormShipment = `{
	"reference": "STORM-%d",
	"ship_from": {"name": "Dock 3", "phone": "9810000001", "lines": ["Plot 7, Udyog Vihar"], "city": "Gurugram", "state": "Haryana", "postal_code": "122016", "country_code": "IN"},
	"ship_to": {"name": "R. Iyer", "phone": "9876500000", "lines": ["12 Residency Road"], "city": "Bengaluru", "state": "Karnataka", "postal_code": "560025", "country_code": "IN"},
	"parcels": [{"weight": {"value": 0.8, "unit": "kg"}}],
	"payment_mode": "prepaid"
}`

// TestCarrierStormThroughTheHub is the fault-injection suite end to end: the real
// hub, the real Delhivery connector process, and Delhivery's simulator behind the
// fault-injecting carrier. During a 100% 503 storm the carrier must see at most
// 1.2x the calls the hub was sent (retry budget + circuit breaker), creates
// without an Idempotency-Key must never be retried, operators must see the open
// breaker, and the hub must recover on its own when the carrier does.
func TestCarrierStormThroughTheHub(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	t.Cleanup(sim.Close)
	simURL, _ := url.Parse(sim.URL())
	fc := faultcarrier.Serve(faultcarrier.Wrap(httputil.NewSingleHostReverseProxy(simURL)))
	t.Cleanup(fc.Close)

	dir := t.TempDir()
	tc := newTenant(t, dir)
	accounts := map[string]string{}
	for _, name := range []string{"tracker", "booker"} {
		r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
			"--name", name, "--environment", "sandbox", "--base-url", fc.URL, "--credential", "api_token="+sim.Token(),
			"--setting", "pickup_location=WH", "-o", "json")
		var a struct{ ID string }
		if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || a.ID == "" {
			t.Fatalf("accounts create: %v %s %s", err, r.stdout, r.err)
		}
		accounts[name] = a.ID
	}
	// A short open period so the test sees recovery; everything else is the default policy.
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("resilience:\n  connectors:\n    delhivery_express:\n      breaker_open_for: 300ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	key := tc.APIKey.Secret
	track := func(account string) (int, []byte) {
		return post(t, h.url+"/v1/connectors/delhivery_express/track?account="+account, key, trackBody)
	}
	if code, body := track(accounts["tracker"]); code != http.StatusOK {
		t.Fatalf("before the storm: %d %s\n%s", code, body, h.logs.String())
	}

	// The storm: every carrier answer is a 503.
	fc.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeError, Status: http.StatusServiceUnavailable})
	fc.Carrier.ResetCounts()
	const calls = 200
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		sources  = map[string]int{}
	)
	work := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				code, body := track(accounts["tracker"])
				var p struct{ Source string }
				_ = json.Unmarshal(body, &p)
				mu.Lock()
				statuses[code]++
				sources[p.Source]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < calls; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	received := fc.Carrier.Total()
	t.Logf("storm: %d calls to the hub, %d requests reached the carrier (%.2fx); answers %v, sources %v",
		calls, received, float64(received)/calls, statuses, sources)
	if statuses[http.StatusServiceUnavailable] != calls {
		t.Errorf("answers %v, want %d x 503", statuses, calls)
	}
	if float64(received) > 1.2*calls {
		t.Errorf("the carrier received %d requests for %d calls: more than 1.2x", received, calls)
	}
	if sources["hub"] == 0 {
		t.Errorf("no call failed fast at the hub (sources %v): the breaker never opened", sources)
	}

	// Operators see it: connector-health is degraded and names the open breaker.
	r := hub(t, "", "connector-health", "--hub-url", h.url)
	if r.code != 1 || !strings.Contains(r.stdout, "1/1 open") {
		t.Errorf("connector-health during the storm: exit %d\n%s%s", r.code, r.stdout, r.err)
	}

	// The active probe checks each account: the tracker's breaker is open.
	r = hub(t, "", "connector-health", "--hub-url", h.url, "--api-key", key, "--probe", "--connector", "delhivery_express")
	if r.code != 1 || !strings.Contains(r.stdout, accounts["tracker"]) || !strings.Contains(r.stdout, "open ") {
		t.Errorf("connector-health --probe during the storm: exit %d\n%s%s", r.code, r.stdout, r.err)
	}

	// A create without an Idempotency-Key may have reached the carrier: it is
	// tried exactly once. With a key it may be retried.
	fc.Carrier.ResetCounts()
	code, body := post(t, h.url+"/v1/connectors/delhivery_express/create_shipment?account="+accounts["booker"], key, fmt.Sprintf(stormShipment, 1))
	if code != http.StatusServiceUnavailable || fc.Carrier.Total() != 1 {
		t.Errorf("create without a key: %d %s; the carrier saw %d requests, want 1", code, body, fc.Carrier.Total())
	}

	// Recovery: the carrier heals; after the open period a probe closes the breaker.
	fc.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeOK})
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := track(accounts["tracker"])
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub did not recover: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = hub(t, "", "connector-health", "--hub-url", h.url)
	if r.code != 0 || strings.Contains(r.stdout, "open") {
		t.Errorf("connector-health after recovery: exit %d\n%s", r.code, r.stdout)
	}

	// The storm is in the metrics, which lint clean.
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	problems, err := promlint.New(bytes.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, p := range problems {
		t.Errorf("/metrics lint: %s: %s", p.Metric, p.Text)
	}
	for _, want := range []string{
		`hub_circuit_breaker_transitions_total{connector="delhivery_express",from="closed",to="open"}`,
		`hub_circuit_breaker_transitions_total{connector="delhivery_express",from="half_open",to="closed"}`,
		`hub_connector_calls_total{code="carrier_unavailable",connector="delhivery_express",operation="track"}`,
		`hub_connector_calls_total{code="ok",connector="delhivery_express",operation="track"}`,
		`hub_connector_cold_starts_total{connector="delhivery_express"} 1`,
		`hub_connector_process_state{connector="delhivery_express",state="running"} 1`,
		`hub_http_requests_total{method="POST",route="POST /v1/connectors/{id}/{operation}",status="503"}`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, secret := range []string{sim.Token(), key, accounts["tracker"]} {
		if strings.Contains(string(text), secret) {
			t.Errorf("/metrics contains a credential or an account id")
		}
	}
}
