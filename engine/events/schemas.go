package events

import (
	"embed"
	"io/fs"
)

// SchemaBaseID is the prefix of every event schema's $id; the file name follows it.
const SchemaBaseID = "https://github.com/carrierhub/hub/engine/events/schemas/"

// ModelSchemaBaseID is the $id prefix of the canonical model's schemas (the same as
// sdk/modelschema.BaseID, which a test checks), which event data schemas reference.
const ModelSchemaBaseID = "https://github.com/carrierhub/hub/sdk/modelschema/schema/"

// DataSchemas names, per event type, the sdk/modelschema file its data follows; the
// types whose data is defined here (HealthChange, EndpointDisabled, TestEvent) are absent.
var DataSchemas = map[Type]string{
	ShipmentCreated:        "shipment_response.json",
	ShipmentCancelled:      "cancel_response.json",
	TrackingUpdated:        "tracking.json",
	ShipmentDelivered:      "tracking.json",
	ShipmentException:      "tracking.json",
	PODReceived:            "proof_of_delivery.json",
	EWayBillGenerated:      "eway_bill.json",
	EWayBillVehicleUpdated: "eway_bill.json",
	EWayBillExtended:       "eway_bill.json",
	EWayBillCancelled:      "eway_bill.json",
	EWayBillExpiring:       "eway_bill.json",
	EWayBillExpired:        "eway_bill.json",
	EInvoiceGenerated:      "einvoice.json",
}

//go:embed schemas/*.json
var schemaFiles embed.FS

// Schemas returns the committed JSON Schemas (draft 2020-12): envelope.json, the
// Event envelope, and one file per type ("shipment.created.json") that pins type and
// references the data's schema by $id. Regenerate with
//
//	go test ./engine/events -run TestCommittedSchemas -update
func Schemas() fs.FS {
	sub, err := fs.Sub(schemaFiles, "schemas")
	if err != nil {
		panic(err) // fs.Sub fails only for an invalid directory name
	}
	return sub
}
