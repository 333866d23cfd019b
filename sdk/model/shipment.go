package model

import "time"

// Parcel is one physical package of a shipment.
type Parcel struct {
	// Reference is the shipper's own id for the package.
	Reference string `json:"reference,omitempty" jsonschema:"maxLength=64"`
	// Weight is the package's actual weight.
	Weight Weight `json:"weight"`
	// Dimensions are the package's outer dimensions.
	Dimensions *Dimensions `json:"dimensions,omitempty"`
	// Description says what is inside.
	Description string `json:"description,omitempty" jsonschema:"maxLength=500"`
	// Items are the goods in the package, for invoices, customs and e-way bills.
	Items []Item `json:"items,omitempty"`
}

// Item is a line of goods.
type Item struct {
	// SKU is the shipper's stock-keeping unit.
	SKU string `json:"sku,omitempty"`
	// Description names the goods.
	Description string `json:"description"`
	// HSNCode is the Harmonised System of Nomenclature code (4, 6 or 8 digits).
	HSNCode string `json:"hsn_code,omitempty" jsonschema:"pattern=^[0-9]{4}([0-9]{2}){0\\,2}$"`
	// Quantity is the number of units.
	Quantity float64 `json:"quantity" jsonschema:"minimum=0"`
	// Unit is the unit of quantity (NOS, KGS, BOX...).
	Unit string `json:"unit,omitempty"`
	// UnitValue is the value of one unit.
	UnitValue *Money `json:"unit_value,omitempty"`
}

// PaymentMode says who pays and how.
type PaymentMode string

// Payment modes.
const (
	Prepaid        PaymentMode = "prepaid"
	CashOnDelivery PaymentMode = "cod"
	ToPay          PaymentMode = "to_pay"
	PaymentPickup  PaymentMode = "pickup"
	PaymentReplace PaymentMode = "replacement"
)

// ShipmentRequest asks a carrier to book a shipment and produce its labels.
type ShipmentRequest struct {
	// Reference is the shipper's order or shipment number; carriers use it to de-duplicate.
	Reference string `json:"reference" jsonschema:"minLength=1,maxLength=64"`
	// Service is the carrier's service code (express, surface, PRIORITY_OVERNIGHT...); empty means the account default.
	Service string `json:"service,omitempty"`
	// ShipFrom is where the carrier collects.
	ShipFrom Address `json:"ship_from"`
	// ShipTo is where the carrier delivers.
	ShipTo Address `json:"ship_to"`
	// ReturnTo is where undeliverable goods go back to; ShipFrom when empty.
	ReturnTo *Address `json:"return_to,omitempty"`
	// PickupLocation is the carrier-registered pickup location name (warehouse), where the carrier needs one.
	PickupLocation string `json:"pickup_location,omitempty"`
	// Parcels are the packages; at least one.
	Parcels []Parcel `json:"parcels" jsonschema:"minItems=1,maxItems=500"`
	// PaymentMode is prepaid, cod, to_pay, pickup or replacement; prepaid when empty.
	PaymentMode PaymentMode `json:"payment_mode,omitempty" jsonschema:"enum=prepaid,enum=cod,enum=to_pay,enum=pickup,enum=replacement"`
	// CODAmount is the amount to collect on delivery; required for cod.
	CODAmount *Money `json:"cod_amount,omitempty"`
	// Invoice is the commercial invoice the goods travel under.
	Invoice *InvoiceRef `json:"invoice,omitempty"`
	// EWayBillNumber is the 12-digit e-way bill the goods travel under (required in India above ₹50,000).
	EWayBillNumber string `json:"eway_bill_number,omitempty" jsonschema:"pattern=^[0-9]{12}$"`
	// ShipDate is the planned handover date.
	ShipDate Date `json:"ship_date,omitempty" jsonschema:"format=date"`
	// LabelFormat is the label encoding wanted: PDF, PNG or ZPL.
	LabelFormat DocumentFormat `json:"label_format,omitempty" jsonschema:"enum=PDF,enum=PNG,enum=ZPL"`
	// Reverse books a reverse pickup (a return): the carrier collects from
	// ShipFrom, the customer, and delivers to ShipTo, the shipper's warehouse.
	Reverse bool `json:"reverse,omitempty"`
	// Options carry carrier-specific flags that have no canonical slot yet.
	Options map[string]string `json:"options,omitempty"`
}

