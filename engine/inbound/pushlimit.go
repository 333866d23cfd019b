package inbound

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of PushLimiter: pushes per second per account, and how many may
// come at once above that.
const (
	DefaultPushRate  = 20
	DefaultPushBurst = 100
)

// maxPushBuckets bounds how many accounts' buckets a PushLimiter keeps.
const maxPushBuckets = 100_000

// PushLimiter rate-limits the inbound route per account id, with a token
// bucket each. Buckets are kept for any id a push names, known to the hub
// or not, so that a limited answer does not tell which accounts exist. A
// bucket that has filled up again is the same as a new one and is dropped
// when the limiter grows large; a limiter still nearly full after that
// forgets every bucket rather than grow (a flood of made-up ids resets the
// buckets, it never exhausts memory). It is safe for concurrent use.
type PushLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	max     int
}

// NewPushLimiter returns a limiter allowing perSecond pushes a second per
// account, burst at once; DefaultPushRate and DefaultPushBurst when zero or
// negative.
func NewPushLimiter(perSecond float64, burst int) *PushLimiter {
	if perSecond <= 0 {
		perSecond = DefaultPushRate
	}
	if burst <= 0 {
		burst = DefaultPushBurst
	}
	return &PushLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}, max: maxPushBuckets}
}

// Allow takes one push from account's bucket at now. When the bucket is
// empty it takes nothing and returns false with the time until a push
// would be allowed.
func (l *PushLimiter) Allow(account string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[account]
	if !ok {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[account] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	r := b.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// sweep drops the buckets that are full again, and every bucket when that
// frees less than a quarter of the limiter, so that a sweep is followed by
// at least max/4 new buckets before the next one.
func (l *PushLimiter) sweep(now time.Time) {
	for id, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, id)
		}
	}
	if len(l.buckets) > l.max*3/4 {
		clear(l.buckets)
	}
}
