package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/webhooks"
	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest server answering with a programmable handler and
// recording what it got.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(w http.ResponseWriter, r *http.Request, n int)
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), body})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(w, r, n)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// harness is a store, a tenant, a test clock and helpers.
type harness struct {
	t      *testing.T
	st     fullStore
	tenant store.Tenant
	clk    *testclock.Clock
	mu     sync.Mutex
	events []events.Event
}

func newHarness(t *testing.T, open func(testing.TB) fullStore) *harness {
	st := open(t)
	tn, err := st.CreateTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, st: st, tenant: tn, clk: testclock.New(time.Now().UTC().Truncate(time.Millisecond))}
}

func (h *harness) endpoint(e store.WebhookEndpoint) store.WebhookEndpoint {
	h.t.Helper()
	e.TenantID = h.tenant.ID
	e.Enabled = true
	if e.Secret == "" {
		e.Secret = webhooks.NewSecret()
	}
	got, err := h.st.CreateWebhookEndpoint(h.t.Context(), e)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

func (h *harness) dispatcher(mod func(*webhooks.Config)) *webhooks.Dispatcher {
	h.t.Helper()
	cfg := webhooks.Config{Store: h.st, AllowList: []string{"127.0.0.1"}, Now: h.clk.Now, Rand: func() float64 { return 0.5 },
		EndpointTTL: -1, Timeout: 5 * time.Second, Loops: 1, BatchSize: 50, Logger: slog.New(slog.DiscardHandler),
		Emit: func(_ context.Context, e events.Event) error {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
			return nil
		}}
	if mod != nil {
		mod(&cfg)
	}
	d, err := webhooks.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

var seq atomic.Int64

// publish fans events out, as the outbox relay would.
func (h *harness) publish(evs ...events.Event) {
	h.t.Helper()
	var batch []events.Stored
	for _, e := range evs {
		batch = append(batch, events.Stored{Event: e, Seq: events.Seq(seq.Add(1))})
	}
	if err := webhooks.NewFanout(h.st, h.clk.Now).Deliver(h.t.Context(), batch); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) event(subject string) events.Event {
	return events.Event{ID: webhooks.NewEventID(h.clk.Now()), Type: events.TrackingUpdated, TenantID: h.tenant.ID,
		Time: h.clk.Now(), Subject: subject, Connector: "delhivery", Data: json.RawMessage(`{"status":"in_transit"}`)}
}

func (h *harness) runOnce(d *webhooks.Dispatcher) int {
	h.t.Helper()
	n, err := d.RunOnce(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) delivery(ev events.Event, ep store.WebhookEndpoint) store.WebhookDelivery {
	h.t.Helper()
	d, err := h.st.GetWebhookDelivery(h.t.Context(), ev.ID, ep.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func eachStore(t *testing.T, fn func(t *testing.T, h *harness)) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newHarness(t, open))
		})
	}
}

func TestDeliveryVerifiedByStandardWebhooks(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, nil)
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL + "/hooks"})
		ev := h.event("AWB1")
		h.publish(ev)
		h.publish(ev) // a replayed batch adds nothing
		d := h.dispatcher(nil)
		if n := h.runOnce(d); n != 1 {
			t.Fatalf("claimed %d, want 1", n)
		}
		got := rc.requests()
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests", len(got))
		}
		wh, err := standardwebhooks.NewWebhook(ep.Secret)
		if err != nil {
			t.Fatal(err)
		}
		// The library checks the timestamp against the real clock; the test clock
		// started at the real time.
		if err := wh.Verify(got[0].body, got[0].header); err != nil {
			t.Fatalf("standard-webhooks Verify: %v", err)
		}
		if got[0].header.Get("webhook-id") != ev.ID || got[0].header.Get("Content-Type") != "application/json" ||
			!strings.HasPrefix(got[0].header.Get("User-Agent"), "carrierhub-webhooks/") {
			t.Fatalf("headers: %v", got[0].header)
		}
		var back events.Event
		if err := json.Unmarshal(got[0].body, &back); err != nil || back.ID != ev.ID || back.Subject != "AWB1" {
			t.Fatalf("body %s: %v", got[0].body, err)
		}
		if del := h.delivery(ev, ep); del.State != store.DeliverySucceeded || del.Attempts != 1 {
			t.Fatalf("delivery %+v", del)
		}
		atts, err := h.st.ListWebhookAttempts(t.Context(), h.tenant.ID, "", ev.ID, 10)
		if err != nil || len(atts) != 1 || atts[0].Status != 204 {
			t.Fatalf("attempts %+v, %v", atts, err)
		}
	})
}

