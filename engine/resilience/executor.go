// Package resilience is the engine's call policy around every connector call:
// one deadline per call, retries with capped exponential backoff and full jitter
// (honouring a provider's Retry-After up to a cap), a retry budget per connector,
// a circuit breaker and a rate limit per (connector, account), and a bulkhead per
// connector. The router resolves a Policy (Resolve) and runs each call through an
// Executor.
//
// Rate limits are token buckets in the process by default, which is exact for one
// process. Replicas sharing a Postgres store share the limit instead
// (Options.SharedRate): each attempt reserves its slot in the store by GCRA, one
// statement per call, so the carrier sees the account's limit across all of them;
// while the store fails, each replica falls back to its own bucket.
//
// Retries happen here and only here: connectors and the SDK's transports call the
// provider once and classify the outcome (sdk.Error codes, RetryAfter, NotSent);
// they never retry on their own, so an outage is never multiplied by stacked
// retry loops. A call is retried only when its error code is retryable and
// repeating it is safe: the operation is idempotent, the call carries an
// Idempotency-Key, or the error says the request never left (NotSent).
//
// The package imports sdk and its two libraries (gobreaker, x/time/rate); it must
// not import the router, the API or the plugin manager.
package resilience

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/carrierhub/hub/sdk"
)

// Call names one connector call for the Executor.
type Call struct {
	// Connector is the connector's ID.
	Connector string
	// Account is the account's ID; breakers and rate limits are kept per account.
	Account string
	// Operation is the canonical operation.
	Operation sdk.Operation
	// Policy is the resolved policy (Resolve); zero knobs fall back to the defaults.
	Policy Policy
	// RetrySafe is true when repeating the call cannot duplicate its effect: the
	// operation is idempotent or the call carries an Idempotency-Key (RetrySafe).
	RetrySafe bool
}

// Func performs one attempt of a call. It must honour ctx's deadline and return an
// *sdk.Error (anything else is treated as sdk.AsError does).
type Func func(ctx context.Context) ([]byte, error)

// Options configures an Executor. Every field is optional.
type Options struct {
	// Logger receives breaker state changes; slog.Default() when nil.
	Logger *slog.Logger
	// Observer is told about outcomes for metrics; NopObserver when nil.
	Observer Observer
	// Now is the clock used for rate limits, budgets and open-breaker countdowns;
	// time.Now when nil. Deadlines and the breaker's own open period always run
	// on the real clock.
	Now func() time.Time
	// Sleep waits d or until ctx ends, returning ctx's error then; tests replace it
	// to record backoffs without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a random duration in [0, ceiling]; uniform when nil.
	Jitter func(ceiling time.Duration) time.Duration
	// MaxAccounts bounds how many (connector, account) entries (breaker and rate
	// limiter) are kept; the least recently used closed ones are evicted beyond
	// it. 10,000 when zero.
	MaxAccounts int
	// SharedRate, when set, keeps the accounts' rate limits for every process
	// sharing it (replicas on one Postgres); the in-process token buckets then
	// serve only the calls for which it fails. Nil keeps the limits per process.
	SharedRate SharedRate
}

// SharedRate is a rate limit kept outside the process, shared by every replica,
// by the generic cell rate algorithm (GCRA): a key's state is its theoretical
// arrival time (TAT). The Executor calls Reserve once per attempt of a
// rate-limited call, from the call's goroutine; implementations must be safe for
// concurrent use. The hub implements it over the store (store.RateStore).
type SharedRate interface {
	// Reserve reserves a slot for one request on key, whose limit admits one
	// request per interval with tolerance/interval at once. The request's new
	// TAT is max(TAT, now)+interval and it may go after
	// max(0, newTAT-tolerance-now): when that is at most maxWait the slot is
	// taken (OK); otherwise nothing changes and Delay says when it could have
	// gone. Of concurrent reservations on one key, in any process, no two get
	// the same slot. An error means the limit could not be consulted.
	Reserve(ctx context.Context, key string, interval, tolerance time.Duration, now time.Time, maxWait time.Duration) (RateReservation, error)
}

// RateReservation is what SharedRate.Reserve decided.
type RateReservation struct {
	// OK is true when the request was admitted and its slot taken.
	OK bool
	// Delay is how long after now the request may go: its slot when OK, the
	// earliest it could have had otherwise.
	Delay time.Duration
	// TAT is the key's theoretical arrival time as the reservation left it.
	TAT time.Time
}

