package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/webhooks"
	"github.com/carrierhub/hub/sdk"
)

// Limits of the webhook routes.
const (
	// DefaultRotationOverlap is how long a rotated-out secret keeps signing when the
	// request names no overlap: receivers have a day to switch.
	DefaultRotationOverlap = 24 * time.Hour
	// MaxRotationOverlap is the longest overlap a rotation may ask for.
	MaxRotationOverlap = 7 * 24 * time.Hour
	// maxReplayPage is the most deliveries one replay page re-queues.
	maxReplayPage = 1000
)

// WebhookEndpointInput creates an endpoint (POST /v1/webhooks/endpoints).
type WebhookEndpointInput struct {
	// URL receives the deliveries.
	URL string `json:"url"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// EventTypes are the types delivered; empty means all.
	EventTypes []string `json:"event_types,omitempty"`
	// Filter narrows deliveries by event fields (JSON pointer or field name -> value).
	Filter map[string]json.RawMessage `json:"filter,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// Ordered delivers each subject's events one at a time, in order.
	Ordered bool `json:"ordered,omitempty"`
	// RateLimit is the most deliveries per second; 0 is unlimited.
	RateLimit int `json:"rate_limit,omitempty"`
	// Secret is a whsec_ secret; one is generated when empty.
	Secret string `json:"secret,omitempty"`
}

// WebhookEndpointPatch changes an endpoint (PATCH); absent fields stay as they are.
type WebhookEndpointPatch struct {
	URL            *string                     `json:"url,omitempty"`
	Description    *string                     `json:"description,omitempty"`
	EventTypes     *[]string                   `json:"event_types,omitempty"`
	Filter         *map[string]json.RawMessage `json:"filter,omitempty"`
	Enabled        *bool                       `json:"enabled,omitempty"`
	DisabledReason *string                     `json:"disabled_reason,omitempty"`
	Ordered        *bool                       `json:"ordered,omitempty"`
	RateLimit      *int                        `json:"rate_limit,omitempty"`
}

// WebhookEndpointCreated is an endpoint with its secret, shown only when the
// endpoint is created or its secret rotated.
type WebhookEndpointCreated struct {
	store.WebhookEndpoint
	// Secret is the current whsec_ secret.
	Secret string `json:"secret"`
}

// RotateSecretInput rotates an endpoint's secret.
type RotateSecretInput struct {
	// Secret is the new whsec_ secret; generated when empty.
	Secret string `json:"secret,omitempty"`
	// OverlapSeconds is how long the old secret keeps signing (86400 when absent,
	// at most 604800; 0 ends it at once).
	OverlapSeconds *int64 `json:"overlap_seconds,omitempty"`
}

// ReplayInput re-queues an endpoint's delivered and dead deliveries.
type ReplayInput struct {
	// Since is the start of the event-time window (RFC 3339), inclusive.
	Since time.Time `json:"since"`
	// Until is the end, exclusive; open when absent.
	Until *time.Time `json:"until,omitempty"`
	// After continues from a previous page's next cursor.
	After string `json:"after,omitempty"`
	// Limit pages the replay (1 to 1000); without it the whole window is queued.
	Limit int `json:"limit,omitempty"`
}

// webhookProblem classifies a webhook store error: invalid input names its field.
func (s *server) webhookProblem(r *http.Request, err error, what string) *Problem {
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return invalidFields([]router.FieldError{{Pointer: "/" + ve.Field, Message: ve.Reason}})
	}
	return s.storeProblem(r.Context(), err, what)
}

