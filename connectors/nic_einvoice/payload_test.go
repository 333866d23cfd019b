package niceinvoice

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

func f(v float64) *float64 { return &v }

// TestAmounts checks the item and invoice amounts: the caller's when given,
// else computed from the rates and the taxable amount in decimal arithmetic,
// halves rounded away from zero (20.1 x 5% = 1.005 is 1.01, where binary
// floating point would make it 1.00).
func TestAmounts(t *testing.T) {
	party := func(gstin, state, pin string) model.Address {
		return model.Address{Company: "x", Lines: []string{"y"}, City: "z", StateCode: state, PostalCode: pin, GSTIN: gstin}
	}
	r := model.EInvoiceRequest{DocType: "INV", DocNumber: "A/1", DocDate: "2026-12-01", SupplyType: "B2B",
		Seller: party("29AKLPM8755F1ZJ", "29", "560090"), Buyer: party("29AAACR4849R1ZH", "29", "560001"),
		Items: []model.TaxedItem{
			{HSNCode: "1001", Quantity: 2, TaxableAmount: 20.1, IGSTRate: 5},
			{HSNCode: "1001", Quantity: 3, TaxableAmount: 100, CGSTRate: 9, SGSTRate: 9,
				CGSTAmount: f(9.01), SGSTAmount: f(8.99), TotalAmount: f(118.004)},
			{HSNCode: "998311", TaxableAmount: 0.2, CGSTRate: 9, SGSTRate: 9, CessRate: 1, IGSTAmount: f(0),
				UnitPrice: f(0.25), GrossAmount: f(0.25), Discount: f(0.05)},
		},
		TotalValue: 140, RoundOff: f(-0.14),
	}
	want := `{"ItemList":[
	  {"SlNo":"1","IsServc":"N","HsnCd":"1001","Qty":2,"UnitPrice":10.05,"TotAmt":20.1,"AssAmt":20.1,"GstRt":5,
	   "IgstAmt":1.01,"CgstAmt":0,"SgstAmt":0,"TotItemVal":21.11},
	  {"SlNo":"2","IsServc":"N","HsnCd":"1001","Qty":3,"UnitPrice":33.333,"TotAmt":100,"AssAmt":100,"GstRt":18,
	   "IgstAmt":0,"CgstAmt":9.01,"SgstAmt":8.99,"TotItemVal":118},
	  {"SlNo":"3","IsServc":"Y","HsnCd":"998311","UnitPrice":0.25,"TotAmt":0.25,"Discount":0.05,"AssAmt":0.2,"GstRt":18,
	   "IgstAmt":0,"CgstAmt":0.02,"SgstAmt":0.02,"CesRt":1,"TotItemVal":0.24}],
	 "ValDtls":{"AssVal":120.3,"CgstVal":9.03,"SgstVal":9.01,"IgstVal":1.01,"RndOffAmt":-0.14,"TotInvVal":140}}`
	check := func(name string, r model.EInvoiceRequest, want string) {
		t.Helper()
		p, err := invoicePayload(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(struct {
			ItemList []itemDtls
			ValDtls  valDtls
		}{p.ItemList, p.ValDtls})
		var g, w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(got, &g)
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("%s:\n got %s\nwant %s", name, gb, wb)
		}
	}
	check("computed and given", r, want)

	// The invoice's totals, when given, are sent as given.
	r.Items = r.Items[:1]
	r.IGSTTotal, r.CGSTTotal, r.Discount, r.OtherCharges, r.RoundOff = f(1.02), f(0), f(1.5), f(2.25), nil
	check("invoice totals", r, `{"ItemList":[
	  {"SlNo":"1","IsServc":"N","HsnCd":"1001","Qty":2,"UnitPrice":10.05,"TotAmt":20.1,"AssAmt":20.1,"GstRt":5,
	   "IgstAmt":1.01,"CgstAmt":0,"SgstAmt":0,"TotItemVal":21.11}],
	 "ValDtls":{"AssVal":20.1,"CgstVal":0,"SgstVal":0,"IgstVal":1.02,"Discount":1.5,"OthChrg":2.25,"TotInvVal":140}}`)

	// A supply without payment of tax (SEZWOP) computes no tax; stated ones are sent.
	r.SupplyType, r.IGSTTotal, r.CGSTTotal, r.Discount, r.OtherCharges = "SEZWOP", nil, nil, nil, nil
	r.Items = append(r.Items, model.TaxedItem{HSNCode: "1001", TaxableAmount: 10, IGSTRate: 18, IGSTAmount: f(1.8)})
	check("without payment", r, `{"ItemList":[
	  {"SlNo":"1","IsServc":"N","HsnCd":"1001","Qty":2,"UnitPrice":10.05,"TotAmt":20.1,"AssAmt":20.1,"GstRt":5,
	   "IgstAmt":0,"CgstAmt":0,"SgstAmt":0,"TotItemVal":20.1},
	  {"SlNo":"2","IsServc":"N","HsnCd":"1001","UnitPrice":10,"TotAmt":10,"AssAmt":10,"GstRt":18,
	   "IgstAmt":1.8,"CgstAmt":0,"SgstAmt":0,"TotItemVal":11.8}],
	 "ValDtls":{"AssVal":30.1,"CgstVal":0,"SgstVal":0,"IgstVal":1.8,"TotInvVal":140}}`)
}