// maxSharedWait bounds the wait a shared rate limit is asked to grant when the
// call has no deadline (Do always sets one, so this is a backstop).
const maxSharedWait = time.Minute

// sharedWarnEvery is how often, at most, the Executor logs that the shared rate
// limit failed and a process-local bucket stood in.
const sharedWarnEvery = time.Minute

// Executor runs connector calls under their policies. It is safe for concurrent use.
type Executor struct {
	log         *slog.Logger
	obs         Observer
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	jitter      func(time.Duration) time.Duration
	maxAccounts int
	realClock   bool // now is time.Now, so Do reuses the time it reads for the deadline
	shared      SharedRate
	// sharedWarned is when (e.now, Unix nanoseconds) the shared rate limit's
	// failure was last logged.
	sharedWarned atomic.Int64

	mu    sync.RWMutex
	conns map[string]*connState
	accts map[acctKey]*acctState
}

type acctKey struct{ connector, account string }

// connState is what a connector's accounts share: the bulkhead and the retry budget.
type connState struct {
	bulk   bulkhead
	budget *budget
}

// acctState is one (connector, account): its breaker and rate limiter.
type acctState struct {
	key      acctKey
	conn     *connState
	breaker  atomic.Pointer[breaker]
	limiters sync.Map                     // rateKey -> *rate.Limiter
	limiter  atomic.Pointer[rate.Limiter] // the most recently used, for Snapshot; nil when the shared limit decided last
	shared   atomic.Pointer[sharedView]   // the shared limit as the last reservation left it, for Snapshot
	lastUsed atomic.Int64
	openedAt atomic.Int64
	outcomes window
}

// breaker is a gobreaker instance and the settings it was built from, so a changed
// policy rebuilds it.
type breaker struct {
	cb       *gobreaker.CircuitBreaker[[]byte]
	settings breakerSettings
}

type breakerSettings struct {
	failures, minRequests, halfOpen int
	ratio                           float64
	window, openFor                 time.Duration
}

