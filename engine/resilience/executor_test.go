package resilience

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// recorder is an Observer and a sleeper that records what the executor did.
type recorder struct {
	NopObserver
	mu          sync.Mutex
	sleeps      []time.Duration
	retries     int
	refused     int
	transitions []string
	rateRejects int
	rateWaits   int
	bulkRejects int
	done        int
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.sleeps = append(r.sleeps, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recorder) Retry(string, string, sdk.Operation, int, sdk.Code, time.Duration) {
	r.mu.Lock()
	r.retries++
	r.mu.Unlock()
}

func (r *recorder) RetryRefused(string, string, sdk.Operation, sdk.Code) {
	r.mu.Lock()
	r.refused++
	r.mu.Unlock()
}

func (r *recorder) BreakerChange(_, _ string, from, to BreakerState) {
	r.mu.Lock()
	r.transitions = append(r.transitions, string(from)+">"+string(to))
	r.mu.Unlock()
}

func (r *recorder) RateLimitReject(string, string, time.Duration) {
	r.mu.Lock()
	r.rateRejects++
	r.mu.Unlock()
}

func (r *recorder) RateLimitWait(string, string, time.Duration) {
	r.mu.Lock()
	r.rateWaits++
	r.mu.Unlock()
}

func (r *recorder) BulkheadReject(string, int, int) {
	r.mu.Lock()
	r.bulkRejects++
	r.mu.Unlock()
}

func (r *recorder) CallDone(string, string, sdk.Operation, *sdk.Error, int) {
	r.mu.Lock()
	r.done++
	r.mu.Unlock()
}

func (r *recorder) snapshot() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{sleeps: append([]time.Duration(nil), r.sleeps...), retries: r.retries, refused: r.refused,
		transitions: append([]string(nil), r.transitions...), rateRejects: r.rateRejects, rateWaits: r.rateWaits,
		bulkRejects: r.bulkRejects, done: r.done}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newTestExecutor returns an executor whose sleeps are recorded, not slept, and
// whose jitter always picks the ceiling.
func newTestExecutor(opts ...func(*Options)) (*Executor, *recorder) {
	rec := &recorder{}
	o := Options{Logger: quiet, Observer: rec, Sleep: rec.sleep, Jitter: func(c time.Duration) time.Duration { return c }}
	for _, f := range opts {
		f(&o)
	}
	return NewExecutor(o), rec
}

func policy(mod func(*Policy)) Policy {
	p := DefaultPolicy()
	if mod != nil {
		mod(&p)
	}
	return p
}

func trackCall(mod func(*Policy)) Call {
	return Call{Connector: "acme", Account: "acct1", Operation: sdk.OpTrack, Policy: policy(mod), RetrySafe: true}
}

func createCall(mod func(*Policy)) Call {
	return Call{Connector: "acme", Account: "acct1", Operation: sdk.OpCreateShipment, Policy: policy(mod)}
}

// script returns a Func answering with errs in turn (nil meaning success), and a counter of calls.
func script(errs ...error) (Func, *atomic.Int64) {
	var n atomic.Int64
	return func(ctx context.Context) ([]byte, error) {
		i := int(n.Add(1)) - 1
		if i < len(errs) && errs[i] != nil {
			return nil, errs[i]
		}
		if i >= len(errs) && len(errs) > 0 && errs[len(errs)-1] != nil {
			return nil, errs[len(errs)-1]
		}
		return []byte(`{"ok":true}`), nil
	}, &n
}

func unavailable() *sdk.Error {
	return sdk.CarrierError(sdk.CodeCarrierUnavailable, "503", "upstream busy")
}

func TestSuccessIsNotRetried(t *testing.T) {
	e, rec := newTestExecutor()
	fn, n := script(nil)
	out, err := e.Do(context.Background(), trackCall(nil), fn)
	if err != nil || string(out) != `{"ok":true}` || n.Load() != 1 || len(rec.snapshot().sleeps) != 0 {
		t.Fatalf("out %s err %v calls %d", out, err, n.Load())
	}
}

func TestIdempotentRetriedWithCappedBackoff(t *testing.T) {
	e, rec := newTestExecutor()
	fn, n := script(unavailable(), unavailable(), nil)
	_, err := e.Do(context.Background(), trackCall(func(p *Policy) {
		p.MaxAttempts, p.BackoffBase, p.BackoffCap = 3, 100*time.Millisecond, 150*time.Millisecond
	}), fn)
	if err != nil || n.Load() != 3 {
		t.Fatalf("err %v calls %d", err, n.Load())
	}
	s := rec.snapshot()
	// Full jitter picks in [0, min(cap, base*2^n)]; the test's jitter picks the ceiling.
	if len(s.sleeps) != 2 || s.sleeps[0] != 100*time.Millisecond || s.sleeps[1] != 150*time.Millisecond || s.retries != 2 {
		t.Fatalf("sleeps %v retries %d", s.sleeps, s.retries)
	}
}

func TestFullJitterStaysInRange(t *testing.T) {
	for range 1000 {
		if d := fullJitter(10 * time.Millisecond); d < 0 || d > 10*time.Millisecond {
			t.Fatalf("jitter %v outside [0, 10ms]", d)
		}
	}
	if fullJitter(0) != 0 {
		t.Fatal("jitter of zero")
	}
}

func TestFinalErrorIsTheLastAttemptsIntact(t *testing.T) {
	e, _ := newTestExecutor()
	first, last := unavailable(), sdk.CarrierError(sdk.CodeCarrierUnavailable, "E502", "gateway down")
	fn, n := script(first, first, last)
	_, err := e.Do(context.Background(), trackCall(nil), fn)
	if err != last || n.Load() != 3 {
		t.Fatalf("got %#v after %d calls, want the last attempt's error itself", err, n.Load())
	}
}

func TestRetryRules(t *testing.T) {
	notSent := &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "connection refused", NotSent: true}
	cases := []struct {
		name  string
		call  Call
		err   error
		calls int64
	}{
		{"create without key is not retried on 5xx", createCall(nil), unavailable(), 1},
		{"create without key is retried when not sent", createCall(nil), notSent, 3},
		{"create with key is retried", func() Call { c := createCall(nil); c.RetrySafe = true; return c }(), unavailable(), 3},
		{"invalid request is not retried", trackCall(nil), sdk.InvalidField("/a", "bad"), 1},
		{"auth failure is not retried", trackCall(nil), sdk.CarrierError(sdk.CodeAuthFailed, "401", "no"), 1},
		{"timeout is retried", trackCall(nil), &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector}, 3},
		{"a plain error is internal and not retried", trackCall(nil), errors.New("boom"), 1},
		{"max attempts 1 disables retries", trackCall(func(p *Policy) { p.MaxAttempts = 1 }), unavailable(), 1},
		{"backoff past the deadline is not slept", trackCall(func(p *Policy) { p.Timeout, p.BackoffBase = 50*time.Millisecond, time.Second }), unavailable(), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newTestExecutor()
			fn, n := script(tc.err)
			_, err := e.Do(context.Background(), tc.call, fn)
			if err == nil || n.Load() != tc.calls {
				t.Fatalf("err %v after %d calls, want %d calls", err, n.Load(), tc.calls)
			}
			var se *sdk.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *sdk.Error", err)
			}
		})
	}
}

