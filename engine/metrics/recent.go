package metrics

import (
	"slices"
	"sync"
	"time"
)

// recentCalls is how many of a connector's latest calls RecentLatency keeps.
const recentCalls = 512

// RecentLatency keeps each connector's latest call durations, for the P95 the
// console's overview shows: a figure of now, where the Prometheus histogram
// holds everything since the hub started. Its zero value is ready; it is safe
// for concurrent use. Each connector's ring has its own lock, found without
// one, so calls to different connectors never wait for each other.
type RecentLatency struct {
	by sync.Map // connector -> *latencyRing
}

// latencyRing is one connector's latest durations, oldest overwritten first.
type latencyRing struct {
	mu   sync.Mutex
	d    [recentCalls]time.Duration
	n    int // how many are held, up to recentCalls
	next int
}

// Observe records one call of connector that took d.
func (r *RecentLatency) Observe(connector string, d time.Duration) {
	v, ok := r.by.Load(connector)
	if !ok {
		v, _ = r.by.LoadOrStore(connector, &latencyRing{})
	}
	ring := v.(*latencyRing)
	ring.mu.Lock()
	ring.d[ring.next] = d
	ring.next = (ring.next + 1) % recentCalls
	ring.n = min(ring.n+1, recentCalls)
	ring.mu.Unlock()
}

// P95 returns the 95th percentile of connector's latest calls (nearest rank)
// and how many calls it is taken over; 0, 0 before its first call.
func (r *RecentLatency) P95(connector string) (time.Duration, int) {
	v, ok := r.by.Load(connector)
	if !ok {
		return 0, 0
	}
	ring := v.(*latencyRing)
	ring.mu.Lock()
	held := slices.Clone(ring.d[:ring.n])
	ring.mu.Unlock()
	if len(held) == 0 {
		return 0, 0
	}
	slices.Sort(held)
	rank := (95*len(held) + 99) / 100 // ceil(0.95 n), 1-based
	return held[rank-1], len(held)
}
