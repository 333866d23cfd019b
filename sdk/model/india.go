package model

import (
	"regexp"
	"time"
)

// EWayBillRequest asks NIC (directly or through a GSP) to generate an e-way bill.
// Field names follow the canonical model; connectors map them onto NIC's
// GENEWAYBILL schema (docType, docNo, fromGstin, ...).
type EWayBillRequest struct {
	// SupplyType is O (outward) or I (inward).
	SupplyType string `json:"supply_type" jsonschema:"enum=O,enum=I"`
	// SubSupplyType is NIC's sub-supply code (1 supply, 2 import, 3 export, ...).
	SubSupplyType string `json:"sub_supply_type" jsonschema:"minLength=1,maxLength=2"`
	// DocType is INV, CHL, BIL, BOE or OTH.
	DocType string `json:"doc_type" jsonschema:"enum=INV,enum=CHL,enum=BIL,enum=BOE,enum=OTH"`
	// DocNumber is the document number (at most 16 characters: letters, digits, - and /).
	DocNumber string `json:"doc_number" jsonschema:"pattern=^[A-Za-z0-9/-]{1\\,16}$"`
	// DocDate is the document date.
	DocDate Date `json:"doc_date" jsonschema:"format=date"`
	// TransactionType is 1 regular, 2 bill-to ship-to, 3 bill-from dispatch-from, 4 combination.
	TransactionType int `json:"transaction_type" jsonschema:"minimum=1,maximum=4"`
	// From is the consignor, with GSTIN, PIN code and state code.
	From Address `json:"from"`
	// DispatchFrom is where goods actually leave from, when not From.
	DispatchFrom *Address `json:"dispatch_from,omitempty"`
	// To is the consignee.
	To Address `json:"to"`
	// ShipTo is where goods actually go, when not To.
	ShipTo *Address `json:"ship_to,omitempty"`
	// Items are the goods; at least one.
	Items []TaxedItem `json:"items" jsonschema:"minItems=1"`
	// TotalValue is the total taxable value.
	TotalValue float64 `json:"total_value" jsonschema:"minimum=0"`
	// TotalInvoiceValue is the invoice total including taxes.
	TotalInvoiceValue float64 `json:"total_invoice_value" jsonschema:"minimum=0"`
	// Transport carries Part-B: mode, vehicle, transporter, distance.
	Transport Transport `json:"transport"`
}

// TaxedItem is an invoice line with its GST rates and, optionally, the
// amounts the invoice states for it.
type TaxedItem struct {
	// Description names the goods.
	Description string `json:"description,omitempty"`
	// HSNCode is the goods' HSN code.
	HSNCode string `json:"hsn_code" jsonschema:"pattern=^[0-9]{4}([0-9]{2}){0\\,2}$"`
	// Quantity is the number of units.
	Quantity float64 `json:"quantity,omitempty"`
	// Unit is the unit quantity code (NOS, KGS, BOX...).
	Unit string `json:"unit,omitempty"`
	// TaxableAmount is the value before tax.
	TaxableAmount float64 `json:"taxable_amount" jsonschema:"minimum=0"`
	// CGSTRate is the central GST rate in percent.
	CGSTRate float64 `json:"cgst_rate,omitempty"`
	// SGSTRate is the state GST rate in percent.
	SGSTRate float64 `json:"sgst_rate,omitempty"`
	// IGSTRate is the integrated GST rate in percent.
	IGSTRate float64 `json:"igst_rate,omitempty"`
	// CessRate is the cess rate in percent.
	CessRate float64 `json:"cess_rate,omitempty"`
	// UnitPrice is the price of one unit before discount and tax, as the
	// invoice states it. Absent, a connector that needs it derives it (see
	// its README).
	UnitPrice *float64 `json:"unit_price,omitempty" jsonschema:"minimum=0"`
	// GrossAmount is the line's amount before discount and tax (quantity
	// times unit price); the taxable amount is the gross amount less the
	// discount.
	GrossAmount *float64 `json:"gross_amount,omitempty" jsonschema:"minimum=0"`
	// Discount is the line's discount, already deducted from TaxableAmount.
	Discount *float64 `json:"discount,omitempty" jsonschema:"minimum=0"`
	// CGSTAmount is the central GST charged on the line, as the invoice
	// states it. Absent, connectors that need it compute TaxableAmount x
	// CGSTRate / 100 (see their README for the rounding).
	CGSTAmount *float64 `json:"cgst_amount,omitempty" jsonschema:"minimum=0"`
	// SGSTAmount is the state GST charged on the line, as CGSTAmount.
	SGSTAmount *float64 `json:"sgst_amount,omitempty" jsonschema:"minimum=0"`
	// IGSTAmount is the integrated GST charged on the line, as CGSTAmount.
	IGSTAmount *float64 `json:"igst_amount,omitempty" jsonschema:"minimum=0"`
	// CessAmount is the cess charged on the line at CessRate, as CGSTAmount.
	CessAmount *float64 `json:"cess_amount,omitempty" jsonschema:"minimum=0"`
	// TotalAmount is the line's total: the taxable amount plus its taxes.
	TotalAmount *float64 `json:"total_amount,omitempty" jsonschema:"minimum=0"`
}

