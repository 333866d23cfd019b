package bluedart_test

import (
	"encoding/json"
	"testing"

	"github.com/carrierhub/hub/connectors/bluedart"
	"github.com/carrierhub/hub/connectors/bluedart/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
)

// TestConformance runs the SDK's contract kit with the connector out of process,
// against the SOAP simulator.
func TestConformance(t *testing.T) {
	conformance.Run(t, bluedart.New(), conformance.Options{
		Account: func(t *testing.T) *sdk.Account {
			sim := simulator.New()
			t.Cleanup(sim.Close)
			return &sdk.Account{
				ID: "acct-1", TenantID: "tenant-1", Environment: "sandbox", BaseURL: sim.URL(),
				Credentials: map[string]string{"login_id": simulator.LoginID, "licence_key": simulator.LicenceKey},
				Settings:    map[string]string{"customer_code": simulator.CustomerCode, "origin_area": "BOM"},
			}
		},
		Cases: []conformance.Case{
			{Name: "generate_waybill", Operation: sdk.OpCreateShipment, Request: shipment()},
			{Name: "track_generated", Operation: sdk.OpTrack, Build: func(t *testing.T, earlier map[string][]byte) any {
				var created model.ShipmentResponse
				if err := json.Unmarshal(earlier["generate_waybill"], &created); err != nil || created.TrackingNumber == "" {
					t.Fatalf("generate gave %s (%v)", earlier["generate_waybill"], err)
				}
				return model.TrackRequest{TrackingNumbers: []string{created.TrackingNumber}}
			}, Check: func(t *testing.T, out []byte) {
				var r model.TrackResponse
				if err := json.Unmarshal(out, &r); err != nil || len(r.Results) != 1 {
					t.Errorf("tracking %s (%v)", out, err)
				}
			}},
			{Name: "duplicate_reference", Operation: sdk.OpCreateShipment, Request: shipment(), WantCode: sdk.CodeConflict},
		},
	})
}

// serveEnv makes a re-executed test binary serve the connector for TestExchanges.
// TestExchanges runs what hub connector test bluedart_soap runs: the folder's
// manifest, sources and mapping fixtures, and every recorded exchange through
// the connector out of process against the generic simulator.
func TestExchanges(t *testing.T) { conformance.RunConnector(t, bluedart.New(), bluedart.Folder()) }

// TestOperationsAreBound checks every operation runs from the manifest's bindings.
func TestOperationsAreBound(t *testing.T) {
	for _, op := range []sdk.Operation{sdk.OpCreateShipment, sdk.OpCancelShipment, sdk.OpTrack, sdk.OpSchedulePickup, sdk.OpCheckServiceability} {
		if _, ok := bluedart.New().(sdk.RawOperations).RawHandler(op); !ok {
			t.Errorf("%s is not bound", op)
		}
	}
}
