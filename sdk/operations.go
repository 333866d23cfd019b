package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/carrierhub/hub/sdk/exchange"
)

// Operation names a canonical operation, the same for every connector that serves it.
type Operation string

// The canonical operations.
const (
	OpCreateShipment        Operation = "create_shipment"
	OpCancelShipment        Operation = "cancel_shipment"
	OpFindShipment          Operation = "find_shipment"
	OpTrack                 Operation = "track"
	OpRate                  Operation = "rate"
	OpSchedulePickup        Operation = "schedule_pickup"
	OpCreateManifest        Operation = "create_manifest"
	OpGetPOD                Operation = "get_pod"
	OpCheckServiceability   Operation = "check_serviceability"
	OpNDRAction             Operation = "ndr_action"
	OpGenerateEWayBill      Operation = "generate_eway_bill"
	OpUpdateEWayBillVehicle Operation = "update_eway_bill_vehicle"
	OpCancelEWayBill        Operation = "cancel_eway_bill"
	OpGetEWayBill           Operation = "get_eway_bill"
	OpExtendEWayBill        Operation = "extend_eway_bill"
	OpLookupGSTIN           Operation = "lookup_gstin"
	OpGenerateEInvoice      Operation = "generate_einvoice"
	OpCancelEInvoice        Operation = "cancel_einvoice"
	OpGetEInvoice           Operation = "get_einvoice"
	OpFindEInvoice          Operation = "find_einvoice"
	OpLookupVehicle         Operation = "lookup_vehicle"
	OpLookupDriverLicence   Operation = "lookup_driver_licence"
	OpListTollCrossings     Operation = "list_toll_crossings"
	OpLocate                Operation = "locate"
	OpPostOrder             Operation = "post_order"
	OpPostDelivery          Operation = "post_delivery"
	OpPostFreightInvoice    Operation = "post_freight_invoice"
	OpReceivePush           Operation = "receive_push"
)

// OperationSpec describes a canonical operation: its request and response types
// (whose JSON Schemas the engine validates against) and whether it creates
// something at the provider.
type OperationSpec struct {
	// Name is the operation.
	Name Operation
	// Summary says what it does, for the API document.
	Summary string
	// Request is the canonical request type.
	Request reflect.Type
	// Response is the canonical response type.
	Response reflect.Type
	// Creates is true when the operation creates something at the provider
	// (a booking, an e-way bill), so a blind retry could duplicate it and an
	// Idempotency-Key is accepted.
	Creates bool

	bind func(Connector) (handler, bool)
}

// handler runs one operation on raw canonical JSON.
type handler func(ctx context.Context, call *Call) ([]byte, error)

// Call is one operation invocation in transport-neutral form.
type Call struct {
	// Operation is the canonical operation.
	Operation Operation
	// Account is the account to act for.
	Account *Account
	// IdempotencyKey is the caller's key, if any.
	IdempotencyKey string
	// RequestID identifies the call.
	RequestID string
	// Payload is the canonical request as JSON.
	Payload []byte
}

func spec[Req, Resp any, C any](name Operation, summary string, creates bool, method func(C, context.Context, *Request[Req]) (*Resp, error)) OperationSpec {
	return OperationSpec{
		Name: name, Summary: summary, Creates: creates,
		Request:  reflect.TypeFor[Req](),
		Response: reflect.TypeFor[Resp](),
		bind: func(c Connector) (handler, bool) {
			impl, ok := c.(C)
			if !ok {
				return nil, false
			}
			return func(ctx context.Context, call *Call) ([]byte, error) {
				req := &Request[Req]{Account: call.Account, IdempotencyKey: call.IdempotencyKey, RequestID: call.RequestID}
				if err := json.Unmarshal(call.Payload, &req.Body); err != nil {
					return nil, &Error{Code: CodeInvalidRequest, Source: SourceConnector, Message: "decoding " + string(name) + " request: " + err.Error()}
				}
				resp, err := method(impl, ctx, req)
				if err != nil {
					return nil, err
				}
				if resp == nil {
					return nil, Errorf(CodeInternal, "%s returned neither a response nor an error", name)
				}
				out, err := json.Marshal(resp)
				if err != nil {
					return nil, Errorf(CodeInternal, "encoding %s response: %v", name, err)
				}
				return out, nil
			}, true
		},
	}
}

