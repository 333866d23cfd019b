package recorder_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/events/recorder"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

type fullStore interface {
	store.Store
	recorder.Store
}

func TestAfterCall(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(fullStore)
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	notified := 0
	r := recorder.New(s, func() { notified++ })
	call := func(op sdk.Operation, resp string) ([]events.Stored, error) {
		return r.AfterCall(t.Context(), tn.ID, "delhivery", "acc_1", op, []byte(resp))
	}
	want := func(what string, evs []events.Stored, err error, types ...events.Type) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got []events.Type
		for _, e := range evs {
			got = append(got, e.Type)
		}
		if fmt.Sprint(got) != fmt.Sprint(types) {
			t.Fatalf("%s: events %v, want %v", what, got, types)
		}
	}
	evs, err := call(sdk.OpCreateShipment, `{"tracking_number":"AWB1","reference":"PO-1"}`)
	want("create", evs, err, events.ShipmentCreated)
	evs, err = call(sdk.OpTrack, `{"results":[
		{"tracking_number":"AWB1","status":"delivered","events":[{"time":"2030-01-01T10:00:00+05:30","status":"delivered"}]},
		{"tracking_number":"AWB404","status":"unknown","sub_status":"not_found","error":{"code":"not_found","message":"no such waybill"}}]}`)
	want("track", evs, err, events.TrackingUpdated, events.ShipmentDelivered)
	if _, err := s.GetShipment(t.Context(), tn.ID, "delhivery", "AWB404"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a result with an item error was recorded: %v", err)
	}
	evs, err = call(sdk.OpCancelShipment, `{"tracking_number":"AWB2","cancelled":false}`)
	want("cancel refused by carrier", evs, err)
	evs, err = call(sdk.OpCancelShipment, `{"tracking_number":"AWB2","cancelled":true}`)
	want("cancel", evs, err, events.ShipmentCancelled)
	evs, err = call(sdk.OpGenerateEWayBill, `{"number":"331001234567","generated_at":"2030-01-01T10:00:00Z"}`)
	want("e-way bill", evs, err, events.EWayBillGenerated)
	if evs[0].Subject != "331001234567" {
		t.Fatalf("e-way bill subject %q", evs[0].Subject)
	}
	evs, err = call(sdk.OpUpdateEWayBillVehicle, `{"number":"331001234567","generated_at":"2030-01-01T10:00:00Z"}`)
	want("vehicle", evs, err, events.EWayBillVehicleUpdated)
	evs, err = call(sdk.OpGenerateEInvoice, `{"irn":"abc","ack_number":"1","ack_date":"2030-01-01T10:00:00Z"}`)
	want("e-invoice", evs, err, events.EInvoiceGenerated)
	evs, err = call(sdk.OpRate, `{"rates":[]}`)
	want("rate", evs, err)
	if _, err := call(sdk.OpCreateShipment, `{"tracking_number":`); err == nil {
		t.Fatal("an undecodable response was accepted")
	}
	if _, err := call(sdk.OpCreateShipment, `{"tracking_number":""}`); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty tracking number: %v", err)
	}
	if notified != 6 {
		t.Fatalf("notify called %d times, want once per call that appended", notified)
	}
}
