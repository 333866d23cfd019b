package loadgen

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueTightly(t *testing.T) {
	values := []int64{0, 1, 255, 256, 257, 511, 512, 1000, 50_000, 51_600, 145_000, 1 << 30, 1<<40 - 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, rng.Int64N(1<<39))
	}
	for _, v := range values {
		i := bucketOf(v)
		lo, hi := bucketBounds(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/halfCount {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d of its values", i, lo, hi, halfCount)
		}
	}
	if got := bucketOf(1 << 45); got != numBuckets-1 {
		t.Errorf("a value past the range went to bucket %d, want the last (%d)", got, numBuckets-1)
	}
	if got := bucketOf(-5); got != 0 {
		t.Errorf("a negative value went to bucket %d, want 0", got)
	}
}

func TestQuantilesMatchSortedValues(t *testing.T) {
	h := NewHistogram()
	rng := rand.New(rand.NewPCG(3, 4))
	var all []time.Duration
	for range 100_000 {
		// A long tail: mostly around 50 ms, some up to 2 s.
		d := 50*time.Millisecond + time.Duration(rng.ExpFloat64()*float64(5*time.Millisecond))
		if rng.IntN(100) == 0 {
			d = time.Duration(rng.Int64N(int64(2 * time.Second)))
		}
		d = d.Truncate(time.Microsecond)
		all = append(all, d)
		h.Record(d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
		exact := all[int(q*float64(len(all)))-1]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/halfCount+float64(time.Microsecond) {
			t.Errorf("quantile %g = %s, exact %s: outside the bucket error", q, got, exact)
		}
	}
	if h.Max() != all[len(all)-1] {
		t.Errorf("max %s, want %s", h.Max(), all[len(all)-1])
	}
	if h.Quantile(1) != h.Max() {
		t.Errorf("quantile 1 = %s, want the max %s", h.Quantile(1), h.Max())
	}
	if h.Count() != int64(len(all)) {
		t.Errorf("count %d, want %d", h.Count(), len(all))
	}
}

func TestSmallValuesAreExact(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	s := h.Summary()
	if s.P50 != 0.05 || s.P95 != 0.095 || s.P99 != 0.099 || s.Max != 0.1 || s.Count != 100 {
		t.Errorf("summary %+v, want p50 0.05 p95 0.095 p99 0.099 max 0.1 ms over 100", s)
	}
	if h.Mean() != 50*time.Microsecond { // 5050/100, truncated
		t.Errorf("mean %s, want 50µs", h.Mean())
	}
}

func TestEmptyHistogram(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 || h.Summary().Count != 0 {
		t.Errorf("an empty histogram reports %+v", h.Summary())
	}
}

func TestConcurrentRecordAndMerge(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				a.Record(time.Duration(g*1000+i) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	b.Record(time.Hour)
	b.Merge(a)
	if b.Count() != 8001 || b.Max() != time.Hour {
		t.Errorf("merged count %d max %s, want 8001 and 1h", b.Count(), b.Max())
	}
	if a.Max() != 7999*time.Millisecond {
		t.Errorf("max %s, want 7.999s", a.Max())
	}
}