// Transport is an e-way bill's Part-B.
type Transport struct {
	// Mode is road, rail, air or ship.
	Mode string `json:"mode,omitempty" jsonschema:"enum=road,enum=rail,enum=air,enum=ship"`
	// DistanceKm is the approximate distance; 0 lets NIC compute it from PIN codes.
	DistanceKm int `json:"distance_km" jsonschema:"minimum=0,maximum=4000"`
	// TransporterID is the transporter's GSTIN or TRANSIN.
	TransporterID string `json:"transporter_id,omitempty"`
	// TransporterName is the transporter's name.
	TransporterName string `json:"transporter_name,omitempty"`
	// VehicleNumber is the registration number (road), without spaces.
	VehicleNumber string `json:"vehicle_number,omitempty" jsonschema:"pattern=^[A-Z0-9]{4\\,12}$"`
	// VehicleType is regular or over_dimensional.
	VehicleType string `json:"vehicle_type,omitempty" jsonschema:"enum=regular,enum=over_dimensional"`
	// DocNumber is the transport document number (rail, air, ship).
	DocNumber string `json:"doc_number,omitempty"`
	// DocDate is the transport document date.
	DocDate Date `json:"doc_date,omitempty"`
}

// EWayBill is a generated or looked-up e-way bill.
type EWayBill struct {
	// Number is the 12-digit e-way bill number.
	Number string `json:"number"`
	// GeneratedAt is when NIC generated it.
	GeneratedAt time.Time `json:"generated_at"`
	// ValidUntil is the end of its validity; empty until Part-B is filled.
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	// Status is active, cancelled or rejected (and expired in the hub's
	// eway_bill.expired notice).
	Status string `json:"status,omitempty"`
	// VehicleNumber is the vehicle its Part-B names, when known.
	VehicleNumber string `json:"vehicle_number,omitempty"`
	// Alert is NIC's warning text, verbatim.
	Alert string `json:"alert,omitempty"`
	// HoursLeft is set in the hub's eway_bill.expiring and eway_bill.expired
	// notices: the hours until its validity ends, negative once it has ended
	// (NIC still extends a bill up to 8 hours after), to one decimal.
	HoursLeft *float64 `json:"hours_left,omitempty"`
}

// EWayBillExtension extends an e-way bill's validity (NIC's EXTENDVALIDITY):
// accepted from 8 hours before its expiry to 8 hours after, from the
// transporter that holds it now, for no more than the original distance.
type EWayBillExtension struct {
	// Number is the e-way bill.
	Number string `json:"number" jsonschema:"pattern=^[0-9]{12}$"`
	// FromPlace is where the goods are now.
	FromPlace string `json:"from_place" jsonschema:"minLength=1,maxLength=50"`
	// FromStateCode is the GST state code of FromPlace.
	FromStateCode string `json:"from_state_code" jsonschema:"pattern=^[0-9]{2}$"`
	// FromPincode is the PIN code of FromPlace.
	FromPincode string `json:"from_pincode" jsonschema:"pattern=^[1-9][0-9]{5}$"`
	// RemainingDistanceKm is the distance still to go; at most the original.
	RemainingDistanceKm int `json:"remaining_distance_km" jsonschema:"minimum=0,maximum=4000"`
	// Transport is the vehicle or transport document the goods travel on now.
	Transport Transport `json:"transport"`
	// ReasonCode is NIC's extension reason code.
	ReasonCode int `json:"reason_code" jsonschema:"minimum=1,maximum=99"`
	// Remarks explain the reason.
	Remarks string `json:"remarks,omitempty" jsonschema:"maxLength=50"`
	// ConsignmentStatus is in_movement (on a vehicle or carrier) or
	// in_transit (held on the way: in a warehouse, say).
	ConsignmentStatus string `json:"consignment_status" jsonschema:"enum=in_movement,enum=in_transit"`
	// TransitType says where goods in_transit are held: road, warehouse or others.
	TransitType string `json:"transit_type,omitempty" jsonschema:"enum=road,enum=warehouse,enum=others"`
	// TransitAddress is where goods in_transit are held.
	TransitAddress *Address `json:"transit_address,omitempty"`
}

