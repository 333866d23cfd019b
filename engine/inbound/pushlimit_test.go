package inbound

import (
	"strconv"
	"testing"
	"time"
)

// TestPushLimiterStaysBounded: a flood of made-up ids never grows the
// limiter past its bound, buckets that refilled are dropped first, and a
// bucket in use keeps its state while the flood is swept away around it
// until the limiter must forget everything.
func TestPushLimiterStaysBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	l := NewPushLimiter(1, 2)
	l.max = 100
	for range 2 {
		if ok, _ := l.Allow("acc_real", now); !ok {
			t.Fatal("the burst was refused")
		}
	}
	if ok, wait := l.Allow("acc_real", now); ok || wait != time.Second {
		t.Fatalf("after the burst: %v %s, want refused for 1s", ok, wait)
	}
	// Made-up ids that each push once, one every 20ms, while the real
	// account keeps pushing: the flood's buckets refill within a second and
	// are swept, the real account's, never full, keeps its state.
	real := l.buckets["acc_real"]
	for i := range 1000 {
		now = now.Add(20 * time.Millisecond)
		l.Allow("acc_fake"+strconv.Itoa(i), now)
		l.Allow("acc_real", now)
		if len(l.buckets) > l.max {
			t.Fatalf("%d buckets, bound %d", len(l.buckets), l.max)
		}
	}
	if l.buckets["acc_real"] != real {
		t.Fatal("the real account's bucket was dropped by the flood")
	}
	// Ids that each empty their bucket cannot be swept: the limiter forgets
	// everything rather than grow.
	for i := range 1000 {
		id := "acc_drain" + strconv.Itoa(i)
		l.Allow(id, now)
		l.Allow(id, now)
		if len(l.buckets) > l.max {
			t.Fatalf("%d buckets, bound %d", len(l.buckets), l.max)
		}
	}
}