// NewExecutor returns an Executor.
func NewExecutor(o Options) *Executor {
	e := &Executor{
		log: o.Logger, obs: o.Observer, now: o.Now, sleep: o.Sleep, jitter: o.Jitter, shared: o.SharedRate,
		maxAccounts: o.MaxAccounts,
		conns:       map[string]*connState{},
		accts:       map[acctKey]*acctState{},
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.obs == nil {
		e.obs = NopObserver{}
	}
	if e.now == nil {
		e.now, e.realClock = time.Now, true
	}
	if e.sleep == nil {
		e.sleep = sleepCtx
	}
	if e.jitter == nil {
		e.jitter = fullJitter
	}
	if e.maxAccounts <= 0 {
		e.maxAccounts = 10000
	}
	return e
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// callerGone carries an attempt's error when the caller's own context ended, so the
// breaker excludes it: a caller giving up says nothing about the provider.
type callerGone struct{ err error }

func (c *callerGone) Error() string { return c.err.Error() }

// Do runs fn under c's policy and returns its result. The steps, in order:
//
//  1. One deadline for the whole call, Policy.Timeout from now, or the caller's if
//     it is already as tight (then no timer of its own is set); queueing,
//     rate-limit waits, attempts and backoffs all share it. A deadline counts as a
//     provider failure only when the provider had (90% of) the policy's timeout.
//  2. The connector's bulkhead: a free in-flight slot, or a place in its bounded
//     queue until one frees; a full queue fails at once (carrier_unavailable,
//     source hub, NotSent).
//  3. Per attempt, the account's rate limiter (shared, or the process's bucket): a
//     slot, or a wait for one if it comes before the deadline; otherwise
//     rate_limited with RetryAfter at once.
//  4. Per attempt, the account's circuit breaker: open (or half-open with its
//     probes taken) fails at once with carrier_unavailable, source hub, RetryAfter
//     the open time left. Client-side codes (invalid_request, not_found,
//     conflict, auth_failed, permanent) count as successes, the caller's own
//     cancellation is not counted at all.
//  5. fn. On a retryable error, when the call is RetrySafe or the error is NotSent,
//     attempts remain, the retry budget allows and the backoff (or the provider's
//     Retry-After, up to Policy.RetryAfterCap) fits before the deadline, it sleeps
//     and goes back to step 3.
//
// The error returned is the last attempt's *sdk.Error as fn gave it, or the
// executor's own *sdk.Error (source hub) when no attempt was made.
func (e *Executor) Do(ctx context.Context, c Call, fn Func) ([]byte, error) {
	p := &c.Policy
	p.normalize()
	parent := ctx
	start := time.Now()
	deadline := start.Add(p.Timeout)
	if pd, ok := parent.Deadline(); ok && !pd.After(deadline) {
		deadline = pd // the caller's deadline is already as tight: no second timer
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(parent, deadline)
		defer cancel()
	}
	// A deadline counts against the provider only when it had (nearly) the
	// policy's whole timeout; a caller that allowed less, or went away, is excluded.
	fullTime := deadline.Sub(start) >= p.Timeout-p.Timeout/10

	now := start
	if !e.realClock {
		now = e.now()
	}
	as := e.account(c.Connector, c.Account, p, now)
	cs := as.conn
	if err := cs.bulk.acquire(ctx, p.MaxInFlight, p.MaxQueued); err != nil {
		se := e.bulkheadError(parent, &c, err)
		e.obs.CallDone(c.Connector, c.Account, c.Operation, se, 0)
		return nil, se
	}
	defer cs.bulk.release()
	cs.budget.request(now, p.RetryBudgetRatio, p.RetryBudgetFloor)

	var last *sdk.Error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			now = e.now()
		}
		if se := e.waitRate(ctx, parent, as, &c, now); se != nil {
			if last == nil {
				last = se
			}
			e.obs.CallDone(c.Connector, c.Account, c.Operation, last, attempt-1)
			return nil, last
		}
		br := as.breakerFor(e, p)
		out, err := br.cb.Execute(func() ([]byte, error) {
			out, err := fn(ctx)
			if err != nil {
				if perr := parent.Err(); perr == context.Canceled || (perr != nil && !fullTime) {
					return nil, &callerGone{err}
				}
			}
			return out, err
		})
		if err == nil {
			as.outcomes.add(now, outcomeAttempts)
			e.obs.CallDone(c.Connector, c.Account, c.Operation, nil, attempt)
			return out, nil
		}
		if err == gobreaker.ErrOpenState || err == gobreaker.ErrTooManyRequests {
			as.outcomes.add(now, outcomeRejected)
			if last == nil {
				last = e.openError(as, p, err)
			}
			e.obs.CallDone(c.Connector, c.Account, c.Operation, last, attempt-1)
			return nil, last
		}
		if g, ok := err.(*callerGone); ok {
			err = g.err
		} else {
			as.outcomes.add(now, outcomeAttempts)
			if !countsAsSuccess(err) {
				as.outcomes.add(now, outcomeFailures)
			}
		}
		last = sdk.AsError(err)
		wait, ok := e.retryWait(ctx, parent, &c, last, attempt)
		if !ok {
			e.obs.CallDone(c.Connector, c.Account, c.Operation, last, attempt)
			return nil, last
		}
		if !cs.budget.tryRetry(e.now(), p.RetryBudgetRatio, p.RetryBudgetFloor) {
			e.obs.RetryRefused(c.Connector, c.Account, c.Operation, last.Code)
			e.obs.CallDone(c.Connector, c.Account, c.Operation, last, attempt)
			return nil, last
		}
		e.obs.Retry(c.Connector, c.Account, c.Operation, attempt+1, last.Code, wait)
		if e.sleep(ctx, wait) != nil {
			e.obs.CallDone(c.Connector, c.Account, c.Operation, last, attempt)
			return nil, last
		}
	}
}

// retryWait decides whether attempt's error se may be retried and how long to wait first.
func (e *Executor) retryWait(ctx, parent context.Context, c *Call, se *sdk.Error, attempt int) (time.Duration, bool) {
	p := &c.Policy
	if !se.Code.Retryable() || !(c.RetrySafe || se.NotSent) || attempt >= p.MaxAttempts || parent.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	if se.RetryAfter > 0 {
		if se.RetryAfter > p.RetryAfterCap {
			return 0, false
		}
		wait = se.RetryAfter
	} else {
		ceiling := p.BackoffBase << (attempt - 1)
		if ceiling > p.BackoffCap || ceiling <= 0 {
			ceiling = p.BackoffCap
		}
		wait = e.jitter(ceiling)
	}
	if dl, ok := ctx.Deadline(); ok && wait >= time.Until(dl) {
		return 0, false
	}
	return wait, true
}

