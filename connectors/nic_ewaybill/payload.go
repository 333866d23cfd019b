package nicewaybill

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/nic"
)

var (
	docNoRE   = regexp.MustCompile(`^[A-Za-z0-9/-]{1,16}$`)
	vehicleRE = regexp.MustCompile(`^[A-Z0-9]{4,12}$`)
	digitsRE  = regexp.MustCompile(`^[0-9]{1,2}$`)
)

// transModes are NIC's transport mode codes (1 Road, 2 Rail, 3 Air, 4 Ship);
// EXTENDVALIDITY's 5 (in transit) comes from the consignment status.
var transModes = map[string]string{"road": "1", "rail": "2", "air": "3", "ship": "4"}

// vehicleTypes are NIC's vehicle types: R regular, O over-dimensional cargo.
var vehicleTypes = map[string]string{"regular": "R", "over_dimensional": "O"}

// transitTypes are EXTENDVALIDITY's transit types for goods held in transit.
var transitTypes = map[string]string{"road": "R", "warehouse": "W", "others": "O"}

func bad(pointer, format string, args ...any) error {
	e := sdk.InvalidField(pointer, format, args...)
	e.NotSent = true
	return e
}

// nicDate writes a canonical date as NIC's dd/mm/yyyy.
func nicDate(d model.Date, pointer string) (string, error) {
	t, err := d.Time(model.IST)
	if err != nil {
		return "", bad(pointer, "%s must be a date (YYYY-MM-DD), not %q", pointer, string(d))
	}
	return t.Format("02/01/2006"), nil
}

func number(s string) json.Number { return json.Number(strings.TrimLeft(s, "0")) }

func stateCode(s, pointer string) (int, error) {
	if !model.IsStateCode(s) {
		return 0, bad(pointer, "%s must be the two-digit GST state code, not %q", pointer, s)
	}
	n, _ := strconv.Atoi(s)
	return n, nil
}

func pincode(s, pointer string) (int, error) {
	if !model.IsPINCode(s) {
		return 0, bad(pointer, "%s must be a six-digit PIN code, not %q", pointer, s)
	}
	n, _ := strconv.Atoi(s)
	return n, nil
}

func ewbNo(s, pointer string) (json.Number, error) {
	if !model.IsEWayBillNumber(s) {
		return "", bad(pointer, "%s must be the 12-digit e-way bill number, not %q", pointer, s)
	}
	return json.Number(s), nil
}

// --- GENEWAYBILL ---

// generateItem is one itemList entry of GENEWAYBILL.
type generateItem struct {
	ProductName   string      `json:"productName,omitempty"`
	ProductDesc   string      `json:"productDesc,omitempty"`
	HSNCode       json.Number `json:"hsnCode"`
	Quantity      float64     `json:"quantity,omitempty"`
	QtyUnit       string      `json:"qtyUnit,omitempty"`
	CGSTRate      float64     `json:"cgstRate"`
	SGSTRate      float64     `json:"sgstRate"`
	IGSTRate      float64     `json:"igstRate"`
	CessRate      float64     `json:"cessRate"`
	TaxableAmount float64     `json:"taxableAmount"`
}

