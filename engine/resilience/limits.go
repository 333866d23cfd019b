package resilience

import (
	"context"
	"sync"
	"time"
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

// budgetBuckets is how many slices a retry budget window is cut into.
const budgetBuckets = 10

// budget is a connector's retry budget: a sliding window of first attempts,
// retries and refused retries. A retry is allowed while the window's retries stay
// within ratio × first attempts + floor.
type budget struct {
	mu      sync.Mutex
	slice   time.Duration
	buckets [budgetBuckets]budgetBucket
	ratio   float64
	floor   int
}

type budgetBucket struct {
	slot                      int64
	requests, retries, refuse int
}

func newBudget(window time.Duration) *budget {
	slice := window / budgetBuckets
	if slice <= 0 {
		slice = time.Millisecond
	}
	return &budget{slice: slice}
}

// bucket returns the bucket for now, cleared if it held an older slot. Callers hold mu.
func (b *budget) bucket(now time.Time) *budgetBucket {
	slot := now.UnixNano() / int64(b.slice)
	bk := &b.buckets[slot%budgetBuckets]
	if bk.slot != slot {
		*bk = budgetBucket{slot: slot}
	}
	return bk
}

// sums returns the window's totals. Callers hold mu.
func (b *budget) sums(now time.Time) (requests, retries, refused int) {
	slot := now.UnixNano() / int64(b.slice)
	for i := range b.buckets {
		bk := &b.buckets[i]
		if bk.slot > slot-budgetBuckets && bk.slot <= slot {
			requests += bk.requests
			retries += bk.retries
			refused += bk.refuse
		}
	}
	return requests, retries, refused
}

func (b *budget) request(now time.Time) {
	b.mu.Lock()
	b.bucket(now).requests++
	b.mu.Unlock()
}

// tryRetry records a retry and returns true when the budget allows it, or records
// a refusal and returns false.
func (b *budget) tryRetry(now time.Time, ratio float64, floor int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ratio, b.floor = ratio, floor
	requests, retries, _ := b.sums(now)
	bk := b.bucket(now)
	if float64(retries+1) > ratio*float64(requests)+float64(floor) {
		bk.refuse++
		return false
	}
	bk.retries++
	return true
}

func (b *budget) stats(now time.Time) BudgetHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	requests, retries, refused := b.sums(now)
	return BudgetHealth{
		Window: b.slice * budgetBuckets, Requests: requests, Retries: retries, Refused: refused,
		Allowed: int(b.ratio*float64(requests)) + b.floor,
	}
}
