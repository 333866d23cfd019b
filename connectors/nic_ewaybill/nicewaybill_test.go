package nicewaybill_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	nicewaybill "github.com/carrierhub/hub/connectors/nic_ewaybill"
	"github.com/carrierhub/hub/connectors/nic_ewaybill/simulator"
	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/sdktest"
	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
	"github.com/carrierhub/hub/sdk/transport/nic"
	"github.com/carrierhub/hub/sdk/transport/nic/nicsim"
)

// TestMain lets the in-process tests reach the simulator on loopback through
// the egress guard, as the hub's egress.allow would.
func TestMain(m *testing.M) { egresstest.Main(m) }

func generateRequest(doc string) model.EWayBillRequest {
	return model.EWayBillRequest{
		SupplyType: "O", SubSupplyType: "1", DocType: "INV", DocNumber: doc, DocDate: "2026-12-01", TransactionType: 1,
		From: model.Address{Company: "welton", Lines: []string{"2ND CROSS NO 59 19 A", "GROUND FLOOR"}, City: "Bengaluru",
			StateCode: "29", PostalCode: "560090", GSTIN: simulator.GSTIN},
		To: model.Address{Company: "sthuthya", Lines: []string{"Shree Nilaya"}, City: "Shimla", StateCode: "02", PostalCode: "171001",
			GSTIN: "02EHFPS5910D2ZM"},
		Items:      []model.TaxedItem{{Description: "Wheat", HSNCode: "1001", Quantity: 4, Unit: "BOX", TaxableAmount: 56099, IGSTRate: 3}},
		TotalValue: 56099, TotalInvoiceValue: 57781.97,
		Transport: model.Transport{Mode: "road", DistanceKm: 150, VehicleNumber: "PVC1234", VehicleType: "regular"},
	}
}

func extension(number string) model.EWayBillExtension {
	return model.EWayBillExtension{Number: number, FromPlace: "Nagpur", FromStateCode: "27", FromPincode: "440001",
		RemainingDistanceKm: 100, ReasonCode: 1, Remarks: "Flood", ConsignmentStatus: "in_movement",
		Transport: model.Transport{Mode: "road", VehicleNumber: "PVC1234"}}
}