func TestRotationBothSecretsSign(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, nil)
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		old := ep.Secret
		fresh := webhooks.NewSecret()
		if _, err := h.st.RotateWebhookSecret(t.Context(), h.tenant.ID, ep.ID, fresh, h.clk.Now().Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		h.publish(h.event("AWB1"))
		h.runOnce(h.dispatcher(nil))
		got := rc.requests()
		if len(got) != 1 {
			t.Fatalf("got %d requests", len(got))
		}
		if parts := strings.Fields(got[0].header.Get("webhook-signature")); len(parts) != 2 {
			t.Fatalf("signature header %q, want two v1 signatures", parts)
		}
		for name, secret := range map[string]string{"old": old, "new": fresh} {
			wh, _ := standardwebhooks.NewWebhook(secret)
			if err := wh.Verify(got[0].body, got[0].header); err != nil {
				t.Errorf("verifying with the %s secret: %v", name, err)
			}
		}
		// After the overlap only the new secret signs.
		h.clk.Add(25 * time.Hour)
		h.publish(h.event("AWB2"))
		h.runOnce(h.dispatcher(nil))
		got = rc.requests()
		last := got[len(got)-1]
		wh, _ := standardwebhooks.NewWebhook(old)
		if err := wh.VerifyIgnoringTimestamp(last.body, last.header); err == nil {
			t.Errorf("the old secret still verifies after the overlap")
		}
		wh, _ = standardwebhooks.NewWebhook(fresh)
		if err := wh.VerifyIgnoringTimestamp(last.body, last.header); err != nil {
			t.Errorf("the new secret: %v", err)
		}
	})
}

func TestRetryScheduleWithInjectedClock(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { http.Error(w, "down", 500) })
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		ev := h.event("AWB1")
		h.publish(ev)
		jitter := 0.75 // Rand 0.75 stretches each delay by +10 % with Jitter 0.2
		d := h.dispatcher(func(c *webhooks.Config) { c.Rand = func() float64 { return jitter } })
		for i, base := range webhooks.DefaultSchedule[1:] {
			if n := h.runOnce(d); n != 1 {
				t.Fatalf("attempt %d: claimed %d", i+1, n)
			}
			del := h.delivery(ev, ep)
			want := h.clk.Now().Add(base + base/10)
			if del.State != store.DeliveryPending || del.Attempts != i+1 || !del.NextAttemptAt.Equal(want) {
				t.Fatalf("after attempt %d: %s attempts %d due %v, want pending %d due %v", i+1, del.State, del.Attempts, del.NextAttemptAt, i+1, want)
			}
			if base > 0 {
				h.clk.Add(base + base/10 - time.Millisecond)
				if n := h.runOnce(d); n != 0 {
					t.Fatalf("claimed before due after attempt %d", i+1)
				}
				h.clk.Add(time.Millisecond)
			}
		}
		if n := h.runOnce(d); n != 1 {
			t.Fatal("eighth attempt not made")
		}
		if del := h.delivery(ev, ep); del.State != store.DeliveryDead || del.Attempts != 8 {
			t.Fatalf("after the schedule: %+v", del)
		}
		if got := len(rc.requests()); got != 8 {
			t.Fatalf("receiver got %d attempts, want 8", got)
		}
		atts, _ := h.st.ListWebhookAttempts(t.Context(), h.tenant.ID, ep.ID, "", 100)
		if len(atts) != 8 || string(atts[0].Response) != "down\n" || atts[0].Status != 500 {
			t.Fatalf("attempt log: %d entries, first %+v", len(atts), atts[0])
		}
	})
}