func TestRetryAfterHonouredUpToCap(t *testing.T) {
	e, rec := newTestExecutor()
	limited := func(d time.Duration) *sdk.Error {
		err := sdk.CarrierError(sdk.CodeRateLimited, "429", "slow down")
		err.RetryAfter = d
		return err
	}
	fn, n := script(limited(2*time.Second), nil)
	if _, err := e.Do(context.Background(), trackCall(nil), fn); err != nil || n.Load() != 2 {
		t.Fatalf("err %v calls %d", err, n.Load())
	}
	if s := rec.snapshot().sleeps; len(s) != 1 || s[0] != 2*time.Second {
		t.Fatalf("slept %v, want exactly the Retry-After", s)
	}
	long := limited(30 * time.Second)
	fn, n = script(long, nil)
	_, err := e.Do(context.Background(), trackCall(nil), fn)
	if err != long || n.Load() != 1 || err.(*sdk.Error).RetryAfter != 30*time.Second {
		t.Fatalf("a Retry-After beyond the cap: err %v calls %d", err, n.Load())
	}
}

func TestRetryBudgetCapsRetries(t *testing.T) {
	e, rec := newTestExecutor()
	const calls = 200
	fn, n := script(unavailable())
	mod := func(p *Policy) {
		p.RetryBudgetRatio, p.RetryBudgetFloor = 0.1, 3
		p.BreakerFailures, p.BreakerMinRequests = 1<<30, 1<<30 // keep the breaker out of it
	}
	for range calls {
		if _, err := e.Do(context.Background(), trackCall(mod), fn); err == nil {
			t.Fatal("a failing call succeeded")
		}
	}
	s := rec.snapshot()
	if max := int64(calls + calls/10 + 3); n.Load() > max {
		t.Fatalf("%d attempts for %d calls, budget allows %d", n.Load(), calls, max)
	}
	if s.refused == 0 || s.retries == 0 {
		t.Fatalf("retries %d refused %d", s.retries, s.refused)
	}
	h, _ := e.Snapshot("acme")
	if h.RetryBudget.Requests != calls || h.RetryBudget.Retries != s.retries || h.RetryBudget.Refused != s.refused {
		t.Fatalf("budget health %+v, recorder retries %d refused %d", h.RetryBudget, s.retries, s.refused)
	}
	t.Logf("%d calls, %d attempts, %d retries, %d refused", calls, n.Load(), s.retries, s.refused)
}