var operations = []OperationSpec{
	spec(OpCreateShipment, "Book a shipment and get its tracking number and labels.", true, ShipmentCreator.CreateShipment),
	spec(OpCancelShipment, "Cancel a booked shipment.", false, ShipmentCanceller.CancelShipment),
	spec(OpFindShipment, "Look a booked shipment up by the shipper's reference; the hub uses it to settle a create_shipment whose outcome is unknown.", false, ShipmentFinder.FindShipment),
	spec(OpTrack, "Get the status and scan history of shipments.", false, Tracker.Track),
	spec(OpRate, "Quote prices and services for a prospective shipment.", false, Rater.Rate),
	spec(OpSchedulePickup, "Book a collection.", true, PickupScheduler.SchedulePickup),
	spec(OpCreateManifest, "Close out shipments into a manifest.", true, Manifester.CreateManifest),
	spec(OpGetPOD, "Get a delivered shipment's proof of delivery.", false, PODFetcher.GetPOD),
	spec(OpCheckServiceability, "Ask whether a carrier serves a lane (pincode serviceability): delivery, cash on delivery, pickup, reverse pickup, and the services or couriers that serve it.", false, ServiceabilityChecker.CheckServiceability),
	spec(OpNDRAction, "Say what to do with a shipment whose delivery failed (an NDR): reattempt, return, or correct the address or phone.", false, NDRActor.NDRAction),
	spec(OpGenerateEWayBill, "Generate an e-way bill.", true, EWayBillGenerator.GenerateEWayBill),
	spec(OpUpdateEWayBillVehicle, "Update an e-way bill's vehicle (Part-B).", false, EWayBillVehicleUpdater.UpdateEWayBillVehicle),
	spec(OpCancelEWayBill, "Cancel an e-way bill.", false, EWayBillCanceller.CancelEWayBill),
	spec(OpGetEWayBill, "Read an e-way bill by its number: its status, validity and current vehicle as NIC has them now.", false, EWayBillGetter.GetEWayBill),
	spec(OpExtendEWayBill, "Extend an e-way bill's validity (NIC accepts it from 8 hours before its expiry to 8 hours after).", false, EWayBillExtender.ExtendEWayBill),
	spec(OpLookupGSTIN, "Look a GSTIN up in the GST system: its legal and trade names, address, status, and whether e-way bill generation is blocked for it.", false, GSTINLooker.LookupGSTIN),
	spec(OpGenerateEInvoice, "Register an invoice with an IRP and get its IRN.", true, EInvoiceGenerator.GenerateEInvoice),
	spec(OpCancelEInvoice, "Cancel an e-invoice by its IRN (the IRP accepts it within 24 hours, and not while the IRN has an active e-way bill).", false, EInvoiceCanceller.CancelEInvoice),
	spec(OpFindEInvoice, "Look an e-invoice up by its document's type, number and date: the way back to an IRN whose Generate IRN answer was lost.", false, EInvoiceFinder.FindEInvoice),
	spec(OpGetEInvoice, "Read an e-invoice as the IRP has it now, by its IRN: its acknowledgement, status, signed QR code and e-way bill.", false, EInvoiceGetter.GetEInvoice),
	spec(OpLookupVehicle, "Look a vehicle up in VAHAN.", false, VehicleLookup.LookupVehicle),
	spec(OpLookupDriverLicence, "Look a driving licence up in SARATHI.", false, DriverLicenceLookup.LookupDriverLicence),
	spec(OpListTollCrossings, "List a vehicle's FASTag toll-plaza crossings.", false, TollCrossingLister.ListTollCrossings),
	spec(OpLocate, "Get the latest position of a vehicle or phone.", false, Locator.Locate),
	spec(OpPostOrder, "Post an order into an ERP.", true, OrderPoster.PostOrder),
	spec(OpPostDelivery, "Post a delivery into an ERP.", true, DeliveryPoster.PostDelivery),
	spec(OpPostFreightInvoice, "Post a freight invoice into an ERP.", true, FreightInvoicePoster.PostFreightInvoice),
	spec(OpReceivePush, "Verify and read a push the provider sent to POST /v1/inbound/{connector}/{account}: tracking results and proofs of delivery.", false, PushReceiver.ReceivePush),
}