func TestGoneDisablesAndEmits(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusGone) })
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		h.publish(h.event("AWB1"))
		h.runOnce(h.dispatcher(nil))
		got, _ := h.st.WebhookEndpointByID(t.Context(), ep.ID)
		if got.Enabled || !strings.Contains(got.DisabledReason, "410") {
			t.Fatalf("after 410: %+v", got)
		}
		if len(h.events) != 1 || h.events[0].Type != events.WebhookEndpointDisabled || h.events[0].Subject != ep.ID {
			t.Fatalf("emitted %+v", h.events)
		}
	})
}

func TestRedirectNotFollowed(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		target := newReceiver(t, nil)
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		})
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		ev := h.event("AWB1")
		h.publish(ev)
		h.runOnce(h.dispatcher(nil))
		if len(target.requests()) != 0 {
			t.Fatal("the redirect was followed")
		}
		if del := h.delivery(ev, ep); del.State != store.DeliveryPending || del.LastStatus != 307 || !strings.Contains(del.LastError, "redirect") {
			t.Fatalf("after a 307: %+v", del)
		}
	})
}

func TestRetryAfterRespected(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		ev := h.event("AWB1")
		h.publish(ev)
		d := h.dispatcher(nil)
		h.runOnce(d)
		if del := h.delivery(ev, ep); !del.NextAttemptAt.Equal(h.clk.Now().Add(120 * time.Second)) {
			t.Fatalf("after Retry-After 120: due in %v", del.NextAttemptAt.Sub(h.clk.Now()))
		}
		// A huge Retry-After is capped; a 429 waits at least the slow-down floor.
		rc.answer = func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Retry-After", "999999")
			w.WriteHeader(http.StatusTooManyRequests)
		}
		h.clk.Add(120 * time.Second)
		h.runOnce(d)
		if del := h.delivery(ev, ep); !del.NextAttemptAt.Equal(h.clk.Now().Add(time.Hour)) {
			t.Fatalf("Retry-After not capped at 1h: due in %v", del.NextAttemptAt.Sub(h.clk.Now()))
		}
		rc.answer = func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusBadGateway) }
		h.clk.Add(time.Hour)
		h.runOnce(d)
		if del := h.delivery(ev, ep); !del.NextAttemptAt.Equal(h.clk.Now().Add(30 * time.Minute)) {
			t.Fatalf("502 on attempt 3: due in %v, want the schedule's 30m (above the 30s floor)", del.NextAttemptAt.Sub(h.clk.Now()))
		}
	})
}

func TestSlowReceiverTimesOut(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		release := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush() // headers arrive; the body never ends
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		defer close(release)
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		ev := h.event("AWB1")
		h.publish(ev)
		h.runOnce(h.dispatcher(func(c *webhooks.Config) { c.Timeout = 300 * time.Millisecond; c.Lease = time.Minute }))
		del := h.delivery(ev, ep)
		if del.State != store.DeliveryPending || !strings.Contains(del.LastError, "reading the answer") {
			t.Fatalf("after a body that never ends: %+v", del)
		}
		if !del.NextAttemptAt.Equal(h.clk.Now().Add(30 * time.Second)) {
			t.Fatalf("a timeout waits the slow-down floor; due in %v", del.NextAttemptAt.Sub(h.clk.Now()))
		}
	})
}