// waitRate takes a token from the account's limiter, waiting for one when it comes
// before ctx's deadline: from the shared limit when there is one and it answers,
// else from the process's bucket.
func (e *Executor) waitRate(ctx, parent context.Context, as *acctState, c *Call, now time.Time) *sdk.Error {
	if c.Policy.RateLimit <= 0 {
		return nil
	}
	if e.shared != nil {
		if se, decided := e.waitSharedRate(ctx, parent, as, c); decided {
			return se
		}
	}
	lim := as.limiterFor(&c.Policy)
	if lim == nil {
		return nil
	}
	if lim.AllowN(now, 1) {
		return nil
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return &sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceHub, NotSent: true, RetryAfter: time.Second,
			Message: fmt.Sprintf("connector %s: the account's rate limit admits no request now", c.Connector)}
	}
	d := r.DelayFrom(now)
	if dl, ok := ctx.Deadline(); ok && d > time.Until(dl) {
		r.CancelAt(now)
		return e.rateRejected(c, d)
	}
	e.obs.RateLimitWait(c.Connector, c.Account, d)
	if err := e.sleep(ctx, d); err != nil {
		r.Cancel()
		return waitError(parent, "waiting for the account's rate limit", err)
	}
	return nil
}

// rateRejected reports, and returns the error of, a call whose rate limit has no
// token before its deadline; retryAfter is when one comes.
func (e *Executor) rateRejected(c *Call, retryAfter time.Duration) *sdk.Error {
	e.obs.RateLimitReject(c.Connector, c.Account, retryAfter)
	return &sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceHub, NotSent: true, RetryAfter: retryAfter,
		Message: fmt.Sprintf("connector %s: the account's rate limit (%g/s) has no token before the call's deadline", c.Connector, c.Policy.RateLimit)}
}

// waitSharedRate reserves the attempt's slot in the shared rate limit and waits
// for it. decided is false when the shared limit failed (and the caller's
// context had not ended): the process's bucket then decides this attempt. A slot
// reserved and not used (the caller went away while waiting) stays taken, which
// errs on the carrier's side.
func (e *Executor) waitSharedRate(ctx, parent context.Context, as *acctState, c *Call) (se *sdk.Error, decided bool) {
	p := &c.Policy
	interval := time.Duration(float64(time.Second) / p.RateLimit)
	if interval < time.Microsecond {
		return nil, false // above a million a second: no store keeps up; the process's bucket limits it
	}
	maxWait := maxSharedWait
	if dl, ok := ctx.Deadline(); ok {
		maxWait = max(0, min(maxWait, time.Until(dl)))
	}
	// The time is read now, not at the call's start, so time spent queueing in
	// the bulkhead does not count as the account's idle time.
	now := e.now()
	r, err := e.shared.Reserve(ctx, sharedKey(c), interval, time.Duration(p.RateBurst)*interval, now, maxWait)
	if err != nil {
		if ctx.Err() != nil {
			return waitError(parent, "waiting for the account's shared rate limit", err), true
		}
		e.warnShared(c, err)
		return nil, false
	}
	as.shared.Store(&sharedView{limit: p.RateLimit, burst: p.RateBurst, interval: interval, tat: r.TAT})
	as.limiter.Store(nil)
	if !r.OK {
		return e.rateRejected(c, r.Delay), true
	}
	d := r.Delay - e.now().Sub(now) // the reservation's own round trip is part of the wait
	if d <= 0 {
		return nil, true
	}
	e.obs.RateLimitWait(c.Connector, c.Account, d)
	if err := e.sleep(ctx, d); err != nil {
		return waitError(parent, "waiting for the account's rate limit", err), true
	}
	return nil, true
}

// warnShared logs the shared rate limit's failure, at most once every
// sharedWarnEvery across the Executor.
func (e *Executor) warnShared(c *Call, err error) {
	now := e.now().UnixNano()
	last := e.sharedWarned.Load()
	if (last != 0 && now-last < int64(sharedWarnEvery)) || !e.sharedWarned.CompareAndSwap(last, now) {
		return
	}
	e.log.Warn("the shared rate limit failed; this process limits accounts on its own meanwhile",
		"connector", c.Connector, "account", c.Account, "error", err)
}

