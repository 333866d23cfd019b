package conformance_test

import (
	"encoding/json"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// TestKitPassesTheTestConnector runs the kit on the SDK's own test connector.
func TestKitPassesTheTestConnector(t *testing.T) {
	conformance.Run(t, sdktest.New("kit_check"), conformance.Options{
		Account: func(*testing.T) *sdk.Account {
			return &sdk.Account{ID: "acc", Environment: "sandbox", Credentials: map[string]string{"api_key": "k"}}
		},
		Cases: []conformance.Case{
			{Name: "track", Operation: sdk.OpTrack, Request: model.TrackRequest{TrackingNumbers: []string{"ok1"}},
				Check: func(t *testing.T, out []byte) {
					var r model.TrackResponse
					if err := json.Unmarshal(out, &r); err != nil || len(r.Results) != 1 || r.Results[0].RawCode != "IT" {
						t.Errorf("response %s (%v)", out, err)
					}
				}},
			{Name: "carrier_refusal", Operation: sdk.OpTrack, Request: model.TrackRequest{TrackingNumbers: []string{"error:conflict"}}, WantCode: sdk.CodeConflict},
			{Name: "prints", Operation: sdk.OpTrack, Request: model.TrackRequest{TrackingNumbers: []string{"print"}}},
		},
	})
}
