package resilience

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// fakeShared is a SharedRate whose answers come from reserve; it records the
// reservations asked for.
type fakeShared struct {
	reserve func(n int, now time.Time) (RateReservation, error)

	mu   sync.Mutex
	asks []sharedAsk
}

type sharedAsk struct {
	key                          string
	interval, tolerance, maxWait time.Duration
	now                          time.Time
}

func (f *fakeShared) Reserve(_ context.Context, key string, interval, tolerance time.Duration, now time.Time, maxWait time.Duration) (RateReservation, error) {
	f.mu.Lock()
	f.asks = append(f.asks, sharedAsk{key, interval, tolerance, maxWait, now})
	n := len(f.asks)
	f.mu.Unlock()
	return f.reserve(n, now)
}

func (f *fakeShared) calls() []sharedAsk {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sharedAsk(nil), f.asks...)
}

func withShared(s SharedRate) func(*Options) {
	return func(o *Options) { o.SharedRate = s }
}

// settableClock is a clock tests move by hand.
type settableClock struct{ ns atomic.Int64 }

func newSettableClock(t time.Time) *settableClock {
	c := &settableClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *settableClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *settableClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *settableClock) option() func(*Options) {
	return func(o *Options) { o.Now = c.now }
}

// TestSharedRateDecides: with a SharedRate, every attempt of a rate-limited
// call reserves its slot there (key, interval, tolerance and patience from the
// policy) and waits the delay it is given; the process's bucket, which would
// have refused the third call at once, is not consulted; Snapshot reports the
// shared limit's headroom.
func TestSharedRateDecides(t *testing.T) {
	start := time.Unix(5000, 0)
	shared := &fakeShared{reserve: func(n int, now time.Time) (RateReservation, error) {
		delay := time.Duration(n-1) * 150 * time.Millisecond
		return RateReservation{OK: true, Delay: delay, TAT: now.Add(delay + 100*time.Millisecond)}, nil
	}}
	e, rec := newTestExecutor(fixedClock(start), withShared(shared))
	fn, n := script(nil)
	mod := func(p *Policy) { p.RateLimit, p.RateBurst, p.Timeout = 10, 2, 5*time.Second }
	for i := range 3 {
		if _, err := e.Do(context.Background(), trackCall(mod), fn); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	asks := shared.calls()
	if n.Load() != 3 || len(asks) != 3 {
		t.Fatalf("%d calls, %d reservations; want 3 and 3", n.Load(), len(asks))
	}
	a := asks[0]
	if a.key != "acme/acct1/10/2" || a.interval != 100*time.Millisecond || a.tolerance != 200*time.Millisecond ||
		!a.now.Equal(start) || a.maxWait <= 0 || a.maxWait > 5*time.Second {
		t.Fatalf("reservation %+v", a)
	}
	s := rec.snapshot()
	if s.rateWaits != 2 || len(s.sleeps) != 2 || s.sleeps[0] != 150*time.Millisecond || s.sleeps[1] != 300*time.Millisecond {
		t.Fatalf("waits %d, sleeps %v; want the shared delays 150ms and 300ms", s.rateWaits, s.sleeps)
	}
	// The last reservation left the TAT 400ms ahead: 2 - 4 slots, no headroom.
	h, _ := e.Snapshot("acme")
	if acct := h.Accounts[0]; acct.RateLimit != 10 || acct.RateBurst != 2 || acct.TokensAvailable != 0 {
		t.Fatalf("snapshot %+v", acct)
	}
	// An operation with a rate of its own has a key of its own.
	c := trackCall(func(p *Policy) { p.RateLimit, p.RateBurst = 40.0/60, 1 })
	if _, err := e.Do(context.Background(), c, fn); err != nil {
		t.Fatal(err)
	}
	if k := shared.calls()[3].key; k != "acme/acct1/0.6666666666666666/1" {
		t.Fatalf("the tight operation's key %q", k)
	}
	// Calls without a rate limit never reserve.
	if _, err := e.Do(context.Background(), trackCall(nil), fn); err != nil || len(shared.calls()) != 4 {
		t.Fatalf("unlimited call: %v, %d reservations", err, len(shared.calls()))
	}
}

// TestSharedRateHeadroom: Snapshot's headroom is the burst less the slots
// between now and the shared TAT, and grows back as time passes.
func TestSharedRateHeadroom(t *testing.T) {
	clock := newSettableClock(time.Unix(5000, 0))
	shared := &fakeShared{reserve: func(_ int, now time.Time) (RateReservation, error) {
		return RateReservation{OK: true, TAT: now.Add(300 * time.Millisecond)}, nil
	}}
	e, _ := newTestExecutor(clock.option(), withShared(shared))
	fn, _ := script(nil)
	if _, err := e.Do(context.Background(), trackCall(func(p *Policy) { p.RateLimit, p.RateBurst = 10, 5 }), fn); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		after  time.Duration
		tokens float64
	}{{0, 2}, {100 * time.Millisecond, 3}, {time.Hour, 5}} {
		clock.advance(step.after)
		h, _ := e.Snapshot("acme")
		if got := h.Accounts[0].TokensAvailable; got < step.tokens-1e-9 || got > step.tokens+1e-9 {
			t.Fatalf("after %v more: %v tokens, want %v", step.after, got, step.tokens)
		}
	}
}

