package nicewaybill_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"

	nicewaybill "github.com/carrierhub/hub/connectors/nic_ewaybill"
	"github.com/carrierhub/hub/connectors/nic_ewaybill/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
)

// TestConformance runs the SDK's contract kit with the connector out of
// process against the NIC simulator: an e-way bill generated, its vehicle
// updated and read back, its validity extended (the simulator's bill lives a
// day, so it is inside NIC's 8-hour window only later: an early extension is
// refused with NIC's 382), cancelled and read back, then cancelled again (312);
// an unknown bill is not found (325). The concurrency check repeats the read
// 50 times at once, sharing one login.
func TestConformance(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	var cancelled atomic.Bool
	number := func(earlier map[string][]byte) string {
		var b model.EWayBill
		if err := json.Unmarshal(earlier["generate"], &b); err != nil || b.Number == "" {
			t.Fatalf("generate gave %s (%v)", earlier["generate"], err)
		}
		return b.Number
	}
	conformance.Run(t, nicewaybill.New(), conformance.Options{
		Account: func(t *testing.T) *sdk.Account { return sim.SDKAccount() },
		Cases: []conformance.Case{
			{Name: "generate", Operation: sdk.OpGenerateEWayBill, Request: generateRequest("CONF/1"), Check: func(t *testing.T, out []byte) {
				var b model.EWayBill
				if err := json.Unmarshal(out, &b); err != nil || len(b.Number) != 12 || b.ValidUntil == nil || b.Status != "active" {
					t.Errorf("generate answered %s (%v)", out, err)
				}
			}},
			{Name: "duplicate", Operation: sdk.OpGenerateEWayBill, Request: generateRequest("CONF/1"), WantCode: sdk.CodeConflict},
			{Name: "vehicle", Operation: sdk.OpUpdateEWayBillVehicle, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EWayBillVehicleUpdate{Number: number(earlier), FromPlace: "Bengaluru", FromStateCode: "29", ReasonCode: 1,
					Remarks: "breakdown", Transport: model.Transport{Mode: "road", VehicleNumber: "KA01AB1234"}}
			}, Check: func(t *testing.T, out []byte) {
				var b model.EWayBill
				if err := json.Unmarshal(out, &b); err != nil || b.VehicleNumber != "KA01AB1234" || b.ValidUntil == nil {
					t.Errorf("vehicle update answered %s (%v)", out, err)
				}
			}},
			{Name: "get", Operation: sdk.OpGetEWayBill, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EWayBillLookup{Number: number(earlier)}
			}, Check: func(t *testing.T, out []byte) {
				// The concurrency check repeats this read after the bill was cancelled.
				want := "active"
				if cancelled.Load() {
					want = "cancelled"
				}
				var b model.EWayBill
				if err := json.Unmarshal(out, &b); err != nil || b.Status != want || b.VehicleNumber != "KA01AB1234" || b.ValidUntil == nil || b.GeneratedAt.IsZero() {
					t.Errorf("get answered %s (%v), want status %s", out, err, want)
				}
			}},
			{Name: "extend_too_early", Operation: sdk.OpExtendEWayBill, WantCode: sdk.CodeInvalidRequest, Build: func(t *testing.T, earlier map[string][]byte) any {
				return extension(number(earlier))
			}},
			{Name: "cancel", Operation: sdk.OpCancelEWayBill, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EWayBillCancel{Number: number(earlier), ReasonCode: 2, Remarks: "order cancelled"}
			}, Check: func(t *testing.T, out []byte) {
				var b model.EWayBill
				if err := json.Unmarshal(out, &b); err != nil || b.Status != "cancelled" {
					t.Errorf("cancel answered %s (%v)", out, err)
				}
				cancelled.Store(true)
			}},
			{Name: "get_cancelled", Operation: sdk.OpGetEWayBill, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EWayBillLookup{Number: number(earlier)}
			}, Check: func(t *testing.T, out []byte) {
				var b model.EWayBill
				if err := json.Unmarshal(out, &b); err != nil || b.Status != "cancelled" {
					t.Errorf("get after cancelling answered %s (%v)", out, err)
				}
			}},
			{Name: "get_unknown", Operation: sdk.OpGetEWayBill, WantCode: sdk.CodeNotFound, Request: model.EWayBillLookup{Number: "391001234567"}},
			{Name: "gstin_own", Operation: sdk.OpLookupGSTIN, Request: model.GSTINLookup{GSTIN: simulator.GSTIN}, Check: func(t *testing.T, out []byte) {
				var d model.GSTINDetails
				if err := json.Unmarshal(out, &d); err != nil || d.GSTIN != simulator.GSTIN || d.Status != "active" || d.RawStatus != "ACT" || d.EWayBillBlocked {
					t.Errorf("lookup_gstin answered %s (%v), want the account's GSTIN active and not blocked", out, err)
				}
			}},
			{Name: "gstin_consignee", Operation: sdk.OpLookupGSTIN, Request: model.GSTINLookup{GSTIN: "02EHFPS5910D2ZM"}, Check: func(t *testing.T, out []byte) {
				var d model.GSTINDetails
				if err := json.Unmarshal(out, &d); err != nil || d.LegalName != "sthuthya" || d.StateCode != "02" || d.PostalCode != "171001" {
					t.Errorf("lookup_gstin answered %s (%v), want the consignee of the bill generated above", out, err)
				}
			}},
			{Name: "gstin_unknown", Operation: sdk.OpLookupGSTIN, WantCode: sdk.CodeNotFound, Request: model.GSTINLookup{GSTIN: "27AAPFU0939F1ZV"}},
			{Name: "cancel_again", Operation: sdk.OpCancelEWayBill, WantCode: sdk.CodeInvalidRequest, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EWayBillCancel{Number: number(earlier), ReasonCode: 2}
			}},
			{Name: "bad_number", Operation: sdk.OpCancelEWayBill, WantCode: sdk.CodeInvalidRequest, Request: model.EWayBillCancel{Number: "12", ReasonCode: 1}},
		},
	})
}

// TestExchanges runs what hub connector test nic_ewaybill runs: the manifest,
// its sources, and every recorded exchange through the connector out of
// process, replayed by the connector's own simulator (the generic one cannot
// speak NIC's encrypted envelope), plus the egress and process contracts.
func TestExchanges(t *testing.T) {
	conformance.RunConnectorWith(t, nicewaybill.New(), nicewaybill.Folder(), func() (conformance.ClosingSimulator, error) {
		return simulator.New()
	})
}