func TestBudgetWindowSlides(t *testing.T) {
	b := newBudget(10 * time.Second)
	t0 := time.Unix(1000, 0)
	for range 10 {
		b.request(t0, 0.1, 0)
	}
	if !b.tryRetry(t0, 0.1, 0) || b.tryRetry(t0, 0.1, 0) {
		t.Fatal("10 requests at ratio 0.1 should allow exactly one retry")
	}
	later := t0.Add(11 * time.Second)
	if b.tryRetry(later, 0.1, 0) {
		t.Fatal("requests older than the window still count")
	}
	if h := b.stats(later); h.Requests != 0 || h.Retries != 0 || h.Refused != 1 {
		t.Fatalf("stats %+v", h)
	}
}

func TestBreakerOpensAndFailsFast(t *testing.T) {
	e, rec := newTestExecutor()
	fn, n := script(unavailable())
	mod := func(p *Policy) { p.MaxAttempts, p.BreakerFailures, p.BreakerOpenFor = 1, 3, time.Hour }
	for range 3 {
		_, _ = e.Do(context.Background(), trackCall(mod), fn)
	}
	for range 10 {
		_, err := e.Do(context.Background(), trackCall(mod), fn)
		se := err.(*sdk.Error)
		if se.Code != sdk.CodeCarrierUnavailable || se.Source != sdk.SourceHub || !se.NotSent || se.RetryAfter <= 0 || se.RetryAfter > time.Hour {
			t.Fatalf("open breaker answered %#v", se)
		}
	}
	if n.Load() != 3 {
		t.Fatalf("fn ran %d times, want 3 (the breaker opens at the third failure)", n.Load())
	}
	h, _ := e.Snapshot("acme")
	if len(h.Accounts) != 1 || h.Accounts[0].Breaker != BreakerOpen || h.Accounts[0].OpenRemaining <= 0 ||
		h.Accounts[0].Rejected != 10 || h.Accounts[0].Failures != 3 || h.Accounts[0].ErrorRate != 1 {
		t.Fatalf("health %+v", h)
	}
	if tr := rec.snapshot().transitions; len(tr) != 1 || tr[0] != "closed>open" {
		t.Fatalf("transitions %v", tr)
	}
}

func TestBreakerOpensOnFailureRatio(t *testing.T) {
	e, _ := newTestExecutor()
	mod := func(p *Policy) {
		p.MaxAttempts, p.BreakerFailures, p.BreakerMinRequests, p.BreakerFailureRatio = 1, 100, 10, 0.5
	}
	ok, _ := script(nil)
	bad, _ := script(unavailable())
	for i := range 10 { // alternate: never two failures in a row, but half fail
		f := ok
		if i%2 == 1 {
			f = bad
		}
		_, _ = e.Do(context.Background(), trackCall(mod), f)
	}
	h, _ := e.Snapshot("acme")
	if h.Accounts[0].Breaker != BreakerOpen {
		t.Fatalf("breaker %s after 5 of 10 failed", h.Accounts[0].Breaker)
	}
}

