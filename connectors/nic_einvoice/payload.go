package niceinvoice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

var (
	// docNoRE is NIC's pattern for DocDtls.No: 1 to 16 characters, letters,
	// digits, / and -, not starting with 0, / or -.
	docNoRE  = regexp.MustCompile(`^[a-zA-Z1-9][a-zA-Z0-9/-]{0,15}$`)
	nonDigit = regexp.MustCompile(`[^0-9]`)
)

// supplyTypes are schema v1.1's TranDtls.SupTyp values the canonical model carries.
var supplyTypes = map[string]bool{"B2B": true, "SEZWP": true, "SEZWOP": true, "EXPWP": true, "EXPWOP": true, "DEXP": true}

func bad(pointer, format string, args ...any) error {
	e := sdk.InvalidField(pointer, format, args...)
	e.NotSent = true
	return e
}

// tranDtls is TranDtls: the tax scheme and the supply type. RegRev and
// IgstOnIntra are left to NIC's default (N): the canonical request has neither.
type tranDtls struct {
	TaxSch string `json:"TaxSch"`
	SupTyp string `json:"SupTyp"`
}

// docDtls is DocDtls.
type docDtls struct {
	Typ string `json:"Typ"`
	No  string `json:"No"`
	Dt  string `json:"Dt"`
}

// partyDtls is SellerDtls, BuyerDtls or ShipDtls (the same fields; Pos is the
// buyer's only).
type partyDtls struct {
	Gstin string `json:"Gstin,omitempty"`
	LglNm string `json:"LglNm"`
	Pos   string `json:"Pos,omitempty"`
	Addr1 string `json:"Addr1"`
	Addr2 string `json:"Addr2,omitempty"`
	Loc   string `json:"Loc"`
	Pin   int    `json:"Pin"`
	Stcd  string `json:"Stcd"`
	Ph    string `json:"Ph,omitempty"`
	Em    string `json:"Em,omitempty"`
}

// itemDtls is one ItemList entry: the fields the canonical item carries or
// determines, in the order of NIC's sample.
type itemDtls struct {
	SlNo       string  `json:"SlNo"`
	PrdDesc    string  `json:"PrdDesc,omitempty"`
	IsServc    string  `json:"IsServc"`
	HsnCd      string  `json:"HsnCd"`
	Qty        float64 `json:"Qty,omitempty"`
	Unit       string  `json:"Unit,omitempty"`
	UnitPrice  float64 `json:"UnitPrice"`
	TotAmt     float64 `json:"TotAmt"`
	Discount   float64 `json:"Discount,omitempty"`
	AssAmt     float64 `json:"AssAmt"`
	GstRt      float64 `json:"GstRt"`
	IgstAmt    float64 `json:"IgstAmt"`
	CgstAmt    float64 `json:"CgstAmt"`
	SgstAmt    float64 `json:"SgstAmt"`
	CesRt      float64 `json:"CesRt,omitempty"`
	CesAmt     float64 `json:"CesAmt,omitempty"`
	TotItemVal float64 `json:"TotItemVal"`
}

// valDtls is ValDtls: the assessable total (the items' AssAmt summed), the
// tax totals, the invoice-level discount, other charges and round-off, and
// the invoice total.
type valDtls struct {
	AssVal    float64 `json:"AssVal"`
	CgstVal   float64 `json:"CgstVal"`
	SgstVal   float64 `json:"SgstVal"`
	IgstVal   float64 `json:"IgstVal"`
	CesVal    float64 `json:"CesVal,omitempty"`
	Discount  float64 `json:"Discount,omitempty"`
	OthChrg   float64 `json:"OthChrg,omitempty"`
	RndOffAmt float64 `json:"RndOffAmt,omitempty"`
	TotInvVal float64 `json:"TotInvVal"`
}

// invoiceRequest is the schema v1.1 invoice JSON Generate IRN takes, in the
// order of NIC's sample.
type invoiceRequest struct {
	Version    string     `json:"Version"`
	TranDtls   tranDtls   `json:"TranDtls"`
	DocDtls    docDtls    `json:"DocDtls"`
	SellerDtls partyDtls  `json:"SellerDtls"`
	BuyerDtls  partyDtls  `json:"BuyerDtls"`
	ShipDtls   *partyDtls `json:"ShipDtls,omitempty"`
	ItemList   []itemDtls `json:"ItemList"`
	ValDtls    valDtls    `json:"ValDtls"`
}