func TestFailingPeriodDisables(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(500) })
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		d := h.dispatcher(func(c *webhooks.Config) { c.FailingPeriod = time.Hour })
		for i := range 3 {
			h.publish(h.event(fmt.Sprint("AWB", i)))
			h.runOnce(d)
			h.clk.Add(40 * time.Minute)
		}
		// Failing since t0; the attempt at t0+80m is past the hour.
		got, _ := h.st.WebhookEndpointByID(t.Context(), ep.ID)
		if got.Enabled {
			t.Fatalf("still enabled after failing for 80 minutes: %+v", got)
		}
		if len(h.events) != 1 {
			t.Fatalf("emitted %d events", len(h.events))
		}
		var data events.EndpointDisabled
		if err := json.Unmarshal(h.events[0].Data, &data); err != nil || data.EndpointID != ep.ID || data.LastError == "" || data.URL != rc.URL {
			t.Fatalf("event data %s: %v", h.events[0].Data, err)
		}
		// A success in between resets the clock.
		rc2 := newReceiver(t, nil)
		ep2 := h.endpoint(store.WebhookEndpoint{URL: rc2.URL})
		for i := range 4 {
			if i == 1 {
				rc2.answer = func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(500) }
			}
			h.publish(h.event(fmt.Sprint("X", i)))
			h.runOnce(d)
			h.clk.Add(25 * time.Minute)
		}
		if got, _ := h.st.WebhookEndpointByID(t.Context(), ep2.ID); !got.Enabled {
			t.Fatalf("disabled after 75 minutes of which 50 failing")
		}
	})
}

func TestRateLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, nil)
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL, RateLimit: 3})
		for i := range 10 {
			h.publish(h.event(fmt.Sprint("AWB", i)))
		}
		d := h.dispatcher(nil)
		h.runOnce(d)
		if got := len(rc.requests()); got != 3 {
			t.Fatalf("sent %d in the first instant, want the bucket's 3", got)
		}
		for range 3 {
			h.runOnce(d) // nothing is due until the clock moves
		}
		if got := len(rc.requests()); got != 3 {
			t.Fatalf("sent %d without the clock moving", got)
		}
		h.clk.Add(time.Second)
		h.runOnce(d)
		if got := len(rc.requests()); got != 6 {
			t.Fatalf("sent %d after one second, want 6", got)
		}
		h.clk.Add(5 * time.Second)
		h.runOnce(d)
		if got := len(rc.requests()); got != 9 {
			t.Fatalf("sent %d after six seconds, want 9: the bucket holds one second's worth", got)
		}
		h.clk.Add(time.Second)
		h.runOnce(d)
		if got := len(rc.requests()); got != 10 {
			t.Fatalf("sent %d after seven seconds, want 10", got)
		}
		if n, _ := h.st.CountWebhookDeliveries(t.Context(), ep.ID, store.DeliverySucceeded); n != 10 {
			t.Fatalf("%d succeeded", n)
		}
	})
}

func TestOrderedPerSubject(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		a1, a2, b1 := h.event("A"), h.event("A"), h.event("B")
		a2.ID = a1.ID + "x"
		var failed atomic.Bool
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			if r.Header.Get("webhook-id") == a1.ID && !failed.Swap(true) {
				w.WriteHeader(500) // a1's first attempt fails
				return
			}
			w.WriteHeader(200)
		})
		h.endpoint(store.WebhookEndpoint{URL: rc.URL, Ordered: true})
		h.publish(a1, a2)
		h.publish(b1)
		d := h.dispatcher(nil)
		h.runOnce(d) // a1 fails, b1 succeeds; a2 waits behind a1
		h.runOnce(d)
		var order []string
		for _, r := range rc.requests() {
			order = append(order, r.header.Get("webhook-id"))
		}
		for _, id := range order {
			if id == a2.ID {
				t.Fatalf("a2 sent while a1 was pending: %v", order)
			}
		}
		h.clk.Add(10 * time.Second)
		h.runOnce(d) // a1 succeeds
		h.runOnce(d) // then a2
		order = order[:0]
		for _, r := range rc.requests() {
			order = append(order, r.header.Get("webhook-id"))
		}
		if len(order) != 4 || order[2] != a1.ID || order[3] != a2.ID || (order[0] != b1.ID && order[1] != b1.ID) {
			t.Fatalf("order %v, want a1 retried then a2 last", order)
		}
	})
}