func TestRound(t *testing.T) {
	for _, tc := range []struct {
		v      float64
		digits int
		want   float64
	}{{1.005, 2, 1.01}, {-1.005, 2, -1.01}, {2.675, 2, 2.68}, {0.0049, 2, 0}, {99.4453, 3, 99.445}, {1000.004, 2, 1000}, {0.5, 0, 1}} {
		if got := round(tc.v, tc.digits); got != tc.want {
			t.Errorf("round(%v, %d) = %v, want %v", tc.v, tc.digits, got, tc.want)
		}
	}
	if got := taxOn(20.1, 5); got != 1.01 {
		t.Errorf("taxOn(20.1, 5) = %v", got)
	}
	if got := sum(0.1, 0.2); got != 0.3 {
		t.Errorf("sum(0.1, 0.2) = %v", got)
	}
}

// A cancellation goes out with the IRP's reason code (its own numbering,
// not the e-way bill system's) and is refused before sending when its IRN or
// remarks could not be the IRP's.
func TestCancelPayload(t *testing.T) {
	const irn = "a5c12dca80e743321740b001fd70953e8738d109865d28ba4013750f2046f229"
	got, err := cancelPayload(&model.EInvoiceCancel{IRN: irn, Reason: "data_entry_mistake", Remarks: " Wrong entry "})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(got); string(b) != `{"Irn":"`+irn+`","CnlRsn":"2","CnlRem":"Wrong entry"}` {
		t.Fatalf("payload %s", b)
	}
	for name, c := range map[string]model.EInvoiceCancel{
		"upper-case IRN": {IRN: strings.ToUpper(irn), Reason: "other", Remarks: "x"},
		"short IRN":      {IRN: irn[:63], Reason: "other", Remarks: "x"},
		"unknown reason": {IRN: irn, Reason: "mistake", Remarks: "x"},
		"no remarks":     {IRN: irn, Reason: "other", Remarks: " "},
		"long remarks":   {IRN: irn, Reason: "other", Remarks: strings.Repeat("क", 101)},
	} {
		if _, err := cancelPayload(&c); sdk.AsError(err) == nil || sdk.AsError(err).Code != sdk.CodeInvalidRequest {
			t.Errorf("%s: %v, want invalid_request", name, err)
		}
	}
	var a cancelAnswer
	if err := json.Unmarshal([]byte(`{"Irn":"`+irn+`","CancelDate":"2019-12-05 14:26:00"}`), &a); err != nil {
		t.Fatal(err)
	}
	c, err := a.cancellation(irn)
	if err != nil || c.CancelledAt.Format(time.RFC3339) != "2019-12-05T14:26:00+05:30" {
		t.Fatalf("cancellation %+v, %v", c, err)
	}
	if _, err := (&cancelAnswer{Irn: irn}).cancellation(irn); err == nil {
		t.Fatal("an answer without a readable CancelDate was taken as a cancellation")
	}
}

// explain keeps NIC's own words: one text per code when they split so, and
// whole when one of NIC's texts holds the separator itself.
func TestExplainKeepsNICsWords(t *testing.T) {
	const text2174 = "For inter-state transaction, CGST and SGST amounts are not applicable; only IGST amount is applicable"
	for name, tc := range map[string]struct{ codes, words, want string }{
		"one text per code":   {"2150,2258", "Duplicate IRN; Supplier GSTIN state code does not match", "2150: Duplicate IRN; 2258: Supplier GSTIN state code does not match"},
		"a text with ; in it": {"2174,3095", text2174 + "; Supplier GSTIN is inactive", text2174 + "; Supplier GSTIN is inactive"},
		"no words":            {"2150", "", "2150: Duplicate IRN"},
	} {
		err := explain("Generate IRN", &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceCarrier, CarrierCode: tc.codes, CarrierMessage: tc.words})
		if e := sdk.AsError(err); e == nil || e.CarrierMessage != tc.want || e.CarrierCode != tc.codes {
			t.Errorf("%s: %+v, want carrier message %q", name, e, tc.want)
		}
	}
}