func (s *server) listWebhookEndpoints(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	ws := s.store
	list, err := ws.ListWebhookEndpoints(r.Context(), key.TenantID, false)
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoints"))
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) createWebhookEndpoint(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	ws := s.store
	in, ok := readInput[WebhookEndpointInput](s, w, r)
	if !ok {
		return
	}
	if in.URL == "" {
		writeProblem(w, r, invalidFields([]router.FieldError{{Pointer: "/url", Message: "is required"}}))
		return
	}
	e := store.WebhookEndpoint{TenantID: key.TenantID, URL: in.URL, Description: in.Description, EventTypes: in.EventTypes,
		Filter: in.Filter, Enabled: in.Enabled == nil || *in.Enabled, Ordered: in.Ordered, RateLimit: in.RateLimit, Secret: in.Secret}
	if e.Secret == "" {
		e.Secret = webhooks.NewSecret()
	}
	if !e.Enabled {
		e.DisabledReason = "created disabled"
	}
	got, err := ws.CreateWebhookEndpoint(r.Context(), e)
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/webhooks/endpoints/"+url.PathEscape(got.ID))
	writeJSON(w, http.StatusCreated, WebhookEndpointCreated{WebhookEndpoint: got, Secret: got.Secret})
}

func (s *server) getWebhookEndpoint(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	ws := s.store
	e, err := ws.GetWebhookEndpoint(r.Context(), key.TenantID, r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *server) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	ws := s.store
	in, ok := readInput[WebhookEndpointPatch](s, w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	e, err := ws.GetWebhookEndpoint(r.Context(), key.TenantID, id)
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+id))
		return
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&e.URL, in.URL)
	set(&e.Description, in.Description)
	set(&e.DisabledReason, in.DisabledReason)
	if in.EventTypes != nil {
		e.EventTypes = *in.EventTypes
	}
	if in.Filter != nil {
		e.Filter = *in.Filter
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
		if !e.Enabled && in.DisabledReason == nil {
			e.DisabledReason = "disabled through the API"
		}
	}
	if in.Ordered != nil {
		e.Ordered = *in.Ordered
	}
	if in.RateLimit != nil {
		e.RateLimit = *in.RateLimit
	}
	got, err := ws.UpdateWebhookEndpoint(r.Context(), e)
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+id))
		return
	}
	writeJSON(w, http.StatusOK, got)
}

func (s *server) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	ws := s.store
	if err := ws.DeleteWebhookEndpoint(r.Context(), key.TenantID, r.PathValue("id")); err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+r.PathValue("id")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	ws := s.store
	in, ok := readInput[RotateSecretInput](s, w, r)
	if !ok {
		return
	}
	overlap := DefaultRotationOverlap
	if in.OverlapSeconds != nil {
		if *in.OverlapSeconds < 0 || *in.OverlapSeconds > int64(MaxRotationOverlap/time.Second) {
			writeProblem(w, r, invalidFields([]router.FieldError{{Pointer: "/overlap_seconds",
				Message: fmt.Sprintf("must be 0 to %d", int64(MaxRotationOverlap/time.Second))}}))
			return
		}
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
	}
	secret := in.Secret
	if secret == "" {
		secret = webhooks.NewSecret()
	}
	id := r.PathValue("id")
	e, err := ws.RotateWebhookSecret(r.Context(), key.TenantID, id, secret, s.now().Add(overlap))
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+id))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, WebhookEndpointCreated{WebhookEndpoint: e, Secret: e.Secret})
}

// attemptLimit reads ?limit= (1 to 1000, default 100).
func attemptLimit(r *http.Request) (int, *Problem) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		p := newProblem(http.StatusUnprocessableEntity, string(sdk.CodeInvalidRequest), "limit must be 1 to 1000")
		p.Source = string(sdk.SourceHub)
		p.Errors = []ProblemField{{Parameter: "limit", Detail: "must be 1 to 1000"}}
		return 0, p
	}
	return n, nil
}

func (s *server) listAttempts(w http.ResponseWriter, r *http.Request, tenantID, endpointID, eventID string) {
	ws := s.store
	limit, p := attemptLimit(r)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	if endpointID != "" {
		if _, err := ws.GetWebhookEndpoint(r.Context(), tenantID, endpointID); err != nil {
			writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+endpointID))
			return
		}
	}
	list, err := ws.ListWebhookAttempts(r.Context(), tenantID, endpointID, eventID, limit)
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook attempts"))
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) endpointAttempts(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	s.listAttempts(w, r, key.TenantID, r.PathValue("id"), "")
}

