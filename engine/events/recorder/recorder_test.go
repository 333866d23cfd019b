package recorder_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/events/recorder"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/sdk"
)

type fullStore interface {
	store.Store
	recorder.Store
}

func TestAfterCall(t *testing.T) {
	st := storetest.OpenSQLite(t)
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
	// The same answer again, and again with a result whose time does not read
	// (decoded in full, refused, reported): no events the second time.
	evs, err = call(sdk.OpTrack, `{"results":[
		{"tracking_number":"AWB1","status":"delivered","events":[{"time":"2030-01-01T10:00:00+05:30","status":"delivered"}]}]}`)
	want("the same track answer again", evs, err)
	evs, err = call(sdk.OpTrack, `{"results":[
		{"tracking_number":"AWB1","status":"delivered","events":[{"time":"2030-01-01T10:00:00+05:30","status":"delivered"}]},
		{"tracking_number":"AWB3","status":"in_transit","events":[{"time":"yesterday","status":"in_transit"}]}]}`)
	if len(evs) != 0 || err == nil || !strings.Contains(err.Error(), "decoding a result") {
		t.Fatalf("a result that does not decode: %v, %v", evs, err)
	}
	if _, err := call(sdk.OpTrack, `{"results":"AWB1"}`); err == nil {
		t.Fatal("results that are not a list were accepted")
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

func TestAfterCallEWayBills(t *testing.T) {
	st := storetest.OpenSQLite(t)
	s := st.(fullStore)
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	notified := 0
	r := recorder.New(s, func() { notified++ })
	call := func(op sdk.Operation, resp string) []events.Stored {
		t.Helper()
		evs, err := r.AfterCall(t.Context(), tn.ID, "nic_ewaybill", "acc_1", op, []byte(resp))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return evs
	}
	valid := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	generated := fmt.Sprintf(`{"number":"331001234567","generated_at":"2030-01-01T10:00:00Z","valid_until":%q}`,
		valid.Format(time.RFC3339))
	if evs := call(sdk.OpGenerateEWayBill, generated); len(evs) != 1 || evs[0].Type != events.EWayBillGenerated ||
		string(evs[0].Data) != generated {
		t.Fatalf("generate: %+v", evs)
	}
	if evs := call(sdk.OpGenerateEWayBill, generated); len(evs) != 0 {
		t.Fatalf("the same generation recorded twice appended %+v", evs)
	}
	b, err := s.GetEWayBill(t.Context(), tn.ID, "331001234567")
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != store.EWayBillActive || b.ValidUntil == nil || !b.ValidUntil.Equal(valid) || b.ConnectorID != "nic_ewaybill" {
		t.Fatalf("recorded bill %+v", b)
	}
	// Within 8 hours of its end the bill gets its notice, once.
	claim := func(now time.Time) int {
		t.Helper()
		evs, err := s.ClaimExpiring(t.Context(), now, 8*time.Hour, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	if n := claim(valid.Add(-7 * time.Hour)); n != 1 {
		t.Fatalf("%d notices, want 1", n)
	}
	// A vehicle update that extends the validity re-arms it.
	extended := valid.Add(24 * time.Hour)
	update := fmt.Sprintf(`{"number":"331001234567","generated_at":"2030-01-01T10:00:00Z","valid_until":%q}`,
		extended.Format(time.RFC3339))
	if evs := call(sdk.OpUpdateEWayBillVehicle, update); len(evs) != 1 || evs[0].Type != events.EWayBillVehicleUpdated {
		t.Fatalf("vehicle update: %+v", evs)
	}
	if evs := call(sdk.OpUpdateEWayBillVehicle, update); len(evs) != 0 {
		t.Fatalf("the same vehicle update recorded twice appended %+v", evs)
	}
	if n := claim(extended.Add(-7 * time.Hour)); n != 1 {
		t.Fatalf("after the extension %d notices, want 1", n)
	}
	// extend_eway_bill records the new validity and the vehicle it names.
	again := extended.Add(24 * time.Hour)
	extension := fmt.Sprintf(`{"number":"331001234567","generated_at":"2030-01-01T10:00:00Z","valid_until":%q,"vehicle_number":"KA01AB1234"}`,
		again.Format(time.RFC3339))
	if evs := call(sdk.OpExtendEWayBill, extension); len(evs) != 1 || evs[0].Type != events.EWayBillExtended {
		t.Fatalf("extension: %+v", evs)
	}
	if b, _ := s.GetEWayBill(t.Context(), tn.ID, "331001234567"); !b.ValidUntil.Equal(again) || b.Vehicle != "KA01AB1234" {
		t.Fatalf("extended bill %+v", b)
	}
	// A cancellation the provider did not confirm records nothing; a confirmed one
	// appends eway_bill.cancelled and stops the notices.
	call(sdk.OpGenerateEWayBill, fmt.Sprintf(`{"number":"331001234568","generated_at":"2030-01-01T10:00:00Z","valid_until":%q}`,
		valid.Format(time.RFC3339)))
	if evs := call(sdk.OpCancelEWayBill, `{"number":"331001234568","generated_at":"2030-01-01T10:00:00Z","status":"active"}`); len(evs) != 0 {
		t.Fatalf("unconfirmed cancel: %+v", evs)
	}
	if b, _ := s.GetEWayBill(t.Context(), tn.ID, "331001234568"); b.Status != store.EWayBillActive {
		t.Fatalf("an unconfirmed cancellation changed the bill: %+v", b)
	}
	if evs := call(sdk.OpCancelEWayBill, `{"number":"331001234568","generated_at":"2030-01-01T10:00:00Z","status":"cancelled"}`); len(evs) != 1 ||
		evs[0].Type != events.EWayBillCancelled {
		t.Fatalf("cancel: %+v", evs)
	}
	if b, _ := s.GetEWayBill(t.Context(), tn.ID, "331001234568"); b.Status != store.EWayBillCancelled {
		t.Fatalf("cancelled bill %+v", b)
	}
	// get_eway_bill is a read: it records nothing, whatever it reports.
	read := fmt.Sprintf(`{"number":"331001234568","generated_at":"2030-01-01T10:00:00Z","valid_until":%q,"status":"active","vehicle_number":"KA01AB9999"}`,
		again.Format(time.RFC3339))
	if evs := call(sdk.OpGetEWayBill, read); len(evs) != 0 {
		t.Fatalf("get_eway_bill recorded %+v", evs)
	}
	if b, _ := s.GetEWayBill(t.Context(), tn.ID, "331001234568"); b.Status != store.EWayBillCancelled || b.Vehicle == "KA01AB9999" {
		t.Fatalf("a read changed the bill: %+v", b)
	}
	if n := claim(valid.Add(-7 * time.Hour)); n != 0 {
		t.Fatalf("%d notices for a cancelled bill", n)
	}
	if notified != 5 {
		t.Fatalf("notify called %d times, want once per call that appended (5)", notified)
	}
	for op, resp := range map[sdk.Operation]string{
		sdk.OpGenerateEWayBill:      `{"number":"","generated_at":"2030-01-01T10:00:00Z"}`,
		sdk.OpUpdateEWayBillVehicle: `{"generated_at":"2030-01-01T10:00:00Z"}`,
		sdk.OpCancelEWayBill:        `{"status":"cancelled"}`,
	} {
		if _, err := r.AfterCall(t.Context(), tn.ID, "nic_ewaybill", "acc_1", op, []byte(resp)); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s without a number: %v, want ErrInvalid", op, err)
		}
	}
	if _, err := r.AfterCall(t.Context(), tn.ID, "nic_ewaybill", "acc_1", sdk.OpCancelEWayBill, []byte(`[`)); err == nil {
		t.Error("an undecodable cancel response was accepted")
	}
}