// TestSharedRateRefusalIsRateLimited: a slot the shared limit will not grant
// within the deadline ends the call at once, as the local bucket does:
// rate_limited from the hub, NotSent, RetryAfter when the slot would come.
func TestSharedRateRefusalIsRateLimited(t *testing.T) {
	shared := &fakeShared{reserve: func(int, time.Time) (RateReservation, error) {
		return RateReservation{Delay: 2 * time.Second}, nil
	}}
	e, rec := newTestExecutor(fixedClock(time.Unix(5000, 0)), withShared(shared))
	fn, n := script(nil)
	_, err := e.Do(context.Background(), trackCall(func(p *Policy) { p.RateLimit, p.Timeout = 1, time.Second }), fn)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeRateLimited || se.Source != sdk.SourceHub || !se.NotSent || se.RetryAfter != 2*time.Second {
		t.Fatalf("refused: %#v", err)
	}
	if s := rec.snapshot(); n.Load() != 0 || s.rateRejects != 1 || len(s.sleeps) != 0 {
		t.Fatalf("calls %d, rejects %d, sleeps %v", n.Load(), s.rateRejects, s.sleeps)
	}
}

// TestSharedRateErrorFallsBackToLocal: while the shared limit fails, the
// process's own bucket limits the calls (burst 2 at 1/s: the third is
// refused), none fails because of the store, and the failure is logged once a
// minute, not once a call.
func TestSharedRateErrorFallsBackToLocal(t *testing.T) {
	clock := newSettableClock(time.Unix(5000, 0))
	down := errors.New("connection refused")
	shared := &fakeShared{reserve: func(int, time.Time) (RateReservation, error) { return RateReservation{}, down }}
	var logs bytes.Buffer // Do logs from the test's goroutine
	log := slog.New(slog.NewTextHandler(&logs, nil))
	e, rec := newTestExecutor(clock.option(), withShared(shared), func(o *Options) { o.Logger = log })
	fn, n := script(nil)
	mod := func(p *Policy) { p.RateLimit, p.RateBurst, p.Timeout = 1, 2, 50*time.Millisecond }
	for i := range 2 {
		if _, err := e.Do(context.Background(), trackCall(mod), fn); err != nil {
			t.Fatalf("call %d within the local burst: %v", i, err)
		}
	}
	_, err := e.Do(context.Background(), trackCall(mod), fn)
	if se, _ := err.(*sdk.Error); se == nil || se.Code != sdk.CodeRateLimited || !se.NotSent || se.RetryAfter != time.Second {
		t.Fatalf("beyond the local burst: %#v", err)
	}
	if s := rec.snapshot(); n.Load() != 2 || len(shared.calls()) != 3 || s.rateRejects != 1 {
		t.Fatalf("calls %d, reservations %d, rejects %d", n.Load(), len(shared.calls()), s.rateRejects)
	}
	h, _ := e.Snapshot("acme")
	if a := h.Accounts[0]; a.RateLimit != 1 || a.RateBurst != 2 || a.TokensAvailable != 0 {
		t.Fatalf("snapshot while falling back %+v", a)
	}
	warnings := func() int { return strings.Count(logs.String(), "the shared rate limit failed") }
	if w := warnings(); w != 1 {
		t.Fatalf("%d warnings for 3 failures in a minute, want 1:\n%s", w, logs.String())
	}
	clock.advance(sharedWarnEvery)
	if _, err := e.Do(context.Background(), trackCall(mod), fn); err != nil {
		t.Fatal(err)
	}
	if w := warnings(); w != 2 || !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("%d warnings a minute later, want 2:\n%s", w, logs.String())
	}
}

// TestSharedRateCallerGone: a shared limit failing because the caller's
// context ended ends the call as a wait would (timeout, NotSent); the local
// bucket does not stand in and nothing is logged.
func TestSharedRateCallerGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	shared := &fakeShared{reserve: func(int, time.Time) (RateReservation, error) {
		cancel()
		return RateReservation{}, context.Canceled
	}}
	var logs bytes.Buffer // Do logs from the test's goroutine
	log := slog.New(slog.NewTextHandler(&logs, nil))
	e, _ := newTestExecutor(fixedClock(time.Unix(5000, 0)), withShared(shared), func(o *Options) { o.Logger = log })
	fn, n := script(nil)
	_, err := e.Do(ctx, trackCall(func(p *Policy) { p.RateLimit = 5 }), fn)
	if se, _ := err.(*sdk.Error); se == nil || se.Code != sdk.CodeTimeout || !se.NotSent || !strings.Contains(se.Message, "caller went away") {
		t.Fatalf("caller gone: %#v", err)
	}
	if n.Load() != 0 || logs.Len() != 0 {
		t.Fatalf("calls %d, logs %q", n.Load(), logs.String())
	}
}