// InvoiceRef identifies the commercial invoice goods travel under.
type InvoiceRef struct {
	// Number is the invoice number.
	Number string `json:"number"`
	// Date is the invoice date.
	Date Date `json:"date,omitempty" jsonschema:"format=date"`
	// Value is the invoice's total value.
	Value Money `json:"value"`
}

// ShipmentResponse is a booked shipment.
type ShipmentResponse struct {
	// TrackingNumber is the master tracking number (waybill, AWB).
	TrackingNumber string `json:"tracking_number"`
	// Reference echoes the shipper's reference.
	Reference string `json:"reference,omitempty"`
	// CarrierReference is any other id the carrier gave (its order or token id).
	CarrierReference string `json:"carrier_reference,omitempty"`
	// ParcelTrackingNumbers are per-package numbers for multi-piece shipments.
	ParcelTrackingNumbers []string `json:"parcel_tracking_numbers,omitempty"`
	// Labels are the shipping labels, when the carrier returned them.
	Labels []Document `json:"labels,omitempty"`
	// Rate is what the booking costs, when the carrier said.
	Rate *Rate `json:"rate,omitempty"`
	// Routing is the carrier's sort or destination code printed on labels.
	Routing string `json:"routing,omitempty"`
	// Courier is the courier an aggregator booked the shipment with.
	Courier *Courier `json:"courier,omitempty"`
	// Messages are non-fatal remarks from the carrier, verbatim.
	Messages []string `json:"messages,omitempty"`
}

// FindShipmentRequest asks a carrier for the shipment it booked under the
// shipper's reference.
type FindShipmentRequest struct {
	// Reference is the shipper's reference the shipment was booked with
	// (ShipmentRequest's Reference).
	Reference string `json:"reference" jsonschema:"minLength=1,maxLength=64"`
}

// CancelRequest asks a carrier to cancel a booked shipment.
type CancelRequest struct {
	// TrackingNumber is the shipment to cancel.
	TrackingNumber string `json:"tracking_number" jsonschema:"minLength=1,maxLength=64"`
	// CourierID is the courier an aggregator booked it with (the booking's
	// courier.id), for aggregators that need it to act on a shipment.
	CourierID string `json:"courier_id,omitempty" jsonschema:"maxLength=64"`
	// Reason is a free-text reason, passed on where the carrier takes one.
	Reason string `json:"reason,omitempty"`
}

// CancelResponse reports a cancellation.
type CancelResponse struct {
	// TrackingNumber is the cancelled shipment.
	TrackingNumber string `json:"tracking_number"`
	// Cancelled is true when the carrier confirmed the cancellation.
	Cancelled bool `json:"cancelled"`
	// Message is the carrier's own words, verbatim.
	Message string `json:"message,omitempty"`
}

// RateRequest asks for prices and services for a prospective shipment.
type RateRequest struct {
	// ShipFrom is the origin.
	ShipFrom Address `json:"ship_from"`
	// ShipTo is the destination.
	ShipTo Address `json:"ship_to"`
	// Parcels are the packages.
	Parcels []Parcel `json:"parcels" jsonschema:"minItems=1"`
	// PaymentMode is prepaid or cod.
	PaymentMode PaymentMode `json:"payment_mode,omitempty"`
	// CODAmount is the amount to collect on delivery.
	CODAmount *Money `json:"cod_amount,omitempty"`
	// Services restricts the quote to these service codes.
	Services []string `json:"services,omitempty"`
}

// Rate is a price for one service.
type Rate struct {
	// Service is the carrier's service code.
	Service string `json:"service"`
	// ServiceName is the service's display name.
	ServiceName string `json:"service_name,omitempty"`
	// Total is the total price.
	Total Money `json:"total"`
	// Charges break the total down.
	Charges []Charge `json:"charges,omitempty"`
	// TransitDays is the promised transit time in days.
	TransitDays int `json:"transit_days,omitempty"`
	// EstimatedDelivery is the promised delivery date.
	EstimatedDelivery Date `json:"estimated_delivery,omitempty"`
	// Courier is the courier behind the service, when an aggregator quoted it.
	Courier *Courier `json:"courier,omitempty"`
}

