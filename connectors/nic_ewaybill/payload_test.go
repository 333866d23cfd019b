package nicewaybill

import (
	"encoding/json"
	"testing"

	"github.com/carrierhub/hub/sdk/model"
)

// TestTaxValues checks the bill's cgstValue, sgstValue, igstValue and
// cessValue: the items' stated amounts summed (in decimal, to 2 decimals),
// left out when no item states one or when an item taxed at that rate states
// none.
func TestTaxValues(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	party := func(gstin, state, pin string) model.Address {
		return model.Address{Company: "x", Lines: []string{"y"}, City: "z", StateCode: state, PostalCode: pin, GSTIN: gstin}
	}
	r := model.EWayBillRequest{SupplyType: "O", SubSupplyType: "1", DocType: "INV", DocNumber: "T/1", DocDate: "2026-12-01",
		TransactionType: 1, From: party("29AKLPM8755F1ZJ", "29", "560090"), To: party("29AAACR4849R1ZH", "29", "560001"),
		Items: []model.TaxedItem{
			{HSNCode: "1001", TaxableAmount: 100.1, CGSTRate: 9, SGSTRate: 9, CGSTAmount: f(9.01), SGSTAmount: f(9.01), CessRate: 1},
			{HSNCode: "1001", TaxableAmount: 0.2, CGSTRate: 9, SGSTRate: 9, CGSTAmount: f(0.02), CessRate: 1, CessAmount: f(0)},
			{HSNCode: "1001", TaxableAmount: 5, IGSTAmount: f(0.1)},
		},
		TotalValue: 105.3, TotalInvoiceValue: 123.4, Transport: model.Transport{DistanceKm: 10}}
	p, err := generatePayload(&r)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(map[string]*float64{"cgst": p.CGSTValue, "sgst": p.SGSTValue, "igst": p.IGSTValue, "cess": p.CessValue})
	// CGST: 9.01 + 0.02. SGST: the second item is taxed at 9% and states no
	// amount, so no bill value. IGST: only the third item states one (the
	// others have no IGST rate). Cess: the first item is taxed and states none.
	if want := `{"cess":null,"cgst":9.03,"igst":0.1,"sgst":null}`; string(got) != want {
		t.Errorf("tax values %s, want %s", got, want)
	}
	r.Items = r.Items[:1]
	r.Items[0].CGSTAmount, r.Items[0].SGSTAmount = nil, nil
	if p, err = generatePayload(&r); err != nil || p.CGSTValue != nil || p.SGSTValue != nil || p.IGSTValue != nil || p.CessValue != nil {
		t.Errorf("no stated amounts: %+v %v", p, err)
	}
}

// TestGetAnswer checks GetEwayBill's reading: padded values trimmed, the
// vehicle of the Part-B entered last whatever the list's order, no vehicle
// without a list, and a status NIC does not document left out.
func TestGetAnswer(t *testing.T) {
	read := func(js string) *model.EWayBill {
		t.Helper()
		var a getAnswer
		if err := json.Unmarshal([]byte(js), &a); err != nil {
			t.Fatal(err)
		}
		return a.bill("111111111111")
	}
	b := read(`{"ewbNo": "131001298692 ", "ewayBillDate": "26/09/2018 02:40:00 PM", "status": "ACT ", "validUpto": "27/09/2018 11:59:00 PM",
		"VehiclListDetails": [
			{"vehicleNo": "PVC1234", "enteredDate": "26/09/2018 02:40:00 PM"},
			{"vehicleNo": "ka 01 ab 1234", "enteredDate": "27/09/2018 10:15:00 AM"},
			{"vehicleNo": "OLD1234", "enteredDate": "not a date"}]}`)
	if b.Number != "131001298692" || b.Status != "active" || b.VehicleNumber != "KA01AB1234" || b.ValidUntil == nil ||
		b.GeneratedAt.Format("2006-01-02 15:04") != "2018-09-26 14:40" {
		t.Errorf("read %+v", b)
	}
	// Equal dates: the earlier in the list (NIC lists the newest first).
	b = read(`{"status": "CNL", "validUpto": 0, "VehiclListDetails": [
		{"vehicleNo": "NEW1234", "enteredDate": "27/09/2018 10:15:00 AM"},
		{"vehicleNo": "OLD1234", "enteredDate": "27/09/2018 10:15:00 AM"}]}`)
	if b.Number != "111111111111" || b.Status != "cancelled" || b.VehicleNumber != "NEW1234" || b.ValidUntil != nil {
		t.Errorf("read %+v", b)
	}
	// A latest Part-B by rail names no vehicle.
	b = read(`{"status": "XYZ", "VehiclListDetails": [{"vehicleNo": "", "transDocNo": "R1", "enteredDate": "28/09/2018 10:15:00 AM"},
		{"vehicleNo": "OLD1234", "enteredDate": "27/09/2018 10:15:00 AM"}]}`)
	if b.Status != "" || b.VehicleNumber != "" {
		t.Errorf("read %+v", b)
	}
	if b = read(`{"status": "ACT"}`); b.VehicleNumber != "" || b.Status != "active" {
		t.Errorf("read %+v", b)
	}
}
