// Package inbound is how the hub learns about shipments without being asked:
// carrier pushes and tracking polls.
//
// A push arrives at POST /v1/inbound/{connector}/{account} (engine/api); Accounts
// finds the tenant an account id belongs to, the router runs the connector's
// receive_push (which verifies the provider's signature or shared token and maps
// the payload), and Recording, wrapped around the events recorder as the router's
// AfterCall, records the results as tracking (ApplyTracking, so a provider's
// retried push appends nothing twice) and proofs of delivery.
//
// Poller polls shipments the hub booked or tracked whose connector does not push
// (or whose pushes fell silent): it reads the store's due shipments, claims them,
// groups them by tenant, connector and account into batches, runs one track call
// per batch through the router (so results are recorded like any other call) and
// schedules each shipment's next poll from its status. Recording schedules the
// first poll of a shipment when it is booked or first tracked, and defers it when
// a push reports on it.
//
// The package imports the router, the store and the sdk; it must not import
// engine/api.
package inbound