// generateRequest is the GENEWAYBILL data JSON, in the order of NIC's sample.
type generateRequest struct {
	SupplyType       string         `json:"supplyType"`
	SubSupplyType    string         `json:"subSupplyType"`
	DocType          string         `json:"docType"`
	DocNo            string         `json:"docNo"`
	DocDate          string         `json:"docDate"`
	FromGstin        string         `json:"fromGstin"`
	FromTrdName      string         `json:"fromTrdName,omitempty"`
	FromAddr1        string         `json:"fromAddr1,omitempty"`
	FromAddr2        string         `json:"fromAddr2,omitempty"`
	FromPlace        string         `json:"fromPlace,omitempty"`
	FromPincode      int            `json:"fromPincode"`
	ActFromStateCode int            `json:"actFromStateCode"`
	FromStateCode    int            `json:"fromStateCode"`
	ToGstin          string         `json:"toGstin"`
	ToTrdName        string         `json:"toTrdName,omitempty"`
	ToAddr1          string         `json:"toAddr1,omitempty"`
	ToAddr2          string         `json:"toAddr2,omitempty"`
	ToPlace          string         `json:"toPlace,omitempty"`
	ToPincode        int            `json:"toPincode"`
	ActToStateCode   int            `json:"actToStateCode"`
	ToStateCode      int            `json:"toStateCode"`
	TransactionType  int            `json:"transactionType"`
	TotalValue       float64        `json:"totalValue"`
	CGSTValue        *float64       `json:"cgstValue,omitempty"`
	SGSTValue        *float64       `json:"sgstValue,omitempty"`
	IGSTValue        *float64       `json:"igstValue,omitempty"`
	CessValue        *float64       `json:"cessValue,omitempty"`
	TotInvValue      float64        `json:"totInvValue"`
	TransporterID    string         `json:"transporterId,omitempty"`
	TransporterName  string         `json:"transporterName,omitempty"`
	TransDocNo       string         `json:"transDocNo,omitempty"`
	TransMode        string         `json:"transMode,omitempty"`
	TransDistance    string         `json:"transDistance"`
	TransDocDate     string         `json:"transDocDate,omitempty"`
	VehicleNo        string         `json:"vehicleNo,omitempty"`
	VehicleType      string         `json:"vehicleType,omitempty"`
	ItemList         []generateItem `json:"itemList"`
}

// party is a bill's side as NIC splits it: the billing party (GSTIN, name,
// state) and the place goods physically leave or reach (address, PIN code,
// actual state).
type party struct {
	gstin, name, addr1, addr2, place string
	pin, state, actState             int
}

func readParty(bill model.Address, actual *model.Address, pointer, actualPointer string) (party, error) {
	var p party
	p.gstin = strings.ToUpper(strings.TrimSpace(bill.GSTIN))
	if !model.IsGSTIN(p.gstin) {
		return p, bad(pointer+"/gstin", "%s/gstin must be a 15-character GSTIN, not %q", pointer, bill.GSTIN)
	}
	p.name = bill.Company
	if p.name == "" {
		p.name = bill.Name
	}
	var err error
	if p.state, err = stateCode(bill.StateCode, pointer+"/state_code"); err != nil {
		return p, err
	}
	at, atPointer := bill, pointer
	if actual != nil {
		at, atPointer = *actual, actualPointer
	}
	if p.actState, err = stateCode(at.StateCode, atPointer+"/state_code"); err != nil {
		return p, err
	}
	if p.pin, err = pincode(at.PostalCode, atPointer+"/postal_code"); err != nil {
		return p, err
	}
	if len(at.Lines) > 0 {
		p.addr1 = at.Lines[0]
	}
	if len(at.Lines) > 1 {
		p.addr2 = strings.Join(at.Lines[1:], ", ")
	}
	p.place = at.City
	return p, nil
}

