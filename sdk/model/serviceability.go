package model

// ServiceabilityRequest asks whether a carrier serves a lane: pickup at one
// postal code (an Indian pincode), delivery at another.
type ServiceabilityRequest struct {
	// OriginPostalCode is where the carrier would collect; some carriers check only the destination.
	OriginPostalCode string `json:"origin_postal_code,omitempty" jsonschema:"maxLength=10"`
	// DestinationPostalCode is where the carrier would deliver.
	DestinationPostalCode string `json:"destination_postal_code" jsonschema:"minLength=1,maxLength=10"`
	// PaymentMode is prepaid or cod; prepaid when empty.
	PaymentMode PaymentMode `json:"payment_mode,omitempty" jsonschema:"enum=prepaid,enum=cod"`
	// Weight is the shipment's weight, where the answer depends on it.
	Weight *Weight `json:"weight,omitempty"`
	// CODAmount is the amount to collect, where the answer depends on it.
	CODAmount *Money `json:"cod_amount,omitempty"`
	// Reverse asks about a reverse pickup (collect at the destination, bring back to the origin).
	Reverse bool `json:"reverse,omitempty"`
}

// ServiceabilityResponse says whether and how a carrier serves a lane.
type ServiceabilityResponse struct {
	// Serviceable is true when the carrier delivers there at all.
	Serviceable bool `json:"serviceable"`
	// COD is true when it collects cash on delivery there.
	COD bool `json:"cod"`
	// Prepaid is true when it delivers prepaid shipments there.
	Prepaid bool `json:"prepaid"`
	// Pickup is true when it collects at the origin.
	Pickup bool `json:"pickup"`
	// Reverse is true when it does reverse pickups there.
	Reverse bool `json:"reverse"`
	// Options are the services or couriers that serve the lane, where the
	// provider lists them (aggregators list couriers).
	Options []ServiceOption `json:"options,omitempty"`
	// Message is the carrier's own words, verbatim.
	Message string `json:"message,omitempty"`
}

// ServiceOption is one service or courier that serves a lane.
type ServiceOption struct {
	// Service is the service code a booking takes to choose it.
	Service string `json:"service,omitempty"`
	// ServiceName is its display name.
	ServiceName string `json:"service_name,omitempty"`
	// Courier is the courier behind it, for aggregators.
	Courier *Courier `json:"courier,omitempty"`
	// COD is true when it collects cash on delivery.
	COD bool `json:"cod,omitempty"`
	// TransitDays is the promised transit time in days.
	TransitDays int `json:"transit_days,omitempty"`
	// EstimatedDelivery is the promised delivery date.
	EstimatedDelivery Date `json:"estimated_delivery,omitempty"`
	// Rate is the price, where the provider quotes one with the answer.
	Rate *Money `json:"rate,omitempty"`
}

// NDRAction is what the shipper wants done after a failed delivery attempt
// (a non-delivery report, NDR, in Indian carriers' words).
type NDRAction string

// NDR actions.
const (
	// NDRReattempt asks for another delivery attempt.
	NDRReattempt NDRAction = "reattempt"
	// NDRReturn gives up and sends the shipment back to the shipper (RTO).
	NDRReturn NDRAction = "return"
	// NDRChangeAddress corrects the delivery address before the next attempt.
	NDRChangeAddress NDRAction = "change_address"
	// NDRChangePhone corrects the consignee's phone before the next attempt.
	NDRChangePhone NDRAction = "change_phone"
)

// NDRActionRequest tells a carrier what to do with a shipment whose delivery failed.
type NDRActionRequest struct {
	// TrackingNumber is the shipment.
	TrackingNumber string `json:"tracking_number" jsonschema:"minLength=1,maxLength=64"`
	// CourierID is the courier an aggregator booked it with, where it needs one.
	CourierID string `json:"courier_id,omitempty" jsonschema:"maxLength=64"`
	// Action is reattempt, return, change_address or change_phone.
	Action NDRAction `json:"action" jsonschema:"enum=reattempt,enum=return,enum=change_address,enum=change_phone"`
	// ReattemptDate is when to try again, where the carrier takes one.
	ReattemptDate Date `json:"reattempt_date,omitempty" jsonschema:"format=date"`
	// Address is the corrected address, for change_address.
	Address *Address `json:"address,omitempty"`
	// Phone is the corrected phone, for change_phone.
	Phone string `json:"phone,omitempty" jsonschema:"maxLength=20"`
	// Remarks are passed on where the carrier takes them.
	Remarks string `json:"remarks,omitempty" jsonschema:"maxLength=500"`
}

// NDRActionResponse reports whether the carrier took the action.
type NDRActionResponse struct {
	// TrackingNumber is the shipment.
	TrackingNumber string `json:"tracking_number"`
	// Accepted is true when the carrier took the action.
	Accepted bool `json:"accepted"`
	// Reference is the carrier's id for the request, when it gives one.
	Reference string `json:"reference,omitempty"`
	// Message is the carrier's own words, verbatim.
	Message string `json:"message,omitempty"`
}