func TestClientErrorsDoNotTrip(t *testing.T) {
	e, _ := newTestExecutor()
	mod := func(p *Policy) { p.BreakerFailures = 2 }
	for _, code := range []sdk.Code{sdk.CodeInvalidRequest, sdk.CodeNotFound, sdk.CodeConflict, sdk.CodeAuthFailed, sdk.CodePermanent} {
		fn, _ := script(sdk.CarrierError(code, "4xx", "no"))
		for range 3 {
			_, _ = e.Do(context.Background(), trackCall(mod), fn)
		}
	}
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.Breaker != BreakerClosed || a.Failures != 0 || a.Requests != 15 {
		t.Fatalf("account health %+v", a)
	}
}

func TestCallerCancellationDoesNotTrip(t *testing.T) {
	e, _ := newTestExecutor()
	mod := func(p *Policy) { p.BreakerFailures = 2 }
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		go func() { <-started; cancel() }()
		_, err := e.Do(ctx, trackCall(mod), func(ctx context.Context) ([]byte, error) {
			close(started)
			<-ctx.Done()
			return nil, sdk.AsError(ctx.Err())
		})
		if err == nil {
			t.Fatal("a cancelled call succeeded")
		}
	}
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.Breaker != BreakerClosed || a.Failures != 0 || a.Requests != 0 {
		t.Fatalf("account health %+v", a)
	}
}

func TestOwnDeadlineCountsAsFailure(t *testing.T) {
	e, _ := newTestExecutor()
	mod := func(p *Policy) { p.Timeout, p.BreakerFailures = 10*time.Millisecond, 2 }
	hang := func(ctx context.Context) ([]byte, error) {
		<-ctx.Done()
		return nil, sdk.AsError(ctx.Err())
	}
	for range 2 {
		_, err := e.Do(context.Background(), trackCall(mod), hang)
		if se := err.(*sdk.Error); se.Code != sdk.CodeTimeout {
			t.Fatalf("got %v", se)
		}
	}
	if h, _ := e.Snapshot("acme"); h.Accounts[0].Breaker != BreakerOpen {
		t.Fatalf("breaker %s after two provider timeouts", h.Accounts[0].Breaker)
	}
}

func fixedClock(t time.Time) func(*Options) {
	return func(o *Options) { o.Now = func() time.Time { return t } }
}

func TestRateLimiterRejectsBeyondBurst(t *testing.T) {
	e, rec := newTestExecutor(fixedClock(time.Unix(5000, 0)))
	fn, n := script(nil)
	mod := func(p *Policy) { p.RateLimit, p.RateBurst, p.Timeout = 1, 2, 50*time.Millisecond }
	for i := range 2 {
		if _, err := e.Do(context.Background(), trackCall(mod), fn); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	_, err := e.Do(context.Background(), trackCall(mod), fn)
	se, _ := err.(*sdk.Error)
	if se == nil || se.Code != sdk.CodeRateLimited || se.Source != sdk.SourceHub || !se.NotSent || se.RetryAfter != time.Second {
		t.Fatalf("beyond burst: %#v", err)
	}
	if n.Load() != 2 || rec.snapshot().rateRejects != 1 || len(rec.snapshot().sleeps) != 0 {
		t.Fatalf("calls %d, rejects %d, sleeps %v", n.Load(), rec.snapshot().rateRejects, rec.snapshot().sleeps)
	}
	// Another account of the same connector has its own bucket.
	c := trackCall(mod)
	c.Account = "acct2"
	if _, err := e.Do(context.Background(), c, fn); err != nil {
		t.Fatalf("second account: %v", err)
	}
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.RateLimit != 1 || a.RateBurst != 2 || a.TokensAvailable != 0 {
		t.Fatalf("headroom %+v", a)
	}
	if a := h.Accounts[1]; a.Account != "acct2" || a.TokensAvailable != 1 {
		t.Fatalf("headroom %+v", a)
	}
}

// TestOperationRatesHaveTheirOwnBuckets: an operation limited more tightly than
// the rest of the connector (Delhivery's invoice API, 40 a minute) draws from its
// own bucket, and neither resets the other.
func TestOperationRatesHaveTheirOwnBuckets(t *testing.T) {
	e, _ := newTestExecutor(fixedClock(time.Unix(5000, 0)))
	fn, n := script(nil)
	tight := func(p *Policy) { p.RateLimit, p.RateBurst, p.Timeout = 40.0/60, 1, 50*time.Millisecond }
	loose := func(p *Policy) { p.RateLimit, p.RateBurst, p.Timeout = 5, 5, 50*time.Millisecond }
	invoice := trackCall(tight)
	invoice.Operation = sdk.OpRate
	if _, err := e.Do(context.Background(), invoice, fn); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := e.Do(context.Background(), trackCall(loose), fn); err != nil {
			t.Fatalf("loose call %d: %v", i, err)
		}
	}
	if _, err := e.Do(context.Background(), invoice, fn); err == nil || err.(*sdk.Error).Code != sdk.CodeRateLimited {
		t.Fatalf("the tight operation's second call in a minute: %v", err)
	}
	if n.Load() != 6 {
		t.Fatalf("%d calls reached fn, want 6", n.Load())
	}
}

