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
			timed := &timedStore{WebhookStore: h.st}
			d, err := webhooks.New(webhooks.Config{Store: timed, AllowList: []string{"127.0.0.1"}, Loops: loops,
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
			t.Logf("%s: %d claims, %v each; %d completions, %v each", name, timed.claims.Load(),
				time.Duration(timed.claimNanos.Load()/max(1, timed.claims.Load())).Round(time.Microsecond), timed.completes.Load(),
				time.Duration(timed.completeNanos.Load()/max(1, timed.completes.Load())).Round(time.Microsecond))
			if hits.Load() < total {
				t.Fatalf("receivers saw %d requests for %d deliveries", hits.Load(), total)
			}
		})
	}
}

// timedStore measures the dispatcher's claims and completions.
type timedStore struct {
	store.WebhookStore
	claims, claimNanos, completes, completeNanos atomic.Int64
}

func (s *timedStore) ClaimWebhookDeliveries(ctx context.Context, owner string, limit int, now, leaseUntil time.Time) ([]store.WebhookDelivery, error) {
	start := time.Now()
	ds, err := s.WebhookStore.ClaimWebhookDeliveries(ctx, owner, limit, now, leaseUntil)
	if len(ds) > 0 {
		s.claims.Add(1)
		s.claimNanos.Add(int64(time.Since(start)))
	}
	return ds, err
}

func (s *timedStore) CompleteWebhookDeliveries(ctx context.Context, outs []store.DeliveryOutcome, now time.Time) error {
	start := time.Now()
	err := s.WebhookStore.CompleteWebhookDeliveries(ctx, outs, now)
	s.completes.Add(1)
	s.completeNanos.Add(int64(time.Since(start)))
	return err
}
