package delhivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery"
	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
)

// TestMain admits loopback through the SDK's egress guard: the simulators the
// tests drive listen on 127.0.0.1. The variable is set before the tests run, so
// the connector processes conformance starts from this binary have it too.
func TestMain(m *testing.M) { egresstest.Main(m) }

// env is a connector driven in process through the SDK dispatcher against a simulator.
type env struct {
	t    *testing.T
	sim  *simulator.Simulator
	d    *sdk.Dispatcher
	acct *sdk.Account
}

func newEnv(t testing.TB, opts ...simulator.Option) *env {
	t.Helper()
	sim := simulator.New(opts...)
	t.Cleanup(sim.Close)
	d, err := sdk.NewDispatcher(delhivery.New())
	if err != nil {
		t.Fatalf("NewDispatcher: %v", err)
	}
	tt, _ := t.(*testing.T)
	return &env{t: tt, sim: sim, d: d, acct: account(sim.URL(), sim.Token())}
}

func account(baseURL, token string) *sdk.Account {
	return &sdk.Account{
		ID: "acct_1", TenantID: "tenant_1", Environment: "sandbox", BaseURL: baseURL,
		Credentials: map[string]string{"api_token": token},
		Settings:    map[string]string{"pickup_location": "GGN-WH-1", "client_name": "SIMCLIENT"},
	}
}

// invoke runs one operation and decodes its result into out.
func invoke(ctx context.Context, d *sdk.Dispatcher, acct *sdk.Account, op sdk.Operation, body, out any) *sdk.Error {
	payload, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	res, err := d.Invoke(ctx, &sdk.Call{Operation: op, Account: acct, RequestID: "req-1", Payload: payload})
	if err != nil {
		var e *sdk.Error
		if !errors.As(err, &e) {
			panic("Invoke returned a non-*sdk.Error: " + err.Error())
		}
		return e
	}
	if err := json.Unmarshal(res, out); err != nil {
		panic(err)
	}
	return nil
}

func (e *env) create(req model.ShipmentRequest) (*model.ShipmentResponse, *sdk.Error) {
	var out model.ShipmentResponse
	if err := invoke(context.Background(), e.d, e.acct, sdk.OpCreateShipment, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (e *env) mustCreate(ref string) string {
	e.t.Helper()
	out, err := e.create(shipmentRequest(ref))
	if err != nil {
		e.t.Fatalf("create %s: %v", ref, err)
	}
	return out.TrackingNumber
}

func (e *env) track(numbers ...string) (*model.TrackResponse, *sdk.Error) {
	var out model.TrackResponse
	if err := invoke(context.Background(), e.d, e.acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: numbers}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (e *env) mustTrack(number string) model.Tracking {
	e.t.Helper()
	out, err := e.track(number)
	if err != nil {
		e.t.Fatalf("track %s: %v", number, err)
	}
	if len(out.Results) != 1 {
		e.t.Fatalf("track %s: %d results", number, len(out.Results))
	}
	return out.Results[0]
}

func (e *env) cancel(number string) (*model.CancelResponse, *sdk.Error) {
	var out model.CancelResponse
	if err := invoke(context.Background(), e.d, e.acct, sdk.OpCancelShipment, model.CancelRequest{TrackingNumber: number}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// shipmentRequest is a complete, valid prepaid booking.
func shipmentRequest(ref string) model.ShipmentRequest {
	return model.ShipmentRequest{
		Reference: ref,
		Service:   "surface",
		ShipFrom: model.Address{
			Company: "Acme Retail Pvt Ltd", Name: "Dispatch Desk", Phone: "+91 98100 00001",
			Lines: []string{"Plot 12, Sector 37", "Pace City II"}, City: "Gurugram", State: "Haryana",
			PostalCode: "122001", CountryCode: "IN", GSTIN: "06AABCA1234F1Z5",
		},
		ShipTo: model.Address{
			Name: "Priya Sharma", Phone: "+91-98765-43210",
			Lines: []string{"Flat 4B, Lotus Apartments", "MG Road"}, City: "Bengaluru", State: "Karnataka",
			PostalCode: "560001", CountryCode: "IN", Residential: true,
		},
		Parcels: []model.Parcel{{
			Weight:     model.Weight{Value: 1.25, Unit: model.Kilogram},
			Dimensions: &model.Dimensions{Length: 30, Width: 20, Height: 10, Unit: model.Centimetre},
			Items: []model.Item{
				{Description: "Cotton kurta", HSNCode: "6211", Quantity: 2, UnitValue: &model.Money{Amount: 899.5, Currency: "INR"}},
				{Description: "Silk dupatta", HSNCode: "6214", Quantity: 1, UnitValue: &model.Money{Amount: 1200}},
			},
		}},
		PaymentMode: model.Prepaid,
		Invoice:     &model.InvoiceRef{Number: "INV-2026-0042", Date: "2026-11-20", Value: model.Money{Amount: 2999, Currency: "INR"}},
		ShipDate:    "2026-11-21",
	}
}

// wantErr checks an error's code, source and field, and that it leaks no token.
func wantErr(t *testing.T, err *sdk.Error, code sdk.Code, source sdk.Source, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got success", code)
	}
	if err.Code != code || err.Source != source || err.Field != field {
		t.Fatalf("got code=%s source=%s field=%q (%v); want code=%s source=%s field=%q", err.Code, err.Source, err.Field, err, code, source, field)
	}
	for _, s := range []string{err.Error(), err.Message, err.CarrierMessage, err.CarrierCode} {
		if strings.Contains(s, simulator.DefaultToken) || strings.Contains(s, "wrong-token") {
			t.Fatalf("error leaks the token: %q", s)
		}
	}
}

// ist is India Standard Time.
var ist = time.FixedZone("IST", 5*3600+30*60)