func generatePayload(r *model.EWayBillRequest) (*generateRequest, error) {
	switch {
	case r.SupplyType != "O" && r.SupplyType != "I":
		return nil, bad("/supply_type", "supply_type must be O (outward) or I (inward), not %q", r.SupplyType)
	case !digitsRE.MatchString(r.SubSupplyType):
		return nil, bad("/sub_supply_type", "sub_supply_type must be NIC's sub-supply code (1, 2, 3 ...), not %q", r.SubSupplyType)
	case !strings.Contains(" INV CHL BIL BOE OTH ", " "+r.DocType+" ") || r.DocType == "":
		return nil, bad("/doc_type", "doc_type must be INV, CHL, BIL, BOE or OTH, not %q", r.DocType)
	case !docNoRE.MatchString(r.DocNumber):
		return nil, bad("/doc_number", "doc_number must be 1 to 16 letters, digits, - or /, not %q", r.DocNumber)
	case r.TransactionType < 1 || r.TransactionType > 4:
		return nil, bad("/transaction_type", "transaction_type must be 1 to 4, not %d", r.TransactionType)
	case len(r.Items) == 0:
		return nil, bad("/items", "an e-way bill needs at least one item")
	case r.TotalValue < 0:
		return nil, bad("/total_value", "total_value must not be negative")
	case r.TotalInvoiceValue < 0:
		return nil, bad("/total_invoice_value", "total_invoice_value must not be negative")
	}
	docDate, err := nicDate(r.DocDate, "/doc_date")
	if err != nil {
		return nil, err
	}
	from, err := readParty(r.From, r.DispatchFrom, "/from", "/dispatch_from")
	if err != nil {
		return nil, err
	}
	to, err := readParty(r.To, r.ShipTo, "/to", "/ship_to")
	if err != nil {
		return nil, err
	}
	out := &generateRequest{
		SupplyType: r.SupplyType, SubSupplyType: r.SubSupplyType, DocType: r.DocType, DocNo: r.DocNumber, DocDate: docDate,
		FromGstin: from.gstin, FromTrdName: from.name, FromAddr1: from.addr1, FromAddr2: from.addr2, FromPlace: from.place,
		FromPincode: from.pin, ActFromStateCode: from.actState, FromStateCode: from.state,
		ToGstin: to.gstin, ToTrdName: to.name, ToAddr1: to.addr1, ToAddr2: to.addr2, ToPlace: to.place,
		ToPincode: to.pin, ActToStateCode: to.actState, ToStateCode: to.state,
		TransactionType: r.TransactionType, TotalValue: r.TotalValue, TotInvValue: r.TotalInvoiceValue,
	}
	for i, it := range r.Items {
		p := fmt.Sprintf("/items/%d", i)
		if !model.IsHSNCode(it.HSNCode) {
			return nil, bad(p+"/hsn_code", "%s/hsn_code must be a 4, 6 or 8-digit HSN code, not %q", p, it.HSNCode)
		}
		if it.TaxableAmount < 0 {
			return nil, bad(p+"/taxable_amount", "%s/taxable_amount must not be negative", p)
		}
		for _, a := range []struct {
			name string
			v    *float64
		}{{"cgst_amount", it.CGSTAmount}, {"sgst_amount", it.SGSTAmount}, {"igst_amount", it.IGSTAmount}, {"cess_amount", it.CessAmount}} {
			if a.v != nil && !(*a.v >= 0) {
				return nil, bad(p+"/"+a.name, "%s/%s must not be negative", p, a.name)
			}
		}
		out.ItemList = append(out.ItemList, generateItem{ProductName: it.Description, ProductDesc: it.Description,
			HSNCode: number(it.HSNCode), Quantity: it.Quantity, QtyUnit: it.Unit, CGSTRate: it.CGSTRate, SGSTRate: it.SGSTRate,
			IGSTRate: it.IGSTRate, CessRate: it.CessRate, TaxableAmount: it.TaxableAmount})
	}
	out.CGSTValue = taxValue(r.Items, func(it model.TaxedItem) (*float64, float64) { return it.CGSTAmount, it.CGSTRate })
	out.SGSTValue = taxValue(r.Items, func(it model.TaxedItem) (*float64, float64) { return it.SGSTAmount, it.SGSTRate })
	out.IGSTValue = taxValue(r.Items, func(it model.TaxedItem) (*float64, float64) { return it.IGSTAmount, it.IGSTRate })
	out.CessValue = taxValue(r.Items, func(it model.TaxedItem) (*float64, float64) { return it.CessAmount, it.CessRate })
	t := r.Transport
	if t.DistanceKm < 0 || t.DistanceKm > 4000 {
		return nil, bad("/transport/distance_km", "transport/distance_km must be 0 to 4000, not %d", t.DistanceKm)
	}
	out.TransDistance = strconv.Itoa(t.DistanceKm)
	if err := partB(t, "/transport", false, &out.TransMode, &out.VehicleNo, &out.VehicleType, &out.TransDocNo, &out.TransDocDate); err != nil {
		return nil, err
	}
	out.TransporterID, out.TransporterName = strings.ToUpper(strings.TrimSpace(t.TransporterID)), t.TransporterName
	return out, nil
}

