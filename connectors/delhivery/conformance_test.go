package delhivery_test

import (
	"encoding/json"
	"testing"

	"github.com/carrierhub/hub/connectors/delhivery"
	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
)

// TestConformance runs the SDK's contract kit with the connector out of process,
// against the simulator: book, track what was booked, cancel it, and the
// carrier's refusals.
func TestConformance(t *testing.T) {
	conformance.Run(t, delhivery.New(), conformance.Options{
		Account: func(t *testing.T) *sdk.Account {
			sim := simulator.New()
			t.Cleanup(sim.Close)
			return account(sim.URL(), sim.Token())
		},
		Cases: []conformance.Case{
			{Name: "create", Operation: sdk.OpCreateShipment, Request: shipmentRequest("CONF-1")},
			{Name: "track_created", Operation: sdk.OpTrack, Build: func(t *testing.T, earlier map[string][]byte) any {
				var created model.ShipmentResponse
				if err := json.Unmarshal(earlier["create"], &created); err != nil || created.TrackingNumber == "" {
					t.Fatalf("create gave %s (%v)", earlier["create"], err)
				}
				return model.TrackRequest{TrackingNumbers: []string{created.TrackingNumber}}
			}, Check: func(t *testing.T, out []byte) {
				var r model.TrackResponse
				if err := json.Unmarshal(out, &r); err != nil || len(r.Results) != 1 || r.Results[0].RawCode == "" {
					t.Errorf("tracking %s (%v)", out, err)
				}
			}},
			{Name: "duplicate_reference", Operation: sdk.OpCreateShipment, Request: shipmentRequest("CONF-1"), WantCode: sdk.CodeConflict},
			{Name: "unserviceable_or_bad_pin", Operation: sdk.OpCreateShipment, Request: func() model.ShipmentRequest {
				r := shipmentRequest("CONF-2")
				r.ShipTo.PostalCode = "12"
				return r
			}(), WantCode: sdk.CodeInvalidRequest},
			{Name: "cancel_created", Operation: sdk.OpCancelShipment, Build: func(t *testing.T, earlier map[string][]byte) any {
				var created model.ShipmentResponse
				_ = json.Unmarshal(earlier["create"], &created)
				return model.CancelRequest{TrackingNumber: created.TrackingNumber}
			}},
		},
	})
}
