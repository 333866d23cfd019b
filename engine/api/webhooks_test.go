package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/engine/webhooks"
	"github.com/carrierhub/hub/internal/syncbuf"
)

type webhookStore interface {
	store.Store
	store.WebhookStore
}

// newStoreHarness serves the API over a real SQLite store, with tenants A and B,
// for the routes the in-memory fake does not cover (webhooks, console sessions).
func newStoreHarness(t *testing.T, opts ...harnessOpt) (*harness, webhookStore) {
	t.Helper()
	st := storetest.OpenSQLite(t)
	ws := st.(webhookStore)
	h := &harness{t: t, logs: &syncbuf.Buffer{}, conns: &fakeConnectors{}}
	ctx := context.Background()
	ta, _ := st.CreateTenant(ctx, "tenant-a")
	tb, _ := st.CreateTenant(ctx, "tenant-b")
	h.tenantA, h.tenantB = ta.ID, tb.ID
	_, h.keyA, _ = st.CreateAPIKey(ctx, ta.ID, "a", false)
	_, h.keyB, _ = st.CreateAPIKey(ctx, tb.ID, "b", false)
	rt, err := router.New(router.Config{Overrides: oneAttempt, Connectors: h.conns, Accounts: st})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Router: rt, Connectors: h.conns, Version: "test",
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	h.srv = httptest.NewServer(New(cfg))
	t.Cleanup(h.srv.Close)
	return h, ws
}