// TestGenerateThenExtend is the end-to-end check: an e-way bill generated
// through the connector against the simulator (login with the RSA envelope,
// SEK, encrypted payloads), its vehicle changed, then extended inside NIC's
// window after being refused outside it, and finally no longer cancellable
// after 24 hours; one login throughout.
func TestGenerateThenExtend(t *testing.T) {
	clk := testclock.New(time.Date(2026, 12, 1, 9, 30, 0, 0, model.IST))
	sim, err := simulator.NewWithOptions(nicsim.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c := nicewaybill.NewWithOptions(nicewaybill.Options{Manager: func(cfg *nic.Config) { cfg.Now = clk.Now }})
	acct := sim.SDKAccount()
	ctx := context.Background()

	gen, err := c.GenerateEWayBill(ctx, &sdk.Request[model.EWayBillRequest]{Account: acct, Body: generateRequest("INV/26/1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(gen.Number) != 12 || gen.Status != "active" || gen.VehicleNumber != "PVC1234" || gen.ValidUntil == nil {
		t.Fatalf("generated %+v", gen)
	}
	if !gen.GeneratedAt.Equal(clk.Now()) {
		t.Errorf("generated_at %v, want %v", gen.GeneratedAt, clk.Now())
	}
	if _, off := gen.GeneratedAt.Zone(); off != 19800 {
		t.Errorf("generated_at %v is not in India time", gen.GeneratedAt)
	}
	// 150 km is one day for the simulator: valid to the next day, 23:59 IST.
	if want := time.Date(2026, 12, 2, 23, 59, 0, 0, model.IST); !gen.ValidUntil.Equal(want) {
		t.Errorf("valid_until %v, want %v", gen.ValidUntil, want)
	}

	_, err = c.GenerateEWayBill(ctx, &sdk.Request[model.EWayBillRequest]{Account: acct, Body: generateRequest("INV/26/1")})
	if e := sdktest.Error(t, err); e.Code != sdk.CodeConflict || e.CarrierCode != "604" || e.Source != sdk.SourceCarrier {
		t.Errorf("duplicate: %+v", e)
	}

	upd, err := c.UpdateEWayBillVehicle(ctx, &sdk.Request[model.EWayBillVehicleUpdate]{Account: acct, Body: model.EWayBillVehicleUpdate{
		Number: gen.Number, FromPlace: "Hubli", FromStateCode: "29", ReasonCode: 1, Remarks: "breakdown",
		Transport: model.Transport{Mode: "road", VehicleNumber: "ka 01 ab 1234"}}})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Number != gen.Number || upd.VehicleNumber != "KA01AB1234" || !upd.ValidUntil.Equal(*gen.ValidUntil) {
		t.Errorf("vehicle update %+v", upd)
	}

	// Too early: NIC extends only from 8 hours before expiry.
	_, err = c.ExtendEWayBill(ctx, &sdk.Request[model.EWayBillExtension]{Account: acct, Body: extension(gen.Number)})
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInvalidRequest || e.CarrierCode != "382" || e.CarrierMessage == "" {
		t.Errorf("early extension: %+v", e)
	}
	clk.Set(gen.ValidUntil.Add(-3 * time.Hour))
	ext, err := c.ExtendEWayBill(ctx, &sdk.Request[model.EWayBillExtension]{Account: acct, Body: extension(gen.Number)})
	if err != nil {
		t.Fatal(err)
	}
	if ext.Number != gen.Number || ext.ValidUntil == nil || !ext.ValidUntil.After(*gen.ValidUntil) || ext.Status != "active" {
		t.Fatalf("extended %+v (was valid until %v)", ext, gen.ValidUntil)
	}
	// Held in a warehouse: mode 5 with status T and transit type W.
	clk.Set(ext.ValidUntil.Add(2 * time.Hour))
	held := extension(gen.Number)
	held.ConsignmentStatus, held.TransitType, held.Transport = "in_transit", "warehouse", model.Transport{}
	held.TransitAddress = &model.Address{Lines: []string{"Plot 4, MIDC", "Hingna Road"}}
	ext2, err := c.ExtendEWayBill(ctx, &sdk.Request[model.EWayBillExtension]{Account: acct, Body: held})
	if err != nil {
		t.Fatal(err)
	}
	if !ext2.ValidUntil.After(*ext.ValidUntil) {
		t.Errorf("second extension %v, not after %v", ext2.ValidUntil, ext.ValidUntil)
	}

	_, err = c.CancelEWayBill(ctx, &sdk.Request[model.EWayBillCancel]{Account: acct, Body: model.EWayBillCancel{Number: gen.Number, ReasonCode: 2}})
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInvalidRequest || e.CarrierCode != "315" {
		t.Errorf("cancel after 24 hours: %+v", e)
	}
	// One login, then one more each time the clock passed the 6-hour token.
	if n := sim.Server().Logins(simulator.GSTIN); n != 3 {
		t.Errorf("%d logins, want 3 (one per token lifetime the clock crossed)", n)
	}
}

// TestCancel cancels a fresh bill, then again.
func TestCancel(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c, acct, ctx := nicewaybill.New().(*nicewaybill.Connector), sim.SDKAccount(), context.Background()
	gen, err := c.GenerateEWayBill(ctx, &sdk.Request[model.EWayBillRequest]{Account: acct, Body: generateRequest("INV/26/2")})
	if err != nil {
		t.Fatal(err)
	}
	req := &sdk.Request[model.EWayBillCancel]{Account: acct, Body: model.EWayBillCancel{Number: gen.Number, ReasonCode: 3, Remarks: "typo"}}
	got, err := c.CancelEWayBill(ctx, req)
	if err != nil || got.Number != gen.Number || got.Status != "cancelled" {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	_, err = c.CancelEWayBill(ctx, req)
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInvalidRequest || e.CarrierCode != "312" {
		t.Errorf("second cancel: %+v", e)
	}
}

// TestGet reads a bill through its life (GET GetEwayBill, its answer sealed
// under a fresh REK with an HMAC): as generated, after a new vehicle (the latest
// Part-B's), cancelled; an unknown number is not_found (325), a malformed one
// is refused before anything is sent.
func TestGet(t *testing.T) {
	clk := testclock.New(time.Date(2026, 12, 1, 9, 30, 0, 0, model.IST))
	sim, err := simulator.NewWithOptions(nicsim.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c := nicewaybill.NewWithOptions(nicewaybill.Options{Manager: func(cfg *nic.Config) { cfg.Now = clk.Now }})
	acct, ctx := sim.SDKAccount(), context.Background()
	get := func(number string) (*model.EWayBill, error) {
		return c.GetEWayBill(ctx, &sdk.Request[model.EWayBillLookup]{Account: acct, Body: model.EWayBillLookup{Number: number}})
	}
	gen, err := c.GenerateEWayBill(ctx, &sdk.Request[model.EWayBillRequest]{Account: acct, Body: generateRequest("INV/26/7")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := get(gen.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != gen.Number || got.Status != "active" || !got.GeneratedAt.Equal(gen.GeneratedAt) ||
		got.ValidUntil == nil || !got.ValidUntil.Equal(*gen.ValidUntil) || got.VehicleNumber != "PVC1234" {
		t.Fatalf("read after generation %+v, generated %+v", got, gen)
	}
	clk.Set(clk.Now().Add(time.Hour))
	if _, err := c.UpdateEWayBillVehicle(ctx, &sdk.Request[model.EWayBillVehicleUpdate]{Account: acct, Body: model.EWayBillVehicleUpdate{
		Number: gen.Number, FromPlace: "Hubli", FromStateCode: "29", ReasonCode: 1,
		Transport: model.Transport{Mode: "road", VehicleNumber: "KA01AB1234"}}}); err != nil {
		t.Fatal(err)
	}
	if got, err = get(gen.Number); err != nil || got.VehicleNumber != "KA01AB1234" || !got.GeneratedAt.Equal(gen.GeneratedAt) {
		t.Fatalf("read after the vehicle update %+v, %v", got, err)
	}
	if _, err := c.CancelEWayBill(ctx, &sdk.Request[model.EWayBillCancel]{Account: acct, Body: model.EWayBillCancel{Number: gen.Number, ReasonCode: 2}}); err != nil {
		t.Fatal(err)
	}
	if got, err = get(gen.Number); err != nil || got.Status != "cancelled" {
		t.Fatalf("read after cancelling %+v, %v", got, err)
	}
	_, err = get("391001234567")
	if e := sdktest.Error(t, err); e.Code != sdk.CodeNotFound || e.CarrierCode != "325" || e.CarrierMessage != "325: Could not retrieve data" {
		t.Errorf("unknown bill: %+v", e)
	}
	_, err = get("39100123456")
	if e := sdktest.Error(t, err); e.Code != sdk.CodeInvalidRequest || e.Field != "/number" || !e.NotSent {
		t.Errorf("11 digits: %+v", e)
	}
	if n := sim.Server().Logins(simulator.GSTIN); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}

// TestRefusedBeforeSending checks requests NIC would refuse are refused
// locally, naming the field, and that account problems are auth_failed.
func TestRefusedBeforeSending(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c, ctx := nicewaybill.New().(*nicewaybill.Connector), context.Background()
	gen := func(mut func(*model.EWayBillRequest)) error {
		r := generateRequest("INV/26/3")
		mut(&r)
		_, err := c.GenerateEWayBill(ctx, &sdk.Request[model.EWayBillRequest]{Account: sim.SDKAccount(), Body: r})
		return err
	}
	for _, tc := range []struct {
		field string
		mut   func(*model.EWayBillRequest)
	}{
		{"/doc_number", func(r *model.EWayBillRequest) { r.DocNumber = "far too long a document number" }},
		{"/doc_date", func(r *model.EWayBillRequest) { r.DocDate = "01/12/2026" }},
		{"/from/gstin", func(r *model.EWayBillRequest) { r.From.GSTIN = "" }},
		{"/to/postal_code", func(r *model.EWayBillRequest) { r.To.PostalCode = "1710" }},
		{"/ship_to/state_code", func(r *model.EWayBillRequest) { r.ShipTo = &model.Address{PostalCode: "171001"} }},
		{"/items/0/hsn_code", func(r *model.EWayBillRequest) { r.Items[0].HSNCode = "10" }},
		{"/items/0/igst_amount", func(r *model.EWayBillRequest) { v := -1.0; r.Items[0].IGSTAmount = &v }},
		{"/transport/mode", func(r *model.EWayBillRequest) { r.Transport.Mode = "pipeline" }},
		{"/transport/vehicle_type", func(r *model.EWayBillRequest) { r.Transport.VehicleType = "truck" }},
	} {
		e := sdktest.Error(t, gen(tc.mut))
		if e.Code != sdk.CodeInvalidRequest || e.Field != tc.field || !e.NotSent {
			t.Errorf("%s: %+v", tc.field, e)
		}
	}
	ext := extension("123456789012")
	ext.ConsignmentStatus = "in_transit"
	_, err = c.ExtendEWayBill(ctx, &sdk.Request[model.EWayBillExtension]{Account: sim.SDKAccount(), Body: ext})
	if e := sdktest.Error(t, err); e.Field != "/transit_type" {
		t.Errorf("in_transit without a transit type: %+v", e)
	}
	upd := model.EWayBillVehicleUpdate{Number: "123456789012", FromPlace: "X", FromStateCode: "29", ReasonCode: 1, Transport: model.Transport{Mode: "rail"}}
	_, err = c.UpdateEWayBillVehicle(ctx, &sdk.Request[model.EWayBillVehicleUpdate]{Account: sim.SDKAccount(), Body: upd})
	if e := sdktest.Error(t, err); e.Field != "/transport/doc_number" {
		t.Errorf("rail without a transport document: %+v", e)
	}

	for name, mut := range map[string]func(a *sdk.Account){
		"no public key":  func(a *sdk.Account) { delete(a.Settings, nic.SettingPublicKey) },
		"bad public key": func(a *sdk.Account) { a.Settings[nic.SettingPublicKey] = "not a key" },
		"no gstin":       func(a *sdk.Account) { delete(a.Settings, nic.SettingGSTIN) },
		"no password":    func(a *sdk.Account) { delete(a.Credentials, nic.CredPassword) },
	} {
		a := sim.SDKAccount()
		mut(a)
		_, err := c.CancelEWayBill(ctx, &sdk.Request[model.EWayBillCancel]{Account: a, Body: model.EWayBillCancel{Number: "123456789012", ReasonCode: 1}})
		if e := sdktest.Error(t, err); e.Code != sdk.CodeAuthFailed || !e.NotSent {
			t.Errorf("%s: %+v", name, e)
		}
	}
	wrong := sim.SDKAccount()
	wrong.Credentials[nic.CredPassword] = "wrong"
	_, err = c.CancelEWayBill(ctx, &sdk.Request[model.EWayBillCancel]{Account: wrong, Body: model.EWayBillCancel{Number: "123456789012", ReasonCode: 1}})
	if e := sdktest.Error(t, err); e.Code != sdk.CodeAuthFailed || e.CarrierCode != "108" {
		t.Errorf("wrong password: %+v", e)
	}
	if sim.Server().Logins(simulator.GSTIN) != 1 {
		t.Errorf("logins %d: only the wrong password should have reached NIC", sim.Server().Logins(simulator.GSTIN))
	}
	if err := c.CheckHealth(ctx, sim.SDKAccount()); err != nil {
		t.Errorf("health: %v", err)
	}
}

func TestParseNICTime(t *testing.T) {
	ist := model.IST
	for in, want := range map[string]time.Time{
		"15/12/2017 11:35:00 AM":  time.Date(2017, 12, 15, 11, 35, 0, 0, ist),
		"06/05/2024 11:59:00 PM":  time.Date(2024, 5, 6, 23, 59, 0, 0, ist),
		"01/05/2024 12:04:00 AM":  time.Date(2024, 5, 1, 0, 4, 0, 0, ist),
		"01/05/2024 12:04:00 PM":  time.Date(2024, 5, 1, 12, 4, 0, 0, ist),
		"21/05/2018 23:59:00 PM":  time.Date(2018, 5, 21, 23, 59, 0, 0, ist),
		"21/05/201811:59:00 PM":   time.Date(2018, 5, 21, 23, 59, 0, 0, ist),
		"17/09/2017 -11:59:00 PM": time.Date(2017, 9, 17, 23, 59, 0, 0, ist),
		"17/09/2017 12.00:00 PM":  time.Date(2017, 9, 17, 12, 0, 0, 0, ist),
		"03/05/2018 11:03":        time.Date(2018, 5, 3, 11, 3, 0, 0, ist),
	} {
		got, ok := nicewaybill.ParseNICTime(in)
		if !ok || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", " ", "31/02/2024 10:00:00 AM", "2024-05-01T10:00:00+05:30", "15/13/2017 11:35:00 AM"} {
		if got, ok := nicewaybill.ParseNICTime(in); ok {
			t.Errorf("%q read as %v", in, got)
		}
	}
}

// TestConcurrentGenerates shares one login among 50 concurrent calls of one
// account, each an e-way bill of its own.
func TestConcurrentGenerates(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c, acct := nicewaybill.New().(*nicewaybill.Connector), sim.SDKAccount()
	var wg sync.WaitGroup
	numbers := make([]string, 50)
	for i := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.GenerateEWayBill(context.Background(), &sdk.Request[model.EWayBillRequest]{Account: acct, Body: generateRequest(fmt.Sprintf("C/%d", i))})
			if err != nil {
				t.Error(err)
				return
			}
			numbers[i] = b.Number
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, n := range numbers {
		if n == "" || seen[n] {
			t.Fatalf("numbers %v", numbers)
		}
		seen[n] = true
	}
	if n := sim.Server().Logins(simulator.GSTIN); n != 1 {
		t.Errorf("%d logins for 50 concurrent calls, want 1", n)
	}
}
