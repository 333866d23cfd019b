package bluedart

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/formats"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// The waybill Request used to be built in Go; mappings/generate-request.mapping
// builds it now, SOAP envelope included. legacyToWayBillRequest is that Go
// builder, kept as the oracle the mapping is compared with over many generated
// requests: the mapping's envelope, written as the runtime writes it (soap11),
// is decoded back into the Request types the generated SOAP client used.

// The Request types of the gowsdl client the mapping replaced
// (testdata/wsdl/bluedart/WayBillGeneration.wsdl), members in WSDL order.
type (
	WayBillGenerationRequest struct {
		Consignee  *Consignee  `xml:"Consignee"`
		Returnadds *Returnadds `xml:"Returnadds"`
		Services   *Services   `xml:"Services"`
		Shipper    *Shipper    `xml:"Shipper"`
	}
	Consignee struct {
		ConsigneeAddress1, ConsigneeAddress2, ConsigneeAddress3, ConsigneeAttention, ConsigneeEmailID,
		ConsigneeGSTNumber, ConsigneeMobile, ConsigneeName, ConsigneePincode, ConsigneeTelephone string
	}
	Returnadds struct {
		ReturnAddress1, ReturnAddress2, ReturnAddress3, ReturnContact, ReturnEmailID, ReturnMobile,
		ReturnPincode, ReturnTelephone string
	}
	Services struct {
		ActualWeight         float64
		CollectableAmount    float64
		Commodity            *CommodityDetail
		CreditReferenceNo    string
		DeclaredValue        float64
		Dimensions           *ArrayOfDimension
		InvoiceNo            string
		PDFOutputNotRequired bool
		PackType             string
		PickupDate           string
		PickupTime           string
		PieceCount           int32
		ProductCode          string
		ProductType          string
		RegisterPickup       bool
		SpecialInstruction   string
		SubProductCode       string
	}
	CommodityDetail struct {
		CommodityDetail1, CommodityDetail2, CommodityDetail3 string
	}
	ArrayOfDimension struct {
		Dimension []*Dimension `xml:"Dimension"`
	}
	Dimension struct {
		Breadth float64
		Count   int32
		Height  float64
		Length  float64
	}
	Shipper struct {
		CustomerAddress1, CustomerAddress2, CustomerAddress3, CustomerCode, CustomerEmailID, CustomerGSTNumber,
		CustomerMobile, CustomerName, CustomerPincode, CustomerTelephone string
		IsToPayCustomer                bool
		OriginArea, Sender, VendorCode string
	}
)

// legacySettings are the account settings the old builder read.
type legacySettings struct {
	CustomerCode, OriginArea, APIType, ProductCode, PickupTime, VendorCode string
}

