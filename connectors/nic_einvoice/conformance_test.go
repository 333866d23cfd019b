package niceinvoice_test

import (
	"encoding/json"
	"testing"

	niceinvoice "github.com/carrierhub/hub/connectors/nic_einvoice"
	"github.com/carrierhub/hub/connectors/nic_einvoice/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
)

// TestConformance runs the SDK's contract kit with the connector out of
// process against the IRP simulator: an invoice registered, registered again
// (2150, conflict), and a request the connector refuses before sending.
func TestConformance(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	badDoc := invoiceRequest("0DOC")
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
