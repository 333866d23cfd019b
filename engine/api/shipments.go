package api

import (
	"net/http"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// maxShipmentMatches bounds GET /v1/shipments: a tracking number or a
// reference names a handful of shipments at most.
const maxShipmentMatches = 50

// shipmentRoutes are the shipment lookup routes of the route table.
func (s *server) shipmentRoutes() []route {
	return []route{
		{Method: "GET", Pattern: "/v1/shipments", ID: "findShipments",
			Summary: "Find the tenant's shipments, of any connector, whose tracking number or shipper's reference is q exactly, newest first. Their tracking timeline comes from tracking them (POST /v1/connectors/{id}/track).",
			Auth:    tenant, Query: []param{{"q", "A tracking number or a reference, exactly as the carrier or the shipper wrote it."}},
			Responses: []response{{200, "The shipments found (at most 50), newest first.", arrayOf(ref("Shipment"))}},
			Errors:    []int{422}, handler: s.findShipments},
	}
}

// shipmentSchema is the OpenAPI schema of a recorded shipment.
func shipmentSchema() schema {
	str := schema{"type": "string"}
	stamp := schema{"type": "string", "format": "date-time"}
	return schema{"type": "object", "required": []string{"tenant_id", "connector", "tracking_number", "account", "booked", "status", "created_at", "updated_at"},
		"properties": schema{
			"tenant_id": str, "connector": str, "tracking_number": str, "account": str, "reference": str,
			"booked": schema{"type": "boolean", "description": "Booked through the hub, rather than only tracked."},
			"status": str, "sub_status": str, "last_event_at": stamp, "delivered_at": stamp,
			"next_poll_at": schema{"type": "string", "format": "date-time", "description": "When the hub next asks the carrier; absent when it will not."},
			"created_at":   stamp, "updated_at": stamp,
		}}
}

func (s *server) findShipments(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	q := r.URL.Query().Get("q")
	if q == "" || len(q) > 200 {
		p := newProblem(http.StatusUnprocessableEntity, string(sdk.CodeInvalidRequest), "name the shipment: q is a tracking number or a reference")
		p.Errors = []ProblemField{{Parameter: "q", Detail: "1 to 200 characters are required"}}
		writeProblem(w, r, p)
		return
	}
	found, err := s.store.FindShipments(r.Context(), key.TenantID, q, maxShipmentMatches)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "shipments"))
		return
	}
	writeJSON(w, http.StatusOK, found)
}