// taxValue is the bill's cgstValue (sgstValue, ...): the items' stated
// amounts of that tax summed in decimal and rounded to 2 decimals. It is left
// out (nil) when no item states one, and when an item with a rate for it
// states none: NIC's bill-level value would then be a partial sum, and the
// connector computes no tax.
func taxValue(items []model.TaxedItem, of func(model.TaxedItem) (amount *float64, rate float64)) *float64 {
	total, stated := new(big.Rat), false
	for _, it := range items {
		a, rate := of(it)
		switch {
		case a != nil:
			stated = true
			if r, ok := new(big.Rat).SetString(strconv.FormatFloat(*a, 'f', -1, 64)); ok {
				total.Add(total, r)
			}
		case rate != 0:
			return nil
		}
	}
	if !stated {
		return nil
	}
	cents := new(big.Rat).Mul(total, big.NewRat(100, 1))
	q, m := new(big.Int).QuoRem(cents.Num(), cents.Denom(), new(big.Int))
	if m.Lsh(m, 1).Cmp(cents.Denom()) >= 0 { // halves up: the amounts are not negative
		q.Add(q, big.NewInt(1))
	}
	v, _ := new(big.Rat).SetFrac(q, big.NewInt(100)).Float64()
	return &v
}

// partB reads a Transport's mode, vehicle and transport document. With need set
// (VEHEWB, EXTENDVALIDITY in movement) the mode is required, road needs a
// vehicle and rail, air and ship a transport document, as NIC documents.
func partB(t model.Transport, p string, need bool, mode, vehicle, vehicleType, docNo, docDate *string) error {
	if t.Mode != "" {
		m, ok := transModes[t.Mode]
		if !ok {
			return bad(p+"/mode", "%s/mode must be road, rail, air or ship, not %q", p, t.Mode)
		}
		*mode = m
	} else if need {
		return bad(p+"/mode", "%s/mode is required: road, rail, air or ship", p)
	}
	v := strings.ToUpper(strings.ReplaceAll(t.VehicleNumber, " ", ""))
	if v != "" && !vehicleRE.MatchString(v) {
		return bad(p+"/vehicle_number", "%s/vehicle_number must be 4 to 12 letters and digits, not %q", p, t.VehicleNumber)
	}
	*vehicle = v
	if t.VehicleType != "" {
		vt, ok := vehicleTypes[t.VehicleType]
		if !ok {
			return bad(p+"/vehicle_type", "%s/vehicle_type must be regular or over_dimensional, not %q", p, t.VehicleType)
		}
		if vehicleType != nil {
			*vehicleType = vt
		}
	}
	*docNo = strings.TrimSpace(t.DocNumber)
	if t.DocDate != "" {
		d, err := nicDate(t.DocDate, p+"/doc_date")
		if err != nil {
			return err
		}
		*docDate = d
	}
	if need {
		switch {
		case t.Mode == "road" && v == "":
			return bad(p+"/vehicle_number", "%s/vehicle_number is required when goods go by road", p)
		case t.Mode != "road" && *docNo == "":
			return bad(p+"/doc_number", "%s/doc_number is required when goods go by %s", p, t.Mode)
		}
	}
	return nil
}

// --- VEHEWB ---