// sharedKey names the call's limit in the SharedRate: its connector, account and
// rate, since an operation with a rate of its own has a bucket of its own (see
// limiterFor).
func sharedKey(c *Call) string {
	return c.Connector + "/" + c.Account + "/" + strconv.FormatFloat(c.Policy.RateLimit, 'g', -1, 64) +
		"/" + strconv.Itoa(c.Policy.RateBurst)
}

// sharedView is an account's shared rate limit as its last reservation left it.
type sharedView struct {
	limit    float64
	burst    int
	interval time.Duration
	tat      time.Time
}

// tokensAt is the headroom at now, had no other process reserved since: the
// burst less the slots between now and the TAT.
func (v *sharedView) tokensAt(now time.Time) float64 {
	return max(0, min(float64(v.burst), float64(v.burst)-float64(v.tat.Sub(now))/float64(v.interval)))
}

func waitError(parent context.Context, what string, err error) *sdk.Error {
	msg := "the call's deadline passed " + what
	if parent.Err() != nil {
		msg = "the caller went away " + what
	}
	return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceHub, NotSent: true, Message: msg + ": " + err.Error()}
}

func (e *Executor) bulkheadError(parent context.Context, c *Call, err error) *sdk.Error {
	if full, ok := err.(*bulkheadFull); ok {
		e.obs.BulkheadReject(c.Connector, full.inFlight, full.queued)
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceHub, NotSent: true,
			Message: fmt.Sprintf("connector %s is saturated: %d calls in flight and %d queued", c.Connector, full.inFlight, full.queued)}
	}
	return waitError(parent, "waiting for a free slot of connector "+c.Connector, err)
}

func (e *Executor) openError(as *acctState, p *Policy, err error) *sdk.Error {
	left := p.BreakerOpenFor - e.now().Sub(time.Unix(0, as.openedAt.Load()))
	state := "open"
	if err == gobreaker.ErrTooManyRequests || left <= 0 {
		state, left = "half-open and probing", p.BackoffBase
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceHub, NotSent: true, RetryAfter: left,
		Message: fmt.Sprintf("connector %s: the account's circuit breaker is %s after repeated provider failures; failing fast", as.key.connector, state)}
}

