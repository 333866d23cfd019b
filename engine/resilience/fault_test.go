package resilience

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/simulator/faultcarrier"
)

// carrierClient performs the HTTP call of one attempt and classifies the outcome
// the way a connector's transport does: 5xx → carrier_unavailable, 429 →
// rate_limited with RetryAfter, deadline → timeout, connection refused → NotSent.
type carrierClient struct {
	http     *http.Client
	attempts atomic.Int64
}

// newCarrierClient returns a client without keep-alives: net/http's Transport
// silently replays a GET once when a reused connection breaks, which would blur
// the request counts these tests assert.
func newCarrierClient(t testing.TB) *carrierClient {
	c := &carrierClient{http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

func (c *carrierClient) track(base string) Func {
	return c.fn(http.MethodGet, func() string { return base + "/track/AWB123" })
}

func (c *carrierClient) create(base func() string) Func {
	return c.fn(http.MethodPost, func() string { return base() + "/shipments" })
}

func (c *carrierClient) fn(method string, url func() string) Func {
	return func(ctx context.Context) ([]byte, error) {
		c.attempts.Add(1)
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"reference":"R1"}`)
		}
		req, err := http.NewRequestWithContext(ctx, method, url(), body)
		if err != nil {
			return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: err.Error(), NotSent: true}
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, classifyTransport(ctx, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, classifyTransport(ctx, err)
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			e := sdk.CarrierError(sdk.CodeRateLimited, "429", string(data))
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				e.RetryAfter = time.Duration(secs) * time.Second
			}
			return nil, e
		case resp.StatusCode >= 500:
			return nil, sdk.CarrierError(sdk.CodeCarrierUnavailable, strconv.Itoa(resp.StatusCode), string(data))
		case resp.StatusCode >= 400:
			return nil, sdk.CarrierError(sdk.CodeInvalidRequest, strconv.Itoa(resp.StatusCode), string(data))
		}
		return data, nil
	}
}

func classifyTransport(ctx context.Context, err error) *sdk.Error {
	switch {
	case ctx.Err() != nil:
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: "no answer before the deadline"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "connection refused", NotSent: true}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "transport: " + err.Error()}
}

func startCarrier(t testing.TB) *faultcarrier.Server {
	s := faultcarrier.Start()
	t.Cleanup(s.Close)
	return s
}

// waitFor polls cond until it holds; it fails the test after a generous bound.
// Only states are asserted, never how long they took.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func breakerState(e *Executor) BreakerState {
	h, _ := e.Snapshot("acme")
	if len(h.Accounts) == 0 {
		return ""
	}
	return h.Accounts[0].Breaker
}

func TestFaultBreakerOpensHalfOpensAndCloses(t *testing.T) {
	s := startCarrier(t)
	client := newCarrierClient(t)
	e, rec := newTestExecutor()
	mod := func(p *Policy) { p.MaxAttempts, p.BreakerFailures, p.BreakerOpenFor = 1, 5, 50*time.Millisecond }
	call := func() error {
		_, err := e.Do(context.Background(), trackCall(mod), client.track(s.URL))
		return err
	}
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeError})
	for i := range 5 {
		if err := call(); err == nil || err.(*sdk.Error).Source != sdk.SourceCarrier {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := s.Carrier.Total(); got != 5 {
		t.Fatalf("the fake saw %d requests, want 5", got)
	}
	// Open: calls fail fast and the fake's count stays put.
	for range 20 {
		err := call()
		if se, _ := err.(*sdk.Error); se == nil || se.Source != sdk.SourceHub || se.Code != sdk.CodeCarrierUnavailable {
			// The open period may already have ended on a slow machine; that is a
			// half-open probe, which the next assertions cover.
			if breakerState(e) == BreakerOpen {
				t.Fatalf("open breaker answered %v", err)
			}
			break
		}
	}
	if got := s.Carrier.Total(); got > 6 {
		t.Fatalf("the fake saw %d requests while the breaker was open", got)
	}
	// Half-open with the fault still on: the probe fails and the breaker reopens.
	waitFor(t, "half-open", func() bool { return breakerState(e) == BreakerHalfOpen })
	before := s.Carrier.Total()
	if err := call(); err == nil {
		t.Fatal("the probe succeeded against a failing carrier")
	}
	if s.Carrier.Total() != before+1 || breakerState(e) != BreakerOpen {
		t.Fatalf("after a failed probe: fake %d (was %d), breaker %s", s.Carrier.Total(), before, breakerState(e))
	}
	// Recovery: the next probe succeeds and closes the breaker.
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeOK})
	waitFor(t, "half-open again", func() bool { return breakerState(e) == BreakerHalfOpen })
	if err := call(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if breakerState(e) != BreakerClosed {
		t.Fatalf("breaker %s after a successful probe", breakerState(e))
	}
	for range 5 {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	tr := strings.Join(rec.snapshot().transitions, " ")
	if !strings.HasPrefix(tr, "closed>open open>half_open half_open>open") || !strings.HasSuffix(tr, "open>half_open half_open>closed") {
		t.Fatalf("transitions %s", tr)
	}
}

func TestFaultStormAmplification(t *testing.T) {
	const calls, workers = 1000, 20
	run := func(t *testing.T, mod func(*Policy)) (received int64, rec recorder) {
		s := startCarrier(t)
		s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeError})
		client := newCarrierClient(t)
		e, r := newTestExecutor(func(o *Options) { o.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() } })
		var wg sync.WaitGroup
		jobs := make(chan struct{})
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					if _, err := e.Do(context.Background(), trackCall(mod), client.track(s.URL)); err == nil {
						t.Error("a call succeeded in a 100% storm")
					}
				}
			}()
		}
		for range calls {
			jobs <- struct{}{}
		}
		close(jobs)
		wg.Wait()
		return s.Carrier.Total(), r.snapshot()
	}
	t.Run("breaker and budget", func(t *testing.T) {
		received, rec := run(t, nil)
		t.Logf("%d calls: the fake received %d requests (%.3fx); %d retries, %d refused by the budget",
			calls, received, float64(received)/calls, rec.retries, rec.refused)
		if received > calls*12/10 {
			t.Fatalf("the fake received %d requests for %d calls", received, calls)
		}
	})
	t.Run("budget alone", func(t *testing.T) {
		received, rec := run(t, func(p *Policy) { p.BreakerFailures, p.BreakerMinRequests = 1<<30, 1<<30 })
		t.Logf("%d calls: the fake received %d requests (%.3fx); %d retries, %d refused by the budget",
			calls, received, float64(received)/calls, rec.retries, rec.refused)
		if limit := int64(calls + calls*DefaultRetryBudgetRatio + DefaultRetryBudgetFloor); received > limit {
			t.Fatalf("the fake received %d requests for %d calls; the budget allows %d", received, calls, limit)
		}
	})
}

func TestFaultRetryAfterRespected(t *testing.T) {
	s := startCarrier(t)
	client := newCarrierClient(t)
	e, rec := newTestExecutor()
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeRateLimit, RetryAfter: 2 * time.Second})
	_, err := e.Do(context.Background(), trackCall(nil), client.track(s.URL))
	if se, _ := err.(*sdk.Error); se == nil || se.Code != sdk.CodeRateLimited || se.RetryAfter != 2*time.Second {
		t.Fatalf("got %v", err)
	}
	sleeps := rec.snapshot().sleeps
	if s.Carrier.Total() != 3 || len(sleeps) != 2 {
		t.Fatalf("fake saw %d, slept %v", s.Carrier.Total(), sleeps)
	}
	for _, d := range sleeps {
		if d < 2*time.Second {
			t.Fatalf("retried after %v, before the carrier's Retry-After", d)
		}
	}
	// A Retry-After beyond the cap is handed to the caller without waiting.
	s.Carrier.ResetCounts()
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeRateLimit, RetryAfter: time.Minute})
	_, err = e.Do(context.Background(), trackCall(nil), client.track(s.URL))
	if se, _ := err.(*sdk.Error); se == nil || se.RetryAfter != time.Minute || s.Carrier.Total() != 1 {
		t.Fatalf("got %v after %d requests", err, s.Carrier.Total())
	}
}

func TestFaultCreateRetriedOnlyWhenSafe(t *testing.T) {
	s := startCarrier(t)
	client := newCarrierClient(t)
	e, _ := newTestExecutor()
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeError})
	base := func() string { return s.URL }
	if _, err := e.Do(context.Background(), createCall(nil), client.create(base)); err == nil {
		t.Fatal("create succeeded in a storm")
	}
	if got := s.Carrier.Count(faultcarrier.PathShipments); got != 1 {
		t.Fatalf("a create without a key reached the carrier %d times", got)
	}
	keyed := createCall(nil)
	keyed.RetrySafe = true
	_, _ = e.Do(context.Background(), keyed, client.create(base))
	if got := s.Carrier.Count(faultcarrier.PathShipments); got != 1+3 {
		t.Fatalf("a keyed create reached the carrier %d times in all, want 1+3", got)
	}

	// NotSent: the first attempt finds nothing listening; the retry reaches the
	// carrier once. (A fresh executor: the storm above has nearly opened the breaker.)
	e, _ = newTestExecutor()
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeOK})
	s.Carrier.ResetCounts()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	var tries atomic.Int64
	flaky := func() string {
		if tries.Add(1) == 1 {
			return dead
		}
		return s.URL
	}
	out, err := e.Do(context.Background(), createCall(nil), client.create(flaky))
	if err != nil || !strings.Contains(string(out), "tracking_number") {
		t.Fatalf("create after a refused connection: %s %v", out, err)
	}
	if tries.Load() != 2 || s.Carrier.Count(faultcarrier.PathShipments) != 1 {
		t.Fatalf("tries %d, carrier saw %d", tries.Load(), s.Carrier.Count(faultcarrier.PathShipments))
	}
}

func TestFaultHangTimesOutAndCounts(t *testing.T) {
	s := startCarrier(t)
	client := newCarrierClient(t)
	e, _ := newTestExecutor()
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeHang})
	_, err := e.Do(context.Background(), trackCall(func(p *Policy) { p.Timeout = 50 * time.Millisecond }), client.track(s.URL))
	if se, _ := err.(*sdk.Error); se == nil || se.Code != sdk.CodeTimeout {
		t.Fatalf("got %v", err)
	}
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.Failures != 1 || s.Carrier.Total() != 1 {
		t.Fatalf("failures %d, fake saw %d", a.Failures, s.Carrier.Total())
	}

	// The caller giving up is not the carrier's fault.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for s.Carrier.Total() < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = e.Do(ctx, trackCall(nil), client.track(s.URL))
	if err == nil {
		t.Fatal("a cancelled call succeeded")
	}
	h, _ = e.Snapshot("acme")
	if a := h.Accounts[0]; a.Failures != 1 || a.Breaker != BreakerClosed {
		t.Fatalf("after a caller cancellation: %+v", a)
	}
}

func TestFaultDribbleWithinAndBeyondDeadline(t *testing.T) {
	s := startCarrier(t)
	client := newCarrierClient(t)
	e, _ := newTestExecutor()
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeDribble, Delay: time.Millisecond})
	if out, err := e.Do(context.Background(), trackCall(nil), client.track(s.URL)); err != nil || !strings.Contains(string(out), "DRIBBLE") {
		t.Fatalf("slow but in time: %s %v", out, err)
	}
	s.Carrier.SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeDribble, Delay: time.Second})
	_, err := e.Do(context.Background(), trackCall(func(p *Policy) { p.Timeout = 50 * time.Millisecond }), client.track(s.URL))
	if se, _ := err.(*sdk.Error); se == nil || se.Code != sdk.CodeTimeout {
		t.Fatalf("dribble past the deadline: %v", err)
	}
}