// vehicleRequest is the VEHEWB data JSON, as NIC's sample writes it.
type vehicleRequest struct {
	EwbNo        json.Number `json:"ewbNo"`
	VehicleNo    string      `json:"vehicleNo"`
	FromPlace    string      `json:"fromPlace"`
	FromState    int         `json:"fromState"`
	ReasonCode   string      `json:"reasonCode"`
	ReasonRem    string      `json:"reasonRem"`
	TransDocNo   string      `json:"transDocNo"`
	TransDocDate string      `json:"transDocDate"`
	TransMode    string      `json:"transMode"`
	VehicleType  string      `json:"vehicleType,omitempty"`
}

func vehiclePayload(r *model.EWayBillVehicleUpdate) (*vehicleRequest, error) {
	no, err := ewbNo(r.Number, "/number")
	if err != nil {
		return nil, err
	}
	out := &vehicleRequest{EwbNo: no, FromPlace: strings.TrimSpace(r.FromPlace), ReasonRem: r.Remarks}
	if out.FromPlace == "" {
		return nil, bad("/from_place", "from_place is required: where the goods are now")
	}
	if out.FromState, err = stateCode(r.FromStateCode, "/from_state_code"); err != nil {
		return nil, err
	}
	if r.ReasonCode < 1 || r.ReasonCode > 4 {
		return nil, bad("/reason_code", "reason_code must be 1 (breakdown), 2 (transshipment), 3 (others) or 4 (first time), not %d", r.ReasonCode)
	}
	out.ReasonCode = strconv.Itoa(r.ReasonCode)
	if err := partB(r.Transport, "/transport", true, &out.TransMode, &out.VehicleNo, &out.VehicleType, &out.TransDocNo, &out.TransDocDate); err != nil {
		return nil, err
	}
	return out, nil
}

// --- EXTENDVALIDITY ---

// extendRequest is the EXTENDVALIDITY data JSON, in the order of NIC's table.
type extendRequest struct {
	EwbNo             json.Number `json:"ewbNo"`
	VehicleNo         string      `json:"vehicleNo"`
	FromPlace         string      `json:"fromPlace"`
	FromState         int         `json:"fromState"`
	RemainingDistance int         `json:"remainingDistance"`
	TransDocNo        string      `json:"transDocNo"`
	TransDocDate      string      `json:"transDocDate"`
	TransMode         string      `json:"transMode"`
	ExtnRsnCode       int         `json:"extnRsnCode"`
	ExtnRemarks       string      `json:"extnRemarks"`
	FromPincode       int         `json:"fromPincode"`
	ConsignmentStatus string      `json:"consignmentStatus"`
	TransitType       string      `json:"transitType"`
	AddressLine1      string      `json:"addressLine1"`
	AddressLine2      string      `json:"addressLine2"`
	AddressLine3      string      `json:"addressLine3"`
}