// EWayBillVehicleUpdate changes an e-way bill's Part-B vehicle.
type EWayBillVehicleUpdate struct {
	// Number is the e-way bill.
	Number string `json:"number" jsonschema:"pattern=^[0-9]{12}$"`
	// Transport is the new Part-B.
	Transport Transport `json:"transport"`
	// FromPlace is where the goods are now.
	FromPlace string `json:"from_place"`
	// FromStateCode is the GST state code of FromPlace.
	FromStateCode string `json:"from_state_code" jsonschema:"pattern=^[0-9]{2}$"`
	// ReasonCode is 1 breakdown, 2 transshipment, 3 others, 4 first time.
	ReasonCode int `json:"reason_code" jsonschema:"minimum=1,maximum=4"`
	// Remarks explain the reason.
	Remarks string `json:"remarks,omitempty"`
}

// EWayBillCancel cancels an e-way bill within 24 hours of generation.
type EWayBillCancel struct {
	// Number is the e-way bill.
	Number string `json:"number" jsonschema:"pattern=^[0-9]{12}$"`
	// ReasonCode is 1 duplicate, 2 order cancelled, 3 data-entry mistake, 4 others.
	ReasonCode int `json:"reason_code" jsonschema:"minimum=1,maximum=4"`
	// Remarks explain the reason.
	Remarks string `json:"remarks,omitempty"`
}

// EWayBillLookup reads an e-way bill as NIC has it now (NIC's GetEwayBill):
// its status, validity and the vehicle of its latest Part-B. It changes
// nothing.
type EWayBillLookup struct {
	// Number is the 12-digit e-way bill number.
	Number string `json:"number" jsonschema:"pattern=^[0-9]{12}$"`
}

// GSTINLookup asks the GST system what it holds for a GSTIN (NIC's
// GetGSTINDetails): a consignee or transporter checked before a bill names
// it. It changes nothing.
type GSTINLookup struct {
	// GSTIN is the 15-character GST identification number looked up.
	GSTIN string `json:"gstin" jsonschema:"pattern=^[0-9]{2}[A-Z0-9]{13}$"`
}

// GSTINDetails is a GSTIN's registration as the GST system holds it.
type GSTINDetails struct {
	// GSTIN is the number looked up.
	GSTIN string `json:"gstin"`
	// LegalName is the registered legal name.
	LegalName string `json:"legal_name,omitempty"`
	// TradeName is the trade name, when one is registered.
	TradeName string `json:"trade_name,omitempty"`
	// AddressLines are the registered address, as the system writes it.
	AddressLines []string `json:"address_lines,omitempty"`
	// StateCode is the two-digit GST state code.
	StateCode string `json:"state_code,omitempty"`
	// PostalCode is the PIN code.
	PostalCode string `json:"postal_code,omitempty"`
	// TaxpayerType is the registration type as the system names it (REG,
	// COM, ...), verbatim.
	TaxpayerType string `json:"taxpayer_type,omitempty"`
	// Status is active, cancelled, inactive or provisional (NIC's ACT, CNL,
	// INA, PRO), or unknown for a code NIC does not document.
	Status string `json:"status" jsonschema:"enum=active,enum=cancelled,enum=inactive,enum=provisional,enum=unknown"`
	// RawStatus is the system's own status code.
	RawStatus string `json:"raw_status,omitempty"`
	// EWayBillBlocked is set when NIC blocks e-way bill generation for the
	// GSTIN (blkStatus B: returns not filed for two periods).
	EWayBillBlocked bool `json:"eway_bill_blocked"`
}