// dec is v as the decimal it was written as (Go's shortest representation of
// the float, which is the JSON number the caller sent), so that amounts are
// multiplied and summed in exact decimal arithmetic, not in binary floating
// point (where 1.005 is 1.00499...).
func dec(v float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(v, 'f', -1, 64))
	if !ok { // NaN or an infinity: not a JSON number
		return new(big.Rat)
	}
	return r
}

// roundDec rounds r to digits decimals, halves away from zero.
func roundDec(r *big.Rat, digits int) float64 {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)
	n := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	q, m := new(big.Int).QuoRem(n.Num(), n.Denom(), new(big.Int))
	if m.Abs(m).Lsh(m, 1).Cmp(n.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(n.Sign())))
	}
	f, _ := new(big.Rat).SetFrac(q, scale).Float64()
	return f
}

// round rounds v to digits decimals, halves away from zero, as decimals.
func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	return roundDec(dec(v), digits)
}

// sum adds amounts as decimals, rounded to 2 decimals.
func sum(vs ...float64) float64 {
	t := new(big.Rat)
	for _, v := range vs {
		t.Add(t, dec(v))
	}
	return roundDec(t, 2)
}

// taxOn is taxable x rate / 100, rounded to 2 decimals (halves away from zero).
func taxOn(taxable, rate float64) float64 {
	t := new(big.Rat).Mul(dec(taxable), dec(rate))
	return roundDec(t.Quo(t, big.NewRat(100, 1)), 2)
}

// given is the caller's amount rounded to 2 decimals, or else the computed one.
func given(v *float64, compute func() float64) float64 {
	if v != nil {
		return round(*v, 2)
	}
	return compute()
}

// isWithoutPayment reports the supply types on which no tax is paid (export
// and SEZ supplies under bond or LUT).
func isWithoutPayment(supTyp string) bool { return supTyp == "EXPWOP" || supTyp == "SEZWOP" }

// isExport reports the supply types whose buyer may be abroad.
func isExport(supTyp string) bool { return supTyp == "EXPWP" || supTyp == "EXPWOP" }

// readParty maps a canonical address onto a party block. needGSTIN is false
// only for an export's buyer or a ship-to place; an export party without a GSTIN
// is NIC's unregistered person abroad: GSTIN "URP", state 96, PIN 999999.
func readParty(a model.Address, pointer string, needGSTIN, export bool) (partyDtls, error) {
	var p partyDtls
	p.Gstin = strings.ToUpper(strings.TrimSpace(a.GSTIN))
	switch {
	case p.Gstin != "" && !model.IsGSTIN(p.Gstin):
		return p, bad(pointer+"/gstin", "%s/gstin must be a 15-character GSTIN, not %q", pointer, a.GSTIN)
	case p.Gstin == "" && needGSTIN:
		return p, bad(pointer+"/gstin", "%s/gstin is required: the IRP registers invoices between GST-registered parties", pointer)
	}
	p.LglNm = strings.TrimSpace(a.Company)
	if p.LglNm == "" {
		p.LglNm = strings.TrimSpace(a.Name)
	}
	if p.LglNm == "" {
		return p, bad(pointer+"/company", "%s/company (or name) is required: the party's legal name", pointer)
	}
	if len(a.Lines) == 0 || strings.TrimSpace(a.Lines[0]) == "" {
		return p, bad(pointer+"/lines", "%s/lines is required: at least one address line", pointer)
	}
	p.Addr1 = strings.TrimSpace(a.Lines[0])
	if len(a.Lines) > 1 {
		p.Addr2 = strings.Join(a.Lines[1:], ", ")
	}
	if p.Loc = strings.TrimSpace(a.City); p.Loc == "" {
		return p, bad(pointer+"/city", "%s/city is required: NIC's location (Loc)", pointer)
	}
	if export && p.Gstin == "" {
		p.Gstin, p.Stcd, p.Pin = "URP", "96", 999999
	} else {
		if !model.IsStateCode(a.StateCode) {
			return p, bad(pointer+"/state_code", "%s/state_code must be the two-digit GST state code, not %q", pointer, a.StateCode)
		}
		if !model.IsPINCode(a.PostalCode) {
			return p, bad(pointer+"/postal_code", "%s/postal_code must be a six-digit PIN code, not %q", pointer, a.PostalCode)
		}
		p.Stcd = a.StateCode
		p.Pin, _ = strconv.Atoi(a.PostalCode)
	}
	// Optional contact fields go only when they fit NIC's lengths (Ph 6-12
	// digits, Em 6-100 characters); otherwise they are left out.
	if ph := nonDigit.ReplaceAllString(a.Phone, ""); len(ph) >= 6 && len(ph) <= 12 {
		p.Ph = ph
	}
	if em := strings.TrimSpace(a.Email); len(em) >= 6 && len(em) <= 100 && strings.Contains(em, "@") {
		p.Em = em
	}
	return p, nil
}