// account returns the (connector, account) entry, creating it (and the connector's
// shared state) on first use.
func (e *Executor) account(connector, account string, p *Policy, t time.Time) *acctState {
	key := acctKey{connector, account}
	now := t.UnixNano()
	e.mu.RLock()
	as := e.accts[key]
	e.mu.RUnlock()
	if as != nil {
		as.lastUsed.Store(now)
		return as
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if as = e.accts[key]; as != nil {
		as.lastUsed.Store(now)
		return as
	}
	cs := e.conns[connector]
	if cs == nil {
		cs = &connState{budget: newBudget(p.RetryBudgetWindow)}
		e.conns[connector] = cs
	}
	if len(e.accts) >= e.maxAccounts {
		e.evictLocked()
	}
	as = &acctState{key: key, conn: cs, outcomes: newWindow(p.BreakerWindow)}
	as.lastUsed.Store(now)
	e.accts[key] = as
	return as
}

// evictLocked drops one entry: among a sample, the least recently used with a
// closed breaker, else the least recently used. Callers hold e.mu.
func (e *Executor) evictLocked() {
	const sample = 64
	var victim *acctState
	victimClosed := false
	n := 0
	for _, as := range e.accts {
		closed := as.state() == BreakerClosed
		if victim == nil || (closed && !victimClosed) ||
			(closed == victimClosed && as.lastUsed.Load() < victim.lastUsed.Load()) {
			victim, victimClosed = as, closed
		}
		if n++; n >= sample {
			break
		}
	}
	if victim != nil {
		delete(e.accts, victim.key)
	}
}

// rateKey names a token bucket by its rate and size.
type rateKey struct {
	limit float64
	burst int
}

// limiterFor returns the account's token bucket for p's rate, or nil when p sets
// none. Operations with the same rate share one bucket; an operation with its own
// rate (a provider that limits one API more tightly, such as Delhivery's 40 per
// minute on invoices) gets its own, so neither resets the other.
func (as *acctState) limiterFor(p *Policy) *rate.Limiter {
	if p.RateLimit <= 0 {
		return nil
	}
	k := rateKey{p.RateLimit, p.RateBurst}
	if v, ok := as.limiters.Load(k); ok {
		lim := v.(*rate.Limiter)
		as.limiter.Store(lim)
		return lim
	}
	v, _ := as.limiters.LoadOrStore(k, rate.NewLimiter(rate.Limit(p.RateLimit), p.RateBurst))
	lim := v.(*rate.Limiter)
	as.limiter.Store(lim)
	return lim
}

// breakerFor returns the account's breaker, building it on first use or when p's
// breaker settings differ from those it was built with (its state is then lost).
func (as *acctState) breakerFor(e *Executor, p *Policy) *breaker {
	s := breakerSettings{
		failures: p.BreakerFailures, minRequests: p.BreakerMinRequests, halfOpen: p.BreakerHalfOpenRequests,
		ratio: p.BreakerFailureRatio, window: p.BreakerWindow, openFor: p.BreakerOpenFor,
	}
	for {
		old := as.breaker.Load()
		if old != nil && old.settings == s {
			return old
		}
		nb := &breaker{settings: s, cb: e.newBreaker(as, s)}
		if as.breaker.CompareAndSwap(old, nb) {
			return nb
		}
	}
}

func (e *Executor) newBreaker(as *acctState, s breakerSettings) *gobreaker.CircuitBreaker[[]byte] {
	bucket := s.window / 10
	return gobreaker.NewCircuitBreaker[[]byte](gobreaker.Settings{
		Name:         as.key.connector + "/" + as.key.account,
		MaxRequests:  uint32(s.halfOpen),
		Interval:     s.window,
		BucketPeriod: bucket,
		Timeout:      s.openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= uint32(s.failures) {
				return true
			}
			n := c.Requests - c.TotalExclusions
			return n >= uint32(s.minRequests) && float64(c.TotalFailures) >= s.ratio*float64(n)
		},
		IsSuccessful: countsAsSuccess,
		IsExcluded: func(err error) bool {
			_, ok := err.(*callerGone)
			return ok
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				as.openedAt.Store(e.now().UnixNano())
			}
			f, t := stateOf(from), stateOf(to)
			level := slog.LevelInfo
			if t == BreakerOpen {
				level = slog.LevelWarn
			}
			e.log.Log(context.Background(), level, "circuit breaker changed state",
				"connector", as.key.connector, "account", as.key.account, "from", f, "to", t)
			e.obs.BreakerChange(as.key.connector, as.key.account, f, t)
		},
	})
}

// countsAsSuccess tells the breaker which outcomes say the provider is healthy:
// success, and errors that are the request's fault rather than the provider's.
func countsAsSuccess(err error) bool {
	if err == nil {
		return true
	}
	switch sdk.AsError(err).Code {
	case sdk.CodeInvalidRequest, sdk.CodeNotFound, sdk.CodeConflict, sdk.CodeAuthFailed, sdk.CodePermanent:
		return true
	}
	return false
}

func (as *acctState) state() BreakerState {
	b := as.breaker.Load()
	if b == nil {
		return BreakerClosed
	}
	return stateOf(b.cb.State())
}

// BreakerState is a circuit breaker's state as operators see it.
type BreakerState string

// Breaker states.
const (
	// BreakerClosed lets calls through and counts their outcomes.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen fails calls fast without touching the provider.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen lets a few probe calls through to test recovery.
	BreakerHalfOpen BreakerState = "half_open"
)