func (s *server) eventAttempts(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	s.listAttempts(w, r, key.TenantID, "", r.PathValue("id"))
}

func (s *server) replayWebhookEndpoint(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	ws := s.store
	in, ok := readInput[ReplayInput](s, w, r)
	if !ok {
		return
	}
	if in.Since.IsZero() {
		writeProblem(w, r, invalidFields([]router.FieldError{{Pointer: "/since", Message: "is required (RFC 3339)"}}))
		return
	}
	if in.Limit < 0 || in.Limit > maxReplayPage {
		writeProblem(w, r, invalidFields([]router.FieldError{{Pointer: "/limit", Message: fmt.Sprintf("must be 1 to %d", maxReplayPage)}}))
		return
	}
	win := store.ReplayWindow{Since: in.Since, After: in.After, Limit: in.Limit}
	if in.Until != nil {
		win.Until = *in.Until
	}
	id := r.PathValue("id")
	now := s.now()
	var res store.ReplayResult
	if in.Limit > 0 {
		var err error
		if res, err = ws.ReplayWebhookDeliveries(r.Context(), key.TenantID, id, win, now); err != nil {
			writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+id))
			return
		}
	} else {
		win.Limit = maxReplayPage
		for {
			page, err := ws.ReplayWebhookDeliveries(r.Context(), key.TenantID, id, win, now)
			if err != nil {
				writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+id))
				return
			}
			res.Queued += page.Queued
			if page.Next == "" {
				break
			}
			win.After = page.Next
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// webhookSchemas are the OpenAPI schemas of the webhook routes.
func webhookSchemas() map[string]any {
	str := schema{"type": "string"}
	stamp := schema{"type": "string", "format": "date-time"}
	endpointProps := schema{
		"id": str, "tenant_id": str, "url": schema{"type": "string", "format": "uri"}, "description": str,
		"event_types": arrayOf(str), "filter": schema{"type": "object"}, "enabled": schema{"type": "boolean"},
		"disabled_reason": str, "ordered": schema{"type": "boolean"}, "rate_limit": schema{"type": "integer"},
		"previous_secret_expires_at": stamp, "failing_since": stamp, "created_at": stamp, "updated_at": stamp,
	}
	created := schema{}
	for k, v := range endpointProps {
		created[k] = v
	}
	created["secret"] = schema{"type": "string", "description": "The whsec_ signing secret, shown only here."}
	return map[string]any{
		"WebhookEndpoint":        schema{"type": "object", "required": []string{"id", "url", "enabled"}, "properties": endpointProps},
		"WebhookEndpointCreated": schema{"type": "object", "required": []string{"id", "url", "secret"}, "properties": created},
		"WebhookEndpointInput": schema{"type": "object", "additionalProperties": false, "required": []string{"url"}, "properties": schema{
			"url":         schema{"type": "string", "format": "uri", "description": "http or https, a host, no user info. Internal addresses are refused at delivery unless the operator allow-lists them."},
			"description": str, "event_types": schema{"type": "array", "items": str, "description": "shipment.created, shipment.* or *; empty means all."},
			"filter":  schema{"type": "object", "description": "JSON pointer (/data/status) or top-level field (connector) -> value; all must equal."},
			"enabled": schema{"type": "boolean", "default": true}, "ordered": schema{"type": "boolean"},
			"rate_limit": schema{"type": "integer", "minimum": 0, "description": "Deliveries per second; 0 is unlimited."},
			"secret":     schema{"type": "string", "description": "A whsec_ secret; generated when absent."},
		}},
		"WebhookEndpointPatch": schema{"type": "object", "additionalProperties": false, "properties": schema{
			"url": str, "description": str, "event_types": arrayOf(str), "filter": schema{"type": "object"},
			"enabled": schema{"type": "boolean"}, "disabled_reason": str, "ordered": schema{"type": "boolean"},
			"rate_limit": schema{"type": "integer", "minimum": 0},
		}},
		"RotateSecretInput": schema{"type": "object", "additionalProperties": false, "properties": schema{
			"secret":          schema{"type": "string", "description": "The new whsec_ secret; generated when absent."},
			"overlap_seconds": schema{"type": "integer", "minimum": 0, "maximum": int64(MaxRotationOverlap / time.Second), "description": "How long the old secret keeps signing; 86400 when absent."},
		}},
		"ReplayInput": schema{"type": "object", "additionalProperties": false, "required": []string{"since"}, "properties": schema{
			"since": stamp, "until": stamp, "after": schema{"type": "string", "description": "A previous page's next cursor."},
			"limit": schema{"type": "integer", "minimum": 1, "maximum": maxReplayPage, "description": "Page size; without it the whole window is queued in one call."},
		}},
		"TestEventQueued": schema{"type": "object", "required": []string{"event_id"}, "properties": schema{"event_id": str}},
		"ReplayResult": schema{"type": "object", "required": []string{"queued"}, "properties": schema{
			"queued": schema{"type": "integer"}, "remaining": schema{"type": "integer"}, "next": str,
		}},
		"WebhookAttempt": schema{"type": "object", "properties": schema{
			"event_id": str, "endpoint_id": str, "tenant_id": str, "attempt": schema{"type": "integer"}, "at": stamp,
			"status":      schema{"type": "integer", "description": "HTTP status; 0 when no answer came."},
			"duration_ms": schema{"type": "integer"}, "error": str,
			"response": schema{"type": "string", "description": "The first 4 KiB of the answer."},
			"request":  schema{"type": "string", "description": "The first 4 KiB of the body sent (the event as signed); absent once the delivery is purged."},
		}},
	}
}

