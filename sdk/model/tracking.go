package model

import "time"

// TrackingStatus is the hub's normalized shipment status. TRACKING.md explains the
// vocabulary, how it compares with EasyPost's, AfterShip's and Karrio's, and how a
// connector maps a carrier's codes onto it.
type TrackingStatus string

// The normalized statuses, in the order a shipment normally moves through them.
const (
	// StatusUnknown: the carrier returned nothing the hub can place, or does not know the number yet.
	StatusUnknown TrackingStatus = "unknown"
	// StatusPending: booked or manifested, not yet in the carrier's hands.
	StatusPending TrackingStatus = "pending"
	// StatusInTransit: picked up and moving through the network.
	StatusInTransit TrackingStatus = "in_transit"
	// StatusOutForDelivery: on the vehicle for the last mile.
	StatusOutForDelivery TrackingStatus = "out_for_delivery"
	// StatusAttemptFailed: a delivery attempt failed; another may follow.
	StatusAttemptFailed TrackingStatus = "attempt_failed"
	// StatusAvailableForPickup: waiting at a service point for the consignee.
	StatusAvailableForPickup TrackingStatus = "available_for_pickup"
	// StatusDelivered: delivered to the consignee (terminal).
	StatusDelivered TrackingStatus = "delivered"
	// StatusException: held, damaged, lost or otherwise needing action.
	StatusException TrackingStatus = "exception"
	// StatusReturning: on its way back to the shipper (RTO in Indian carriers' words).
	StatusReturning TrackingStatus = "returning"
	// StatusReturned: delivered back to the shipper (terminal).
	StatusReturned TrackingStatus = "returned"
	// StatusCancelled: cancelled before pickup (terminal).
	StatusCancelled TrackingStatus = "cancelled"
)

// TrackingStatuses lists every normalized status.
var TrackingStatuses = []TrackingStatus{
	StatusUnknown, StatusPending, StatusInTransit, StatusOutForDelivery, StatusAttemptFailed,
	StatusAvailableForPickup, StatusDelivered, StatusException, StatusReturning, StatusReturned,
	StatusCancelled,
}

// rank orders statuses for the forward-only rule; exception and unknown have no rank.
var rank = map[TrackingStatus]int{
	StatusPending:            1,
	StatusInTransit:          2,
	StatusOutForDelivery:     3,
	StatusAttemptFailed:      3,
	StatusAvailableForPickup: 3,
	StatusDelivered:          5,
	StatusReturning:          6,
	StatusReturned:           7,
	StatusCancelled:          8,
}

// Terminal reports whether no later status can follow s.
func (s TrackingStatus) Terminal() bool {
	return s == StatusDelivered || s == StatusReturned || s == StatusCancelled
}

// Advances reports whether a shipment now in status cur may move to next. Statuses
// move forward only, so an out-of-order event cannot undo a later one; exception may
// be entered from any non-terminal status, and any status may follow an exception or
// unknown. Cancelled may follow only pending (or unknown or an exception): a
// shipment already moving comes back as returning. Out-for-delivery, attempt-failed and available-for-pickup are one stage
// and may alternate.
func (cur TrackingStatus) Advances(next TrackingStatus) bool {
	if cur.Terminal() {
		return false
	}
	if next == StatusException || cur == StatusException || cur == StatusUnknown || cur == "" {
		return next != StatusUnknown
	}
	if next == StatusCancelled {
		// Cancellation happens before pickup; a shipment already moving comes
		// back as returning instead.
		return cur == StatusPending
	}
	rc, rn := rank[cur], rank[next]
	return rn >= rc
}

// TrackRequest asks for the tracking history of one or more shipments.
type TrackRequest struct {
	// TrackingNumbers are the shipments to track; at most 50 per call.
	TrackingNumbers []string `json:"tracking_numbers" jsonschema:"minItems=1,maxItems=50"`
	// CourierID is the courier an aggregator booked them with (the booking's
	// courier.id), for aggregators that track by number and courier.
	CourierID string `json:"courier_id,omitempty" jsonschema:"maxLength=64"`
}

