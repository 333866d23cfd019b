package delhivery

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk/model"
)

// The create payload used to be built in Go with the struct below and
// json.Marshal; mappings/create-request.mapping builds it now, run by the
// create_shipment binding. legacyPayload is that Go builder, kept as the oracle
// the mapping is compared with token for token over many generated requests.

type legacyPayload struct {
	Shipments      []legacyShipment `json:"shipments"`
	PickupLocation struct {
		Name string `json:"name"`
	} `json:"pickup_location"`
}

type legacyShipment struct {
	Name           string   `json:"name"`
	Add            string   `json:"add"`
	Pin            string   `json:"pin"`
	City           string   `json:"city,omitempty"`
	State          string   `json:"state,omitempty"`
	Country        string   `json:"country"`
	Phone          string   `json:"phone"`
	Order          string   `json:"order"`
	PaymentMode    string   `json:"payment_mode"`
	ReturnPin      string   `json:"return_pin,omitempty"`
	ReturnCity     string   `json:"return_city,omitempty"`
	ReturnPhone    string   `json:"return_phone,omitempty"`
	ReturnAdd      string   `json:"return_add,omitempty"`
	ReturnState    string   `json:"return_state,omitempty"`
	ReturnCountry  string   `json:"return_country,omitempty"`
	ReturnName     string   `json:"return_name,omitempty"`
	ProductsDesc   string   `json:"products_desc,omitempty"`
	HSNCode        string   `json:"hsn_code,omitempty"`
	CODAmount      float64  `json:"cod_amount"`
	OrderDate      string   `json:"order_date,omitempty"`
	TotalAmount    float64  `json:"total_amount"`
	SellerAdd      string   `json:"seller_add,omitempty"`
	SellerName     string   `json:"seller_name,omitempty"`
	SellerInv      string   `json:"seller_inv,omitempty"`
	Quantity       *float64 `json:"quantity,omitempty"`
	Waybill        string   `json:"waybill"`
	ShipmentWidth  *float64 `json:"shipment_width,omitempty"`
	ShipmentHeight *float64 `json:"shipment_height,omitempty"`
	ShipmentLength *float64 `json:"shipment_length,omitempty"`
	Weight         float64  `json:"weight"`
	SellerGSTTIN   string   `json:"seller_gst_tin,omitempty"`
	ShippingMode   string   `json:"shipping_mode,omitempty"`
	AddressType    string   `json:"address_type,omitempty"`
	EWBN           string   `json:"ewbn,omitempty"`
	Client         string   `json:"client,omitempty"`
}