// Courier names the courier that really carries a shipment booked or tracked
// through an aggregator, as the aggregator reports it (verbatim).
type Courier struct {
	// ID is the aggregator's id or code for the courier; what a booking's
	// Service takes to choose it.
	ID string `json:"id,omitempty"`
	// Name is the courier's name.
	Name string `json:"name,omitempty"`
}

// RateResponse lists the rates a carrier quoted.
type RateResponse struct {
	// Rates are the quoted services, cheapest first where the carrier ordered them.
	Rates []Rate `json:"rates"`
}

// PickupRequest asks a carrier to collect.
type PickupRequest struct {
	// Address is where to collect.
	Address Address `json:"address"`
	// PickupLocation is the carrier-registered location name, where the carrier needs one.
	PickupLocation string `json:"pickup_location,omitempty"`
	// Date is the collection date.
	Date Date `json:"date" jsonschema:"format=date"`
	// ReadyTime is when the goods are ready (HH:MM, local time).
	ReadyTime string `json:"ready_time,omitempty" jsonschema:"pattern=^[0-2][0-9]:[0-5][0-9]$"`
	// CloseTime is when the location closes (HH:MM, local time).
	CloseTime string `json:"close_time,omitempty" jsonschema:"pattern=^[0-2][0-9]:[0-5][0-9]$"`
	// Packages is the expected number of packages.
	Packages int `json:"packages,omitempty" jsonschema:"minimum=0"`
	// Weight is the expected total weight, where the carrier plans the
	// collection by it (Blue Dart's RegisterPickup).
	Weight *Weight `json:"weight,omitempty"`
	// TrackingNumbers are the shipments to collect, where the carrier wants them.
	TrackingNumbers []string `json:"tracking_numbers,omitempty"`
	// CourierID is the courier an aggregator booked them with, where it needs one.
	CourierID string `json:"courier_id,omitempty" jsonschema:"maxLength=64"`
}

// PickupResponse is a booked collection.
type PickupResponse struct {
	// ConfirmationNumber is the carrier's pickup id.
	ConfirmationNumber string `json:"confirmation_number"`
	// Date is the confirmed collection date.
	Date Date `json:"date,omitempty"`
	// Message is the carrier's own words, verbatim.
	Message string `json:"message,omitempty"`
}

// ManifestRequest asks a carrier to close out a day's shipments.
type ManifestRequest struct {
	// TrackingNumbers are the shipments to manifest; all open ones when empty.
	TrackingNumbers []string `json:"tracking_numbers,omitempty"`
	// Date is the handover date.
	Date Date `json:"date,omitempty"`
}

// ManifestResponse is a closed manifest.
type ManifestResponse struct {
	// ManifestID is the carrier's manifest id.
	ManifestID string `json:"manifest_id"`
	// Document is the printable manifest, when the carrier returned one.
	Document *Document `json:"document,omitempty"`
}

// PODRequest asks for the proof of delivery of a shipment.
type PODRequest struct {
	// TrackingNumber is the delivered shipment.
	TrackingNumber string `json:"tracking_number" jsonschema:"minLength=1"`
	// CourierID is the courier an aggregator booked it with, where it needs one.
	CourierID string `json:"courier_id,omitempty" jsonschema:"maxLength=64"`
}

// ProofOfDelivery is the evidence that a shipment was delivered.
type ProofOfDelivery struct {
	// TrackingNumber is the delivered shipment.
	TrackingNumber string `json:"tracking_number"`
	// DeliveredAt is when it was delivered.
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// ReceivedBy is the name of the person who took it.
	ReceivedBy string `json:"received_by,omitempty"`
	// Relationship is the receiver's relation to the consignee (self, security, neighbour).
	Relationship string `json:"relationship,omitempty"`
	// OTPVerified is true when delivery was confirmed with a one-time password.
	OTPVerified bool `json:"otp_verified,omitempty"`
	// Location is where the driver stood when delivering.
	Location *GeoPoint `json:"location,omitempty"`
	// Documents are signatures and photos.
	Documents []Document `json:"documents,omitempty"`
}
