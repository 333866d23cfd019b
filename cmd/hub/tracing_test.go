package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
)

// collectedSpan is one span an OTLP export delivered, with its service.
type collectedSpan struct {
	service string
	span    *tracepb.Span
}

// otlpCollector is an OTLP/HTTP trace receiver: it decodes every export
// request's protobuf body and keeps the spans and the headers sent with it.
type otlpCollector struct {
	*httptest.Server
	mu      sync.Mutex
	spans   []collectedSpan
	headers []http.Header
	bad     []string
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	c := &otlpCollector{}
	c.Server = httptest.NewServer(http.HandlerFunc(c.export))
	t.Cleanup(c.Close)
	return c
}

func (c *otlpCollector) export(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	var req collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(data, &req)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
		c.bad = append(c.bad, fmt.Sprintf("%s %s %s: %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err))
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	c.headers = append(c.headers, r.Header.Clone())
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, collectedSpan{service: service, span: sp})
			}
		}
	}
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the collected spans of one trace.
func (c *otlpCollector) trace(traceID []byte) []collectedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []collectedSpan
	for _, s := range c.spans {
		if bytes.Equal(s.span.GetTraceId(), traceID) {
			out = append(out, s)
		}
	}
	return out
}

// TestOneTraceFromTheAPIIntoTheConnectorAndOutToTheCarrier is issue 6's proof:
// a track call sent with a W3C traceparent is followed by one trace from the
// hub's API through the router and the gRPC client, across the process boundary
// into the Delhivery connector, and out to the (fake) carrier, which receives
// the trace id. Both processes export over OTLP/HTTP to an in-test collector.
func TestOneTraceFromTheAPIIntoTheConnectorAndOutToTheCarrier(t *testing.T) {
	// Export batches every 50 ms instead of every 5 s; the connector process
	// inherits the hub's OTEL_* variables. (t.Setenv: this test is not parallel.)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	sim := simulator.New()
	t.Cleanup(sim.Close)
	simURL, _ := url.Parse(sim.URL())
	var (
		carrierMu     sync.Mutex
		carrierParent []string
	)
	proxy := httputil.NewSingleHostReverseProxy(simURL)
	carrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		carrierMu.Lock()
		carrierParent = append(carrierParent, r.Header.Get("Traceparent"))
		carrierMu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(carrier.Close)
	collector := newOTLPCollector(t)

	dir := t.TempDir()
	tc := newTenant(t, dir)
	r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "traced", "--environment", "sandbox", "--base-url", carrier.URL, "--credential", "api_token="+sim.Token(),
		"--setting", "pickup_location=WH", "-o", "json")
	var acct struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &acct); err != nil || acct.ID == "" {
		t.Fatalf("accounts create: %v %s %s", err, r.stdout, r.err)
	}
	const collectorKey = "collector-key-5f2e9a"
	cfg := filepath.Join(dir, "hub.yaml")
	yaml := fmt.Sprintf("tracing:\n  exporter: otlp\n  endpoint: %s\n  protocol: http\n  headers: x-collector-key=%s\n  sample_ratio: 1\n",
		collector.URL, collectorKey)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)

	// The caller's own span: a sampled W3C traceparent.
	const (
		traceIDHex = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentHex  = "00f067aa0ba902b7"
	)
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/connectors/delhivery_express/track", strings.NewReader(trackBody))
	req.Header.Set("Authorization", "Bearer "+tc.APIKey.Secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceIDHex+"-"+parentHex+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("track: %d %s\n%s", resp.StatusCode, body, h.logs.String())
	}
	// The answer names the hub's server span, in the caller's trace.
	answered := resp.Header.Get("Traceparent")
	if !strings.HasPrefix(answered, "00-"+traceIDHex+"-") || strings.Contains(answered, parentHex) {
		t.Errorf("response traceparent %q: want the hub's server span in trace %s", answered, traceIDHex)
	}

	// The carrier received the trace id.
	carrierMu.Lock()
	got := append([]string(nil), carrierParent...)
	carrierMu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "00-"+traceIDHex+"-") {
		t.Fatalf("the carrier received traceparent %q, want one in trace %s", got, traceIDHex)
	}
	carrierParentSpan := strings.Split(got[0], "-")[2]

	// Both processes export the trace; poll until the connector's outbound
	// client span has arrived along with the hub's.
	traceID, _ := hex.DecodeString(traceIDHex)
	const connectorService = "hub-connector-delhivery_express"
	var spans []collectedSpan
	deadline := time.Now().Add(30 * time.Second)
	for {
		spans = collector.trace(traceID)
		services := map[string]int{}
		for _, s := range spans {
			services[s.service]++
		}
		if services["hub"] >= 3 && services[connectorService] >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans of trace %s by service after 30s: %v (bad exports: %v)\n%s", traceIDHex, services, collector.bad, h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// One parent/child chain: API -> router -> gRPC client -> connector server ->
	// outbound HTTP client, whose span id is the carrier's traceparent parent.
	byID := map[string]collectedSpan{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.span.GetSpanId())] = s
	}
	type hop struct {
		service string
		kind    tracepb.Span_SpanKind
		name    string
	}
	chain := []hop{
		{"hub", tracepb.Span_SPAN_KIND_SERVER, "POST /v1/connectors/{id}/{operation}"},
		{"hub", tracepb.Span_SPAN_KIND_INTERNAL, "call delhivery_express track"},
		{"hub", tracepb.Span_SPAN_KIND_CLIENT, "hub.connector.v1.Connector/Invoke"},
		{connectorService, tracepb.Span_SPAN_KIND_SERVER, "connector track"},
		{connectorService, tracepb.Span_SPAN_KIND_CLIENT, "GET"},
	}
	parent := parentHex
	var last collectedSpan
	for i, want := range chain {
		var found *collectedSpan
		for _, s := range spans {
			if hex.EncodeToString(s.span.GetParentSpanId()) == parent && s.service == want.service && s.span.GetKind() == want.kind {
				found = &s
				break
			}
		}
		if found == nil {
			t.Fatalf("hop %d: no %s span of %s is a child of %s; spans:\n%s", i+1, want.kind, want.service, parent, describeSpans(spans))
		}
		if found.span.GetName() != want.name {
			t.Errorf("hop %d: span named %q, want %q", i+1, found.span.GetName(), want.name)
		}
		parent = hex.EncodeToString(found.span.GetSpanId())
		last = *found
	}
	t.Logf("trace %s:\n%s", traceIDHex, describeSpans(spans))
	if parent != carrierParentSpan {
		t.Errorf("the carrier's traceparent names span %s; the connector's HTTP client span is %s", carrierParentSpan, parent)
	}

	// Spans carry ids, never credentials or the query string.
	attrs := func(s collectedSpan) map[string]string {
		m := map[string]string{}
		for _, kv := range s.span.GetAttributes() {
			v := kv.GetValue()
			switch {
			case v.GetStringValue() != "":
				m[kv.GetKey()] = v.GetStringValue()
			default:
				m[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
			}
		}
		return m
	}
	if a := attrs(last); a["http.response.status_code"] != "200" || strings.Contains(a["url.full"], "?") || !strings.HasPrefix(a["url.full"], carrier.URL) {
		t.Errorf("outbound span attributes %v", a)
	}
	for _, s := range spans {
		if s.span.GetName() == "call delhivery_express track" {
			if a := attrs(s); a["hub.account.id"] != acct.ID || a["hub.connector"] != "delhivery_express" || a["hub.operation"] != "track" {
				t.Errorf("router span attributes %v", a)
			}
		}
		for _, kv := range s.span.GetAttributes() {
			if v := kv.GetValue().GetStringValue(); strings.Contains(v, sim.Token()) || strings.Contains(v, tc.APIKey.Secret) {
				t.Errorf("span %q attribute %s holds a credential", s.span.GetName(), kv.GetKey())
			}
		}
	}

	// Both processes sent the configured collector headers.
	collector.mu.Lock()
	for _, hd := range collector.headers {
		if hd.Get("X-Collector-Key") != collectorKey {
			t.Errorf("an export came without the configured header")
		}
	}
	collector.mu.Unlock()

	// The request log line names the trace.
	if !strings.Contains(h.logs.String(), `"trace_id":"`+traceIDHex+`"`) {
		t.Errorf("no request log line with trace_id %s:\n%s", traceIDHex, h.logs.String())
	}

	// A clean stop flushes, and nothing ever logged the collector's key.
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-h.exited:
		if err != nil {
			t.Errorf("hub exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the hub did not stop on SIGTERM")
	}
	if strings.Contains(h.logs.String(), collectorKey) {
		t.Errorf("the hub's log holds the collector's key")
	}
}

func describeSpans(spans []collectedSpan) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s %s %q span %x parent %x\n", s.service, s.span.GetKind(), s.span.GetName(), s.span.GetSpanId(), s.span.GetParentSpanId())
	}
	return b.String()
}