// legacyCreateJSON is the Go builder the mapping replaced, for a request that
// checkCreate accepted.
func legacyCreateJSON(req *model.ShipmentRequest, set createSettings, d createDerived) ([]byte, error) {
	p := req.Parcels[0]
	s := legacyShipment{
		Name: strings.TrimSpace(req.ShipTo.Name), Add: joinLines(req.ShipTo.Lines), Pin: req.ShipTo.PostalCode,
		City: req.ShipTo.City, State: req.ShipTo.State, Country: "India", Phone: d.Phone, Order: req.Reference,
		PaymentMode: map[model.PaymentMode]string{"": "Prepaid", model.Prepaid: "Prepaid", model.CashOnDelivery: "COD",
			model.PaymentPickup: "Pickup", model.PaymentReplace: "REPL"}[req.PaymentMode],
		OrderDate: string(req.ShipDate), TotalAmount: d.TotalAmount, Weight: round2(p.Weight.Kilograms() * 1000),
		SellerGSTTIN: req.ShipFrom.GSTIN, EWBN: req.EWayBillNumber, Client: set.ClientName,
		ShippingMode: map[string]string{"express": "Express", "surface": "Surface"}[strings.ToLower(strings.TrimSpace(req.Service))],
	}
	if req.PaymentMode == model.CashOnDelivery {
		s.CODAmount = round2(req.CODAmount.Amount)
	}
	s.ProductsDesc = p.Description
	var hsn, descs []string
	seen := map[string]bool{}
	var q float64
	for _, it := range p.Items {
		if it.Description != "" {
			descs = append(descs, it.Description)
		}
		if it.HSNCode != "" && !seen[it.HSNCode] {
			seen[it.HSNCode] = true
			hsn = append(hsn, it.HSNCode)
		}
		q += it.Quantity
	}
	if s.ProductsDesc == "" {
		s.ProductsDesc = strings.Join(descs, ", ")
	}
	s.HSNCode = strings.Join(hsn, ",")
	if q > 0 {
		s.Quantity = &q
	}
	if req.ShipTo.Residential {
		s.AddressType = "home"
	}
	if seller := firstNonEmpty(req.ShipFrom.Company, req.ShipFrom.Name); seller != "" {
		s.SellerName, s.SellerAdd = seller, joinLines(req.ShipFrom.Lines)
	}
	if req.Invoice != nil {
		s.SellerInv = req.Invoice.Number
	}
	if dm := p.Dimensions; dm != nil {
		l, w, h := dm.Centimetres()
		l, w, h = round2(l), round2(w), round2(h)
		s.ShipmentLength, s.ShipmentWidth, s.ShipmentHeight = &l, &w, &h
	}
	if rt := req.ReturnTo; rt != nil {
		s.ReturnName, s.ReturnAdd, s.ReturnPin = firstNonEmpty(rt.Company, rt.Name), joinLines(rt.Lines), rt.PostalCode
		s.ReturnCity, s.ReturnState, s.ReturnPhone, s.ReturnCountry = rt.City, rt.State, d.ReturnPhone, "India"
	}
	out := legacyPayload{Shipments: []legacyShipment{s}}
	out.PickupLocation.Name = firstNonEmpty(req.PickupLocation, set.PickupLocation)
	return json.Marshal(out)
}

