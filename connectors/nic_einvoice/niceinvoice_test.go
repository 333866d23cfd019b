package niceinvoice_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	niceinvoice "github.com/carrierhub/hub/connectors/nic_einvoice"
	"github.com/carrierhub/hub/connectors/nic_einvoice/simulator"
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

func invoiceRequest(doc string) model.EInvoiceRequest {
	return model.EInvoiceRequest{
		DocType: "INV", DocNumber: doc, DocDate: "2026-12-01", SupplyType: "B2B",
		Seller: model.Address{Company: "welton", Lines: []string{"2ND CROSS NO 59 19 A", "GROUND FLOOR"}, City: "Bengaluru",
			StateCode: "29", PostalCode: "560090", GSTIN: simulator.GSTIN},
		Buyer: model.Address{Company: "sthuthya", Lines: []string{"Shree Nilaya"}, City: "Shimla", StateCode: "02", PostalCode: "171001",
			GSTIN: "02EHFPS5910D2ZM"},
		Items:      []model.TaxedItem{{Description: "Wheat", HSNCode: "1001", Quantity: 4, Unit: "BOX", TaxableAmount: 56099, IGSTRate: 3}},
		TotalValue: 57781.97,
	}
}

func ptr(v float64) *float64 { return &v }

// TestGenerate is the end-to-end check: an invoice registered through the
// connector against the simulator (v1.04 login with the RSA envelope, SEK,
// encrypted payloads), its signed QR code readable, a repeat refused as a
// conflict, and a new login only once the token has run out.
func TestGenerate(t *testing.T) {
	clk := testclock.New(time.Date(2026, 12, 1, 9, 30, 0, 0, model.IST))
	sim, err := simulator.NewWithOptions(nicsim.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c := niceinvoice.NewWithOptions(niceinvoice.Options{Manager: func(cfg *nic.Config) { cfg.Now = clk.Now }})
	acct, ctx := sim.SDKAccount(), context.Background()

	inv, err := c.GenerateEInvoice(ctx, &sdk.Request[model.EInvoiceRequest]{Account: acct, Body: invoiceRequest("INV/26/1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.IRN) != 64 || inv.AckNumber == "" || inv.Status != "ACT" || inv.EWayBillNumber != "" {
		t.Fatalf("registered %+v", inv)
	}
	if !inv.AckDate.Equal(clk.Now()) {
		t.Errorf("ack_date %v, want %v", inv.AckDate, clk.Now())
	}
	if _, off := inv.AckDate.Zone(); off != 19800 {
		t.Errorf("ack_date %v is not in India time", inv.AckDate)
	}
	// The QR code is a JWS whose data names the document and the IRN.
	parts := strings.Split(inv.SignedQRCode, ".")
	if len(parts) != 3 {
		t.Fatalf("signed QR code %q is not a compact JWS", inv.SignedQRCode)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Data string }
	var qr struct{ DocNo, Irn, SellerGstin string }
	if err := json.Unmarshal(payload, &claims); err != nil || json.Unmarshal([]byte(claims.Data), &qr) != nil ||
		qr.DocNo != "INV/26/1" || qr.Irn != inv.IRN || qr.SellerGstin != simulator.GSTIN {
		t.Errorf("QR code data %s (%v)", payload, err)
	}

	_, err = c.GenerateEInvoice(ctx, &sdk.Request[model.EInvoiceRequest]{Account: acct, Body: invoiceRequest("INV/26/1")})
	if e := sdktest.Error(t, err); e.Code != sdk.CodeConflict || e.CarrierCode != "2150" || e.CarrierMessage != "2150: Duplicate IRN" || e.NotSent {
		t.Errorf("duplicate: %+v", e)
	}
	// NIC treats document numbers case-insensitively.
	_, err = c.GenerateEInvoice(ctx, &sdk.Request[model.EInvoiceRequest]{Account: acct, Body: invoiceRequest("inv/26/1")})
	if e := sdktest.Error(t, err); e.Code != sdk.CodeConflict {
		t.Errorf("duplicate in lower case: %+v", e)
	}
	if n := sim.Server().Logins(simulator.GSTIN); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	clk.Set(clk.Now().Add(7 * time.Hour)) // past the simulator's 6-hour token
	if _, err := c.GenerateEInvoice(ctx, &sdk.Request[model.EInvoiceRequest]{Account: acct, Body: invoiceRequest("INV/26/2")}); err != nil {
		t.Fatal(err)
	}
	if n := sim.Server().Logins(simulator.GSTIN); n != 2 {
		t.Errorf("%d logins after the token expired, want 2", n)
	}
	// A token NIC dropped on its side (1005) is renewed once, transparently.
	sim.Server().RevokeTokens()
	if _, err := c.GenerateEInvoice(ctx, &sdk.Request[model.EInvoiceRequest]{Account: acct, Body: invoiceRequest("INV/26/3")}); err != nil {
		t.Fatalf("after revoke: %v", err)
	}
	if n := sim.Server().Logins(simulator.GSTIN); n != 3 {
		t.Errorf("%d logins after a revoked token, want 3", n)
	}
}

// TestPayload checks the schema v1.1 JSON the connector sends, replayed
// against a scripted answer: the mapping of parties, items, totals, an export
// buyer without a GSTIN (no tax computed on an export without payment), and
// the answer's e-way bill number.
func TestPayload(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r := invoiceRequest("EXP/1")
	r.SupplyType = "EXPWOP"
	r.Buyer = model.Address{Company: "Acme GmbH", Lines: []string{"Hauptstr. 1"}, City: "Berlin", PostalCode: "10115", CountryCode: "DE"}
	r.Items = append(r.Items, model.TaxedItem{Description: "Consulting", HSNCode: "998311", TaxableAmount: 1000.004, CGSTRate: 9, SGSTRate: 9})
	r.TotalValue = 57099
	want := `{"Version":"1.1","TranDtls":{"TaxSch":"GST","SupTyp":"EXPWOP"},"DocDtls":{"Typ":"INV","No":"EXP/1","Dt":"01/12/2026"},
	 "SellerDtls":{"Gstin":"29AKLPM8755F1ZJ","LglNm":"welton","Addr1":"2ND CROSS NO 59 19 A","Addr2":"GROUND FLOOR","Loc":"Bengaluru","Pin":560090,"Stcd":"29"},
	 "BuyerDtls":{"Gstin":"URP","LglNm":"Acme GmbH","Pos":"96","Addr1":"Hauptstr. 1","Loc":"Berlin","Pin":999999,"Stcd":"96"},
	 "ItemList":[{"SlNo":"1","PrdDesc":"Wheat","IsServc":"N","HsnCd":"1001","Qty":4,"Unit":"BOX","UnitPrice":14024.75,"TotAmt":56099,
	              "AssAmt":56099,"GstRt":3,"IgstAmt":0,"CgstAmt":0,"SgstAmt":0,"TotItemVal":56099},
	             {"SlNo":"2","PrdDesc":"Consulting","IsServc":"Y","HsnCd":"998311","UnitPrice":1000,"TotAmt":1000,
	              "AssAmt":1000,"GstRt":18,"IgstAmt":0,"CgstAmt":0,"SgstAmt":0,"TotItemVal":1000}],
	 "ValDtls":{"AssVal":57099,"CgstVal":0,"SgstVal":0,"IgstVal":0,"TotInvVal":57099}}`
	sim.Server().Script([]nicsim.Reply{{Method: "POST", Action: niceinvoice.InvoicePath, Request: []byte(want),
		Data: []byte(`{"AckNo":"112610000000001","AckDt":"2026-12-01 10:00:00","Irn":"` + strings.Repeat("a", 64) + `","Status":"ACT","EwbNo":391001234567}`)}})
	inv, err := niceinvoice.New().(*niceinvoice.Connector).GenerateEInvoice(context.Background(),
		&sdk.Request[model.EInvoiceRequest]{Account: sim.SDKAccount(), Body: r})
	if m := sim.Server().Mismatches(); len(m) > 0 {
		t.Fatalf("payload: %v", m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if inv.AckNumber != "112610000000001" || inv.EWayBillNumber != "391001234567" ||
		!inv.AckDate.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, model.IST)) {
		t.Errorf("answer %+v", inv)
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
	c, ctx := niceinvoice.New().(*niceinvoice.Connector), context.Background()
	gen := func(a *sdk.Account, mut func(*model.EInvoiceRequest)) error {
		r := invoiceRequest("INV/26/9")
		mut(&r)
		_, err := c.GenerateEInvoice(ctx, &sdk.Request[model.EInvoiceRequest]{Account: a, Body: r})
		return err
	}
	for _, tc := range []struct {
		field string
		mut   func(*model.EInvoiceRequest)
	}{
		{"/doc_type", func(r *model.EInvoiceRequest) { r.DocType = "BIL" }},
		{"/doc_number", func(r *model.EInvoiceRequest) { r.DocNumber = "0001" }},
		{"/doc_number", func(r *model.EInvoiceRequest) { r.DocNumber = "far too long a number" }},
		{"/doc_date", func(r *model.EInvoiceRequest) { r.DocDate = "01/12/2026" }},
		{"/supply_type", func(r *model.EInvoiceRequest) { r.SupplyType = "B2C" }},
		{"/seller/gstin", func(r *model.EInvoiceRequest) { r.Seller.GSTIN = "" }},
		{"/buyer/gstin", func(r *model.EInvoiceRequest) { r.Buyer.GSTIN = "" }},
		{"/buyer/company", func(r *model.EInvoiceRequest) { r.Buyer.Company = "" }},
		{"/buyer/lines", func(r *model.EInvoiceRequest) { r.Buyer.Lines = nil }},
		{"/buyer/city", func(r *model.EInvoiceRequest) { r.Buyer.City = "" }},
		{"/buyer/postal_code", func(r *model.EInvoiceRequest) { r.Buyer.PostalCode = "1710" }},
		{"/ship_to/state_code", func(r *model.EInvoiceRequest) {
			r.ShipTo = &model.Address{Company: "x", Lines: []string{"y"}, City: "z", PostalCode: "171001"}
		}},
		{"/items", func(r *model.EInvoiceRequest) { r.Items = nil }},
		{"/items/0/hsn_code", func(r *model.EInvoiceRequest) { r.Items[0].HSNCode = "10" }},
		{"/items/0/taxable_amount", func(r *model.EInvoiceRequest) { r.Items[0].TaxableAmount = -1 }},
		{"/items/0/igst_amount", func(r *model.EInvoiceRequest) { r.Items[0].IGSTAmount = ptr(-0.01) }},
		{"/items/0/unit_price", func(r *model.EInvoiceRequest) { r.Items[0].UnitPrice = ptr(-5) }},
		{"/other_charges", func(r *model.EInvoiceRequest) { r.OtherCharges = ptr(-1) }},
		{"/round_off", func(r *model.EInvoiceRequest) { r.RoundOff = ptr(-99.995) }},
	} {
		e := sdktest.Error(t, gen(sim.SDKAccount(), tc.mut))
		if e.Code != sdk.CodeInvalidRequest || e.Field != tc.field || !e.NotSent {
			t.Errorf("%s: %+v", tc.field, e)
		}
	}
	for name, mut := range map[string]func(a *sdk.Account){
		"no public key":  func(a *sdk.Account) { delete(a.Settings, nic.SettingPublicKey) },
		"bad public key": func(a *sdk.Account) { a.Settings[nic.SettingPublicKey] = "not a key" },
		"no gstin":       func(a *sdk.Account) { delete(a.Settings, nic.SettingGSTIN) },
		"no password":    func(a *sdk.Account) { delete(a.Credentials, nic.CredPassword) },
	} {
		a := sim.SDKAccount()
		mut(a)
		if e := sdktest.Error(t, gen(a, func(*model.EInvoiceRequest) {})); e.Code != sdk.CodeAuthFailed || !e.NotSent {
			t.Errorf("%s: %+v", name, e)
		}
	}
	wrong := sim.SDKAccount()
	wrong.Credentials[nic.CredPassword] = "wrong"
	if e := sdktest.Error(t, gen(wrong, func(*model.EInvoiceRequest) {})); e.Code != sdk.CodeAuthFailed || e.CarrierCode == "" {
		t.Errorf("wrong password: %+v", e)
	}
	if sim.Server().Logins(simulator.GSTIN) != 1 {
		t.Errorf("logins %d: only the wrong password should have reached NIC", sim.Server().Logins(simulator.GSTIN))
	}
	if err := c.CheckHealth(ctx, sim.SDKAccount()); err != nil {
		t.Errorf("health: %v", err)
	}
}

// TestCarrierErrors checks the IRP's codes are classified and explained.
func TestCarrierErrors(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c := niceinvoice.New().(*niceinvoice.Connector)
	for _, tc := range []struct {
		codes string
		msgs  []string
		want  sdk.Code
		text  string
	}{
		{"2176", []string{"Invalid HSN code(s)-1001"}, sdk.CodeInvalidRequest, "2176: Invalid HSN code(s)-1001"},
		{"2146", nil, sdk.CodeCarrierUnavailable, "2146: Unable to create IRN, Pls. try after some time"},
		{"1015", []string{""}, sdk.CodeAuthFailed, "1015: Invalid GSTIN for this user"},
		{"2182,2189", []string{"The taxable value of all items must be equal to the total taxable value", "Invalid total invoice value"},
			sdk.CodeInvalidRequest, "2182: The taxable value of all items must be equal to the total taxable value; 2189: Invalid total invoice value"},
	} {
		sim.Server().Script([]nicsim.Reply{{Method: "POST", Action: niceinvoice.InvoicePath, ErrorCodes: tc.codes, ErrorMessages: tc.msgs}})
		_, err := c.GenerateEInvoice(context.Background(), &sdk.Request[model.EInvoiceRequest]{Account: sim.SDKAccount(), Body: invoiceRequest("E/1")})
		e := sdktest.Error(t, err)
		if e.Code != tc.want || e.CarrierCode != tc.codes || e.CarrierMessage != tc.text || e.Source != sdk.SourceCarrier {
			t.Errorf("%s: %+v", tc.codes, e)
		}
	}
	sim.Server().Script(nil)
}

func TestParseAckTime(t *testing.T) {
	ist := model.IST
	for in, want := range map[string]time.Time{
		"2020-08-18 13:04:00":    time.Date(2020, 8, 18, 13, 4, 0, 0, ist),
		"2020-08-18T13:04:00":    time.Date(2020, 8, 18, 13, 4, 0, 0, ist),
		"18/08/2020 01:04:00 PM": time.Date(2020, 8, 18, 13, 4, 0, 0, ist),
	} {
		if got, ok := niceinvoice.ParseAckTime(in); !ok || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2020-02-31 10:00:00"} {
		if got, ok := niceinvoice.ParseAckTime(in); ok {
			t.Errorf("%q read as %v", in, got)
		}
	}
}

// TestConcurrentGenerates shares one login among 50 concurrent calls of one
// account, each an invoice of its own.
func TestConcurrentGenerates(t *testing.T) {
	sim, err := simulator.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c, acct := niceinvoice.New().(*niceinvoice.Connector), sim.SDKAccount()
	var wg sync.WaitGroup
	irns := make([]string, 50)
	for i := range irns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv, err := c.GenerateEInvoice(context.Background(), &sdk.Request[model.EInvoiceRequest]{Account: acct, Body: invoiceRequest(fmt.Sprintf("C/%d", i))})
			if err != nil {
				t.Error(err)
				return
			}
			irns[i] = inv.IRN
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, n := range irns {
		if n == "" || seen[n] {
			t.Fatalf("IRNs %v", irns)
		}
		seen[n] = true
	}
	if n := sim.Server().Logins(simulator.GSTIN); n != 1 {
		t.Errorf("%d logins for 50 concurrent calls, want 1", n)
	}
}
