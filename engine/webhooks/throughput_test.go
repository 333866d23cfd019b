package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/webhooks"
)

// TestThroughput measures durable deliveries per second: events fanned out to 3
// loopback receivers, then the dispatcher claims, signs, POSTs and records them
// until every delivery succeeded. It runs only with HUB_WEBHOOK_THROUGHPUT=1
// (HUB_WEBHOOK_EVENTS, _LOOPS and _BATCH tune it) and reports figures; it asserts
// only that nothing was lost.
func TestThroughput(t *testing.T) {
	if os.Getenv("HUB_WEBHOOK_THROUGHPUT") == "" {
		t.Skip("set HUB_WEBHOOK_THROUGHPUT=1 to measure delivery throughput")
	}
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	nEvents := envInt("HUB_WEBHOOK_EVENTS", 10000)
	loops := envInt("HUB_WEBHOOK_LOOPS", 8)
	batch := envInt("HUB_WEBHOOK_BATCH", 200)
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open)
			var hits atomic.Int64
			for range 3 {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					hits.Add(1)
					w.WriteHeader(http.StatusNoContent)
				}))
				t.Cleanup(srv.Close)
				h.endpoint(store.WebhookEndpoint{URL: srv.URL + "/hook"})
			}
			data, _ := json.Marshal(map[string]any{"status": "in_transit", "location": "Bhiwandi hub", "awb": "1234567890"})
			fan := webhooks.NewFanout(h.st, time.Now)
			start := time.Now()
			const page = 500
			for i := 0; i < nEvents; i += page {
				var b []events.Stored
				for j := i; j < min(nEvents, i+page); j++ {
					b = append(b, events.Stored{Seq: events.Seq(j + 1), Event: events.Event{
						ID: fmt.Sprintf("evt_%08d", j), Type: events.TrackingUpdated, TenantID: h.tenant.ID,
						Time: start, Subject: fmt.Sprint("AWB", j%1000), Data: data}})
				}
				if _, err := fan.Fanout(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			fanout := time.Since(start)
			analyze(t, h.st)
			total := int64(3 * nEvents)
			d, err := webhooks.New(webhooks.Config{Store: h.st, AllowList: []string{"127.0.0.1"}, Loops: loops,
				BatchSize: batch, Idle: 5 * time.Millisecond, Logger: nil})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			start = time.Now()
			go func() { _ = d.Run(ctx); close(done) }()
			for {
				n, err := h.st.CountWebhookDeliveries(t.Context(), "", store.DeliveryPending)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			elapsed := time.Since(start)
			cancel()
			<-done
			if n, _ := h.st.CountWebhookDeliveries(t.Context(), "", store.DeliverySucceeded); n != total {
				t.Fatalf("%d of %d deliveries succeeded", n, total)
			}
			t.Logf("%s: fan-out of %d events to 3 endpoints: %v (%.0f delivery rows/s)", name, nEvents, fanout.Round(time.Millisecond),
				float64(total)/fanout.Seconds())
			t.Logf("%s: %d deliveries (loops %d, batch %d): %v = %.0f durable deliveries/s; receivers saw %d requests",
				name, total, loops, batch, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), hits.Load())
			if hits.Load() < total {
				t.Fatalf("receivers saw %d requests for %d deliveries", hits.Load(), total)
			}
		})
	}
}