// webhookRoutes are the webhook management routes of the route table.
func (s *server) webhookRoutes() []route {
	return []route{
		{Method: "GET", Pattern: "/v1/webhooks/endpoints", ID: "listWebhookEndpoints", Summary: "List the tenant's webhook endpoints (never their secrets).", Auth: tenant,
			Responses: []response{{200, "The endpoints.", arrayOf(ref("WebhookEndpoint"))}}, handler: s.listWebhookEndpoints},
		{Method: "POST", Pattern: "/v1/webhooks/endpoints", ID: "createWebhookEndpoint",
			Summary: "Create a webhook endpoint; its whsec_ secret (generated unless given) is returned only in this response.", Auth: tenant,
			Body: ref("WebhookEndpointInput"), Responses: []response{{201, "The endpoint and its secret.", ref("WebhookEndpointCreated")}},
			handler: s.createWebhookEndpoint},
		{Method: "GET", Pattern: "/v1/webhooks/endpoints/{id}", ID: "getWebhookEndpoint", Summary: "Get one webhook endpoint, with its health.", Auth: tenant,
			Responses: []response{{200, "The endpoint.", ref("WebhookEndpoint")}}, Errors: []int{404}, handler: s.getWebhookEndpoint},
		{Method: "PATCH", Pattern: "/v1/webhooks/endpoints/{id}", ID: "updateWebhookEndpoint",
			Summary: "Change a webhook endpoint; enabling it again resumes its pending deliveries.", Auth: tenant,
			Body: ref("WebhookEndpointPatch"), Responses: []response{{200, "The endpoint.", ref("WebhookEndpoint")}}, Errors: []int{404},
			handler: s.updateWebhookEndpoint},
		{Method: "DELETE", Pattern: "/v1/webhooks/endpoints/{id}", ID: "deleteWebhookEndpoint", Summary: "Delete a webhook endpoint with its deliveries and attempt log.", Auth: tenant,
			Responses: []response{{204, "Deleted.", nil}}, Errors: []int{404}, handler: s.deleteWebhookEndpoint},
		{Method: "POST", Pattern: "/v1/webhooks/endpoints/{id}/rotate-secret", ID: "rotateWebhookSecret",
			Summary: "Rotate an endpoint's secret; the old one keeps signing beside the new one for the overlap.", Auth: tenant,
			Body: ref("RotateSecretInput"), Responses: []response{{200, "The endpoint and its new secret.", ref("WebhookEndpointCreated")}}, Errors: []int{404},
			handler: s.rotateWebhookSecret},
		{Method: "GET", Pattern: "/v1/webhooks/endpoints/{id}/attempts", ID: "listEndpointAttempts", Summary: "The endpoint's delivery attempts, newest first.", Auth: tenant,
			Query: []param{{"limit", "At most this many (1 to 1000, default 100)."}}, Responses: []response{{200, "The attempts.", arrayOf(ref("WebhookAttempt"))}},
			Errors: []int{404}, handler: s.endpointAttempts},
		{Method: "GET", Pattern: "/v1/webhooks/events/{id}/attempts", ID: "listEventAttempts", Summary: "An event's delivery attempts to all the tenant's endpoints, newest first.", Auth: tenant,
			Query: []param{{"limit", "At most this many (1 to 1000, default 100)."}}, Responses: []response{{200, "The attempts.", arrayOf(ref("WebhookAttempt"))}},
			handler: s.eventAttempts},
		{Method: "POST", Pattern: "/v1/webhooks/endpoints/{id}/test", ID: "testWebhookEndpoint",
			Summary: "Send the endpoint a webhook.test event, signed and delivered like any other (retries and attempt log included) and to this endpoint only, whatever its event types.", Auth: tenant,
			Responses: []response{{202, "Queued; the attempt log shows how it went.", ref("TestEventQueued")}}, Errors: []int{404}, handler: s.testWebhookEndpoint},
		{Method: "POST", Pattern: "/v1/webhooks/endpoints/{id}/replay", ID: "replayWebhookEndpoint",
			Summary: "Re-queue the endpoint's delivered and dead deliveries of events in [since, until); answers with the count queued.", Auth: tenant,
			Body: ref("ReplayInput"), Responses: []response{{200, "How many were queued (and, when paged, how many remain).", ref("ReplayResult")}}, Errors: []int{404},
			handler: s.replayWebhookEndpoint},
	}
}

