package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, in the manner of HdrHistogram: values below
// 2^subBits microseconds have a bucket each; above, every power of two is cut
// into 2^(subBits-1) equal buckets, so a bucket is never wider than 1/128 of
// the values it holds (under 0.8 % error).
const (
	subBits    = 8
	subCount   = 1 << subBits // 256 exact buckets for 0..255 µs
	halfCount  = subCount / 2 // buckets per power of two above that
	maxShift   = 40 - subBits // values up to 2^40 µs (about 12 days)
	numBuckets = subCount + maxShift*halfCount
)

// Histogram records latencies with a relative error below 0.8 %, in constant
// memory. Record, Merge and the readers are safe for concurrent use.
type Histogram struct {
	counts [numBuckets]atomic.Int64
	total  atomic.Int64
	sum    atomic.Int64 // microseconds
	max    atomic.Int64 // microseconds
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{} }

// bucketOf returns the bucket index of v microseconds.
func bucketOf(v int64) int {
	if v < subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits // v>>shift is in [halfCount, subCount)
	if shift > maxShift {
		return numBuckets - 1
	}
	return subCount + (shift-1)*halfCount + int(v>>shift) - halfCount
}

// bucketBounds returns the smallest and largest value (microseconds) bucket i holds.
func bucketBounds(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	shift := (i-subCount)/halfCount + 1
	sub := int64((i-subCount)%halfCount + halfCount)
	lo = sub << shift
	return lo, lo + (1 << shift) - 1
}

// Record adds one latency. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(d.Microseconds(), 0)
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	for v := o.max.Load(); ; {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// Count returns how many values were recorded.
func (h *Histogram) Count() int64 { return h.total.Load() }

// Max returns the largest value recorded, exactly (to the microsecond).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Mean returns the average of the values recorded.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load()/n) * time.Microsecond
}

// Quantile returns the value at or below which a fraction q (0 to 1) of the
// values lie: the upper end of the bucket holding that rank, never more than
// Max. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := int64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(hi, h.max.Load())) * time.Microsecond
		}
	}
	return h.Max()
}

// Summary is a histogram's figures in milliseconds, for reports and JSON.
type Summary struct {
	// Count is how many requests the figures cover.
	Count int64 `json:"count"`
	// Mean is the average latency.
	Mean float64 `json:"mean_ms"`
	// P50 is the median latency.
	P50 float64 `json:"p50_ms"`
	// P95 is the 95th percentile.
	P95 float64 `json:"p95_ms"`
	// P99 is the 99th percentile.
	P99 float64 `json:"p99_ms"`
	// P999 is the 99.9th percentile.
	P999 float64 `json:"p999_ms"`
	// Max is the largest latency seen.
	Max float64 `json:"max_ms"`
}

// Summary returns the histogram's figures.
func (h *Histogram) Summary() Summary {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Summary{Count: h.Count(), Mean: ms(h.Mean()), P50: ms(h.Quantile(0.50)), P95: ms(h.Quantile(0.95)),
		P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)), Max: ms(h.Max())}
}
