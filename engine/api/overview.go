package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// The overview: what an operator or a tenant looks at first, as one answer
// (GET /v1/overview) and as a stream of them (GET /v1/overview/stream, server-
// sent events), which the console shows live.

const (
	// overviewEvery is how often the stream sends a fresh overview.
	overviewEvery = 5 * time.Second
	// ewayBillWindow is how far ahead the overview looks for expiring e-way bills.
	ewayBillWindow = 8 * time.Hour
	// overviewListLimit bounds the overview's lists.
	overviewListLimit = 100
)

// OverviewView is the answer of GET /v1/overview.
type OverviewView struct {
	// At is when it was read.
	At time.Time `json:"at"`
	// Connectors are the connector processes with their recent calls (open
	// breakers, error rate, bulkhead use), as GET /healthz/connectors shows them.
	Connectors []ProcessView `json:"connectors"`
	// Outbox is each event sink's backlog, hub-wide: operator keys only.
	Outbox []OutboxView `json:"outbox,omitempty"`
	// Deliveries is the webhook dispatcher's queue, hub-wide: operator keys only.
	Deliveries *DeliveryQueueView `json:"deliveries,omitempty"`
	// Endpoints counts the tenant's webhook endpoints by health: tenant keys only.
	Endpoints *EndpointHealthView `json:"endpoints,omitempty"`
	// EWayBillsExpiring are the tenant's active e-way bills whose validity ends
	// within 8 hours, soonest first: tenant keys only.
	EWayBillsExpiring []store.EWayBill `json:"eway_bills_expiring,omitempty"`
}

// OutboxView is one sink's backlog.
type OutboxView struct {
	Sink string `json:"sink"`
	// Depth is how many events the sink has not taken yet.
	Depth int64 `json:"depth"`
	// OldestAgeSeconds is how long the oldest of them has waited.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
}

// DeliveryQueueView is the webhook dispatcher's queue.
type DeliveryQueueView struct {
	// Pending counts deliveries waiting for a (next) attempt.
	Pending int64 `json:"pending"`
	// OverdueSeconds is how late the most overdue of them is.
	OverdueSeconds float64 `json:"overdue_seconds"`
	// EndpointsEnabled and EndpointsDisabled count every tenant's endpoints.
	EndpointsEnabled  int64 `json:"endpoints_enabled"`
	EndpointsDisabled int64 `json:"endpoints_disabled"`
}

// EndpointHealthView counts a tenant's webhook endpoints by health.
type EndpointHealthView struct {
	Total    int `json:"total"`
	Failing  int `json:"failing"`
	Disabled int `json:"disabled"`
}

// overviewRoutes are the overview's routes of the route table.
func (s *server) overviewRoutes() []route {
	return []route{
		{Method: "GET", Pattern: "/v1/overview", ID: "getOverview",
			Summary: "What to look at first: connector processes with open breakers and error rates; for an operator key the event outbox's and the webhook queue's backlog, for a tenant's key its failing webhook endpoints and its e-way bills expiring within 8 hours.",
			Auth:    tenantOrOperator, Responses: []response{{200, "The overview.", ref("Overview")}}, handler: s.getOverview},
		{Method: "GET", Pattern: "/v1/overview/stream", ID: "streamOverview",
			Summary: "The overview as server-sent events (text/event-stream): an overview event at once and every 5 seconds, until the client goes or the hub shuts down.",
			Auth:    tenantOrOperator, Responses: []response{{200, "A stream of overview events; each data line is an Overview.", schema{"type": "string"}}}, handler: s.streamOverview},
	}
}

// overviewSchema is the OpenAPI schema of the overview.
func overviewSchema() schema {
	num := schema{"type": "number"}
	integer := schema{"type": "integer"}
	return schema{"type": "object", "required": []string{"at", "connectors"}, "properties": schema{
		"at":                  schema{"type": "string", "format": "date-time"},
		"connectors":          arrayOf(ref("ConnectorProcess")),
		"outbox":              arrayOf(schema{"type": "object", "properties": schema{"sink": schema{"type": "string"}, "depth": integer, "oldest_age_seconds": num}}),
		"deliveries":          schema{"type": "object", "properties": schema{"pending": integer, "overdue_seconds": num, "endpoints_enabled": integer, "endpoints_disabled": integer}},
		"endpoints":           schema{"type": "object", "properties": schema{"total": integer, "failing": integer, "disabled": integer}},
		"eway_bills_expiring": arrayOf(schema{"type": "object", "description": "An e-way bill: number, connector, account, valid_until, vehicle, status."}),
	}}
}

// overview reads the overview the key may see.
func (s *server) overview(ctx context.Context, key store.APIKey) (OverviewView, error) {
	now := s.now()
	v := OverviewView{At: now.UTC(), Connectors: s.processes()}
	if isOperator(key) {
		for _, sink := range s.outboxSinks {
			b, err := s.store.OutboxBacklog(ctx, sink)
			if err != nil {
				return v, err
			}
			o := OutboxView{Sink: sink, Depth: b.OutboxDepth}
			if !b.OutboxOldest.IsZero() {
				o.OldestAgeSeconds = max(0, now.Sub(b.OutboxOldest).Seconds())
			}
			v.Outbox = append(v.Outbox, o)
		}
		d, err := s.store.WebhookBacklog(ctx)
		if err != nil {
			return v, err
		}
		v.Deliveries = &DeliveryQueueView{Pending: d.Pending, EndpointsEnabled: d.EndpointsEnabled, EndpointsDisabled: d.EndpointsDisabled}
		if !d.OldestDue.IsZero() {
			v.Deliveries.OverdueSeconds = max(0, now.Sub(d.OldestDue).Seconds())
		}
		return v, nil
	}
	eps, err := s.store.ListWebhookEndpoints(ctx, key.TenantID, false)
	if err != nil {
		return v, err
	}
	v.Endpoints = &EndpointHealthView{Total: len(eps)}
	for _, e := range eps {
		switch {
		case !e.Enabled:
			v.Endpoints.Disabled++
		case e.FailingSince != nil:
			v.Endpoints.Failing++
		}
	}
	if v.EWayBillsExpiring, err = s.store.ExpiringEWayBills(ctx, key.TenantID, now, now.Add(ewayBillWindow), overviewListLimit); err != nil {
		return v, err
	}
	return v, nil
}

func (s *server) getOverview(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	v, err := s.overview(r.Context(), key)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "overview"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// streamOverview sends the overview as server-sent events until the client
// leaves or the hub starts shutting down (Config.Draining), so a stream never
// holds a shutdown up.
func (s *server) streamOverview(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // no proxy buffering (nginx)
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(overviewEvery)
	defer tick.Stop()
	for {
		// A server WriteTimeout would otherwise end the stream: each event gets its own.
		_ = rc.SetWriteDeadline(time.Now().Add(overviewEvery + 30*time.Second))
		v, err := s.overview(r.Context(), key)
		var data []byte
		if err == nil {
			data, err = json.Marshal(v)
		}
		if err != nil {
			if r.Context().Err() == nil {
				s.log.WarnContext(r.Context(), "reading the overview for a stream", "error", err)
			}
			data = []byte(`{"error":"the hub's store did not answer; the next update will try again"}`)
		}
		if _, err := w.Write(append(append([]byte("event: overview\ndata: "), data...), '\n', '\n')); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-s.draining:
			return
		}
	}
}
