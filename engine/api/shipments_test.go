package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/carrierhub/hub/engine/store"
)

// TestFindShipments checks GET /v1/shipments: by tracking number or reference,
// the caller's tenant only, and a precise problem without q.
func TestFindShipments(t *testing.T) {
	h, st := newStoreHarness(t)
	if _, err := st.RecordShipment(t.Context(), store.Shipment{TenantID: h.tenantA, ConnectorID: "acme", AccountID: "acc_1",
		TrackingNumber: "AWB7", Reference: "PO-7"}, json.RawMessage(`{"tracking_number":"AWB7"}`)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"AWB7", "PO-7"} {
		r := h.do("GET", "/v1/shipments?q="+q, h.keyA, "")
		var found []store.Shipment
		r.decode(t, &found)
		if r.status != 200 || len(found) != 1 || found[0].TrackingNumber != "AWB7" || found[0].Reference != "PO-7" || !found[0].Booked {
			t.Fatalf("GET /v1/shipments?q=%s: %d %s", q, r.status, r.body)
		}
	}
	if r := h.do("GET", "/v1/shipments?q=AWB7", h.keyB, ""); r.status != 200 || string(r.body) != "[]\n" && string(r.body) != "[]" {
		t.Fatalf("another tenant's search: %d %s", r.status, r.body)
	}
	r := h.do("GET", "/v1/shipments", h.keyA, "")
	if p := r.problem(t); r.status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Parameter != "q" {
		t.Fatalf("without q: %d %s", r.status, r.body)
	}
}
