package nicewaybill_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"testing"

	nicewaybill "github.com/carrierhub/hub/connectors/nic_ewaybill"
	"github.com/carrierhub/hub/connectors/nic_ewaybill/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// TestConformance runs the SDK's contract kit with the connector out of
// process against the NIC simulator: an e-way bill generated, its vehicle
// updated, its validity extended (the simulator's bill lives a day, so it is
// inside NIC's 8-hour window only later: an early extension is refused with
// NIC's 382), and cancelled, then cancelled again (312).
func TestConformance(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
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
			}},
			{Name: "cancel_again", Operation: sdk.OpCancelEWayBill, WantCode: sdk.CodeInvalidRequest, Build: func(t *testing.T, earlier map[string][]byte) any {
				return model.EWayBillCancel{Number: number(earlier), ReasonCode: 2}
			}},
			{Name: "bad_number", Operation: sdk.OpCancelEWayBill, WantCode: sdk.CodeInvalidRequest, Request: model.EWayBillCancel{Number: "12", ReasonCode: 1}},
		},
	})
}

// envServe tells a re-executed test binary to serve the connector for TestExchanges.
const envServe = "NIC_EWAYBILL_SERVE"

// TestExchanges runs what hub connector test nic_ewaybill runs: the manifest,
// its sources, and every recorded exchange through the connector out of
// process, replayed by the connector's own simulator (the generic one cannot
// speak NIC's encrypted envelope), plus the egress and process contracts.
func TestExchanges(t *testing.T) {
	if os.Getenv(envServe) == t.Name() {
		if allow, ok := os.LookupEnv("HUB_CONFORMANCE_EGRESS_ALLOW"); ok {
			os.Setenv(egress.EnvVar, allow)
		}
		sdk.Serve(nicewaybill.New())
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r := conformance.Check(context.Background(), conformance.Target{Name: t.Name(), Files: nicewaybill.Folder(), Path: exe,
		Args: []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$"}, Env: []string{envServe + "=" + t.Name()}, Simulator: sim})
	for _, c := range r.Checks {
		switch {
		case c.Skipped != "":
			t.Errorf("%s: skipped: %s", c.Name, c.Skipped)
		case c.Passed:
			t.Logf("%s: ok", c.Name)
		}
		for _, p := range c.Problems {
			t.Errorf("%s: %s", c.Name, p)
		}
	}
	if r.Samples > 0 {
		t.Errorf("%d exchange files are samples", r.Samples)
	}
}