func stateOf(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// ConnectorHealth is a point-in-time view of one connector's resilience state, for
// GET /v1/connectors/{id}/health and `hub connector-health`.
type ConnectorHealth struct {
	// Connector is the connector's ID.
	Connector string `json:"connector"`
	// InFlight is how many calls are running now.
	InFlight int `json:"in_flight"`
	// Queued is how many calls wait for a slot.
	Queued int `json:"queued"`
	// MaxInFlight and MaxQueued are the bulkhead's limits as last applied.
	MaxInFlight int `json:"max_in_flight"`
	// MaxQueued is the bulkhead queue's limit as last applied.
	MaxQueued int `json:"max_queued"`
	// RetryBudget is the use of the connector's retry budget.
	RetryBudget BudgetHealth `json:"retry_budget"`
	// Accounts hold the per-account state, ordered by account ID.
	Accounts []AccountHealth `json:"accounts"`
}

// BudgetHealth is the use of a connector's retry budget over its sliding window.
type BudgetHealth struct {
	// Window is the sliding window's length ("10s" in JSON).
	Window sdk.Duration `json:"window"`
	// Requests counts calls (first attempts) in the window.
	Requests int `json:"requests"`
	// Retries counts retries made in the window.
	Retries int `json:"retries"`
	// Refused counts retries the budget refused in the window.
	Refused int `json:"refused"`
	// Allowed is how many retries the window allows at its current request count.
	Allowed int `json:"allowed"`
}

// AccountHealth is the state of one (connector, account).
type AccountHealth struct {
	// Account is the account's ID.
	Account string `json:"account"`
	// Breaker is the circuit breaker's state.
	Breaker BreakerState `json:"breaker"`
	// OpenRemaining is how long an open breaker stays open before probing; zero otherwise.
	OpenRemaining sdk.Duration `json:"open_remaining,omitempty"`
	// Window is the length of the window Requests, Failures and Rejected count over
	// (the breaker's window, "10s" in JSON).
	Window sdk.Duration `json:"window"`
	// Requests counts attempts that reached the provider in the window; calls the
	// caller abandoned are not counted.
	Requests int `json:"requests"`
	// Failures counts the attempts among them that counted as provider failures.
	Failures int `json:"failures"`
	// Rejected counts calls the open breaker failed fast in the window.
	Rejected int `json:"rejected"`
	// ErrorRate is Failures over Requests, 0 when there were none.
	ErrorRate float64 `json:"error_rate"`
	// RateLimit is the account's limit in requests per second; 0 means none.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// RateBurst is the limiter's bucket size.
	RateBurst int `json:"rate_burst,omitempty"`
	// TokensAvailable is the headroom: requests the account may send now without
	// waiting. With a shared limit, it is as this process's last reservation left
	// it; other replicas may have used some since.
	TokensAvailable float64 `json:"tokens_available,omitempty"`
	// LastUsed is when the account last made a call.
	LastUsed time.Time `json:"last_used"`
}

// Snapshot returns the connector's current resilience state; ok is false when the
// executor has not run a call of it yet.
func (e *Executor) Snapshot(connector string) (h ConnectorHealth, ok bool) {
	e.mu.RLock()
	cs := e.conns[connector]
	var accts []*acctState
	for k, as := range e.accts {
		if k.connector == connector {
			accts = append(accts, as)
		}
	}
	e.mu.RUnlock()
	if cs == nil {
		return ConnectorHealth{Connector: connector}, false
	}
	now := e.now()
	h = ConnectorHealth{Connector: connector, RetryBudget: cs.budget.stats(now), Accounts: []AccountHealth{}}
	h.InFlight, h.Queued, h.MaxInFlight, h.MaxQueued = cs.bulk.stats()
	for _, as := range accts {
		a := AccountHealth{Account: as.key.account, Breaker: BreakerClosed, LastUsed: time.Unix(0, as.lastUsed.Load())}
		n := as.outcomes.totals(now)
		a.Window = sdk.Duration(as.outcomes.slice * windowBuckets)
		a.Requests, a.Failures, a.Rejected = n[outcomeAttempts], n[outcomeFailures], n[outcomeRejected]
		if a.Requests > 0 {
			a.ErrorRate = float64(a.Failures) / float64(a.Requests)
		}
		if b := as.breaker.Load(); b != nil {
			a.Breaker = stateOf(b.cb.State())
			if a.Breaker == BreakerOpen {
				a.OpenRemaining = sdk.Duration(max(0, b.settings.openFor-now.Sub(time.Unix(0, as.openedAt.Load()))))
			}
		}
		if lim := as.limiter.Load(); lim != nil {
			a.RateLimit, a.RateBurst = float64(lim.Limit()), lim.Burst()
			a.TokensAvailable = max(0, lim.TokensAt(now))
		} else if v := as.shared.Load(); v != nil {
			a.RateLimit, a.RateBurst = v.limit, v.burst
			a.TokensAvailable = v.tokensAt(now)
		}
		h.Accounts = append(h.Accounts, a)
	}
	sort.Slice(h.Accounts, func(i, j int) bool { return h.Accounts[i].Account < h.Accounts[j].Account })
	return h, true
}
