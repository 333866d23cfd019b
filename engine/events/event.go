// Package events defines the hub's canonical events: what the TMS's services and
// customers' ERPs learn from the hub, through signed webhooks and Kafka topics.
// An event is written to the store's outbox in the same transaction as the state
// change that caused it, and is never lost after that: relays read the outbox
// and hand each event to every sink (webhook fan-out, Kafka) at least once.
//
// This file is the contract the store, the relays and the webhook dispatcher
// share; keep it small.
package events

import (
	"encoding/json"
	"strings"
	"time"
)

// Type names an event. Families (the part before the first dot) map to Kafka topics.
type Type string

// The canonical event types.
const (
	// ShipmentCreated: a carrier booked a shipment (data: model.ShipmentResponse).
	ShipmentCreated Type = "shipment.created"
	// ShipmentCancelled: a booking was cancelled (data: model.CancelResponse).
	ShipmentCancelled Type = "shipment.cancelled"
	// TrackingUpdated: a shipment's tracking moved forward (data: model.Tracking).
	TrackingUpdated Type = "tracking.updated"
	// ShipmentDelivered: a shipment reached delivered (data: model.Tracking).
	ShipmentDelivered Type = "shipment.delivered"
	// ShipmentException: a shipment entered exception or a failed attempt (data: model.Tracking).
	ShipmentException Type = "shipment.exception"
	// PODReceived: a proof of delivery arrived (data: model.ProofOfDelivery).
	PODReceived Type = "pod.received"
	// EWayBillGenerated: NIC issued an e-way bill (data: model.EWayBill).
	EWayBillGenerated Type = "eway_bill.generated"
	// EWayBillVehicleUpdated: an e-way bill's vehicle changed (Part B; data: model.EWayBill).
	EWayBillVehicleUpdated Type = "eway_bill.vehicle_updated"
	// EWayBillExtended: an e-way bill's validity was extended (data: model.EWayBill).
	EWayBillExtended Type = "eway_bill.extended"
	// EWayBillCancelled: NIC confirmed an e-way bill's cancellation (data: model.EWayBill).
	EWayBillCancelled Type = "eway_bill.cancelled"
	// EWayBillExpiring: an e-way bill's validity ends soon (a scheduler emits it;
	// data: model.EWayBill with hours_left).
	EWayBillExpiring Type = "eway_bill.expiring"
	// EWayBillExpired: an e-way bill's validity ended, with no notice of it
	// before (the hub was down through the lead time, or the bill was recorded
	// too late); NIC still extends it up to 8 hours after (a scheduler emits
	// it; data: model.EWayBill with a negative hours_left).
	EWayBillExpired Type = "eway_bill.expired"
	// EInvoiceGenerated: the IRP issued an IRN (data: model.EInvoice).
	EInvoiceGenerated Type = "einvoice.generated"
	// ConnectorHealthChanged: a connector's health changed (data: HealthChange).
	ConnectorHealthChanged Type = "connector.health_changed"
	// WebhookEndpointDisabled: an endpoint failing for too long was disabled (data: EndpointDisabled).
	WebhookEndpointDisabled Type = "webhook.endpoint_disabled"
	// WebhookTest: a test event, sent to the one endpoint it was asked for
	// (POST /v1/webhooks/endpoints/{id}/test; data: TestEvent); it never
	// passes through the outbox.
	WebhookTest Type = "webhook.test"
)

// Types lists every canonical event type.
var Types = []Type{
	ShipmentCreated, ShipmentCancelled, TrackingUpdated, ShipmentDelivered, ShipmentException,
	PODReceived, EWayBillGenerated, EWayBillVehicleUpdated, EWayBillExtended, EWayBillCancelled,
	EWayBillExpiring, EWayBillExpired, EInvoiceGenerated,
	ConnectorHealthChanged, WebhookEndpointDisabled, WebhookTest,
}

// Known reports whether t is a canonical event type.
func (t Type) Known() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Family is the part of the type before the first dot ("shipment", "eway_bill").
func (t Type) Family() string {
	f, _, _ := strings.Cut(string(t), ".")
	return f
}

// Event is one thing that happened. Its JSON form is the body of a webhook
// delivery and the value of a Kafka message.
type Event struct {
	// ID is stable for the event's life: every delivery and every retry of it
	// carries it (webhook-id), so receivers de-duplicate by it. "evt_" and a
	// time-ordered unique suffix.
	ID string `json:"id"`
	// Type is the event type.
	Type Type `json:"type"`
	// TenantID is the tenant the event belongs to.
	TenantID string `json:"tenant_id"`
	// Time is when it happened (UTC, millisecond precision).
	Time time.Time `json:"time"`
	// Subject is what it is about: a tracking number, an e-way bill number, an
	// IRN, a connector or endpoint id. Events of one subject are ordered.
	Subject string `json:"subject"`
	// Connector is the connector involved, when one is.
	Connector string `json:"connector,omitempty"`
	// Account is the tenant's account involved, when one is.
	Account string `json:"account,omitempty"`
	// Data is the canonical payload for the type (see the Type constants).
	Data json.RawMessage `json:"data"`
	// TraceParent is the W3C traceparent of the call that caused the event (""
	// when it ran outside any trace). The store fills it from the appending
	// context's span when it is empty; webhook deliveries and Kafka messages
	// carry it on as their traceparent header, so the receiver's work joins
	// the caller's trace. Metadata, not part of the event's JSON.
	TraceParent string `json:"-"`
	// TraceState is the W3C tracestate that came with TraceParent.
	TraceState string `json:"-"`
}

// Seq is an event's position in the outbox: a store-assigned, strictly
// increasing number, the cursor relays resume from.
type Seq int64

// Stored is an event as the outbox holds it.
type Stored struct {
	Event
	// Seq is the event's outbox position.
	Seq Seq `json:"-"`
}

// HealthChange is the data of connector.health_changed.
type HealthChange struct {
	// Connector is the connector's id.
	Connector string `json:"connector"`
	// Account is the account whose breaker changed, when the change is per account.
	Account string `json:"account,omitempty"`
	// From and To are the states ("closed", "open", "half_open"; or process states).
	From string `json:"from"`
	// To is the new state.
	To string `json:"to"`
	// Reason explains the change.
	Reason string `json:"reason,omitempty"`
}

// TestEvent is the data of webhook.test.
type TestEvent struct {
	// EndpointID is the endpoint the test was sent to.
	EndpointID string `json:"endpoint_id"`
	// Message says what the event is.
	Message string `json:"message"`
}

// EndpointDisabled is the data of webhook.endpoint_disabled.
type EndpointDisabled struct {
	// EndpointID is the disabled endpoint.
	EndpointID string `json:"endpoint_id"`
	// URL is where it pointed.
	URL string `json:"url"`
	// FailingSince is when its continuous failures began.
	FailingSince time.Time `json:"failing_since"`
	// LastError is the last delivery failure.
	LastError string `json:"last_error"`
}