// document checks a document's type and number and writes its date as NIC
// takes it (dd/MM/yyyy).
func document(docType, docNumber string, docDate model.Date) (string, error) {
	switch {
	case docType != "INV" && docType != "CRN" && docType != "DBN":
		return "", bad("/doc_type", "doc_type must be INV, CRN or DBN, not %q", docType)
	case !docNoRE.MatchString(docNumber):
		return "", bad("/doc_number", "doc_number must be 1 to 16 letters, digits, / or -, not starting with 0, / or -, not %q", docNumber)
	}
	dt, err := docDate.Time(model.IST)
	if err != nil {
		return "", bad("/doc_date", "doc_date must be a date (YYYY-MM-DD), not %q", string(docDate))
	}
	return dt.Format("02/01/2006"), nil
}

func invoicePayload(r *model.EInvoiceRequest) (*invoiceRequest, error) {
	dt, err := document(r.DocType, r.DocNumber, r.DocDate)
	if err != nil {
		return nil, err
	}
	switch {
	case !supplyTypes[r.SupplyType]:
		return nil, bad("/supply_type", "supply_type must be B2B, SEZWP, SEZWOP, EXPWP, EXPWOP or DEXP, not %q", r.SupplyType)
	case len(r.Items) == 0:
		return nil, bad("/items", "an invoice needs at least one item")
	case r.TotalValue < 0:
		return nil, bad("/total_value", "total_value must not be negative")
	}
	export := isExport(r.SupplyType)
	out := &invoiceRequest{Version: "1.1", TranDtls: tranDtls{TaxSch: "GST", SupTyp: r.SupplyType},
		DocDtls: docDtls{Typ: r.DocType, No: r.DocNumber, Dt: dt}}
	if out.SellerDtls, err = readParty(r.Seller, "/seller", true, false); err != nil {
		return nil, err
	}
	if out.BuyerDtls, err = readParty(r.Buyer, "/buyer", !export, export); err != nil {
		return nil, err
	}
	// Place of supply: the buyer's state (96, "other country", for a buyer abroad).
	out.BuyerDtls.Pos = out.BuyerDtls.Stcd
	if r.ShipTo != nil {
		ship, err := readParty(*r.ShipTo, "/ship_to", false, export)
		if err != nil {
			return nil, err
		}
		ship.Ph, ship.Em = "", "" // ShipDtls has no contact fields
		out.ShipDtls = &ship
	}
	wop, none := isWithoutPayment(r.SupplyType), func() float64 { return 0 }
	var assAmts, igst, cgst, sgst, cess []float64
	for i, it := range r.Items {
		p := fmt.Sprintf("/items/%d", i)
		if !model.IsHSNCode(it.HSNCode) {
			return nil, bad(p+"/hsn_code", "%s/hsn_code must be a 4, 6 or 8-digit HSN code, not %q", p, it.HSNCode)
		}
		if it.TaxableAmount < 0 {
			return nil, bad(p+"/taxable_amount", "%s/taxable_amount must not be negative", p)
		}
		if it.Quantity < 0 {
			return nil, bad(p+"/quantity", "%s/quantity must not be negative", p)
		}
		for _, a := range []struct {
			name string
			v    *float64
		}{{"unit_price", it.UnitPrice}, {"gross_amount", it.GrossAmount}, {"discount", it.Discount}, {"cgst_amount", it.CGSTAmount},
			{"sgst_amount", it.SGSTAmount}, {"igst_amount", it.IGSTAmount}, {"cess_amount", it.CessAmount}, {"total_amount", it.TotalAmount}} {
			if a.v != nil && !(*a.v >= 0) {
				return nil, bad(p+"/"+a.name, "%s/%s must not be negative", p, a.name)
			}
		}
		isServc := "N"
		if strings.HasPrefix(it.HSNCode, "99") {
			isServc = "Y" // chapter 99 of the HSN is the services (SAC) chapter
		}
		gstRt := it.IGSTRate
		if gstRt == 0 {
			gstRt = it.CGSTRate + it.SGSTRate
		}
		d := itemDtls{SlNo: strconv.Itoa(i + 1), PrdDesc: strings.TrimSpace(it.Description),
			IsServc: isServc, HsnCd: it.HSNCode, Qty: round(it.Quantity, 3), Unit: strings.ToUpper(strings.TrimSpace(it.Unit)),
			AssAmt: round(it.TaxableAmount, 2), GstRt: round(gstRt, 3), CesRt: round(it.CessRate, 3)}
		// The amounts: the caller's when given; else what GST arithmetic
		// makes of the rates and the taxable amount (none on a supply
		// without payment of tax).
		tax := func(v *float64, rate float64) float64 {
			return given(v, func() float64 {
				if wop {
					return 0
				}
				return taxOn(d.AssAmt, rate)
			})
		}
		d.IgstAmt, d.CgstAmt = tax(it.IGSTAmount, it.IGSTRate), tax(it.CGSTAmount, it.CGSTRate)
		d.SgstAmt, d.CesAmt = tax(it.SGSTAmount, it.SGSTRate), tax(it.CessAmount, it.CessRate)
		d.Discount = given(it.Discount, none)
		d.TotAmt = given(it.GrossAmount, func() float64 { return sum(d.AssAmt, d.Discount) })
		d.UnitPrice = d.TotAmt
		if it.UnitPrice != nil {
			d.UnitPrice = round(*it.UnitPrice, 3)
		} else if d.Qty > 0 {
			q := new(big.Rat).Quo(dec(d.TotAmt), dec(d.Qty))
			d.UnitPrice = roundDec(q, 3)
		}
		d.TotItemVal = given(it.TotalAmount, func() float64 { return sum(d.AssAmt, d.IgstAmt, d.CgstAmt, d.SgstAmt, d.CesAmt) })
		out.ItemList = append(out.ItemList, d)
		assAmts, igst, cgst, sgst, cess = append(assAmts, d.AssAmt), append(igst, d.IgstAmt), append(cgst, d.CgstAmt),
			append(sgst, d.SgstAmt), append(cess, d.CesAmt)
	}
	for _, a := range []struct {
		name string
		v    *float64
	}{{"cgst_total", r.CGSTTotal}, {"sgst_total", r.SGSTTotal}, {"igst_total", r.IGSTTotal}, {"cess_total", r.CessTotal},
		{"discount", r.Discount}, {"other_charges", r.OtherCharges}} {
		if a.v != nil && !(*a.v >= 0) {
			return nil, bad("/"+a.name, "%s must not be negative", a.name)
		}
	}
	if r.RoundOff != nil && !(math.Abs(round(*r.RoundOff, 2)) <= 99.99) {
		return nil, bad("/round_off", "round_off must be between -99.99 and 99.99 (NIC's limit), not %v", *r.RoundOff)
	}
	out.ValDtls = valDtls{AssVal: sum(assAmts...),
		CgstVal:  given(r.CGSTTotal, func() float64 { return sum(cgst...) }),
		SgstVal:  given(r.SGSTTotal, func() float64 { return sum(sgst...) }),
		IgstVal:  given(r.IGSTTotal, func() float64 { return sum(igst...) }),
		CesVal:   given(r.CessTotal, func() float64 { return sum(cess...) }),
		Discount: given(r.Discount, none), OthChrg: given(r.OtherCharges, none), RndOffAmt: given(r.RoundOff, none),
		TotInvVal: round(r.TotalValue, 2)}
	return out, nil
}