func TestRateLimiterWaitsWithinDeadline(t *testing.T) {
	e, rec := newTestExecutor(fixedClock(time.Unix(5000, 0)))
	fn, n := script(nil)
	mod := func(p *Policy) { p.RateLimit, p.RateBurst, p.Timeout = 10, 1, time.Second }
	for range 2 {
		if _, err := e.Do(context.Background(), trackCall(mod), fn); err != nil {
			t.Fatal(err)
		}
	}
	s := rec.snapshot()
	if n.Load() != 2 || s.rateWaits != 1 || len(s.sleeps) != 1 || s.sleeps[0] != 100*time.Millisecond {
		t.Fatalf("calls %d waits %d sleeps %v", n.Load(), s.rateWaits, s.sleeps)
	}
}

func TestBulkheadRejectsWhenFull(t *testing.T) {
	e, rec := newTestExecutor()
	mod := func(p *Policy) { p.MaxInFlight, p.MaxQueued = 1, 1 }
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	block := func(ctx context.Context) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return []byte("{}"), nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(1)
	go func() { defer wg.Done(); _, err := e.Do(context.Background(), trackCall(mod), block); errs <- err }()
	<-entered
	wg.Add(1)
	go func() { defer wg.Done(); _, err := e.Do(context.Background(), trackCall(mod), block); errs <- err }()
	for {
		if h, _ := e.Snapshot("acme"); h.Queued == 1 {
			if h.InFlight != 1 || h.MaxInFlight != 1 || h.MaxQueued != 1 {
				t.Fatalf("health %+v", h)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	_, err := e.Do(context.Background(), trackCall(mod), block)
	se, _ := err.(*sdk.Error)
	if se == nil || se.Code != sdk.CodeCarrierUnavailable || se.Source != sdk.SourceHub || !se.NotSent {
		t.Fatalf("third call: %#v", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("admitted call: %v", err)
		}
	}
	if rec.snapshot().bulkRejects != 1 {
		t.Fatalf("bulkhead rejects %d", rec.snapshot().bulkRejects)
	}
	if h, _ := e.Snapshot("acme"); h.InFlight != 0 || h.Queued != 0 {
		t.Fatalf("after: %+v", h)
	}
}

func TestBulkheadQueueWaitBoundedByDeadline(t *testing.T) {
	e, _ := newTestExecutor()
	release := make(chan struct{})
	entered := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Do(context.Background(), trackCall(func(p *Policy) { p.MaxInFlight = 1 }), func(context.Context) ([]byte, error) {
			close(entered)
			<-release
			return nil, nil
		})
	}()
	<-entered
	fn, n := script(nil)
	_, err := e.Do(context.Background(), trackCall(func(p *Policy) { p.MaxInFlight, p.Timeout = 1, 20*time.Millisecond }), fn)
	se, _ := err.(*sdk.Error)
	if se == nil || se.Code != sdk.CodeTimeout || se.Source != sdk.SourceHub || !se.NotSent || n.Load() != 0 {
		t.Fatalf("queued past the deadline: %#v, fn calls %d", err, n.Load())
	}
	close(release)
	<-done
	if h, _ := e.Snapshot("acme"); h.InFlight != 0 || h.Queued != 0 {
		t.Fatalf("after: %+v", h)
	}
}

func TestAccountsAreBounded(t *testing.T) {
	e, _ := newTestExecutor(func(o *Options) { o.MaxAccounts = 16 })
	fn, _ := script(nil)
	for i := range 200 {
		c := trackCall(nil)
		c.Account = fmt.Sprintf("tenant-%d", i)
		if _, err := e.Do(context.Background(), c, fn); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.RLock()
	n := len(e.accts)
	e.mu.RUnlock()
	if n > 16 {
		t.Fatalf("%d account entries, bound 16", n)
	}
	if _, ok := e.Snapshot("nobody"); ok {
		t.Fatal("snapshot of an unknown connector")
	}
}

func TestConcurrentUse(t *testing.T) {
	e, _ := newTestExecutor()
	fn, n := script(nil)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c := trackCall(nil)
				c.Account = fmt.Sprintf("a%d", (g+i)%5)
				if _, err := e.Do(context.Background(), c, fn); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					e.Snapshot("acme")
				}
			}
		}()
	}
	wg.Wait()
	if n.Load() != 16*200 {
		t.Fatalf("%d calls", n.Load())
	}
}

