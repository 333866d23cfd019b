package sdk

import (
	"context"

	"github.com/carrierhub/hub/sdk/model"
)

// Connector is what a connector author implements: a declaration of itself and,
// through the capability interfaces below, the operations it serves.
//
// Implementations embed Unimplemented, so that methods added to Connector later
// have a default and existing connectors keep compiling:
//
//	type Delhivery struct{ sdk.Unimplemented }
//	func (Delhivery) Describe() *sdk.Manifest { return manifest }
//	func (Delhivery) Track(ctx context.Context, req *sdk.Request[model.TrackRequest]) (*model.TrackResponse, error)
//
// Operations are opt-in: a connector serves an operation when its manifest declares
// it and it implements the matching capability (Tracker for track, ShipmentCreator
// for create_shipment, ...). Serve refuses to start a connector whose manifest
// declares an operation it does not implement.
//
// One connector value serves every tenant's accounts concurrently: its methods are
// called from many goroutines at once and must keep no per-tenant state beyond
// caches keyed by account.
type Connector interface {
	// Describe returns the connector's manifest. It is called once at start.
	Describe() *Manifest
	unimplemented()
}

// Unimplemented is embedded by every connector; it supplies defaults for methods
// added to Connector in later SDK versions.
type Unimplemented struct{}

func (Unimplemented) unimplemented() {}

// Request is what an operation receives: the canonical body, the account to act
// for, and the call's identity.
type Request[T any] struct {
	// Account holds the tenant's credentials and settings for this connector.
	Account *Account
	// IdempotencyKey is the caller's key for creates; pass it on where the provider takes one.
	IdempotencyKey string
	// RequestID identifies the call in the hub's logs and traces.
	RequestID string
	// Body is the canonical request.
	Body T
}

// Call is the call a request makes for operation op, without its payload:
// for a connector that hands a request on to another handler (a translation
// around a folder's bindings).
func (r *Request[T]) Call(op Operation) *Call {
	return &Call{Operation: op, Account: r.Account, IdempotencyKey: r.IdempotencyKey, RequestID: r.RequestID}
}

// HealthChecker is implemented by connectors that can check an account against the
// provider cheaply (a token login, a ping endpoint). A nil account asks whether the
// connector itself is fine.
type HealthChecker interface {
	CheckHealth(ctx context.Context, account *Account) error
}

// ShipmentCreator serves create_shipment.
type ShipmentCreator interface {
	CreateShipment(ctx context.Context, req *Request[model.ShipmentRequest]) (*model.ShipmentResponse, error)
}

// ShipmentFinder serves find_shipment: it looks a booked shipment up by the
// shipper's reference (model.ShipmentRequest's Reference). The hub calls it to
// settle a create_shipment whose outcome is unknown (sdk.CodeOutcomeUnknown),
// and trusts its answer: a shipment found is taken as the booking, and not_found
// as proof that nothing was booked, after which the create is made. Serve it
// only where the provider's lookup by reference is authoritative as soon as a
// booking has been answered.
type ShipmentFinder interface {
	FindShipment(ctx context.Context, req *Request[model.FindShipmentRequest]) (*model.ShipmentResponse, error)
}

// ShipmentCanceller serves cancel_shipment.
type ShipmentCanceller interface {
	CancelShipment(ctx context.Context, req *Request[model.CancelRequest]) (*model.CancelResponse, error)
}

// Tracker serves track.
type Tracker interface {
	Track(ctx context.Context, req *Request[model.TrackRequest]) (*model.TrackResponse, error)
}

// Rater serves rate.
type Rater interface {
	Rate(ctx context.Context, req *Request[model.RateRequest]) (*model.RateResponse, error)
}

// PickupScheduler serves schedule_pickup.
type PickupScheduler interface {
	SchedulePickup(ctx context.Context, req *Request[model.PickupRequest]) (*model.PickupResponse, error)
}

// Manifester serves create_manifest.
type Manifester interface {
	CreateManifest(ctx context.Context, req *Request[model.ManifestRequest]) (*model.ManifestResponse, error)
}

// PODFetcher serves get_pod.
type PODFetcher interface {
	GetPOD(ctx context.Context, req *Request[model.PODRequest]) (*model.ProofOfDelivery, error)
}

// ServiceabilityChecker serves check_serviceability.
type ServiceabilityChecker interface {
	CheckServiceability(ctx context.Context, req *Request[model.ServiceabilityRequest]) (*model.ServiceabilityResponse, error)
}

