package resilience

import (
	"context"
	"sync"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// bulkhead caps a connector's concurrent calls and queues a bounded number of
// waiters in arrival order. The limits travel with each acquire, so a changed
// policy takes effect on the next call.
type bulkhead struct {
	mu       sync.Mutex
	inFlight int
	max      int
	maxQueue int
	waiters  []*waiter
}

type waiter struct {
	ch      chan struct{}
	granted bool
}

// bulkheadFull reports that both the in-flight slots and the queue are taken.
type bulkheadFull struct{ inFlight, queued int }

func (e *bulkheadFull) Error() string { return "bulkhead full" }

// acquire takes a slot, waiting in the queue until one frees or ctx ends. It
// returns *bulkheadFull when the queue is full, or ctx's error.
func (b *bulkhead) acquire(ctx context.Context, maxInFlight, maxQueue int) error {
	b.mu.Lock()
	b.max, b.maxQueue = maxInFlight, maxQueue
	if b.inFlight < maxInFlight && len(b.waiters) == 0 {
		b.inFlight++
		b.mu.Unlock()
		return nil
	}
	if len(b.waiters) >= maxQueue {
		full := &bulkheadFull{inFlight: b.inFlight, queued: len(b.waiters)}
		b.mu.Unlock()
		return full
	}
	w := &waiter{ch: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		if w.granted {
			b.mu.Unlock()
			b.release()
			return ctx.Err()
		}
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// release frees a slot, handing it straight to the oldest waiter when the limit allows.
func (b *bulkhead) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 && b.inFlight <= b.max {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		w.granted = true
		close(w.ch)
		return
	}
	b.inFlight--
}

func (b *bulkhead) stats() (inFlight, queued, maxInFlight, maxQueued int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight, len(b.waiters), b.max, b.maxQueue
}

// windowBuckets is how many slices a sliding window is cut into.
const windowBuckets = 10

// window counts three kinds of events over a sliding window of windowBuckets slices.
type window struct {
	mu      sync.Mutex
	slice   time.Duration
	buckets [windowBuckets]windowBucket
}

type windowBucket struct {
	slot int64
	n    [3]int
}

func newWindow(length time.Duration) window {
	slice := length / windowBuckets
	if slice <= 0 {
		slice = time.Millisecond
	}
	return window{slice: slice}
}

// bucket returns the bucket for now, cleared if it held an older slot. Callers hold mu.
func (w *window) bucket(now time.Time) *windowBucket {
	slot := now.UnixNano() / int64(w.slice)
	bk := &w.buckets[slot%windowBuckets]
	if bk.slot != slot {
		*bk = windowBucket{slot: slot}
	}
	return bk
}

// sums returns the window's totals. Callers hold mu.
func (w *window) sums(now time.Time) (n [3]int) {
	slot := now.UnixNano() / int64(w.slice)
	for i := range w.buckets {
		bk := &w.buckets[i]
		if bk.slot > slot-windowBuckets && bk.slot <= slot {
			n[0] += bk.n[0]
			n[1] += bk.n[1]
			n[2] += bk.n[2]
		}
	}
	return n
}

// add counts one event of kind k.
func (w *window) add(now time.Time, k int) {
	w.mu.Lock()
	w.bucket(now).n[k]++
	w.mu.Unlock()
}

func (w *window) totals(now time.Time) [3]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sums(now)
}

// The kinds a budget counts.
const (
	budgetRequests = iota
	budgetRetries
	budgetRefused
)

// budget is a connector's retry budget: a sliding window of calls, retries and
// refused retries. A retry is allowed while the window's retries stay within
// ratio × calls + floor.
type budget struct {
	window
	ratio float64
	floor int
}

func newBudget(length time.Duration) *budget { return &budget{window: newWindow(length)} }

// request counts a call and notes the policy's ratio and floor for stats.
func (b *budget) request(now time.Time, ratio float64, floor int) {
	b.mu.Lock()
	b.ratio, b.floor = ratio, floor
	b.bucket(now).n[budgetRequests]++
	b.mu.Unlock()
}

// tryRetry records a retry and returns true when the budget allows it, or records
// a refusal and returns false.
func (b *budget) tryRetry(now time.Time, ratio float64, floor int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ratio, b.floor = ratio, floor
	n := b.sums(now)
	bk := b.bucket(now)
	if float64(n[budgetRetries]+1) > ratio*float64(n[budgetRequests])+float64(floor) {
		bk.n[budgetRefused]++
		return false
	}
	bk.n[budgetRetries]++
	return true
}

func (b *budget) stats(now time.Time) BudgetHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.sums(now)
	return BudgetHealth{
		Window: sdk.Duration(b.slice * windowBuckets), Requests: n[budgetRequests], Retries: n[budgetRetries],
		Refused: n[budgetRefused], Allowed: int(b.ratio*float64(n[budgetRequests])) + b.floor,
	}
}

// The kinds an account's outcome window counts.
const (
	outcomeAttempts = iota // attempts that reached the provider and counted
	outcomeFailures        // those that counted as provider failures
	outcomeRejected        // calls the breaker failed fast
)
