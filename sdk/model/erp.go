package model

import "time"

// LocationRequest asks a GPS or SIM-tracking provider where a vehicle or phone is.
type LocationRequest struct {
	// DeviceID is the provider's device or tracking id.
	DeviceID string `json:"device_id,omitempty"`
	// VehicleNumber is the plate, for providers that key on it.
	VehicleNumber string `json:"vehicle_number,omitempty"`
	// MSISDN is the driver's phone number, for SIM-based tracking.
	MSISDN string `json:"msisdn,omitempty" jsonschema:"pattern=^[0-9+]{10\\,15}$"`
}

// LocationPing is one position report from a GPS device or a SIM triangulation.
type LocationPing struct {
	// DeviceID is the provider's device or tracking id.
	DeviceID string `json:"device_id,omitempty"`
	// VehicleNumber is the plate, when known.
	VehicleNumber string `json:"vehicle_number,omitempty"`
	// MSISDN is the tracked phone number, for SIM tracking.
	MSISDN string `json:"msisdn,omitempty"`
	// Time is when the position was fixed.
	Time time.Time `json:"time"`
	// Point is the position.
	Point GeoPoint `json:"point"`
	// AccuracyM is the fix's accuracy radius in metres (large for SIM fixes).
	AccuracyM float64 `json:"accuracy_m,omitempty"`
	// SpeedKmph is the speed, when the device reports it.
	SpeedKmph float64 `json:"speed_kmph,omitempty"`
	// Heading is the course in degrees from north.
	Heading float64 `json:"heading,omitempty"`
	// Source is gps, sim or fastag.
	Source string `json:"source" jsonschema:"enum=gps,enum=sim,enum=fastag"`
	// Address is the provider's reverse-geocoded address, verbatim.
	Address string `json:"address,omitempty"`
}

// Order is a sales or purchase order as an ERP holds it.
type Order struct {
	// Number is the ERP's order number.
	Number string `json:"number" jsonschema:"minLength=1"`
	// Date is the order date.
	Date Date `json:"date" jsonschema:"format=date"`
	// Customer is the sold-to party.
	Customer Address `json:"customer"`
	// ShipTo is the delivery address.
	ShipTo Address `json:"ship_to"`
	// Lines are the ordered goods.
	Lines []DocumentLine `json:"lines" jsonschema:"minItems=1"`
	// Total is the order value.
	Total *Money `json:"total,omitempty"`
	// Status is the ERP's status, verbatim.
	Status string `json:"status,omitempty"`
}

// DocumentLine is a line of an ERP document.
type DocumentLine struct {
	// LineNumber is the line's position in the document.
	LineNumber int `json:"line_number"`
	// SKU is the material or item code.
	SKU string `json:"sku"`
	// Description names the goods.
	Description string `json:"description,omitempty"`
	// Quantity is the ordered or delivered quantity.
	Quantity float64 `json:"quantity"`
	// Unit is the unit of measure.
	Unit string `json:"unit,omitempty"`
	// UnitPrice is the price of one unit.
	UnitPrice *Money `json:"unit_price,omitempty"`
	// HSNCode is the goods' HSN code.
	HSNCode string `json:"hsn_code,omitempty"`
}

// Delivery is an outbound delivery (SAP LIKP/LIPS, a Dynamics packing slip).
type Delivery struct {
	// Number is the ERP's delivery number.
	Number string `json:"number" jsonschema:"minLength=1"`
	// OrderNumber is the order it fulfils.
	OrderNumber string `json:"order_number,omitempty"`
	// ShipDate is the goods-issue date.
	ShipDate Date `json:"ship_date,omitempty"`
	// Carrier is the carrier's name or code.
	Carrier string `json:"carrier,omitempty"`
	// TrackingNumber is the carrier's tracking number.
	TrackingNumber string `json:"tracking_number,omitempty"`
	// ShipTo is the delivery address.
	ShipTo *Address `json:"ship_to,omitempty"`
	// Lines are the delivered goods.
	Lines []DocumentLine `json:"lines,omitempty"`
}

// FreightInvoice is a carrier's bill for transport, to be posted in the ERP.
type FreightInvoice struct {
	// Number is the carrier's invoice number.
	Number string `json:"number" jsonschema:"minLength=1"`
	// Date is the invoice date.
	Date Date `json:"date" jsonschema:"format=date"`
	// Carrier is the billing carrier, with GSTIN.
	Carrier Address `json:"carrier"`
	// BillTo is the billed party, with GSTIN.
	BillTo Address `json:"bill_to"`
	// PONumber is the purchase order it bills against.
	PONumber string `json:"po_number,omitempty"`
	// TrackingNumbers are the shipments it covers.
	TrackingNumbers []string `json:"tracking_numbers,omitempty"`
	// Charges are the freight, fuel and accessorial lines before tax.
	Charges []Charge `json:"charges" jsonschema:"minItems=1"`
	// Taxes are the GST lines.
	Taxes []Charge `json:"taxes,omitempty"`
	// Total is the amount payable.
	Total Money `json:"total"`
	// DueDate is when payment is due.
	DueDate Date `json:"due_date,omitempty"`
}

// ERPPostResponse reports a document posted into an ERP.
type ERPPostResponse struct {
	// DocumentNumber is the number the ERP gave the posted document.
	DocumentNumber string `json:"document_number"`
	// Status is the ERP's status, verbatim.
	Status string `json:"status,omitempty"`
	// Messages are the ERP's remarks, verbatim.
	Messages []string `json:"messages,omitempty"`
}