// NDRActor serves ndr_action.
type NDRActor interface {
	NDRAction(ctx context.Context, req *Request[model.NDRActionRequest]) (*model.NDRActionResponse, error)
}

// EWayBillGenerator serves generate_eway_bill.
type EWayBillGenerator interface {
	GenerateEWayBill(ctx context.Context, req *Request[model.EWayBillRequest]) (*model.EWayBill, error)
}

// EWayBillVehicleUpdater serves update_eway_bill_vehicle.
type EWayBillVehicleUpdater interface {
	UpdateEWayBillVehicle(ctx context.Context, req *Request[model.EWayBillVehicleUpdate]) (*model.EWayBill, error)
}

// EWayBillCanceller serves cancel_eway_bill.
type EWayBillCanceller interface {
	CancelEWayBill(ctx context.Context, req *Request[model.EWayBillCancel]) (*model.EWayBill, error)
}

// EWayBillGetter serves get_eway_bill.
type EWayBillGetter interface {
	GetEWayBill(ctx context.Context, req *Request[model.EWayBillLookup]) (*model.EWayBill, error)
}

// EWayBillExtender serves extend_eway_bill.
type EWayBillExtender interface {
	ExtendEWayBill(ctx context.Context, req *Request[model.EWayBillExtension]) (*model.EWayBill, error)
}

// GSTINLooker serves lookup_gstin.
type GSTINLooker interface {
	LookupGSTIN(ctx context.Context, req *Request[model.GSTINLookup]) (*model.GSTINDetails, error)
}

// EInvoiceGenerator serves generate_einvoice.
type EInvoiceGenerator interface {
	GenerateEInvoice(ctx context.Context, req *Request[model.EInvoiceRequest]) (*model.EInvoice, error)
}

// EInvoiceCanceller serves cancel_einvoice.
type EInvoiceCanceller interface {
	CancelEInvoice(ctx context.Context, req *Request[model.EInvoiceCancel]) (*model.EInvoiceCancellation, error)
}

// EInvoiceFinder serves find_einvoice.
type EInvoiceFinder interface {
	FindEInvoice(ctx context.Context, req *Request[model.EInvoiceFind]) (*model.EInvoice, error)
}

// EInvoiceGetter serves get_einvoice.
type EInvoiceGetter interface {
	GetEInvoice(ctx context.Context, req *Request[model.EInvoiceLookup]) (*model.EInvoice, error)
}

// VehicleLookup serves lookup_vehicle.
type VehicleLookup interface {
	LookupVehicle(ctx context.Context, req *Request[model.VehicleRequest]) (*model.Vehicle, error)
}

// DriverLicenceLookup serves lookup_driver_licence.
type DriverLicenceLookup interface {
	LookupDriverLicence(ctx context.Context, req *Request[model.DriverLicenceRequest]) (*model.DriverLicence, error)
}

// TollCrossingLister serves list_toll_crossings.
type TollCrossingLister interface {
	ListTollCrossings(ctx context.Context, req *Request[model.TollCrossingRequest]) (*model.TollCrossingResponse, error)
}

// Locator serves locate.
type Locator interface {
	Locate(ctx context.Context, req *Request[model.LocationRequest]) (*model.LocationPing, error)
}

// OrderPoster serves post_order.
type OrderPoster interface {
	PostOrder(ctx context.Context, req *Request[model.Order]) (*model.ERPPostResponse, error)
}

// DeliveryPoster serves post_delivery.
type DeliveryPoster interface {
	PostDelivery(ctx context.Context, req *Request[model.Delivery]) (*model.ERPPostResponse, error)
}

// FreightInvoicePoster serves post_freight_invoice.
type FreightInvoicePoster interface {
	PostFreightInvoice(ctx context.Context, req *Request[model.FreightInvoice]) (*model.ERPPostResponse, error)
}

// PushReceiver serves receive_push: the engine hands it what a provider POSTed to
// the hub's inbound URL for an account (headers, query, body), and it verifies
// the provider's signature or shared token against the account's credentials,
// comparing in constant time, then maps the payload. A push that fails
// verification is CodeAuthFailed; one that cannot be read is CodeInvalidRequest.
// It calls no provider, so it must be fast and must not block: the provider is
// waiting for the hub's answer and retries on anything but 2xx.
type PushReceiver interface {
	ReceivePush(ctx context.Context, req *Request[model.PushRequest]) (*model.PushResponse, error)
}
