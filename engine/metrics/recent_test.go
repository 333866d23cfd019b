package metrics

import (
	"testing"
	"time"
)

func TestRecentLatencyP95(t *testing.T) {
	var r RecentLatency
	if p, n := r.P95("a"); p != 0 || n != 0 {
		t.Fatalf("before any call: %v over %d", p, n)
	}
	for i := 1; i <= 100; i++ {
		r.Observe("a", time.Duration(i)*time.Millisecond)
	}
	if p, n := r.P95("a"); p != 95*time.Millisecond || n != 100 {
		t.Fatalf("P95 of 1..100 ms = %v over %d, want 95ms over 100", p, n)
	}
	// Only the latest calls count: 600 slow ones push the fast ones out.
	for range 600 {
		r.Observe("a", time.Second)
	}
	if p, n := r.P95("a"); p != time.Second || n != recentCalls {
		t.Fatalf("after 600 slow calls: %v over %d", p, n)
	}
	if p, n := r.P95("b"); p != 0 || n != 0 {
		t.Fatalf("another connector: %v over %d", p, n)
	}
	r.Observe("c", 7*time.Millisecond)
	if p, n := r.P95("c"); p != 7*time.Millisecond || n != 1 {
		t.Fatalf("one call: %v over %d", p, n)
	}
}

// BenchmarkRecentLatencyObserve is the cost Observe adds to every connector
// call, with calls to several connectors in parallel.
func BenchmarkRecentLatencyObserve(b *testing.B) {
	var r RecentLatency
	names := []string{"a", "b", "c", "d"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Observe(names[i%len(names)], time.Millisecond)
			i++
		}
	})
}