func TestZeroPolicyBehavesLikeDefaults(t *testing.T) {
	e, rec := newTestExecutor()
	fn, n := script(unavailable(), nil)
	c := Call{Connector: "acme", Account: "a", Operation: sdk.OpTrack, RetrySafe: true}
	if _, err := e.Do(context.Background(), c, fn); err != nil || n.Load() != 2 {
		t.Fatalf("err %v calls %d", err, n.Load())
	}
	if s := rec.snapshot().sleeps; len(s) != 1 || s[0] != DefaultBackoffBase {
		t.Fatalf("sleeps %v", s)
	}
	h, _ := e.Snapshot("acme")
	if h.MaxInFlight != DefaultMaxInFlight || h.MaxQueued != DefaultMaxQueued {
		t.Fatalf("bulkhead %+v", h)
	}
}

func TestCallerDeadlineCountsOnlyWithTheFullTimeout(t *testing.T) {
	hang := func(ctx context.Context) ([]byte, error) {
		<-ctx.Done()
		return nil, sdk.AsError(ctx.Err())
	}
	// The caller allowed far less than the policy: its deadline says nothing about the provider.
	e, _ := newTestExecutor()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	_, err := e.Do(ctx, trackCall(nil), hang)
	cancel()
	if se := err.(*sdk.Error); se.Code != sdk.CodeTimeout {
		t.Fatalf("got %v", se)
	}
	if h, _ := e.Snapshot("acme"); h.Accounts[0].Failures != 0 {
		t.Fatalf("a short caller deadline counted: %+v", h.Accounts[0])
	}
	// The caller's deadline is the policy's (the router sets it): the provider had its time.
	mod := func(p *Policy) { p.Timeout = 20 * time.Millisecond }
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, _ = e.Do(ctx, trackCall(mod), hang)
	cancel()
	if h, _ := e.Snapshot("acme"); h.Accounts[0].Failures != 1 {
		t.Fatalf("a full-length timeout did not count: %+v", h.Accounts[0])
	}
}

func TestChangedPolicyTakesEffect(t *testing.T) {
	e, _ := newTestExecutor(fixedClock(time.Unix(5000, 0)))
	fn, _ := script(nil)
	_, _ = e.Do(context.Background(), trackCall(func(p *Policy) { p.RateLimit, p.RateBurst = 1, 1 }), fn)
	_, _ = e.Do(context.Background(), trackCall(func(p *Policy) { p.RateLimit, p.RateBurst, p.BreakerFailures = 5, 3, 9 }), fn)
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.RateLimit != 5 || a.RateBurst != 3 || a.TokensAvailable != 2 {
		t.Fatalf("after a policy change: %+v", a)
	}
	e.mu.RLock()
	b := e.accts[acctKey{"acme", "acct1"}].breaker.Load()
	e.mu.RUnlock()
	if b.settings.failures != 9 {
		t.Fatalf("breaker settings %+v", b.settings)
	}
}

func TestSnapshotJSON(t *testing.T) {
	e, _ := newTestExecutor()
	fn, _ := script(unavailable())
	mod := func(p *Policy) { p.MaxAttempts, p.BreakerFailures, p.RateLimit = 1, 1, 10 }
	_, _ = e.Do(context.Background(), trackCall(mod), fn)
	h, ok := e.Snapshot("acme")
	if !ok {
		t.Fatal("no snapshot")
	}
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"connector":"acme"`, `"window":"10s"`, `"breaker":"open"`, `"error_rate":1`, `"rate_limit":10`, `"open_remaining":"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("snapshot JSON %s lacks %s", js, want)
		}
	}
}