func TestSSRFRefusedAtDialTime(t *testing.T) {
	rc := newReceiver(t, nil)
	port := rc.URL[strings.LastIndex(rc.URL, ":")+1:]
	for _, tc := range []struct {
		url   string
		allow []string
	}{
		{"http://10.0.0.1/hook", nil},
		{"http://169.254.169.254/latest/meta-data/", nil},
		{"http://localhost:" + port + "/", nil},
		{"http://[::ffff:127.0.0.1]:" + port + "/", nil},
		{"http://100.64.0.1/", []string{"127.0.0.1"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			h := newHarness(t, openSQLite)
			ep := h.endpoint(store.WebhookEndpoint{URL: tc.url})
			ev := h.event("AWB1")
			h.publish(ev)
			h.runOnce(h.dispatcher(func(c *webhooks.Config) { c.AllowList = tc.allow }))
			del := h.delivery(ev, ep)
			if !strings.Contains(del.LastError, "SSRF guard") || del.LastStatus != 0 {
				t.Fatalf("delivery to %s: %+v", tc.url, del)
			}
		})
	}
	// With the allow-list naming it, the same name goes through.
	h := newHarness(t, openSQLite)
	ep := h.endpoint(store.WebhookEndpoint{URL: "http://localhost:" + port + "/"})
	ev := h.event("AWB1")
	h.publish(ev)
	h.runOnce(h.dispatcher(func(c *webhooks.Config) { c.AllowList = []string{"127.0.0.0/8", "::1"} }))
	if del := h.delivery(ev, ep); del.State != store.DeliverySucceeded {
		t.Fatalf("allow-listed delivery: %+v", del)
	}
}

func TestBlockedRanges(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
		"0.0.0.0", "::", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "224.0.0.1", "ff02::1", "::ffff:10.0.0.1",
		"64:ff9b::a9fe:a9fe", "2002:7f00:1::", "255.255.255.255"} {
		if egress.Classify(netip.MustParseAddr(ip)) == "" {
			t.Errorf("%s is not blocked", ip)
		}
	}
	for _, ip := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"} {
		if why := egress.Classify(netip.MustParseAddr(ip)); why != "" {
			t.Errorf("%s blocked: %s", ip, why)
		}
	}
	if _, err := webhooks.NewGuard([]string{"not an entry"}, 0); err == nil {
		t.Error("a bad allow-list entry was accepted")
	}
	g, _ := webhooks.NewGuard([]string{"10.0.0.0/8", "192.168.1.1:8443"}, 0)
	if err := g.Allowed(netip.MustParseAddrPort("10.9.9.9:443")); err != nil {
		t.Error(err)
	}
	if err := g.Allowed(netip.MustParseAddrPort("192.168.1.1:80")); !errors.Is(err, webhooks.ErrBlockedAddress) {
		t.Errorf("address:port entry allowed another port: %v", err)
	}
}

func TestReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		rc := newReceiver(t, nil)
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		start := h.clk.Now()
		var evs []events.Event
		for i := range 12 {
			ev := h.event(fmt.Sprint("AWB", i))
			evs = append(evs, ev)
			h.publish(ev)
			h.clk.Add(time.Second)
		}
		d := h.dispatcher(nil)
		h.runOnce(d)
		if got := len(rc.requests()); got != 12 {
			t.Fatalf("sent %d", got)
		}
		var calls [][2]int64
		n, err := webhooks.Replay(t.Context(), h.st, h.tenant.ID, ep.ID, start.Add(2*time.Second), start.Add(10*time.Second), h.clk.Now(),
			func(done, total int64) { calls = append(calls, [2]int64{done, total}) })
		if err != nil || n != 8 {
			t.Fatalf("Replay = %d, %v; want 8", n, err)
		}
		if last := calls[len(calls)-1]; last != [2]int64{8, 8} {
			t.Fatalf("progress %v", calls)
		}
		h.runOnce(d)
		got := rc.requests()
		if len(got) != 20 {
			t.Fatalf("after replay: %d requests, want 20", len(got))
		}
		again := map[string]bool{}
		for _, r := range got[12:] {
			again[r.header.Get("webhook-id")] = true
		}
		for i, ev := range evs {
			if again[ev.ID] != (i >= 2 && i < 10) {
				t.Errorf("event %d replayed: %v", i, again[ev.ID])
			}
		}
	})
}

