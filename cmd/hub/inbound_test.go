package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/model"
)

// TestInboundPollsAndPushes runs the inbound side end to end against hub serve
// and the Delhivery simulator: a booked shipment is polled (the simulator moves
// it to in transit and the poller's tracking.updated reaches a webhook
// endpoint), then Delhivery pushes: a push with a wrong token, or to an
// unknown account, is refused with the same 401 by the hub, a good one (sent twice, as a provider retrying would) records out for
// delivery once, and a pushed delivery ends with shipment.delivered.
func TestInboundPollsAndPushes(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	t.Cleanup(sim.Close)

	receiver := newEventSink(t)
	// statuses lists the tracking.updated statuses received for a waybill, and
	// whether shipment.delivered came.
	statuses := func(waybill string) ([]model.TrackingStatus, bool) {
		var out []model.TrackingStatus
		delivered := false
		for _, e := range receiver.received() {
			if e.Subject != waybill {
				continue
			}
			switch e.Type {
			case events.TrackingUpdated:
				var tr model.Tracking
				_ = json.Unmarshal(e.Data, &tr)
				out = append(out, tr.Status)
			case events.ShipmentDelivered:
				delivered = true
			}
		}
		return out, delivered
	}

	dir := t.TempDir()
	tc := newTenant(t, dir)
	const pushToken = "dlv-push-7c1e0b5f9a2d4e68"
	r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "sim", "--environment", "sandbox", "--base-url", sim.URL(), "--credential", "api_token="+sim.Token(),
		"--credential", "push_token="+pushToken, "--setting", "pickup_location=WH", "-o", "json")
	var acct struct {
		ID string `json:"id"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &acct) != nil || acct.ID == "" {
		t.Fatalf("accounts create: %s %s", r.stdout, r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	conf := "webhooks:\n  allow_list: [127.0.0.1]\ntracking_polls:\n  enabled: true\n  interval: 1s\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	key := tc.APIKey.Secret
	if code, body := post(t, h.url+"/v1/webhooks/endpoints", key, `{"url":"`+receiver.URL+`/hooks","ordered":true,"event_types":["shipment.*","tracking.*"]}`); code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, body)
	}

	code, body := post(t, h.url+"/v1/connectors/delhivery_express/create_shipment", key, fmt.Sprintf(stormShipment, 51))
	var booked struct {
		TrackingNumber string `json:"tracking_number"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &booked) != nil || booked.TrackingNumber == "" {
		t.Fatalf("create_shipment: %d %s\n%s", code, body, h.logs.String())
	}
	wb := booked.TrackingNumber
	if err := sim.AddScan(wb, simulator.Scan{Type: "UD", Status: "In Transit", Code: "X-PPOM", Instructions: "Shipment picked up"}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				got, _ := statuses(wb)
				t.Fatalf("after 30 s, no %s (tracking.updated statuses %v); hub log:\n%s", what, got, h.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	has := func(want model.TrackingStatus) func() bool {
		return func() bool {
			got, _ := statuses(wb)
			for _, s := range got {
				if s == want {
					return true
				}
			}
			return false
		}
	}
	// Nobody asked: only the poller can have learnt that it moved.
	waitFor("polled in_transit", has(model.StatusInTransit))
	if n := sim.Calls(simulator.PathTrack); n == 0 {
		t.Errorf("the simulator saw no track call")
	}

	inboundURL := h.url + "/v1/inbound/delhivery_express/" + acct.ID
	if err := sim.AddScan(wb, simulator.Scan{Type: "UD", Status: "Dispatched", Instructions: "Out for delivery"}); err != nil {
		t.Fatal(err)
	}
	code, body, err := sim.Push(t.Context(), inboundURL, "Bearer not-the-token", wb)
	if err != nil || code != http.StatusUnauthorized || !strings.Contains(string(body), "unauthenticated") || strings.Contains(string(body), pushToken) {
		t.Fatalf("push with a wrong token: %d %s %v", code, body, err)
	}
	for range 2 { // the provider retries; the second changes nothing
		code, body, err = sim.Push(t.Context(), inboundURL, "Bearer "+pushToken, wb)
		var got api.PushReceived
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Results != 1 {
			t.Fatalf("push: %d %s %v\n%s", code, body, err, h.logs.String())
		}
	}
	// An unknown account gets the answer a wrong token got: nothing tells
	// which accounts exist.
	if code, body, _ := sim.Push(t.Context(), h.url+"/v1/inbound/delhivery_express/acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", "Bearer "+pushToken, wb); code != http.StatusUnauthorized ||
		!strings.Contains(string(body), "unauthenticated") {
		t.Errorf("push to an unknown account: %d %s", code, body)
	}
	// The token as Delhivery may send it: after "Token ", or in the query.
	for _, u := range []string{inboundURL, inboundURL + "?token=" + pushToken} {
		auth := "Token " + pushToken
		if strings.Contains(u, "?") {
			auth = ""
		}
		if code, body, err := sim.Push(t.Context(), u, auth, wb); err != nil || code != http.StatusOK {
			t.Errorf("push to %s with %q: %d %s %v", u, auth, code, body, err)
		}
	}
	if err := sim.AddScan(wb, simulator.Scan{Type: "DL", Status: "Delivered", Instructions: "Delivered to consignee", ReceivedBy: "R. Iyer"}); err != nil {
		t.Fatal(err)
	}
	if code, body, err := sim.Push(t.Context(), inboundURL, pushToken, wb); err != nil || code != http.StatusOK {
		t.Fatalf("push delivered: %d %s %v", code, body, err)
	}
	waitFor("shipment.delivered", func() bool { _, d := statuses(wb); return d })
	got, _ := statuses(wb)
	ofd := 0
	for _, s := range got {
		if s == model.StatusOutForDelivery {
			ofd++
		}
	}
	// The endpoint is ordered, so the out-for-delivery updates came before delivered.
	if ofd != 1 {
		t.Errorf("tracking.updated statuses %v: want out_for_delivery once", got)
	}
}

// eventSink is a webhook receiver on loopback that keeps every event sent to it.
type eventSink struct {
	*httptest.Server
	mu     sync.Mutex
	events []events.Event
}

// newEventSink starts an eventSink, closed when the test ends.
func newEventSink(t *testing.T) *eventSink {
	t.Helper()
	s := &eventSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e events.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, e)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

// received returns a copy of the events received so far, in arrival order.
func (s *eventSink) received() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]events.Event(nil), s.events...)
}