// --- the answer ---

// flexNo reads a number NIC writes as a JSON number or a string; null and 0
// read as empty.
type flexNo string

func (n *flexNo) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = flexNo(strings.TrimSpace(s))
	default:
		var num json.Number
		if err := json.Unmarshal(b, &num); err != nil {
			return fmt.Errorf("%s is neither a number nor a string", b)
		}
		*n = flexNo(num.String())
	}
	if *n == "0" {
		*n = ""
	}
	return nil
}

// irnAnswer is Generate IRN's decrypted answer.
type irnAnswer struct {
	AckNo         flexNo `json:"AckNo"`
	AckDt         string `json:"AckDt"`
	Irn           string `json:"Irn"`
	SignedInvoice string `json:"SignedInvoice"`
	SignedQRCode  string `json:"SignedQRCode"`
	Status        string `json:"Status"`
	EwbNo         flexNo `json:"EwbNo"`
}

func (a *irnAnswer) invoice() (*model.EInvoice, error) {
	if strings.TrimSpace(a.Irn) == "" {
		return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
			Message: "NIC's answer says success but carries no Irn"}
	}
	inv := &model.EInvoice{IRN: strings.TrimSpace(a.Irn), AckNumber: string(a.AckNo), SignedInvoice: a.SignedInvoice,
		SignedQRCode: a.SignedQRCode, Status: strings.ToUpper(strings.TrimSpace(a.Status)), EWayBillNumber: string(a.EwbNo)}
	if t, ok := ParseAckTime(a.AckDt); ok {
		inv.AckDate = t
	}
	return inv, nil
}

