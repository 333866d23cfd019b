package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/bus"
)

// TestTraceContextThroughTheOutbox is issue 13's trace-context proof: a
// shipment booked through `hub serve` with the caller's W3C traceparent and
// tracestate becomes a shipment.created event whose webhook delivery and Kafka
// message carry a traceparent in the caller's trace (and the caller's
// tracestate), and the hub exports the delivery's client span and the
// message's producer span as descendants of the API call's server span. The
// outbox is the SQLite store, and Postgres when HUB_POSTGRES_URL is set; the
// Kafka broker is an in-process kfake on loopback that the hub process reaches
// over TCP.
func TestTraceContextThroughTheOutbox(t *testing.T) {
	// Batches of spans every 50 ms. (t.Setenv: this test is not parallel.)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Run("sqlite", func(t *testing.T) { traceContextThroughTheOutbox(t, sqliteBackend(t)) })
	t.Run("postgres", func(t *testing.T) { traceContextThroughTheOutbox(t, postgresBackend(t)) })
}

func traceContextThroughTheOutbox(t *testing.T, b crashBackend) {
	const (
		traceIDHex = "5bf92f3577b34da6a3ce929d0e0e4737"
		parentHex  = "10f067aa0ba902b8"
		state      = "tms=orders-7,vendor=t61rcWkgMzE"
	)
	sim := simulator.New()
	t.Cleanup(sim.Close)
	collector := newOTLPCollector(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(2), kfake.AllowAutoTopicCreation(),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	type delivery struct{ eventType, traceparent, tracestate string }
	var (
		mu  sync.Mutex
		got []delivery
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e struct{ Type string }
		_ = json.Unmarshal(body, &e)
		mu.Lock()
		got = append(got, delivery{e.Type, r.Header.Get("Traceparent"), r.Header.Get("Tracestate")})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	dir := b.dir
	storeArgs := append([]string{"--data-dir", dir}, b.serveArgs()...)
	var tc api.TenantCreated
	r := hub(t, "", append([]string{"tenants", "create", "acme", "-o", "json"}, storeArgs...)...)
	if err := json.Unmarshal([]byte(r.stdout), &tc); err != nil {
		t.Fatalf("tenants create: %v %s", err, r.err)
	}
	if r := hub(t, "", append([]string{"accounts", "create", "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "sim", "--environment", "sandbox", "--base-url", sim.URL(), "--credential", "api_token=" + sim.Token(),
		"--setting", "pickup_location=WH"}, storeArgs...)...); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	yaml := fmt.Sprintf("tracing:\n  exporter: otlp\n  endpoint: %s\n  protocol: http\n  sample_ratio: 1\n"+
		"webhooks:\n  allow_list: [127.0.0.1]\nkafka:\n  brokers: [%s]\n", collector.URL, cluster.ListenAddrs()[0])
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, append([]string{"--config", cfg}, b.serveArgs()...)...)
	key := tc.APIKey.Secret
	if code, body := post(t, h.url+"/v1/webhooks/endpoints", key, `{"url":"`+receiver.URL+`/hooks","event_types":["shipment.created"]}`); code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, body)
	}

	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/connectors/delhivery_express/create_shipment",
		strings.NewReader(fmt.Sprintf(stormShipment, 1)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "trace-outbox-1")
	req.Header.Set("Traceparent", "00-"+traceIDHex+"-"+parentHex+"-01")
	req.Header.Set("Tracestate", state)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("create_shipment: %d %s\n%s", resp.StatusCode, body, h.logs.String())
	}
	server := strings.Split(resp.Header.Get("Traceparent"), "-")
	if len(server) != 4 || server[1] != traceIDHex {
		t.Fatalf("response traceparent %q is not in the caller's trace", resp.Header.Get("Traceparent"))
	}
	serverSpan := server[2]

	// The webhook receiver sees the caller's trace and tracestate.
	var hook delivery
	deadline := time.Now().Add(30 * time.Second)
	for hook.traceparent == "" {
		mu.Lock()
		for _, d := range got {
			if d.eventType == "shipment.created" {
				hook = d
			}
		}
		mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no shipment.created delivery after 30 s; hub log:\n%s", h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	hp := strings.Split(hook.traceparent, "-")
	if len(hp) != 4 || hp[1] != traceIDHex || hp[3] != "01" || hook.tracestate != state {
		t.Fatalf("the webhook came with traceparent %q tracestate %q; want the caller's trace %s and %q", hook.traceparent, hook.tracestate, traceIDHex, state)
	}

	// So does a consumer of the shipment topic.
	k, err := bus.NewKafka(t.Context(), bus.KafkaConfig{Brokers: cluster.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	msgs := make(chan bus.Message, 4)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go k.Subscribe(ctx, "hub.events.shipment", "trace-test", func(_ context.Context, m bus.Message) error {
		msgs <- m
		return nil
	})
	var msg bus.Message
	select {
	case msg = <-msgs:
	case <-time.After(30 * time.Second):
		t.Fatalf("no message on hub.events.shipment after 30 s; hub log:\n%s", h.logs.String())
	}
	mp := strings.Split(msg.Headers[bus.HeaderTraceParent], "-")
	if msg.Headers["type"] != "shipment.created" || len(mp) != 4 || mp[1] != traceIDHex || msg.Headers[bus.HeaderTraceState] != state {
		t.Fatalf("the Kafka message's headers %v: want traceparent in trace %s and tracestate %q", msg.Headers, traceIDHex, state)
	}

	// The exported trace: the delivery's client span and the message's producer
	// span (whose ids the receivers saw) descend from the API's server span.
	traceID, _ := hex.DecodeString(traceIDHex)
	var byID map[string]collectedSpan
	for {
		byID = map[string]collectedSpan{}
		for _, s := range collector.trace(traceID) {
			byID[hex.EncodeToString(s.span.GetSpanId())] = s
		}
		_, okHook := byID[hp[2]]
		_, okMsg := byID[mp[2]]
		if okHook && okMsg {
			break
		}
		if time.Now().After(deadline) {
			var all []collectedSpan
			for _, s := range byID {
				all = append(all, s)
			}
			t.Fatalf("the collector has no span %s (webhook) or %s (Kafka) in the trace:\n%s", hp[2], mp[2], describeSpans(all))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		id, name string
		kind     tracepb.Span_SpanKind
	}{
		{hp[2], "webhook delivery", tracepb.Span_SPAN_KIND_CLIENT},
		{mp[2], "publish hub.events.shipment", tracepb.Span_SPAN_KIND_PRODUCER},
	} {
		s := byID[c.id]
		if s.span.GetName() != c.name || s.span.GetKind() != c.kind || s.service != "hub" {
			t.Errorf("span %s is %s %q of %s, want %s %q of hub", c.id, s.span.GetKind(), s.span.GetName(), s.service, c.kind, c.name)
		}
		// Walk up to the server span.
		id, hops := c.id, 0
		for id != serverSpan {
			p, ok := byID[id]
			if !ok || hops > 10 {
				t.Fatalf("%q does not descend from the server span %s (stopped at %s)", c.name, serverSpan, id)
			}
			id, hops = hex.EncodeToString(p.span.GetParentSpanId()), hops+1
		}
	}
}