func extendPayload(r *model.EWayBillExtension) (*extendRequest, error) {
	no, err := ewbNo(r.Number, "/number")
	if err != nil {
		return nil, err
	}
	out := &extendRequest{EwbNo: no, FromPlace: strings.TrimSpace(r.FromPlace), ExtnRemarks: strings.TrimSpace(r.Remarks)}
	switch {
	case out.FromPlace == "":
		return nil, bad("/from_place", "from_place is required: where the goods are now")
	case r.RemainingDistanceKm < 0 || r.RemainingDistanceKm > 4000:
		return nil, bad("/remaining_distance_km", "remaining_distance_km must be 0 to 4000, not %d", r.RemainingDistanceKm)
	case r.ReasonCode < 1 || r.ReasonCode > 99:
		return nil, bad("/reason_code", "reason_code must be NIC's extension reason code, not %d", r.ReasonCode)
	case out.ExtnRemarks == "":
		return nil, bad("/remarks", "remarks are required with the reason for an extension")
	}
	if out.FromState, err = stateCode(r.FromStateCode, "/from_state_code"); err != nil {
		return nil, err
	}
	if out.FromPincode, err = pincode(r.FromPincode, "/from_pincode"); err != nil {
		return nil, err
	}
	out.RemainingDistance, out.ExtnRsnCode = r.RemainingDistanceKm, r.ReasonCode
	switch r.ConsignmentStatus {
	case "in_movement":
		out.ConsignmentStatus = "M"
		if r.TransitType != "" {
			return nil, bad("/transit_type", "transit_type is for goods in_transit only")
		}
		if err := partB(r.Transport, "/transport", true, &out.TransMode, &out.VehicleNo, nil, &out.TransDocNo, &out.TransDocDate); err != nil {
			return nil, err
		}
	case "in_transit":
		// NIC: goods held in transit travel as mode 5 with status T and a transit type.
		out.ConsignmentStatus, out.TransMode = "T", "5"
		tt, ok := transitTypes[r.TransitType]
		if !ok {
			return nil, bad("/transit_type", "transit_type must be road, warehouse or others for goods in_transit, not %q", r.TransitType)
		}
		out.TransitType = tt
		if r.TransitAddress == nil || len(r.TransitAddress.Lines) == 0 {
			return nil, bad("/transit_address", "transit_address (its lines) is required for goods in_transit")
		}
		lines := r.TransitAddress.Lines
		out.AddressLine1 = lines[0]
		if len(lines) > 1 {
			out.AddressLine2 = lines[1]
		}
		if len(lines) > 2 {
			out.AddressLine3 = strings.Join(lines[2:], ", ")
		}
		var ignore string
		if err := partB(r.Transport, "/transport", false, &ignore, &out.VehicleNo, nil, &out.TransDocNo, &out.TransDocDate); err != nil {
			return nil, err
		}
	default:
		return nil, bad("/consignment_status", "consignment_status must be in_movement or in_transit, not %q", r.ConsignmentStatus)
	}
	return out, nil
}

// --- CANEWB ---

// cancelRequest is the CANEWB data JSON, as NIC's sample writes it.
type cancelRequest struct {
	EwbNo         json.Number `json:"ewbNo"`
	CancelRsnCode int         `json:"cancelRsnCode"`
	CancelRmrk    string      `json:"cancelRmrk"`
}

func cancelPayload(r *model.EWayBillCancel) (*cancelRequest, error) {
	no, err := ewbNo(r.Number, "/number")
	if err != nil {
		return nil, err
	}
	if r.ReasonCode < 1 || r.ReasonCode > 4 {
		return nil, bad("/reason_code", "reason_code must be 1 (duplicate), 2 (order cancelled), 3 (data-entry mistake) or 4 (others), not %d", r.ReasonCode)
	}
	return &cancelRequest{EwbNo: no, CancelRsnCode: r.ReasonCode, CancelRmrk: r.Remarks}, nil
}

// --- answers ---

// generateAnswer is GENEWAYBILL's decrypted answer.
type generateAnswer struct {
	EwayBillNo   nic.Digits `json:"ewayBillNo"`
	EwayBillDate string     `json:"ewayBillDate"`
	ValidUpto    string     `json:"validUpto"`
	Alert        string     `json:"alert"`
}

func (a *generateAnswer) bill(vehicle string) (*model.EWayBill, error) {
	if strings.TrimSpace(string(a.EwayBillNo)) == "" {
		// A GSP has been seen answering a generation with success and no
		// data: nothing says a bill exists, so none is reported.
		return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
			Message: "NIC's answer to GENEWAYBILL says success but carries no e-way bill number"}
	}
	b := &model.EWayBill{Number: string(a.EwayBillNo), Status: "active", Alert: strings.TrimSpace(a.Alert),
		VehicleNumber: strings.ToUpper(strings.ReplaceAll(vehicle, " ", ""))}
	if t, ok := ParseNICTime(a.EwayBillDate); ok {
		b.GeneratedAt = t
	}
	if t, ok := ParseNICTime(a.ValidUpto); ok {
		b.ValidUntil = &t
	}
	return b, nil
}

