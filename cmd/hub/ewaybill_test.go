package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/nic_ewaybill/simulator"
	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/nic/nicsim"
)

// TestEWayBillThroughTheHub: an e-way bill generated through hub serve and the
// nic_ewaybill connector against NIC's simulator is recorded, raises
// eway_bill.expiring ahead of its expiry (the lead is widened to cover the
// simulator's one-day validity) with the hours left, and is extended through
// the hub in NIC's window, which eway_bill.extended reports: every event
// reaches a tenant's webhook endpoint.
func TestEWayBillThroughTheHub(t *testing.T) {
	t.Parallel()
	clk := testclock.New(time.Now()) // the NIC simulator's clock, moved to NIC's extension window; the hub keeps the real one
	sim, err := simulator.NewWithOptions(nicsim.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)

	var mu sync.Mutex
	var received []events.Event
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e events.Event
		if json.Unmarshal(body, &e) == nil {
			mu.Lock()
			received = append(received, e)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	dir := t.TempDir()
	tc := newTenant(t, dir)
	creds, settings := sim.Account()
	args := []string{"accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "nic_ewaybill",
		"--name", "nic", "--environment", "sandbox", "--base-url", sim.URL()}
	for k, v := range creds {
		args = append(args, "--credential", k+"="+v)
	}
	for k, v := range settings {
		args = append(args, "--setting", k+"="+v)
	}
	if r := hub(t, "", args...); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("webhooks:\n  allow_list: [127.0.0.1]\neway_bill_notices:\n  lead: 72h\n  every: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	key := tc.APIKey.Secret
	code, body := post(t, h.url+"/v1/webhooks/endpoints", key, `{"url":"`+receiver.URL+`/hooks","event_types":["eway_bill.*"]}`)
	var ep api.WebhookEndpointCreated
	if code != http.StatusCreated || json.Unmarshal(body, &ep) != nil {
		t.Fatalf("create endpoint: %d %s", code, body)
	}

	today := clk.Now().In(time.FixedZone("IST", 19800)).Format("2006-01-02")
	code, body = post(t, h.url+"/v1/connectors/nic_ewaybill/generate_eway_bill", key, `{"supply_type": "O", "sub_supply_type": "1",
		"doc_type": "INV", "doc_number": "HUB-E2E-1", "doc_date": "`+today+`", "transaction_type": 1,
		"from": {"company": "welton", "lines": ["2ND CROSS NO 59 19 A"], "city": "FRAZER TOWN", "state_code": "29", "postal_code": "560090", "country_code": "IN", "gstin": "`+simulator.GSTIN+`"},
		"to": {"company": "sthuthya", "lines": ["Shree Nilaya"], "city": "Shimla", "state_code": "02", "postal_code": "171001", "country_code": "IN", "gstin": "02EHFPS5910D2ZM"},
		"items": [{"description": "Wheat", "hsn_code": "1001", "quantity": 4, "unit": "BOX", "taxable_amount": 56099, "igst_rate": 3}],
		"total_value": 56099, "total_invoice_value": 57782,
		"transport": {"mode": "road", "distance_km": 150, "vehicle_number": "KA01AB1234", "vehicle_type": "regular"}}`)
	var bill model.EWayBill
	if code != http.StatusOK || json.Unmarshal(body, &bill) != nil || len(bill.Number) != 12 || bill.ValidUntil == nil {
		t.Fatalf("generate_eway_bill: %d %s\n%s", code, body, h.logs.String())
	}

	await := func(kind events.Type) events.Event {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			for _, e := range received {
				if e.Type == kind && e.Subject == bill.Number {
					mu.Unlock()
					return e
				}
			}
			mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("no %s for %s after 60 s; hub log:\n%s", kind, bill.Number, h.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	await(events.EWayBillGenerated)
	var notice model.EWayBill
	if e := await(events.EWayBillExpiring); json.Unmarshal(e.Data, &notice) != nil || notice.HoursLeft == nil || *notice.HoursLeft <= 0 ||
		notice.VehicleNumber != "KA01AB1234" || !notice.ValidUntil.Equal(*bill.ValidUntil) {
		t.Fatalf("eway_bill.expiring data %s", e.Data)
	}

	// In NIC's window (8 hours before expiry, by the simulator's clock), the
	// extension goes through and the new validity is reported.
	clk.Set(bill.ValidUntil.Add(-3 * time.Hour))
	code, body = post(t, h.url+"/v1/connectors/nic_ewaybill/extend_eway_bill", key, `{"number": "`+bill.Number+`",
		"from_place": "Hubli", "from_state_code": "29", "from_pincode": "580020", "remaining_distance_km": 100,
		"transport": {"mode": "road", "distance_km": 100, "vehicle_number": "KA01AB1234"}, "reason_code": 1, "remarks": "flood",
		"consignment_status": "in_movement"}`)
	var extended model.EWayBill
	if code != http.StatusOK || json.Unmarshal(body, &extended) != nil || !extended.ValidUntil.After(*bill.ValidUntil) {
		t.Fatalf("extend_eway_bill: %d %s", code, body)
	}
	var ext model.EWayBill
	if e := await(events.EWayBillExtended); json.Unmarshal(e.Data, &ext) != nil || !ext.ValidUntil.Equal(*extended.ValidUntil) {
		t.Fatalf("eway_bill.extended data %s", e.Data)
	}
}