// toWayBillRequest runs a request the way the connector does, but for the
// exchange: validateWayBill, then the request mapping over the canonical request
// with the settings, profile and default date Go and the runtime add, written
// as a SOAP 1.1 envelope and decoded back into the Request types.
func toWayBillRequest(r *model.ShipmentRequest, s legacySettings, now time.Time) (*WayBillGenerationRequest, error) {
	if err := validateWayBill(r, settings{CustomerCode: s.CustomerCode, OriginArea: s.OriginArea}); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	in, err := wayBillInput(payload, &account{loginID: "SIMBOM01", licenceKey: "sim-licence-7f3a9c"}, now.In(model.IST).Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	set := map[string]string{"customer_code": s.CustomerCode, "origin_area": s.OriginArea, "api_type": s.APIType,
		"product_code": s.ProductCode, "pickup_time": s.PickupTime, "vendor_code": s.VendorCode}
	in, err = withFields(in, map[string]any{"settings": set})
	if err != nil {
		return nil, err
	}
	prog, err := generateProgram()
	if err != nil {
		return nil, err
	}
	out, err := prog.ApplyJSON(nil, in)
	if err != nil {
		if fe := fieldError(err); fe != nil {
			return nil, fe
		}
		return nil, err
	}
	body, err := formats.Write("soap11", out, formats.WriteOptions{Declaration: true})
	if err != nil {
		return nil, err
	}
	var env struct {
		Body struct {
			GenerateWayBill struct {
				Request *WayBillGenerationRequest `xml:"http://tempuri.org/ Request"`
			} `xml:"http://tempuri.org/ GenerateWayBill"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if env.Body.GenerateWayBill.Request == nil {
		return nil, fmt.Errorf("no Request in %s", body)
	}
	return env.Body.GenerateWayBill.Request, nil
}

func legacyClip(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= n {
		return string(r)
	}
	return strings.TrimSpace(string(r[:n]))
}

const nameMax = 30

func legacyRound2(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 2, 64), 64)
	return v
}

// legacyToWayBillRequest is the Go builder the mapping replaced, verbatim but
// for its name and its rounding helper.
func legacyToWayBillRequest(r *model.ShipmentRequest, s legacySettings, now time.Time) (*WayBillGenerationRequest, error) {
	if s.CustomerCode == "" {
		return nil, sdk.InvalidField("/account/settings/customer_code", "the account has no Blue Dart customer_code setting")
	}
	if !areaPattern.MatchString(s.OriginArea) {
		return nil, sdk.InvalidField("/account/settings/origin_area", "origin_area %q must be a three-letter Blue Dart area code", s.OriginArea)
	}
	if strings.TrimSpace(r.Reference) == "" {
		return nil, sdk.InvalidField("/reference", "reference is required; Blue Dart uses it as CreditReferenceNo")
	}
	to, err := legacyParty(&r.ShipTo, "/ship_to")
	if err != nil {
		return nil, err
	}
	from, err := legacyParty(&r.ShipFrom, "/ship_from")
	if err != nil {
		return nil, err
	}
	if len(r.Parcels) == 0 {
		return nil, sdk.InvalidField("/parcels", "at least one parcel is required")
	}
	svc := &Services{
		CreditReferenceNo:  r.Reference,
		PieceCount:         int32(len(r.Parcels)),
		ProductCode:        s.ProductCode,
		ProductType:        "Dutiables",
		PickupTime:         s.PickupTime,
		SubProductCode:     "P",
		SpecialInstruction: r.Options["special_instruction"],
	}
	if r.Service != "" {
		if !productPattern.MatchString(r.Service) {
			return nil, sdk.InvalidField("/service", "service %q is not a Blue Dart product code (A, D, E...)", r.Service)
		}
		svc.ProductCode = r.Service
	}
	var commodities []string
	var weight float64
	dims := &ArrayOfDimension{}
	for i, p := range r.Parcels {
		ptr := "/parcels/" + strconv.Itoa(i)
		kg := p.Weight.Kilograms()
		if !(kg > 0) {
			return nil, sdk.InvalidField(ptr+"/weight/value", "parcel weight must be greater than zero")
		}
		weight += kg
		if p.Dimensions != nil {
			l, w, h := p.Dimensions.Centimetres()
			if !(l > 0 && w > 0 && h > 0) {
				return nil, sdk.InvalidField(ptr+"/dimensions", "length, width and height must all be greater than zero")
			}
			dims.Dimension = append(dims.Dimension, &Dimension{Length: legacyRound2(l), Breadth: legacyRound2(w), Height: legacyRound2(h), Count: 1})
		}
		if d := strings.TrimSpace(p.Description); d != "" {
			commodities = append(commodities, d)
		}
		for _, it := range p.Items {
			if d := strings.TrimSpace(it.Description); d != "" {
				commodities = append(commodities, d)
			}
			if it.UnitValue != nil && r.Invoice == nil {
				svc.DeclaredValue += it.UnitValue.Amount * it.Quantity
			}
		}
	}
	svc.ActualWeight = legacyRound2(weight)
	if len(dims.Dimension) > 0 {
		svc.Dimensions = dims
	}
	if len(commodities) > 0 {
		c := &CommodityDetail{}
		slots := []*string{&c.CommodityDetail1, &c.CommodityDetail2, &c.CommodityDetail3}
		for i, d := range commodities[:min(3, len(commodities))] {
			*slots[i] = legacyClip(d, 30)
		}
		svc.Commodity = c
	}
	if r.Invoice != nil {
		svc.InvoiceNo = r.Invoice.Number
		svc.DeclaredValue = r.Invoice.Value.Amount
	}
	svc.DeclaredValue = legacyRound2(svc.DeclaredValue)
	shipper := &Shipper{
		CustomerAddress1: from.lines[0], CustomerAddress2: from.lines[1], CustomerAddress3: from.lines[2],
		CustomerCode:      s.CustomerCode,
		CustomerEmailID:   r.ShipFrom.Email,
		CustomerGSTNumber: r.ShipFrom.GSTIN,
		CustomerMobile:    from.phone,
		CustomerName:      from.name,
		CustomerPincode:   r.ShipFrom.PostalCode,
		OriginArea:        s.OriginArea,
		Sender:            legacyClip(r.ShipFrom.Name, nameMax),
		VendorCode:        s.VendorCode,
	}
	switch r.PaymentMode {
	case "", model.Prepaid:
	case model.CashOnDelivery:
		if r.CODAmount == nil || !(r.CODAmount.Amount > 0) {
			return nil, sdk.InvalidField("/cod_amount", "a cod shipment needs a cod_amount greater than zero")
		}
		if r.CODAmount.Currency != "" && r.CODAmount.Currency != "INR" {
			return nil, sdk.InvalidField("/cod_amount/currency", "Blue Dart collects cash on delivery in INR only, not %s", r.CODAmount.Currency)
		}
		svc.SubProductCode = "C"
		svc.CollectableAmount = legacyRound2(r.CODAmount.Amount)
	case model.ToPay:
		shipper.IsToPayCustomer = true
	default:
		return nil, sdk.InvalidField("/payment_mode", "payment mode %q is not supported by Blue Dart waybill generation", r.PaymentMode)
	}
	day := now
	if r.ShipDate != "" {
		d, err := r.ShipDate.Time(model.IST)
		if err != nil {
			return nil, sdk.InvalidField("/ship_date", "ship_date %q is not a YYYY-MM-DD date", r.ShipDate)
		}
		day = d
	}
	svc.PickupDate = day.Format("2006-01-02") + "T00:00:00"
	out := &WayBillGenerationRequest{
		Consignee: &Consignee{
			ConsigneeAddress1: to.lines[0], ConsigneeAddress2: to.lines[1], ConsigneeAddress3: to.lines[2],
			ConsigneeAttention: legacyClip(firstNonEmpty(r.ShipTo.Name, r.ShipTo.Company), nameMax),
			ConsigneeEmailID:   r.ShipTo.Email,
			ConsigneeGSTNumber: r.ShipTo.GSTIN,
			ConsigneeMobile:    to.phone,
			ConsigneeName:      to.name,
			ConsigneePincode:   r.ShipTo.PostalCode,
		},
		Services: svc,
		Shipper:  shipper,
	}
	if r.ReturnTo != nil {
		ret, err := legacyParty(r.ReturnTo, "/return_to")
		if err != nil {
			return nil, err
		}
		out.Returnadds = &Returnadds{
			ReturnAddress1: ret.lines[0], ReturnAddress2: ret.lines[1], ReturnAddress3: ret.lines[2],
			ReturnContact: ret.name, ReturnEmailID: r.ReturnTo.Email, ReturnMobile: ret.phone, ReturnPincode: r.ReturnTo.PostalCode,
		}
	}
	return out, nil
}

// legacyPartyFields is a party as the old builder cut it.
type legacyPartyFields struct {
	name, phone string
	lines       [3]string
}

// legacyParty is party with the old builder's name, phone and address packing.
func legacyParty(a *model.Address, ptr string) (*legacyPartyFields, error) {
	if err := party(a, ptr); err != nil {
		return nil, err
	}
	lines, ok := legacyAddressLines(append(slices.Clone(a.Lines), a.City))
	if !ok {
		return nil, sdk.InvalidField(ptr+"/lines", "the address does not fit Blue Dart's three lines of 30 characters")
	}
	return &legacyPartyFields{name: legacyClip(firstNonEmpty(a.Company, a.Name), nameMax), phone: model.NationalNumber(a.Phone), lines: lines}, nil
}

// legacyAddressLines is the Go packing the mapping's wrap(30) replaced: three
// lines of at most 30 bytes, commas kept with the word before them.
func legacyAddressLines(parts []string) (lines [3]string, ok bool) {
	const max = 30
	var words []string
	for _, p := range parts {
		words = append(words, strings.Fields(strings.ReplaceAll(p, ",", " , "))...)
	}
	i := 0
	for _, w := range words {
		for len(w) > max {
			if lines[i] != "" {
				if i++; i == 3 {
					return lines, false
				}
			}
			lines[i] = w[:max]
			w = w[max:]
		}
		sep := " "
		if lines[i] == "" || w == "," {
			sep = ""
		}
		if len(lines[i])+len(sep)+len(w) > max {
			if w == "," {
				continue
			}
			if i++; i == 3 {
				return lines, false
			}
			sep = ""
		}
		if lines[i] == "" && w == "," {
			continue
		}
		lines[i] += sep + w
	}
	for j := range lines {
		lines[j] = strings.TrimSuffix(strings.TrimSpace(lines[j]), ",")
	}
	return lines, true
}

var wayBillCases = flag.Int("waybill-cases", 3000, "generated requests TestGenerateMappingMatchesGoBuilder compares")

var bdAwkward = []string{"", " ", "Unit 4", "  Andheri East  ", "Tom & Jerry <Pvt> Ltd", `Say "hi" \ bye`,
	"नई दिल्ली", "Café ☕", "a, b", "A very long company name that will not fit in thirty", "Plot 12, Sector 37, Pace City II"}

func randomWayBill(r *rand.Rand) *model.ShipmentRequest {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	// rarely is bad one time in twenty, else good.
	rarely := func(bad, good string) string {
		if r.IntN(20) == 0 {
			return bad
		}
		return good
	}
	addr := func() model.Address {
		a := model.Address{Name: "Ravi " + pick(bdAwkward), Company: pick(bdAwkward), Phone: rarely("98765", pick([]string{"+91 98200 11111", "09840012345", "9876543210"})),
			Email: pick([]string{"", "a@example.com"}), City: pick([]string{"Mumbai", "", "Navi Mumbai"}),
			PostalCode: rarely("012345", pick([]string{"400059", "600017"})), CountryCode: rarely("AE", pick([]string{"", "IN"})), GSTIN: pick([]string{"", "27AAPFU0939F1ZV"})}
		for range r.IntN(2) + 1 {
			a.Lines = append(a.Lines, pick(bdAwkward[:9]))
		}
		return a
	}
	req := &model.ShipmentRequest{Reference: rarely(" ", pick([]string{"ORD-1", "ORD-&<2>"})), ShipTo: addr(), ShipFrom: addr(),
		Service:     rarely("x", pick([]string{"", "E", "D"})),
		PaymentMode: model.PaymentMode(rarely("pickup", pick([]string{"", "prepaid", "cod", "to_pay"}))),
		ShipDate:    model.Date(rarely("25/11/2026", pick([]string{"", "2026-11-25"})))}
	if r.IntN(4) == 0 {
		req.Options = map[string]string{"special_instruction": pick(bdAwkward)}
	}
	units := []model.WeightUnit{model.Kilogram, model.Gram, model.Pound, model.Ounce}
	for range r.IntN(3) + 1 {
		p := model.Parcel{Weight: model.Weight{Value: float64(r.IntN(40000)) / float64([]int{1, 8, 100, 1000}[r.IntN(4)]), Unit: units[r.IntN(4)]},
			Description: pick(bdAwkward)}
		if r.IntN(2) == 0 {
			f := func() float64 { return float64(r.IntN(3000)) / float64([]int{1, 8, 100}[r.IntN(3)]) }
			p.Dimensions = &model.Dimensions{Length: f(), Width: f(), Height: f(), Unit: []model.LengthUnit{model.Centimetre, model.Inch}[r.IntN(2)]}
		}
		for range r.IntN(4) {
			it := model.Item{Description: pick(bdAwkward), Quantity: float64(r.IntN(8)) / float64([]int{1, 2, 8}[r.IntN(3)])}
			if r.IntN(2) == 0 {
				it.UnitValue = &model.Money{Amount: float64(r.IntN(400000)) / float64([]int{100, 8}[r.IntN(2)])}
			}
			p.Items = append(p.Items, it)
		}
		req.Parcels = append(req.Parcels, p)
	}
	if req.PaymentMode == model.CashOnDelivery && r.IntN(6) > 0 {
		req.CODAmount = &model.Money{Amount: float64(r.IntN(500000)) / float64([]int{100, 8}[r.IntN(2)]), Currency: rarely("USD", pick([]string{"", "INR"}))}
	}
	if r.IntN(2) == 0 {
		req.Invoice = &model.InvoiceRef{Number: pick([]string{"", "INV-77"}), Value: model.Money{Amount: float64(r.IntN(900000)) / float64([]int{100, 8}[r.IntN(2)])}}
	}
	if r.IntN(2) == 0 {
		rt := addr()
		req.ReturnTo = &rt
	}
	return req
}

// TestGenerateMappingMatchesGoBuilder compares the mapping's Request with the
// Go builder it replaced over generated requests: the same refusals (by field)
// and the same Request, but for amounts whose third decimal is a 5. The old
// code rounded the binary value with strconv (1.115, stored as 1.11499..., went
// down to 1.11; 0.125, an exact tie, went to even, 0.12); the mapping's round(2)
// is math.Round(x*100)/100, half away from zero (1.12 and 0.13), which is what
// the Delhivery connector always did. The generator leans on such amounts
// (eighths) on purpose. Addresses may be packed differently: the old code
// counted bytes (so "नई दिल्ली", 9 characters in 25 bytes, filled a line early, and
// a long word could be cut inside a character) where wrap(30) counts
// characters; withWantAddresses accepts the difference when the words are the
// same and every line holds at most 30 characters.
func TestGenerateMappingMatchesGoBuilder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := *wayBillCases
	if testing.Short() {
		n = min(n, 500)
	}
	set := legacySettings{CustomerCode: "099960", OriginArea: "BOM", ProductCode: "A", PickupTime: "1600"}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, model.IST)
	built, refused, halfCent, repacked := 0, 0, 0, 0
	for i := range n {
		req := randomWayBill(r)
		want, werr := legacyToWayBillRequest(req, set, now)
		got, gerr := toWayBillRequest(req, set, now)
		in, _ := json.Marshal(req)
		if werr != nil || gerr != nil {
			if werr == nil || gerr == nil || sdk.AsError(werr).Field != sdk.AsError(gerr).Field {
				t.Fatalf("request %d: old error %v, new error %v\nrequest: %s", i, werr, gerr, in)
			}
			refused++
			continue
		}
		built++
		if g, changed := withWantAddresses(got, want); changed {
			got = g
			repacked++
		}
		if reflect.DeepEqual(got, want) {
			continue
		}
		if onlyHalfCents(got, want) {
			halfCent++
			continue
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("request %d differs\nrequest: %s\n    got: %s\n   want: %s", i, in, g, w)
	}
	if built < n/3 {
		t.Fatalf("only %d of %d generated requests were valid; the generator needs care", built, n)
	}
	t.Logf("%d generated requests: %d refused alike, %d built, %d with addresses packed differently, %d differ only by a cent on a third decimal of 5",
		n, refused, built, repacked, halfCent)
}

// withWantAddresses returns got with want's address lines, and true, when they
// differ and got's lines hold the same words (commas aside) in lines of at most
// 30 characters. Otherwise it returns got unchanged and false.
func withWantAddresses(got, want *WayBillGenerationRequest) (*WayBillGenerationRequest, bool) {
	type lines = [3]*string
	out := *got
	var g, w []lines
	if got.Consignee != nil && want.Consignee != nil {
		c := *got.Consignee
		out.Consignee = &c
		g = append(g, lines{&c.ConsigneeAddress1, &c.ConsigneeAddress2, &c.ConsigneeAddress3})
		wc := want.Consignee
		w = append(w, lines{&wc.ConsigneeAddress1, &wc.ConsigneeAddress2, &wc.ConsigneeAddress3})
	}
	if got.Shipper != nil && want.Shipper != nil {
		c := *got.Shipper
		out.Shipper = &c
		g = append(g, lines{&c.CustomerAddress1, &c.CustomerAddress2, &c.CustomerAddress3})
		ws := want.Shipper
		w = append(w, lines{&ws.CustomerAddress1, &ws.CustomerAddress2, &ws.CustomerAddress3})
	}
	if got.Returnadds != nil && want.Returnadds != nil {
		c := *got.Returnadds
		out.Returnadds = &c
		g = append(g, lines{&c.ReturnAddress1, &c.ReturnAddress2, &c.ReturnAddress3})
		wr := want.Returnadds
		w = append(w, lines{&wr.ReturnAddress1, &wr.ReturnAddress2, &wr.ReturnAddress3})
	}
	words := func(l lines) []string {
		return strings.Fields(strings.ReplaceAll(*l[0]+" "+*l[1]+" "+*l[2], ",", " "))
	}
	changed := false
	for i := range g {
		if *g[i][0] == *w[i][0] && *g[i][1] == *w[i][1] && *g[i][2] == *w[i][2] {
			continue
		}
		if !slices.Equal(words(g[i]), words(w[i])) {
			return got, false
		}
		for _, l := range g[i] {
			if utf8.RuneCountInString(*l) > 30 {
				return got, false
			}
		}
		for k := range g[i] {
			*g[i][k] = *w[i][k]
		}
		changed = true
	}
	if !changed {
		return got, false
	}
	return &out, true
}

// onlyHalfCents reports whether two Requests differ only in amounts that are
// one cent apart.
func onlyHalfCents(got, want *WayBillGenerationRequest) bool {
	g, w := *got.Services, *want.Services
	for _, f := range []struct{ a, b *float64 }{{&g.ActualWeight, &w.ActualWeight}, {&g.DeclaredValue, &w.DeclaredValue}, {&g.CollectableAmount, &w.CollectableAmount}} {
		if d := math.Abs(*f.a - *f.b); d > 0 && d < 0.0100001 {
			*f.a = *f.b
		}
	}
	if g.Dimensions != nil && w.Dimensions != nil && len(g.Dimensions.Dimension) == len(w.Dimensions.Dimension) {
		dims := &ArrayOfDimension{}
		for k, gd := range g.Dimensions.Dimension {
			c, wd := *gd, w.Dimensions.Dimension[k]
			for _, f := range []struct{ a, b *float64 }{{&c.Length, &wd.Length}, {&c.Breadth, &wd.Breadth}, {&c.Height, &wd.Height}} {
				if d := math.Abs(*f.a - *f.b); d > 0 && d < 0.0100001 {
					*f.a = *f.b
				}
			}
			dims.Dimension = append(dims.Dimension, &c)
		}
		g.Dimensions = dims
	}
	a, b := *got, *want
	a.Services, b.Services = &g, &w
	return reflect.DeepEqual(&a, &b)
}

// TestWayBillRefusesUnknownUnits: the old builder read an unknown weight unit
// as kilograms and an unknown length unit as centimetres; now they are refused.
func TestWayBillRefusesUnknownUnits(t *testing.T) {
	set := legacySettings{CustomerCode: "099960", OriginArea: "BOM", ProductCode: "A", PickupTime: "1600"}
	base := func() *model.ShipmentRequest {
		a := model.Address{Name: "Meera", Phone: "9840012345", Lines: []string{"12 Usman Road"}, PostalCode: "600017"}
		return &model.ShipmentRequest{Reference: "ORD-1", ShipFrom: a, ShipTo: a,
			Parcels: []model.Parcel{{Weight: model.Weight{Value: 1, Unit: model.Kilogram},
				Dimensions: &model.Dimensions{Length: 1, Width: 1, Height: 1, Unit: model.Centimetre}}}}
	}
	for field, edit := range map[string]func(*model.ShipmentRequest){
		"/parcels/0/weight/unit":     func(r *model.ShipmentRequest) { r.Parcels[0].Weight.Unit = "stone" },
		"/parcels/0/dimensions/unit": func(r *model.ShipmentRequest) { r.Parcels[0].Dimensions.Unit = "mm" },
		"/parcels/0/weight/value":    func(r *model.ShipmentRequest) { r.Parcels[0].Weight.Value = math.Inf(1) },
	} {
		r := base()
		edit(r)
		_, err := toWayBillRequest(r, set, time.Now())
		if e := sdk.AsError(err); err == nil || e.Code != sdk.CodeInvalidRequest || e.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if _, err := toWayBillRequest(base(), set, time.Now()); err != nil {
		t.Fatalf("the valid base request: %v", err)
	}
}

// TestAddressThatDoesNotFit: the mapping packs addresses and refuses one that
// needs a fourth line; the refusal names the party's lines as a JSON pointer.
func TestAddressThatDoesNotFit(t *testing.T) {
	set := legacySettings{CustomerCode: "099960", OriginArea: "BOM", ProductCode: "A", PickupTime: "1600"}
	long := []string{strings.Repeat("Longword ", 12)}
	for field, edit := range map[string]func(*model.ShipmentRequest){
		"/ship_to/lines":   func(r *model.ShipmentRequest) { r.ShipTo.Lines = long },
		"/ship_from/lines": func(r *model.ShipmentRequest) { r.ShipFrom.City = long[0] },
		"/return_to/lines": func(r *model.ShipmentRequest) {
			back := r.ShipFrom
			back.Lines = append(long, "Gate 2")
			r.ReturnTo = &back
		},
	} {
		a := model.Address{Name: "Meera", Phone: "9840012345", Lines: []string{"12 Usman Road"}, PostalCode: "600017"}
		r := &model.ShipmentRequest{Reference: "ORD-1", ShipFrom: a, ShipTo: a,
			Parcels: []model.Parcel{{Weight: model.Weight{Value: 1, Unit: model.Kilogram}}}}
		edit(r)
		_, err := toWayBillRequest(r, set, time.Now())
		e := sdk.AsError(err)
		if err == nil || e.Code != sdk.CodeInvalidRequest || e.Field != field || !strings.Contains(e.Message, "three lines of 30 characters") {
			t.Errorf("%s: got %#v", field, err)
		}
	}
	// Ninety characters in whole words fill the three lines exactly.
	a := model.Address{Name: "Meera", Phone: "9840012345", PostalCode: "600017",
		Lines: []string{strings.Repeat("x", 30), strings.Repeat("y", 14) + ", " + strings.Repeat("z", 14), strings.Repeat("w", 30)}}
	r := &model.ShipmentRequest{Reference: "ORD-1", ShipFrom: a, ShipTo: a,
		Parcels: []model.Parcel{{Weight: model.Weight{Value: 1, Unit: model.Kilogram}}}}
	got, err := toWayBillRequest(r, set, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Consignee; c.ConsigneeAddress2 != strings.Repeat("y", 14)+", "+strings.Repeat("z", 14) || c.ConsigneeAddress3 != strings.Repeat("w", 30) {
		t.Errorf("packed %q %q %q", c.ConsigneeAddress1, c.ConsigneeAddress2, c.ConsigneeAddress3)
	}
}

func TestRequestPointer(t *testing.T) {
	for path, want := range map[string]string{
		"ship_to.lines":          "/ship_to/lines",
		"parcels[0].weight.unit": "/parcels/0/weight/unit",
		"parcels[1][2]":          "/parcels/1/2",
		"settings.origin_area":   "",
		"profile.login_id":       "",
		"ship_to.":               "",
		"a[x]":                   "",
		"":                       "",
	} {
		got, ok := requestPointer(path)
		if got != want || ok != (want != "") {
			t.Errorf("requestPointer(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}