// EInvoiceRequest asks an IRP to register an invoice and return its IRN.
type EInvoiceRequest struct {
	// DocType is INV, CRN (credit note) or DBN (debit note).
	DocType string `json:"doc_type" jsonschema:"enum=INV,enum=CRN,enum=DBN"`
	// DocNumber is the invoice number.
	DocNumber string `json:"doc_number" jsonschema:"minLength=1,maxLength=16"`
	// DocDate is the invoice date.
	DocDate Date `json:"doc_date" jsonschema:"format=date"`
	// SupplyType is B2B, SEZWP, SEZWOP, EXPWP, EXPWOP or DEXP.
	SupplyType string `json:"supply_type" jsonschema:"enum=B2B,enum=SEZWP,enum=SEZWOP,enum=EXPWP,enum=EXPWOP,enum=DEXP"`
	// Seller is the supplier, with GSTIN.
	Seller Address `json:"seller"`
	// Buyer is the recipient, with GSTIN.
	Buyer Address `json:"buyer"`
	// ShipTo is the delivery address when not the buyer's.
	ShipTo *Address `json:"ship_to,omitempty"`
	// Items are the invoice lines.
	Items []TaxedItem `json:"items" jsonschema:"minItems=1"`
	// TotalValue is the invoice total.
	TotalValue float64 `json:"total_value" jsonschema:"minimum=0"`
	// CGSTTotal is the invoice's central GST, the items' CGST amounts
	// summed, as the invoice states it. Absent, connectors sum the items'.
	CGSTTotal *float64 `json:"cgst_total,omitempty" jsonschema:"minimum=0"`
	// SGSTTotal is the invoice's state GST, as CGSTTotal.
	SGSTTotal *float64 `json:"sgst_total,omitempty" jsonschema:"minimum=0"`
	// IGSTTotal is the invoice's integrated GST, as CGSTTotal.
	IGSTTotal *float64 `json:"igst_total,omitempty" jsonschema:"minimum=0"`
	// CessTotal is the invoice's cess, as CGSTTotal.
	CessTotal *float64 `json:"cess_total,omitempty" jsonschema:"minimum=0"`
	// Discount is a discount on the whole invoice, beyond the items' own.
	Discount *float64 `json:"discount,omitempty" jsonschema:"minimum=0"`
	// OtherCharges are charges on the whole invoice outside the items.
	OtherCharges *float64 `json:"other_charges,omitempty" jsonschema:"minimum=0"`
	// RoundOff is what rounding added to (or, negative, took from) the
	// invoice total.
	RoundOff *float64 `json:"round_off,omitempty"`
}

// EInvoice is a registered invoice.
type EInvoice struct {
	// IRN is the 64-character invoice reference number.
	IRN string `json:"irn"`
	// AckNumber is the IRP's acknowledgement number.
	AckNumber string `json:"ack_number"`
	// AckDate is when the IRP acknowledged it.
	AckDate time.Time `json:"ack_date"`
	// SignedInvoice is the IRP-signed JWS of the invoice.
	SignedInvoice string `json:"signed_invoice,omitempty"`
	// SignedQRCode is the IRP-signed JWT to render as the invoice's QR code.
	SignedQRCode string `json:"signed_qr_code,omitempty"`
	// Status is ACT (active) or CNL (cancelled).
	Status string `json:"status,omitempty"`
	// EWayBillNumber is set when the e-way bill was generated with the IRN.
	EWayBillNumber string `json:"eway_bill_number,omitempty"`
}

// EInvoiceCancel asks the IRP to cancel an e-invoice by its IRN. The IRP
// accepts it within 24 hours of the registration, and not while the IRN has
// an active e-way bill.
type EInvoiceCancel struct {
	// IRN is the 64-character invoice reference number.
	IRN string `json:"irn" jsonschema:"pattern=^[0-9a-f]{64}$"`
	// Reason is duplicate, data_entry_mistake, order_cancelled or other
	// (the IRP's cancel reasons 1 to 4, in that order).
	Reason string `json:"reason" jsonschema:"enum=duplicate,enum=data_entry_mistake,enum=order_cancelled,enum=other"`
	// Remarks explain the reason (the IRP takes up to 100 characters).
	Remarks string `json:"remarks" jsonschema:"minLength=1,maxLength=100"`
}