// TrackResponse carries one result per requested number, in request order.
type TrackResponse struct {
	// Results holds one entry per requested tracking number.
	Results []Tracking `json:"results"`
}

// Tracking is the state and history of one shipment.
type Tracking struct {
	// TrackingNumber is the number tracked.
	TrackingNumber string `json:"tracking_number"`
	// Status is the normalized current status.
	Status TrackingStatus `json:"status" jsonschema:"enum=unknown,enum=pending,enum=in_transit,enum=out_for_delivery,enum=attempt_failed,enum=available_for_pickup,enum=delivered,enum=exception,enum=returning,enum=returned,enum=cancelled"`
	// SubStatus refines Status with a stable snake_case code from TRACKING.md.
	SubStatus string `json:"sub_status,omitempty"`
	// Reason is the human reason for an exception or failed attempt.
	Reason string `json:"reason,omitempty"`
	// RawCode is the carrier's own status code, verbatim.
	RawCode string `json:"raw_code,omitempty"`
	// RawText is the carrier's own status text, verbatim.
	RawText string `json:"raw_text,omitempty"`
	// Location is where the latest event happened.
	Location *EventLocation `json:"location,omitempty"`
	// EstimatedDelivery is the carrier's current promise.
	EstimatedDelivery *time.Time `json:"estimated_delivery,omitempty"`
	// DeliveredAt is set once delivered.
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// ReceivedBy is who signed for it, when the carrier says.
	ReceivedBy string `json:"received_by,omitempty"`
	// Courier is the courier carrying the shipment, when an aggregator tracked it.
	Courier *Courier `json:"courier,omitempty"`
	// Remittance is the cash on delivery collected and paid back to the
	// shipper, when the carrier reports it.
	Remittance *CODRemittance `json:"remittance,omitempty"`
	// Events are the scans, oldest first.
	Events []TrackingEvent `json:"events,omitempty"`
	// Error is set when this one number could not be tracked; Status is then
	// unknown, with SubStatus not_found when the carrier does not know the number.
	Error *ItemError `json:"error,omitempty"`
}

// TrackingEvent is one scan or status change.
type TrackingEvent struct {
	// Time is when the event happened, with the carrier's offset.
	Time time.Time `json:"time"`
	// Status is the normalized status this event implies.
	Status TrackingStatus `json:"status"`
	// SubStatus refines Status.
	SubStatus string `json:"sub_status,omitempty"`
	// RawCode is the carrier's own code, verbatim.
	RawCode string `json:"raw_code,omitempty"`
	// RawText is the carrier's own text, verbatim.
	RawText string `json:"raw_text,omitempty"`
	// Location is where it happened.
	Location *EventLocation `json:"location,omitempty"`
}

// CODRemittance is cash on delivery a carrier collected and paid back to the shipper.
type CODRemittance struct {
	// Amount is what was collected.
	Amount *Money `json:"amount,omitempty"`
	// Reference is the remittance's bank or carrier reference (a UTR), verbatim.
	Reference string `json:"reference,omitempty"`
	// RemittedOn is when it was paid to the shipper.
	RemittedOn Date `json:"remitted_on,omitempty" jsonschema:"format=date"`
}

// EventLocation is where a tracking event happened.
type EventLocation struct {
	// Facility is the hub, branch or service centre name.
	Facility string `json:"facility,omitempty"`
	// City is the city.
	City string `json:"city,omitempty"`
	// State is the state or province.
	State string `json:"state,omitempty"`
	// PostalCode is the postal code.
	PostalCode string `json:"postal_code,omitempty"`
	// CountryCode is the ISO 3166-1 alpha-2 code.
	CountryCode string `json:"country_code,omitempty"`
}

// ItemError reports why one item of a batch failed while the others succeeded.
type ItemError struct {
	// Code is one of the hub's error codes (not_found, invalid_request, ...).
	Code string `json:"code"`
	// Message explains the failure.
	Message string `json:"message"`
	// CarrierCode is the carrier's own error code, verbatim.
	CarrierCode string `json:"carrier_code,omitempty"`
	// CarrierMessage is the carrier's own error text, verbatim.
	CarrierMessage string `json:"carrier_message,omitempty"`
}