// vehicleAnswer is VEHEWB's decrypted answer.
type vehicleAnswer struct {
	VehUpdDate string `json:"vehUpdDate"`
	ValidUpto  string `json:"validUpto"`
}

func (a *vehicleAnswer) bill(number, vehicle string) *model.EWayBill {
	b := &model.EWayBill{Number: number, Status: "active", VehicleNumber: strings.ToUpper(strings.ReplaceAll(vehicle, " ", ""))}
	if t, ok := ParseNICTime(a.ValidUpto); ok {
		b.ValidUntil = &t
	}
	return b
}

// extendAnswer is EXTENDVALIDITY's decrypted answer.
type extendAnswer struct {
	EwayBillNo  nic.Digits `json:"ewayBillNo"`
	UpdatedDate string     `json:"updatedDate"`
	ValidUpto   string     `json:"validUpto"`
}

func (a *extendAnswer) bill(number, vehicle string) *model.EWayBill {
	if a.EwayBillNo != "" {
		number = string(a.EwayBillNo)
	}
	b := &model.EWayBill{Number: number, Status: "active", VehicleNumber: strings.ToUpper(strings.ReplaceAll(vehicle, " ", ""))}
	if t, ok := ParseNICTime(a.ValidUpto); ok {
		b.ValidUntil = &t
	}
	return b
}

// cancelAnswer is CANEWB's decrypted answer.
type cancelAnswer struct {
	EwayBillNo nic.Digits `json:"ewayBillNo"`
	CancelDate string     `json:"cancelDate"`
}

func (a *cancelAnswer) bill(number string) *model.EWayBill {
	if a.EwayBillNo != "" {
		number = string(a.EwayBillNo)
	}
	return &model.EWayBill{Number: number, Status: "cancelled"}
}

// getAnswer is GetEwayBill's decrypted answer: the bill as generated plus its
// state. Only the fields the canonical bill carries are read; each is taken as
// a string, a number or null (nic.Digits), trimmed, as NIC's samples pad some
// values with spaces ("ACT ").
type getAnswer struct {
	EwbNo        nic.Digits   `json:"ewbNo"`
	EwayBillDate nic.Digits   `json:"ewayBillDate"`
	ValidUpto    nic.Digits   `json:"validUpto"`
	Status       nic.Digits   `json:"status"`
	Vehicles     []getVehicle `json:"VehiclListDetails"`
}

// getVehicle is one Part-B entry of GetEwayBill's VehiclListDetails (NIC's
// spelling), the bill's vehicle history.
type getVehicle struct {
	VehicleNo   nic.Digits `json:"vehicleNo"`
	EnteredDate nic.Digits `json:"enteredDate"`
}

// ewbStatuses are GetEwayBill's status codes: ACT active, CNL cancelled.
var ewbStatuses = map[string]string{"ACT": "active", "CNL": "cancelled"}

func (a *getAnswer) bill(number string) *model.EWayBill {
	if a.EwbNo != "" {
		number = string(a.EwbNo)
	}
	b := &model.EWayBill{Number: number, Status: ewbStatuses[strings.ToUpper(string(a.Status))]}
	if t, ok := ParseNICTime(string(a.EwayBillDate)); ok {
		b.GeneratedAt = t
	}
	if t, ok := ParseNICTime(string(a.ValidUpto)); ok {
		b.ValidUntil = &t
	}
	if v := a.latestPartB(); v != nil {
		b.VehicleNumber = strings.ToUpper(strings.ReplaceAll(string(v.VehicleNo), " ", ""))
	}
	return b
}