// EInvoiceCancellation is the IRP's record of a cancelled e-invoice.
type EInvoiceCancellation struct {
	// IRN is the cancelled invoice reference number.
	IRN string `json:"irn"`
	// CancelledAt is when the IRP cancelled it.
	CancelledAt time.Time `json:"cancelled_at"`
}

// EInvoiceLookup reads an e-invoice as the IRP has it now, by its IRN
// (NIC's Get IRN details). It changes nothing.
type EInvoiceLookup struct {
	// IRN is the 64-character invoice reference number.
	IRN string `json:"irn" jsonschema:"pattern=^[0-9a-f]{64}$"`
}

// EInvoiceFind looks an e-invoice up by the document it registered (NIC's
// Get IRN by document details): the way back to an IRN whose Generate IRN
// answer was lost. The IRP answers for documents registered in the last few
// days. It changes nothing.
type EInvoiceFind struct {
	// DocType is INV, CRN (credit note) or DBN (debit note).
	DocType string `json:"doc_type" jsonschema:"enum=INV,enum=CRN,enum=DBN"`
	// DocNumber is the document's number as registered.
	DocNumber string `json:"doc_number" jsonschema:"minLength=1,maxLength=16"`
	// DocDate is the document's date.
	DocDate Date `json:"doc_date" jsonschema:"format=date"`
}

// VehicleRequest looks a vehicle up in VAHAN by registration number.
type VehicleRequest struct {
	// RegistrationNumber is the plate, without spaces (MH12AB1234).
	RegistrationNumber string `json:"registration_number" jsonschema:"pattern=^[A-Z0-9]{4\\,12}$"`
}

// Vehicle is what VAHAN knows of a registered vehicle.
type Vehicle struct {
	// RegistrationNumber is the plate.
	RegistrationNumber string `json:"registration_number"`
	// OwnerName is the registered owner (often masked).
	OwnerName string `json:"owner_name,omitempty"`
	// MakerModel is the maker and model.
	MakerModel string `json:"maker_model,omitempty"`
	// VehicleClass is the RTO class (Goods Carrier, LMV...).
	VehicleClass string `json:"vehicle_class,omitempty"`
	// FuelType is the fuel.
	FuelType string `json:"fuel_type,omitempty"`
	// GrossWeightKg is the gross vehicle weight.
	GrossWeightKg float64 `json:"gross_weight_kg,omitempty"`
	// RegisteredOn is the registration date.
	RegisteredOn Date `json:"registered_on,omitempty"`
	// FitnessUntil is the fitness certificate's expiry.
	FitnessUntil Date `json:"fitness_until,omitempty"`
	// InsuranceUntil is the insurance expiry.
	InsuranceUntil Date `json:"insurance_until,omitempty"`
	// PUCUntil is the pollution certificate's expiry.
	PUCUntil Date `json:"puc_until,omitempty"`
	// PermitUntil is the national or state permit's expiry.
	PermitUntil Date `json:"permit_until,omitempty"`
	// TaxUntil is the road tax's expiry.
	TaxUntil Date `json:"tax_until,omitempty"`
	// Status is VAHAN's registration status (ACTIVE, BLACKLISTED...).
	Status string `json:"status,omitempty"`
}

// DriverLicenceRequest looks a driving licence up in SARATHI.
type DriverLicenceRequest struct {
	// Number is the licence number.
	Number string `json:"number" jsonschema:"minLength=5,maxLength=20"`
	// DateOfBirth is the holder's date of birth, which SARATHI requires.
	DateOfBirth Date `json:"date_of_birth" jsonschema:"format=date"`
}

