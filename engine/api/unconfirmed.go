package api

import (
	"net/http"
	"strconv"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// defaultUnconfirmedLimit is how many unconfirmed shipments a list returns when the
// caller names no limit.
const defaultUnconfirmedLimit = 100

// unconfirmedRoutes are the routes of creates whose outcome is unknown.
func (s *server) unconfirmedRoutes() []route {
	return []route{
		{Method: "GET", Pattern: "/v1/unconfirmed-shipments", ID: "listUnconfirmedShipments",
			Summary: "List the tenant's creates whose outcome is unknown (502 outcome_unknown: they may have reached the provider without an answer coming back), newest first, with how each was settled.",
			Auth:    tenant,
			Query: []param{
				{"state", "unconfirmed (the default: not settled yet), booked, not_booked or all."},
				{"limit", "At most this many, 1 to " + strconv.Itoa(store.MaxEventBatch) + "; " + strconv.Itoa(defaultUnconfirmedLimit) + " by default."},
			},
			Responses: []response{{200, "The creates, newest first.", arrayOf(ref("UnconfirmedShipment"))}},
			handler:   s.listUnconfirmed},
	}
}

func (s *server) listUnconfirmed(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	q := r.URL.Query()
	bad := func(param, detail string) {
		p := newProblem(http.StatusUnprocessableEntity, string(sdk.CodeInvalidRequest), param+" "+detail)
		p.Source = string(sdk.SourceHub)
		p.Errors = []ProblemField{{Parameter: param, Detail: detail}}
		writeProblem(w, r, p)
	}
	state := store.Unconfirmed
	switch v := q.Get("state"); v {
	case "":
	case "all":
		state = ""
	case string(store.Unconfirmed), string(store.UnconfirmedBooked), string(store.UnconfirmedNotBooked):
		state = store.UnconfirmedState(v)
	default:
		bad("state", "must be unconfirmed, booked, not_booked or all")
		return
	}
	limit := defaultUnconfirmedLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxEventBatch {
			bad("limit", "must be a number from 1 to "+strconv.Itoa(store.MaxEventBatch))
			return
		}
		limit = n
	}
	list, err := s.store.ListUnconfirmed(r.Context(), key.TenantID, state, limit)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "unconfirmed shipments"))
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// unconfirmedSchema is the OpenAPI schema of store.UnconfirmedShipment.
func unconfirmedSchema() schema {
	str := schema{"type": "string"}
	return schema{"type": "object",
		"required": []string{"id", "tenant_id", "connector", "account", "operation", "state", "reason", "created_at", "updated_at"},
		"properties": schema{
			"id": str, "tenant_id": str, "connector": str, "account": str,
			"operation":       schema{"type": "string", "description": "The creating operation (create_shipment, generate_eway_bill, ...)."},
			"reference":       schema{"type": "string", "description": "The request's own reference, when it has one."},
			"idempotency_key": schema{"type": "string", "description": "The caller's Idempotency-Key; absent when it sent none, and then only the caller can settle it."},
			"request_id":      str,
			"state":           schema{"type": "string", "enum": []any{"unconfirmed", "booked", "not_booked"}},
			"tracking_number": schema{"type": "string", "description": "The provider's number, once settled as booked."},
			"reason":          schema{"type": "string", "description": "What happened to the call."},
			"resolution":      schema{"type": "string", "description": "How it was settled."},
			"created_at":      schema{"type": "string", "format": "date-time"},
			"updated_at":      schema{"type": "string", "format": "date-time"},
		}}
}
