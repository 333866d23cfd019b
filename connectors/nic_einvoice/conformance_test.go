package niceinvoice_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	niceinvoice "github.com/carrierhub/hub/connectors/nic_einvoice"
	"github.com/carrierhub/hub/connectors/nic_einvoice/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
)

// TestConformance runs the SDK's contract kit with the connector out of
// process against the IRP simulator: an invoice registered, registered again
// (2150, conflict), read back by its IRN, cancelled, read back cancelled and
// cancelled again (9999, not active); an IRN the IRP does not hold (2148, not
// found), and a request the connector refuses before sending.
func TestConformance(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	badDoc := invoiceRequest("0DOC")
	irn := func(t *testing.T, earlier map[string][]byte) string {
		var inv model.EInvoice
		if err := json.Unmarshal(earlier["generate"], &inv); err != nil || inv.IRN == "" {
			t.Fatalf("generate gave %s (%v)", earlier["generate"], err)
		}
		return inv.IRN
	}
	// The kit repeats the first read at the end, concurrently, when the IRN
	// has been cancelled: "get" takes either status, "get_cancelled" only CNL.
	status := func(want ...string) func(t *testing.T, out []byte) {
		return func(t *testing.T, out []byte) {
			var inv model.EInvoice
			if err := json.Unmarshal(out, &inv); err != nil || !slices.Contains(want, inv.Status) || inv.AckNumber == "" || inv.SignedQRCode == "" {
				t.Errorf("get answered status %q, ack %q (%v), want status %v with the acknowledgement and QR code", inv.Status, inv.AckNumber, err, want)
			}
		}
	}
	conformance.Run(t, niceinvoice.New(), conformance.Options{
		Account: func(t *testing.T) *sdk.Account { return sim.SDKAccount() },
		Cases: []conformance.Case{
			{Name: "generate", Operation: sdk.OpGenerateEInvoice, Request: invoiceRequest("CONF/1"), Check: func(t *testing.T, out []byte) {
				var inv model.EInvoice
				if err := json.Unmarshal(out, &inv); err != nil || len(inv.IRN) != 64 || inv.AckNumber == "" || inv.AckDate.IsZero() ||
					inv.Status != "ACT" || inv.SignedQRCode == "" || inv.SignedInvoice == "" {
					t.Errorf("generate answered %s (%v)", out, err)
				}
			}},
			{Name: "duplicate", Operation: sdk.OpGenerateEInvoice, Request: invoiceRequest("CONF/1"), WantCode: sdk.CodeConflict},
			{Name: "get", Operation: sdk.OpGetEInvoice, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EInvoiceLookup{IRN: irn(t, earlier)}
			}, Check: status("ACT", "CNL")},
			{Name: "cancel", Operation: sdk.OpCancelEInvoice, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EInvoiceCancel{IRN: irn(t, earlier), Reason: "data_entry_mistake", Remarks: "Wrong buyer"}
			}, Check: func(t *testing.T, out []byte) {
				var c model.EInvoiceCancellation
				if err := json.Unmarshal(out, &c); err != nil || len(c.IRN) != 64 || c.CancelledAt.IsZero() {
					t.Errorf("cancel answered %s (%v)", out, err)
				}
			}},
			{Name: "get_cancelled", Operation: sdk.OpGetEInvoice, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EInvoiceLookup{IRN: irn(t, earlier)}
			}, Check: status("CNL")},
			{Name: "cancel_again", Operation: sdk.OpCancelEInvoice, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EInvoiceCancel{IRN: irn(t, earlier), Reason: "duplicate", Remarks: "Again"}
			}, WantCode: sdk.CodeInvalidRequest},
			{Name: "find", Operation: sdk.OpFindEInvoice, Request: model.EInvoiceFind{DocType: "INV", DocNumber: "CONF/1", DocDate: "2026-12-01"},
				Check: func(t *testing.T, out []byte) {
					var inv model.EInvoice
					if err := json.Unmarshal(out, &inv); err != nil || len(inv.IRN) != 64 || inv.AckNumber == "" {
						t.Errorf("find answered %s (%v), want the IRN registered for CONF/1", out, err)
					}
				}},
			{Name: "find_unknown", Operation: sdk.OpFindEInvoice, Request: model.EInvoiceFind{DocType: "INV", DocNumber: "NEVER/1", DocDate: "2026-12-01"}, WantCode: sdk.CodeNotFound},
			{Name: "unknown_irn", Operation: sdk.OpGetEInvoice, Request: model.EInvoiceLookup{IRN: strings.Repeat("0", 64)}, WantCode: sdk.CodeNotFound},
			{Name: "bad_doc_number", Operation: sdk.OpGenerateEInvoice, Request: badDoc, WantCode: sdk.CodeInvalidRequest},
		},
	})
}

// TestExchanges runs what hub connector test nic_einvoice runs: the manifest,
// its sources, and every recorded exchange through the connector out of
// process, replayed by the connector's own simulator (the generic one cannot
// speak NIC's encrypted envelope), plus the egress and process contracts.
func TestExchanges(t *testing.T) {
	conformance.RunConnectorWith(t, niceinvoice.New(), niceinvoice.Folder(), func() (conformance.ClosingSimulator, error) {
		return simulator.New()
	})
}