// DriverLicence is what SARATHI knows of a licence.
type DriverLicence struct {
	// Number is the licence number.
	Number string `json:"number"`
	// Name is the holder's name.
	Name string `json:"name,omitempty"`
	// IssuedOn is the issue date.
	IssuedOn Date `json:"issued_on,omitempty"`
	// NonTransportUntil is the non-transport validity's end.
	NonTransportUntil Date `json:"non_transport_until,omitempty"`
	// TransportUntil is the transport (commercial) validity's end.
	TransportUntil Date `json:"transport_until,omitempty"`
	// Classes are the vehicle classes it covers (LMV, HGMV, TRANS...).
	Classes []string `json:"classes,omitempty"`
	// Status is SARATHI's status (ACTIVE, SUSPENDED...).
	Status string `json:"status,omitempty"`
	// Authority is the issuing RTO.
	Authority string `json:"authority,omitempty"`
}

// TollCrossingRequest lists FASTag toll-plaza crossings of a vehicle.
type TollCrossingRequest struct {
	// VehicleNumber is the plate, without spaces.
	VehicleNumber string `json:"vehicle_number" jsonschema:"pattern=^[A-Z0-9]{4\\,12}$"`
	// From bounds the window's start.
	From *time.Time `json:"from,omitempty"`
	// To bounds the window's end.
	To *time.Time `json:"to,omitempty"`
}

// TollCrossingResponse lists crossings, oldest first.
type TollCrossingResponse struct {
	// Crossings are the toll-plaza reads.
	Crossings []TollCrossing `json:"crossings"`
}

// TollCrossing is one FASTag read at a toll plaza.
type TollCrossing struct {
	// VehicleNumber is the plate.
	VehicleNumber string `json:"vehicle_number"`
	// PlazaID is the plaza's code.
	PlazaID string `json:"plaza_id,omitempty"`
	// PlazaName is the plaza's name.
	PlazaName string `json:"plaza_name"`
	// CrossedAt is the read time.
	CrossedAt time.Time `json:"crossed_at"`
	// Point is the plaza's position, when known.
	Point *GeoPoint `json:"point,omitempty"`
	// Direction is the lane direction as reported.
	Direction string `json:"direction,omitempty"`
}

// IST is India Standard Time (UTC+05:30), the zone Indian providers and NIC
// write local times in.
var IST = time.FixedZone("IST", 5*3600+30*60)

// IsPINCode reports whether s is an Indian postal index number: six digits,
// the first not 0 (the pattern the canonical schema gives PIN code fields).
func IsPINCode(s string) bool { return len(s) == 6 && s[0] != '0' && digits(s) }

// IsEWayBillNumber reports whether s is an e-way bill number: twelve digits
// (the pattern the canonical schema gives them).
func IsEWayBillNumber(s string) bool { return len(s) == 12 && digits(s) }

// IsHSNCode reports whether s is an HSN code of 4, 6 or 8 digits.
func IsHSNCode(s string) bool { return (len(s) == 4 || len(s) == 6 || len(s) == 8) && digits(s) }

// IsStateCode reports whether s is a GST state code: two digits.
func IsStateCode(s string) bool { return len(s) == 2 && digits(s) }

// NationalNumber reduces an Indian phone number to its digits, without the
// +91 of an international call or the leading 0 of a national one: a mobile
// number comes out as its ten digits.
func NationalNumber(phone string) string {
	d := make([]byte, 0, len(phone))
	for i := range len(phone) {
		if c := phone[i]; c >= '0' && c <= '9' {
			d = append(d, c)
		}
	}
	switch {
	case len(d) == 12 && d[0] == '9' && d[1] == '1':
		d = d[2:]
	case len(d) == 11 && d[0] == '0':
		d = d[1:]
	}
	return string(d)
}

// gstinPattern is the canonical schema's pattern for a GSTIN: two digits of
// state code, then 13 capital letters and digits (PAN, entity number, a
// character that is Z for most registrations, check character). The 14th
// character is not held to Z: NIC's and GSPs' sandbox test GSTINs
// (29AAFCD5862R000, 01AMBPG7773M002) and special registrations carry other
// characters there, and NIC checks a GSTIN itself.
var gstinPattern = regexp.MustCompile(`^[0-9]{2}[A-Z0-9]{13}$`)

// IsGSTIN reports whether s has a GSTIN's form (the check character is not
// verified; NIC does that).
func IsGSTIN(s string) bool { return gstinPattern.MatchString(s) }

// digits reports whether s is ASCII digits only.
func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