// createSettings are the account settings a generated request comes with.
type createSettings struct {
	PickupLocation string
	ClientName     string
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// createRequestProgram is the create request mapping, compiled from the
// embedded folder the binding runs it from.
var createRequestProgram = mappings.Lazy(Folder(), "mappings/create-request.mapping")

// createPayloadJSON runs the create request mapping the way the binding does:
// on the envelope CreateShipment hands it, with the account's settings added as
// the runtime adds them, returning the data field (the payload sent as data=).
func createPayloadJSON(req *model.ShipmentRequest, set createSettings, derived createDerived) ([]byte, error) {
	prog, err := createRequestProgram()
	if err != nil {
		return nil, err
	}
	settings := map[string]string{}
	if set.PickupLocation != "" {
		settings["pickup_location"] = set.PickupLocation
	}
	if set.ClientName != "" {
		settings["client_name"] = set.ClientName
	}
	in, err := json.Marshal(struct {
		Settings map[string]string `json:"settings"`
		createInput
	}{settings, createInput{Shipment: req, Derived: derived}})
	if err != nil {
		return nil, err
	}
	out, err := prog.ApplyJSON(nil, in)
	if err != nil {
		return nil, err
	}
	var body struct {
		Format string          `json:"format"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &body); err != nil || body.Format != "json" {
		return nil, fmt.Errorf("the mapping wrote %s, not {format: json, data}: %v", out, err)
	}
	return body.Data, nil
}

// awkward are texts that exercise JSON escaping and trimming.
var awkward = []string{
	"", " ", "Flat 4B", "  MG Road  ", "Tom & Jerry <Pvt> Ltd", `Say "hi" \ bye`, "tab\there", "line\nbreak",
	"bell\bform\ffeed\x01", "line\u2028para\u2029", "नई दिल्ली", "Café ☕", "a, b", "日本語テキスト",
}

// randomRequest builds a request from a seeded source: valid more often than
// not, with every optional block sometimes present.
func randomRequest(r *rand.Rand) (*model.ShipmentRequest, createSettings) {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	lines := func() []string {
		n := r.IntN(4)
		out := []string{"House " + fmt.Sprint(r.IntN(999))}
		for range n {
			out = append(out, pick(awkward))
		}
		return out
	}
	phones := []string{"+91 98765 43210", "09810000002", "9876543210", "91-98100-00001"}
	addr := func() model.Address {
		return model.Address{Name: pick(awkward) + "Name", Company: pick(awkward), Phone: pick(phones), Lines: lines(),
			City: pick(awkward), State: pick(awkward), PostalCode: "560001", CountryCode: pick([]string{"", "IN"}),
			GSTIN: pick([]string{"", "06AABCA1234F1Z5"}), Residential: r.IntN(2) == 0}
	}
	req := &model.ShipmentRequest{
		Reference: "ORD-" + fmt.Sprint(r.IntN(1e6)) + pick([]string{"", "&<>"}),
		Service:   pick([]string{"", "surface", " Express ", "SURFACE"}),
		ShipFrom:  addr(), ShipTo: addr(),
		PaymentMode:    model.PaymentMode(pick([]string{"", "prepaid", "cod", "pickup", "replacement"})),
		ShipDate:       model.Date(pick([]string{"", "2026-11-21"})),
		PickupLocation: pick([]string{"", " WH-2 ", "A&B <WH>"}),
	}
	units := []model.WeightUnit{model.Kilogram, model.Gram, model.Pound, model.Ounce}
	p := model.Parcel{Weight: model.Weight{Value: float64(r.IntN(100000)+1) / float64([]int{1, 10, 100, 1000, 8}[r.IntN(5)]), Unit: units[r.IntN(4)]},
		Description: pick([]string{"", "", "Books & <toys>", " spaced "})}
	if r.IntN(3) > 0 {
		u := []model.LengthUnit{model.Centimetre, model.Inch}[r.IntN(2)]
		f := func() float64 { return float64(r.IntN(20000)) / float64([]int{1, 10, 100, 1000, 3}[r.IntN(5)]) }
		p.Dimensions = &model.Dimensions{Length: f(), Width: f(), Height: f(), Unit: u}
	}
	for range r.IntN(5) {
		it := model.Item{Description: pick(awkward), HSNCode: pick([]string{"", "6211", "6214", "6211"}),
			Quantity: float64(r.IntN(10)) / float64([]int{1, 1, 2, 4}[r.IntN(4)])}
		if r.IntN(3) > 0 {
			it.UnitValue = &model.Money{Amount: float64(r.IntN(500000)) / 100, Currency: pick([]string{"", "INR"})}
		}
		p.Items = append(p.Items, it)
	}
	req.Parcels = []model.Parcel{p}
	if req.PaymentMode == model.CashOnDelivery {
		req.CODAmount = &model.Money{Amount: float64(r.IntN(1000000)+1) / 1000}
	}
	if r.IntN(2) == 0 {
		req.Invoice = &model.InvoiceRef{Number: pick([]string{"", "INV-1", "INV<&>"}), Value: model.Money{Amount: float64(r.IntN(6000000)) / 100}}
	}
	if r.IntN(3) == 0 {
		req.EWayBillNumber = "123456789012"
	}
	if r.IntN(2) == 0 {
		rt := addr()
		rt.PostalCode = pick([]string{"", "122001"})
		rt.Phone = pick(append(phones, ""))
		req.ReturnTo = &rt
	}
	set := createSettings{PickupLocation: pick([]string{"GGN-WH-1", "", " WH <1> "}), ClientName: pick([]string{"", "SIMCLIENT", "A&B"})}
	return req, set
}

var createCases = flag.Int("create-cases", 3000, "generated requests TestCreateMappingMatchesGoBuilder compares")

// TestCreateMappingMatchesGoBuilder compares the mapping's payload with the Go
// builder it replaced over generated requests: the same keys in the same order,
// the same strings and the same number texts (string escapes aside).
func TestCreateMappingMatchesGoBuilder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := *createCases
	if testing.Short() {
		n = min(n, 500)
	}
	valid, weightOnly := 0, 0
	for i := range n {
		req, set := randomRequest(r)
		d, err := checkCreate(req, set.PickupLocation)
		if err != nil {
			continue
		}
		valid++
		want, err := legacyCreateJSON(req, set, d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := createPayloadJSON(req, set, d)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !sameJSON(got, want) {
			if onlyWeightRounding(got, want, req.Parcels[0].Weight.Unit) {
				weightOnly++
				continue
			}
			in, _ := json.Marshal(req)
			t.Fatalf("request %d differs\nrequest: %s\n    got: %s\n   want: %s", i, in, got, want)
		}
	}
	if valid < n/4 {
		t.Fatalf("only %d of %d generated requests were valid; the generator needs care", valid, n)
	}
	t.Logf("%d generated requests, %d valid: %d identical, %d differ only in the weight's last cent", n, valid, valid-weightOnly, weightOnly)
}

// onlyWeightRounding reports whether two payloads differ only in a weight
// given in g, lb or oz, by one hundredth of a gram. The Go builder went through
// kilograms (grams/1000*1000, lb*0.45359237*1000), which can land a hair below
// a half and round it down (4046.625 g became 4046.62); the mapping converts
// straight to grams and rounds the half away from zero (4046.63).
func onlyWeightRounding(got, want []byte, unit model.WeightUnit) bool {
	if unit == model.Kilogram {
		return false
	}
	var g, w legacyPayload
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil {
		return false
	}
	diff := g.Shipments[0].Weight - w.Shipments[0].Weight
	if diff < -0.0100001 || diff > 0.0100001 {
		return false
	}
	g.Shipments[0].Weight = w.Shipments[0].Weight
	a, _ := json.Marshal(g)
	return bytes.Equal(a, want)
}

// sameJSON reports whether two JSON texts hold the same tokens in the same
// order (keys, strings by value, numbers by their text), whatever escapes they
// use: the mapping writes < and a backspace as < and \u0008, encoding/json as
// \u003c and \b.
func sameJSON(a, b []byte) bool {
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	for {
		ta, ea := da.Token()
		tb, eb := db.Token()
		if ea != nil || eb != nil {
			return ea == io.EOF && eb == io.EOF
		}
		if ta != tb {
			return false
		}
	}
}

func TestSameJSON(t *testing.T) {
	for _, s := range awkward {
		want, _ := json.Marshal(map[string]string{"k": s})
		var raw bytes.Buffer
		enc := json.NewEncoder(&raw)
		enc.SetEscapeHTML(false)
		enc.Encode(map[string]string{"k": s})
		if !sameJSON(raw.Bytes(), want) {
			t.Errorf("%q: %s and %s should compare equal", s, raw.Bytes(), want)
		}
	}
	for _, c := range [][2]string{{`{"k":"a"}`, `{"k":"b"}`}, {`{"k":1}`, `{"k":1.0}`}, {`{"a":1,"b":2}`, `{"b":2,"a":1}`}, {`{"k":"a"}`, `{"k":"a"`}} {
		if sameJSON([]byte(c[0]), []byte(c[1])) {
			t.Errorf("%s and %s should differ", c[0], c[1])
		}
	}
}

// BenchmarkCreatePayload builds a generated request's payload through the
// mapping (envelope encoding included) and through the Go
// builder it replaced.
func BenchmarkCreatePayload(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	var req *model.ShipmentRequest
	var set createSettings
	var d createDerived
	for {
		req, set = randomRequest(r)
		var err error
		if d, err = checkCreate(req, set.PickupLocation); err == nil && req.ReturnTo != nil && req.Parcels[0].Dimensions != nil {
			break
		}
	}
	b.Run("mapping", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := createPayloadJSON(req, set, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := legacyCreateJSON(req, set, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
