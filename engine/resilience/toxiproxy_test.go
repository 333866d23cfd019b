package resilience

// The Toxiproxy helper lives in a test file on purpose: github.com/Shopify/toxiproxy/v2
// brings Prometheus' client, gorilla/mux, zerolog and tomb with it, which neither the
// hub binary nor the bench module (which imports faultcarrier) should link.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/carrierhub/hub/sdk"
)

// toxicProxy is an in-process Toxiproxy proxy on a loopback port in front of an upstream.
type toxicProxy struct {
	t     testing.TB
	proxy *toxiproxy.Proxy
	// URL is the proxy's base URL.
	URL string
}

// startToxiproxy puts a proxy in front of upstream (host:port); it stops with the test.
func startToxiproxy(t testing.TB, upstream string) *toxicProxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "carrier", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("starting toxiproxy: %v", err)
	}
	t.Cleanup(func() {
		// Removing the toxics first interrupts the ones that sleep (latency), which
		// Stop alone leaves running until their timers fire.
		p.Toxics.ResetToxics(context.Background())
		p.Stop()
	})
	return &toxicProxy{t: t, proxy: p, URL: "http://" + p.Listen}
}

// add installs a toxic of typ on the stream ("upstream" or "downstream") with attributes.
func (p *toxicProxy) add(name, typ, stream string, attrs map[string]any) {
	p.t.Helper()
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
		p.t.Fatalf("adding toxic %s: %v", name, err)
	}
}

func (p *toxicProxy) remove(name string) {
	p.t.Helper()
	if err := p.proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
		p.t.Fatalf("removing toxic %s: %v", name, err)
	}
}

// Latency delays data on stream by ms milliseconds (± jitter).
func (p *toxicProxy) Latency(stream string, ms, jitter int) string {
	name := fmt.Sprintf("latency_%s", stream)
	p.add(name, "latency", stream, map[string]any{"latency": ms, "jitter": jitter})
	return name
}

// Bandwidth caps stream at kbps kilobytes per second.
func (p *toxicProxy) Bandwidth(stream string, kbps int) string {
	name := fmt.Sprintf("bandwidth_%s", stream)
	p.add(name, "bandwidth", stream, map[string]any{"rate": kbps})
	return name
}

// ResetPeer resets connections with a TCP RST after timeoutMs (0: as soon as data arrives).
func (p *toxicProxy) ResetPeer(stream string, timeoutMs int) string {
	name := fmt.Sprintf("reset_peer_%s", stream)
	p.add(name, "reset_peer", stream, map[string]any{"timeout": timeoutMs})
	return name
}

// Timeout stops all data on stream and closes the connection after timeoutMs
// (0: never, a half-open connection).
func (p *toxicProxy) Timeout(stream string, timeoutMs int) string {
	name := fmt.Sprintf("timeout_%s", stream)
	p.add(name, "timeout", stream, map[string]any{"timeout": timeoutMs})
	return name
}

// Slicer cuts stream into packets of about avgBytes (± variation) delayUs microseconds apart.
func (p *toxicProxy) Slicer(stream string, avgBytes, variation, delayUs int) string {
	name := fmt.Sprintf("slicer_%s", stream)
	p.add(name, "slicer", stream, map[string]any{"average_size": avgBytes, "size_variation": variation, "delay": delayUs})
	return name
}

func TestToxiproxyResetPeerClassifiedAndCounted(t *testing.T) {
	s := startCarrier(t)
	px := startToxiproxy(t, s.Addr)
	client := newCarrierClient(t)
	e, rec := newTestExecutor()

	if _, err := e.Do(context.Background(), trackCall(nil), client.track(px.URL)); err != nil {
		t.Fatalf("through a clean proxy: %v", err)
	}
	name := px.ResetPeer("upstream", 0)
	client.attempts.Store(0)
	_, err := e.Do(context.Background(), trackCall(nil), client.track(px.URL))
	se, _ := err.(*sdk.Error)
	if se == nil || se.Code != sdk.CodeCarrierUnavailable || se.NotSent {
		t.Fatalf("reset: %#v", err)
	}
	if client.attempts.Load() != 3 || rec.snapshot().retries != 2 {
		t.Fatalf("attempts %d retries %d, want 3 and 2", client.attempts.Load(), rec.snapshot().retries)
	}
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.Failures != 3 || a.Requests != 4 {
		t.Fatalf("breaker counts %+v", a)
	}
	px.remove(name)
	if _, err := e.Do(context.Background(), trackCall(nil), client.track(px.URL)); err != nil {
		t.Fatalf("after removing the toxic: %v", err)
	}
}

func TestToxiproxyLatencyBeyondTimeout(t *testing.T) {
	s := startCarrier(t)
	px := startToxiproxy(t, s.Addr)
	client := newCarrierClient(t)
	e, _ := newTestExecutor()
	px.Latency("downstream", 1000, 0)
	_, err := e.Do(context.Background(), trackCall(func(p *Policy) { p.Timeout = 100 * time.Millisecond }), client.track(px.URL))
	se, _ := err.(*sdk.Error)
	if se == nil || se.Code != sdk.CodeTimeout {
		t.Fatalf("latency beyond the timeout: %#v", err)
	}
	// One attempt: the deadline is shared, so no retry fits after it.
	if client.attempts.Load() != 1 {
		t.Fatalf("attempts %d", client.attempts.Load())
	}
	waitFor(t, "the request to reach the fake", func() bool { return s.Carrier.Total() == 1 })
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.Failures != 1 {
		t.Fatalf("a provider timeout did not count as a failure: %+v", a)
	}
}

func TestToxiproxyOtherToxics(t *testing.T) {
	s := startCarrier(t)
	client := newCarrierClient(t)
	cases := []struct {
		name    string
		install func(*toxicProxy)
		timeout time.Duration
		want    sdk.Code // "" means success
	}{
		{"bandwidth", func(p *toxicProxy) { p.Bandwidth("downstream", 64) }, time.Second, ""},
		{"slicer", func(p *toxicProxy) { p.Slicer("downstream", 8, 4, 100) }, time.Second, ""},
		{"half-open connection", func(p *toxicProxy) { p.Timeout("upstream", 0) }, 100 * time.Millisecond, sdk.CodeTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			px := startToxiproxy(t, s.Addr)
			tc.install(px)
			e, _ := newTestExecutor()
			_, err := e.Do(context.Background(), trackCall(func(p *Policy) { p.Timeout = tc.timeout }), client.track(px.URL))
			if tc.want == "" && err != nil {
				t.Fatalf("got %v", err)
			}
			if se, _ := err.(*sdk.Error); tc.want != "" && (se == nil || se.Code != tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}