// TestEventQueued answers POST /v1/webhooks/endpoints/{id}/test.
type TestEventQueued struct {
	// EventID is the test event's id, as the attempt log and the receiver see it.
	EventID string `json:"event_id"`
}

// testWebhookEndpoint queues a webhook.test delivery for one endpoint. It goes
// straight to the delivery table, not through the outbox, so no other
// endpoint and no Kafka topic sees it.
func (s *server) testWebhookEndpoint(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	id := r.PathValue("id")
	e, err := s.store.GetWebhookEndpoint(r.Context(), key.TenantID, id)
	if err != nil {
		writeProblem(w, r, s.webhookProblem(r, err, "webhook endpoint "+id))
		return
	}
	now := s.now().UTC()
	data, err := json.Marshal(events.TestEvent{EndpointID: e.ID, Message: "A test event from the hub: your endpoint is reachable if this arrived."})
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "test event"))
		return
	}
	ev := events.Event{ID: store.NewEventID(now), Type: events.WebhookTest, TenantID: key.TenantID, Subject: e.ID, Time: now, Data: data}
	body, err := json.Marshal(ev)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "test event"))
		return
	}
	if _, err := s.store.InsertWebhookDeliveries(r.Context(), []store.WebhookDelivery{{EventID: ev.ID, EndpointID: e.ID, TenantID: key.TenantID,
		EventType: string(ev.Type), Subject: ev.Subject, Ordered: e.Ordered, EventTime: now, Body: body}}, now); err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "test event"))
		return
	}
	writeJSON(w, http.StatusAccepted, TestEventQueued{EventID: ev.ID})
}