var operationsByName = func() map[Operation]*OperationSpec {
	m := make(map[Operation]*OperationSpec, len(operations))
	for i := range operations {
		m[operations[i].Name] = &operations[i]
	}
	return m
}()

// Operations returns every canonical operation, in a stable order.
func Operations() []OperationSpec { return append([]OperationSpec(nil), operations...) }

// LookupOperation returns the spec of a canonical operation.
func LookupOperation(name Operation) (OperationSpec, bool) {
	s, ok := operationsByName[name]
	if !ok {
		return OperationSpec{}, false
	}
	return *s, true
}

// RawOperations is implemented by connectors that serve operations on raw
// canonical JSON instead of through the typed capability interfaces: the
// declarative runtime (sdk/declarative), which runs a manifest's bindings. A
// typed method wins over a raw handler for the same operation, so a mixed
// connector writes Go only for what its bindings cannot say.
type RawOperations interface {
	// RawHandler returns the handler of op, if the connector serves it. The
	// handler takes the call's canonical JSON and returns the canonical answer
	// as JSON; its errors should be *Error.
	RawHandler(op Operation) (func(ctx context.Context, call *Call) ([]byte, error), bool)
}

// Dispatcher routes calls to a connector's operations. Serve builds one; tests and
// the conformance kit may too.
type Dispatcher struct {
	manifest *Manifest
	handlers map[Operation]handler
	health   HealthChecker
}

// NewDispatcher checks that c implements every operation its manifest declares and
// returns a dispatcher for it.
func NewDispatcher(c Connector) (*Dispatcher, error) {
	m := c.Describe()
	if m == nil {
		return nil, fmt.Errorf("connector returned no manifest")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{manifest: m, handlers: map[Operation]handler{}}
	for _, op := range m.Operations {
		s := operationsByName[op.Name]
		h, ok := s.bind(c)
		if !ok {
			if raw, isRaw := c.(RawOperations); isRaw {
				var f func(context.Context, *Call) ([]byte, error)
				f, ok = raw.RawHandler(op.Name)
				h = f
			}
		}
		if !ok {
			return nil, fmt.Errorf("connector %s declares %s but does not implement it", m.ID, op.Name)
		}
		d.handlers[op.Name] = h
	}
	d.health, _ = c.(HealthChecker)
	return d, nil
}

// Manifest returns the connector's manifest.
func (d *Dispatcher) Manifest() *Manifest { return d.manifest }

// Invoke runs one call. Errors are always *Error; panics in the connector become
// internal errors rather than crashing the process.
func (d *Dispatcher) Invoke(ctx context.Context, call *Call) (out []byte, err error) {
	h, ok := d.handlers[call.Operation]
	if !ok {
		return nil, &Error{Code: CodeNotFound, Source: SourceConnector, Message: fmt.Sprintf("connector %s does not serve %q", d.manifest.ID, call.Operation)}
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, Errorf(CodeInternal, "connector %s panicked in %s: %v", d.manifest.ID, call.Operation, r)
		}
	}()
	if call.Account != nil {
		// The provider exchanges of the call are recorded, for the console.
		ctx = exchange.WithCall(ctx, exchange.Call{Account: call.Account.ID, Operation: string(call.Operation),
			RequestID: call.RequestID, Secrets: call.Account.Credentials})
	}
	out, err = h(ctx, call)
	if err != nil {
		e := AsError(err)
		if ctx.Err() != nil && e.Code == CodeInternal {
			e = &Error{Code: CodeTimeout, Source: SourceConnector, Message: ctx.Err().Error(), NotSent: e.NotSent}
		}
		return nil, e
	}
	return out, nil
}

// CheckHealth runs the connector's own health check, if it has one.
func (d *Dispatcher) CheckHealth(ctx context.Context, account *Account) (supported bool, err error) {
	if d.health == nil {
		return false, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = Errorf(CodeInternal, "health check panicked: %v", r)
		}
	}()
	if err := d.health.CheckHealth(ctx, account); err != nil {
		return true, AsError(err)
	}
	return true, nil
}