func TestWebhookEndpointsAPI(t *testing.T) {
	h, _ := newStoreHarness(t)
	r := h.do("POST", "/v1/webhooks/endpoints", h.keyA, `{"url":"https://erp.example.com/hooks","event_types":["shipment.*"],
		"filter":{"connector":"delhivery"},"rate_limit":10,"ordered":true}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created WebhookEndpointCreated
	r.decode(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || !created.Enabled || created.RateLimit != 10 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created %+v", created)
	}
	path := "/v1/webhooks/endpoints/" + created.ID
	for _, p := range []string{"/v1/webhooks/endpoints", path} {
		r = h.do("GET", p, h.keyA, "")
		if r.status != 200 || strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), `"secret"`) {
			t.Fatalf("GET %s shows the secret or failed: %d %s", p, r.status, r.body)
		}
	}
	if r = h.do("GET", path, h.keyB, ""); r.status != 404 {
		t.Fatalf("another tenant's GET: %d", r.status)
	}
	r = h.do("PATCH", path, h.keyA, `{"enabled":false,"description":"paused"}`)
	var got store.WebhookEndpoint
	r.decode(t, &got)
	if r.status != 200 || got.Enabled || got.DisabledReason == "" || got.Description != "paused" || got.RateLimit != 10 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/webhooks/endpoints", h.keyA, `{"url":"ftp://x.example.com"}`)
	if p := r.problem(t); r.status != 422 || len(p.Errors) != 1 || *p.Errors[0].Pointer != "/url" {
		t.Fatalf("bad url: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/webhooks/endpoints", h.keyA, `{"url":"https://x.example.com","secret":"sk_live_nope"}`)
	if p := r.problem(t); r.status != 422 || strings.Contains(string(r.body), "sk_live_nope") || *p.Errors[0].Pointer != "/secret" {
		t.Fatalf("bad secret: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/webhooks/endpoints", h.keyA, `{"url":"https://x.example.com","bogus":1}`)
	if r.status != 422 {
		t.Fatalf("unknown field: %d", r.status)
	}
	r = h.do("POST", path+"/rotate-secret", h.keyA, `{"overlap_seconds":3600}`)
	var rotated WebhookEndpointCreated
	r.decode(t, &rotated)
	if r.status != 200 || rotated.Secret == created.Secret || rotated.PreviousExpiresAt == nil {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if r = h.do("POST", path+"/rotate-secret", h.keyA, `{"overlap_seconds":99999999}`); r.status != 422 {
		t.Fatalf("long overlap: %d", r.status)
	}
	if r = h.do("POST", path+"/test", h.keyB, ""); r.status != 404 {
		t.Fatalf("another tenant's test event: %d", r.status)
	}
	r = h.do("POST", path+"/test", h.keyA, "")
	var queued TestEventQueued
	r.decode(t, &queued)
	if r.status != http.StatusAccepted || !strings.HasPrefix(queued.EventID, "evt_") {
		t.Fatalf("test event: %d %s", r.status, r.body)
	}
	if r = h.do("DELETE", path, h.keyB, ""); r.status != 404 {
		t.Fatalf("another tenant's DELETE: %d", r.status)
	}
	if r = h.do("DELETE", path, h.keyA, ""); r.status != 204 {
		t.Fatalf("DELETE: %d", r.status)
	}
	if r = h.do("GET", path, h.keyA, ""); r.status != 404 {
		t.Fatalf("GET after DELETE: %d", r.status)
	}
}

func TestWebhookAttemptsAndReplayAPI(t *testing.T) {
	h, ws := newStoreHarness(t)
	ctx := t.Context()
	ep, err := ws.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{TenantID: h.tenantA, URL: "https://erp.example.com",
		Enabled: true, Secret: webhooks.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		id := fmt.Sprintf("evt_%d", i)
		if _, err := ws.InsertWebhookDeliveries(ctx, []store.WebhookDelivery{{EventID: id, EndpointID: ep.ID, TenantID: h.tenantA,
			EventType: "tracking.updated", Subject: "AWB", Seq: int64(i), EventTime: t0.Add(time.Duration(i) * time.Minute),
			Body: []byte(`{}`)}}, t0); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := ws.ClaimWebhookDeliveries(ctx, "test", 10, t0, t0.Add(time.Minute))
	if err != nil || len(claimed) != 5 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	var outs []store.DeliveryOutcome
	for _, d := range claimed {
		outs = append(outs, store.DeliveryOutcome{EventID: d.EventID, EndpointID: d.EndpointID, LeaseOwner: d.LeaseOwner,
			State: store.DeliveryDead, NextAttemptAt: t0, Attempt: &store.WebhookAttempt{TenantID: h.tenantA, Attempt: 1,
				At: t0, Status: 500, Duration: 12 * time.Millisecond, Error: "answered 500", Response: []byte("oops")}})
	}
	if err := ws.CompleteWebhookDeliveries(ctx, outs, t0); err != nil {
		t.Fatal(err)
	}
	r := h.do("GET", "/v1/webhooks/endpoints/"+ep.ID+"/attempts?limit=3", h.keyA, "")
	var atts []map[string]any
	r.decode(t, &atts)
	if r.status != 200 || len(atts) != 3 || atts[0]["duration_ms"] != float64(12) || atts[0]["response"] != "oops" {
		t.Fatalf("endpoint attempts: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/v1/webhooks/events/evt_2/attempts", h.keyA, "")
	r.decode(t, &atts)
	if r.status != 200 || len(atts) != 1 {
		t.Fatalf("event attempts: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/v1/webhooks/events/evt_2/attempts", h.keyB, ""); r.status != 200 || string(r.body) != "[]" {
		t.Fatalf("another tenant sees attempts: %s", r.body)
	}
	if r = h.do("GET", "/v1/webhooks/endpoints/"+ep.ID+"/attempts?limit=0", h.keyA, ""); r.status != 422 {
		t.Fatalf("limit 0: %d", r.status)
	}
	body := fmt.Sprintf(`{"since":%q,"until":%q,"limit":2}`, t0.Add(time.Minute).Format(time.RFC3339), t0.Add(4*time.Minute).Format(time.RFC3339))
	r = h.do("POST", "/v1/webhooks/endpoints/"+ep.ID+"/replay", h.keyA, body)
	var res store.ReplayResult
	r.decode(t, &res)
	if r.status != 200 || res.Queued != 2 || res.Remaining != 1 || res.Next == "" {
		t.Fatalf("replay page: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/webhooks/endpoints/"+ep.ID+"/replay", h.keyA, fmt.Sprintf(`{"since":%q}`, t0.Format(time.RFC3339)))
	r.decode(t, &res)
	if r.status != 200 || res.Queued != 3 {
		t.Fatalf("replay all: %d %s (3 were still dead)", r.status, r.body)
	}
	if r = h.do("POST", "/v1/webhooks/endpoints/"+ep.ID+"/replay", h.keyB, body); r.status != 404 {
		t.Fatalf("another tenant's replay: %d", r.status)
	}
	if r = h.do("POST", "/v1/webhooks/endpoints/"+ep.ID+"/replay", h.keyA, `{}`); r.status != 422 {
		t.Fatalf("replay without since: %d", r.status)
	}
}

func TestWebhookRoutesInOpenAPI(t *testing.T) {
	h, _ := newStoreHarness(t)
	r := h.do("GET", "/openapi.json", "", "")
	var doc struct {
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	r.decode(t, &doc)
	for _, p := range []string{"/v1/webhooks/endpoints", "/v1/webhooks/endpoints/{id}", "/v1/webhooks/endpoints/{id}/replay",
		"/v1/webhooks/endpoints/{id}/rotate-secret", "/v1/webhooks/endpoints/{id}/attempts", "/v1/webhooks/events/{id}/attempts"} {
		if doc.Paths[p] == nil {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
	for _, s := range []string{"WebhookEndpoint", "WebhookEndpointInput", "ReplayInput", "ReplayResult", "WebhookAttempt"} {
		if doc.Components.Schemas[s] == nil {
			t.Errorf("OpenAPI lacks schema %s", s)
		}
	}
	raw, _ := json.Marshal(doc.Paths["/v1/webhooks/endpoints/{id}"])
	if !strings.Contains(string(raw), "patch") {
		t.Errorf("no PATCH operation: %s", raw)
	}
}
