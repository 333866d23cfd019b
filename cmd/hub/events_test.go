package main

import (
	"bytes"
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

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/events"
)

// TestEventsReachAWebhookEndpoint is the event pipeline end to end: a shipment
// booked and tracked through the real hub and the Delhivery connector becomes
// shipment.created and tracking.updated events in the outbox, which the relay
// fans out and the dispatcher delivers to a tenant's endpoint, signed per
// Standard Webhooks (verified with the specification's own library).
func TestEventsReachAWebhookEndpoint(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	t.Cleanup(sim.Close)

	var (
		mu        sync.Mutex
		received  []events.Event
		verifyErr error
	)
	var wh *standardwebhooks.Webhook
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if wh == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if err := wh.Verify(body, r.Header); err != nil {
			verifyErr = err
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var e events.Event
		if err := json.Unmarshal(body, &e); err != nil || e.ID != r.Header.Get("webhook-id") {
			verifyErr = fmt.Errorf("body %s, webhook-id %s: %v", body, r.Header.Get("webhook-id"), err)
		}
		received = append(received, e)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	dir := t.TempDir()
	tc := newTenant(t, dir)
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "sim", "--environment", "sandbox", "--base-url", sim.URL(), "--credential", "api_token="+sim.Token(),
		"--setting", "pickup_location=WH"); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("webhooks:\n  allow_list: [127.0.0.1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	key := tc.APIKey.Secret

	code, body := post(t, h.url+"/v1/webhooks/endpoints", key, `{"url":"`+receiver.URL+`/hooks","event_types":["shipment.*","tracking.*"]}`)
	var ep api.WebhookEndpointCreated
	if code != http.StatusCreated || json.Unmarshal(body, &ep) != nil || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("create endpoint: %d %s", code, body)
	}
	w, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	wh = w
	mu.Unlock()

	code, body = post(t, h.url+"/v1/connectors/delhivery_express/create_shipment", key, fmt.Sprintf(stormShipment, 7))
	var booked struct {
		TrackingNumber string `json:"tracking_number"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &booked) != nil || booked.TrackingNumber == "" {
		t.Fatalf("create_shipment: %d %s\n%s", code, body, h.logs.String())
	}
	if code, body := post(t, h.url+"/v1/connectors/delhivery_express/track", key, `{"tracking_numbers":["`+booked.TrackingNumber+`"]}`); code != http.StatusOK {
		t.Fatalf("track: %d %s", code, body)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		types := map[events.Type]string{}
		for _, e := range received {
			types[e.Type] = e.Subject
		}
		n, verr := len(received), verifyErr
		mu.Unlock()
		if verr != nil {
			t.Fatalf("a delivery did not verify: %v", verr)
		}
		if types[events.ShipmentCreated] == booked.TrackingNumber && types[events.TrackingUpdated] == booked.TrackingNumber {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the receiver has %d events %v; hub log:\n%s", n, types, h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The attempt log shows the deliveries (outcomes are written after the batch).
	for {
		req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/webhooks/endpoints/"+ep.ID+"/attempts", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		attempts, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && bytes.Contains(attempts, []byte("204")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempts: %d %s", resp.StatusCode, attempts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