// latestPartB is the Part-B entry entered last: the one with the latest
// enteredDate, the earlier in the list on a tie (NIC lists the newest first, and
// the first entry stands when no date reads); an entry whose date does not read
// loses to one whose date does. nil when the answer lists none.
func (a *getAnswer) latestPartB() *getVehicle {
	var best *getVehicle
	var bestAt time.Time
	for i := range a.Vehicles {
		v := &a.Vehicles[i]
		at, ok := ParseNICTime(string(v.EnteredDate))
		if best == nil || (ok && at.After(bestAt)) {
			best = v
			if ok {
				bestAt = at
			}
		}
	}
	return best
}

// nicTimeRE reads NIC's times: dd/MM/yyyy hh:mm[:ss] with AM/PM, as its
// answers write them, tolerating the variants its published samples show (a
// dot or dash between parts, a 24-hour clock with or without AM/PM).
var nicTimeRE = regexp.MustCompile(`^\s*(\d{1,2})/(\d{1,2})/(\d{4})[\s-]*(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*([AaPp][Mm])?\s*$`)

// ParseNICTime reads one of NIC's e-Way Bill times (India time). ok is false
// for an empty or unreadable value.
func ParseNICTime(s string) (time.Time, bool) {
	m := nicTimeRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	day, month, year, hour, minute := n(1), n(2), n(3), n(4), n(5)
	sec := 0
	if m[6] != "" {
		sec = n(6)
	}
	if ampm := strings.ToUpper(m[7]); ampm != "" && hour >= 1 && hour <= 12 {
		switch {
		case ampm == "AM" && hour == 12:
			hour = 0
		case ampm == "PM" && hour < 12:
			hour += 12
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, model.IST)
	if t.Day() != day {
		return time.Time{}, false // 31/02 and the like
	}
	return t, true
}

// gstinRequest is GetGSTINDetails' request data: the GSTIN (NIC takes it in
// the query).
type gstinRequest struct {
	GSTIN string `json:"GSTIN"`
}

// gstinAnswer is GetGSTINDetails' answer data (NIC's v1.03 page): the
// registration, its status and its e-way bill block. Each field is read as a
// string or a number (nic.Digits), trimmed: NIC's sample pads txpType.
type gstinAnswer struct {
	GSTIN     nic.Digits `json:"gstin"`
	TradeName nic.Digits `json:"tradeName"`
	LegalName nic.Digits `json:"legalName"`
	Address1  nic.Digits `json:"address1"`
	Address2  nic.Digits `json:"address2"`
	StateCode nic.Digits `json:"stateCode"`
	PinCode   nic.Digits `json:"pinCode"`
	TxpType   nic.Digits `json:"txpType"`
	Status    nic.Digits `json:"status"`
	BlkStatus nic.Digits `json:"blkStatus"`
}

// gstinStatuses are GetGSTINDetails' status codes (NIC: ACT, CNL, INA, PRO).
var gstinStatuses = map[string]string{"ACT": "active", "CNL": "cancelled", "INA": "inactive", "PRO": "provisional"}

func (a *gstinAnswer) details(gstin string) *model.GSTINDetails {
	trim := func(d nic.Digits) string { return strings.TrimSpace(string(d)) }
	if g := trim(a.GSTIN); g != "" {
		gstin = g
	}
	raw := strings.ToUpper(trim(a.Status))
	status, ok := gstinStatuses[raw]
	if !ok {
		status = "unknown"
	}
	d := &model.GSTINDetails{GSTIN: gstin, LegalName: trim(a.LegalName), TradeName: trim(a.TradeName),
		StateCode: trim(a.StateCode), PostalCode: trim(a.PinCode), TaxpayerType: trim(a.TxpType),
		Status: status, RawStatus: raw, EWayBillBlocked: strings.EqualFold(trim(a.BlkStatus), "B")}
	if len(d.StateCode) == 1 {
		d.StateCode = "0" + d.StateCode // Vayana's copy writes Uttarakhand as "5"
	}
	for _, l := range []string{trim(a.Address1), trim(a.Address2)} {
		if l != "" {
			d.AddressLines = append(d.AddressLines, l)
		}
	}
	return d
}
