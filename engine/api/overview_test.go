package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk/model"
)

// TestOverview checks what the overview shows each kind of key: a tenant its
// failing endpoints and its e-way bills expiring within 8 hours (not another
// tenant's, not later ones), an operator the hub-wide backlogs and no tenant's
// data.
func TestOverview(t *testing.T) {
	draining := make(chan struct{})
	h, st := newStoreHarness(t, func(c *Config) { c.OutboxSinks = []string{"webhooks"}; c.Draining = draining })
	ctx := t.Context()
	gen := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	bill := func(tenant, number string, validFor time.Duration) {
		t.Helper()
		valid := time.Now().Add(validFor).UTC().Truncate(time.Second)
		data, _ := json.Marshal(model.EWayBill{Number: number, GeneratedAt: gen, ValidUntil: &valid, Status: "active"})
		if _, err := st.RecordEWayBill(ctx, store.EWayBill{TenantID: tenant, Number: number, ConnectorID: "nic_ewaybill",
			AccountID: "acc_1", GeneratedAt: &gen, ValidUntil: &valid}, events.EWayBillGenerated, data); err != nil {
			t.Fatal(err)
		}
	}
	bill(h.tenantA, "100000000001", 3*time.Hour)
	bill(h.tenantA, "100000000002", 30*time.Hour)
	bill(h.tenantB, "100000000003", time.Hour)
	if r := h.do("POST", "/v1/webhooks/endpoints", h.keyA, `{"url":"https://erp.example.com/a","enabled":false}`); r.status != http.StatusCreated {
		t.Fatalf("endpoint: %d %s", r.status, r.body)
	}

	r := h.do("GET", "/v1/overview", h.keyA, "")
	var v OverviewView
	r.decode(t, &v)
	if r.status != 200 || v.Endpoints == nil || v.Endpoints.Total != 1 || v.Endpoints.Disabled != 1 || v.Outbox != nil || v.Deliveries != nil {
		t.Fatalf("tenant overview: %d %s", r.status, r.body)
	}
	if len(v.EWayBillsExpiring) != 1 || v.EWayBillsExpiring[0].Number != "100000000001" {
		t.Fatalf("tenant's expiring e-way bills = %+v, want 100000000001 only", v.EWayBillsExpiring)
	}

	_, opSecret, err := st.CreateOperatorKey(ctx, "platform")
	if err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/v1/overview", opSecret, "")
	v = OverviewView{}
	r.decode(t, &v)
	if r.status != 200 || len(v.Outbox) != 1 || v.Outbox[0].Sink != "webhooks" || v.Outbox[0].Depth < 3 || v.Deliveries == nil ||
		v.Deliveries.EndpointsDisabled != 1 || v.Endpoints != nil || v.EWayBillsExpiring != nil {
		t.Fatalf("operator overview: %d %s", r.status, r.body)
	}

	// The stream sends an overview at once, and ends when the hub drains.
	req, err := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/overview/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.keyA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	first, _ := rd.ReadString('\n')
	data, _ := rd.ReadString('\n')
	if first != "event: overview\n" || !strings.HasPrefix(data, "data: {") || !strings.Contains(data, "100000000001") {
		t.Fatalf("first event: %q %q", first, data)
	}
	close(draining)
	done := make(chan error, 1)
	go func() {
		_, err := rd.ReadString(0)
		done <- err
	}()
	select {
	case <-done: // the hub ended the stream
	case <-time.After(30 * time.Second):
		t.Fatal("the stream outlived the hub's draining")
	}
}