func TestFanoutFilters(t *testing.T) {
	h := newHarness(t, openSQLite)
	all := h.endpoint(store.WebhookEndpoint{URL: "https://a.example.com"})
	ship := h.endpoint(store.WebhookEndpoint{URL: "https://b.example.com", EventTypes: []string{"shipment.*"}})
	del := h.endpoint(store.WebhookEndpoint{URL: "https://c.example.com", EventTypes: []string{"tracking.updated"},
		Filter: map[string]json.RawMessage{"connector": json.RawMessage(`"delhivery"`), "/data/status": json.RawMessage(`"in_transit"`)}})
	other := h.endpoint(store.WebhookEndpoint{URL: "https://d.example.com", Filter: map[string]json.RawMessage{"connector": json.RawMessage(`"bluedart"`)}})
	ev := h.event("AWB1")
	h.publish(ev)
	for ep, want := range map[string]bool{all.ID: true, ship.ID: false, del.ID: true, other.ID: false} {
		_, err := h.st.GetWebhookDelivery(t.Context(), ev.ID, ep)
		if (err == nil) != want {
			t.Errorf("endpoint %s: delivery exists %v, want %v", ep, err == nil, want)
		}
	}
	if !webhooks.TypeMatches([]string{"shipment.*"}, "shipment.created") || webhooks.TypeMatches([]string{"shipment.*"}, "shipments.x") {
		t.Error("family pattern")
	}
}

func TestRunDeliversAndStopsCleanly(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		release := make(chan struct{})
		var calls atomic.Int64
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			if calls.Add(1) > 5 {
				select { // hold the rest until the dispatcher stops
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			w.WriteHeader(204)
		})
		defer close(release)
		ep := h.endpoint(store.WebhookEndpoint{URL: rc.URL})
		var evs []events.Event
		for i := range 8 {
			evs = append(evs, h.event(fmt.Sprint("AWB", i)))
		}
		// Five deliveries are answered and recorded first; only then come the
		// three the receiver holds until the stop, so no answered delivery is
		// still on its way back when the dispatcher stops (a loaded machine).
		h.publish(evs[:5]...)
		d := h.dispatcher(func(c *webhooks.Config) { c.Loops = 2; c.BatchSize = 4; c.Idle = time.Millisecond })
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		for {
			n, err := h.st.CountWebhookDeliveries(t.Context(), ep.ID, store.DeliverySucceeded)
			if err != nil {
				t.Fatal(err)
			}
			if n == 5 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		h.publish(evs[5:]...)
		for calls.Load() < 8 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ok, _ := h.st.CountWebhookDeliveries(t.Context(), ep.ID, store.DeliverySucceeded)
		pending, _ := h.st.CountWebhookDeliveries(t.Context(), ep.ID, store.DeliveryPending)
		if ok != 5 || pending != 3 {
			t.Fatalf("after stopping: %d succeeded, %d pending; want 5 and 3", ok, pending)
		}
		for _, ev := range evs {
			if del := h.delivery(ev, ep); del.State == store.DeliveryPending && (del.Attempts != 0 || del.LeaseOwner != "") {
				t.Fatalf("a delivery cut off by the stop counts an attempt or keeps its lease: %+v", del)
			}
		}
	})
}