// ackLayouts are the ways NIC writes AckDt: yyyy-MM-dd HH:mm:ss (its samples
// and the login's TokenExpiry), and the e-Way Bill style dd/MM/yyyy hh:mm:ss
// AM/PM some gateways pass on.
var ackLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "02/01/2006 03:04:05 PM", "02/01/2006 15:04:05"}

// ParseAckTime reads the IRP's acknowledgement time (India time). ok is false
// for an empty or unreadable value, which is then left out rather than failing
// a registration NIC has already made.
func ParseAckTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range ackLayouts {
		if t, err := time.ParseInLocation(l, s, model.IST); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// cancelRequest is Cancel IRN's request data.
type cancelRequest struct {
	Irn    string `json:"Irn"`
	CnlRsn string `json:"CnlRsn"`
	CnlRem string `json:"CnlRem"`
}

// cancelReasons are the IRP's cancel reason codes (CnlRsn) of the canonical
// reasons. The e-way bill system numbers its reasons differently (2 is an
// order cancelled there, a data-entry mistake here).
var cancelReasons = map[string]string{"duplicate": "1", "data_entry_mistake": "2", "order_cancelled": "3", "other": "4"}

// irnRE is an IRN: 64 lower-case hexadecimal characters (a SHA-256).
var irnRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func checkIRN(irn, pointer string) (string, error) {
	irn = strings.TrimSpace(irn)
	if !irnRE.MatchString(irn) {
		return "", bad(pointer, "an IRN is 64 lower-case hexadecimal characters")
	}
	return irn, nil
}

func cancelPayload(r *model.EInvoiceCancel) (*cancelRequest, error) {
	irn, err := checkIRN(r.IRN, "/irn")
	if err != nil {
		return nil, err
	}
	reason, ok := cancelReasons[r.Reason]
	if !ok {
		return nil, bad("/reason", "reason %q is not duplicate, data_entry_mistake, order_cancelled or other", r.Reason)
	}
	remarks := strings.TrimSpace(r.Remarks)
	if remarks == "" || utf8.RuneCountInString(remarks) > 100 {
		return nil, bad("/remarks", "the IRP takes remarks of 1 to 100 characters")
	}
	return &cancelRequest{Irn: irn, CnlRsn: reason, CnlRem: remarks}, nil
}

// cancelAnswer is Cancel IRN's answer data.
type cancelAnswer struct {
	Irn        string `json:"Irn"`
	CancelDate string `json:"CancelDate"`
}

func (a *cancelAnswer) cancellation(irn string) (*model.EInvoiceCancellation, error) {
	at, ok := ParseAckTime(a.CancelDate)
	if !ok {
		return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("NIC's answer to Cancel IRN says success but its CancelDate %q does not read", a.CancelDate)}
	}
	if got := strings.TrimSpace(a.Irn); got != "" {
		irn = got
	}
	return &model.EInvoiceCancellation{IRN: irn, CancelledAt: at}, nil
}

// lookupRequest is Get IRN details' request data: the IRN (NIC takes it in
// the path).
type lookupRequest struct {
	Irn string `json:"Irn"`
}

// findRequest is Get IRN by document details' request data: the document
// (NIC takes it in the query).
type findRequest struct {
	DocType string `json:"doctype"`
	DocNum  string `json:"docnum"`
	DocDate string `json:"docdate"`
}

// query is the read's query, as NIC names its parameters.
func (f *findRequest) query() url.Values {
	return url.Values{"doctype": {f.DocType}, "docnum": {f.DocNum}, "docdate": {f.DocDate}}
}

func findPayload(r *model.EInvoiceFind) (*findRequest, error) {
	dt, err := document(r.DocType, r.DocNumber, r.DocDate)
	if err != nil {
		return nil, err
	}
	return &findRequest{DocType: r.DocType, DocNum: r.DocNumber, DocDate: dt}, nil
}
