package delhivery_test

import (
	"context"
	"testing"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// TestFindShipment: a booking is found by the reference it was made with
// (Delhivery's tracking API by order id), which is how the hub settles a create
// whose outcome is unknown; an order id Delhivery never booked is not_found from
// the carrier, which the hub takes as "nothing was booked"; a reference the query
// cannot carry is refused before anything is sent.
func TestFindShipment(t *testing.T) {
	e := newEnv(t)
	find := func(ref string) (*model.ShipmentResponse, *sdk.Error) {
		var out model.ShipmentResponse
		if err := invoke(context.Background(), e.d, e.acct, sdk.OpFindShipment, model.FindShipmentRequest{Reference: ref}, &out); err != nil {
			return nil, err
		}
		return &out, nil
	}
	wb := e.mustCreate("ORD-7001")
	got, err := find("ORD-7001")
	if err != nil || got.TrackingNumber != wb || got.Reference != "ORD-7001" {
		t.Fatalf("find ORD-7001 = %+v, %v; want waybill %s", got, err, wb)
	}
	if _, err := find("ORD-NEVER"); err == nil || err.Code != sdk.CodeNotFound || err.Source != sdk.SourceCarrier ||
		err.CarrierMessage != "No such waybill or Order Id found" {
		t.Fatalf("find an unknown order id = %+v", err)
	}
	before := e.sim.Calls(simulator.PathTrack)
	if _, err := find("ORD-1,ORD-2"); err == nil || err.Code != sdk.CodeInvalidRequest || !err.NotSent {
		t.Fatalf("find a reference with a comma = %+v", err)
	}
	if n := e.sim.Calls(simulator.PathTrack); n != before {
		t.Fatalf("a refused lookup reached Delhivery (%d requests, was %d)", n, before)
	}
}
