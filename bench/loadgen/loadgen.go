// Package loadgen is the bench module's HTTP/1.1 load generator, for measuring
// what one hop (a proxy, the hub) adds to a carrier's latency.
//
// It has two modes. Users mode (RunUsers) is closed-loop: N simulated users,
// each holding one keep-alive connection of its own, send a request every
// period give or take a jitter; a request that cannot leave on time because the
// user's previous one is still running leaves late and is counted. Rate mode
// (RunRate) is open-loop: requests are due at a fixed rate whatever the server
// does, and latency is measured from when each was due, so a stalled server
// shows in the figures instead of slowing the generator down (no coordinated
// omission).
//
// Connections are raw net.Conns with a bufio.Reader and http.ReadResponse, so
// each user really holds one connection and the generator costs little CPU.
// Latencies go into a log-linear histogram (Histogram). The package imports only
// the standard library.
package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one run measured. Durations are in milliseconds or seconds as
// their JSON names say.
type Result struct {
	// Mode is "users" or "rate".
	Mode string `json:"mode"`
	// Users is the number of simulated users (users mode).
	Users int `json:"users,omitempty"`
	// PeriodS is the time between a user's requests (users mode).
	PeriodS float64 `json:"period_s,omitempty"`
	// TargetRate is the rate asked for (rate mode), requests per second.
	TargetRate float64 `json:"target_rps,omitempty"`
	// DurationS is the measured window, warm-up excluded.
	DurationS float64 `json:"duration_s"`
	// Requests is how many requests were sent in the window.
	Requests int64 `json:"requests"`
	// OK is how many got a 2xx answer.
	OK int64 `json:"ok"`
	// Errors counts the others by kind: connect, timeout, io, "status NNN".
	Errors map[string]int64 `json:"errors"`
	// Late counts users-mode requests sent after their due time because the
	// user's previous request was still running.
	Late int64 `json:"late"`
	// Pool is the rate-mode connection pool size.
	Pool int `json:"pool,omitempty"`
	// PoolWaits counts rate-mode requests that found every pooled connection busy
	// and waited for one: when it is not zero the pool limited the run.
	PoolWaits int64 `json:"pool_waits"`
	// PeakConns is the most connections open at once.
	PeakConns int64 `json:"peak_conns"`
	// Dials counts connection attempts (more than the users or the pool when
	// connections broke and were reopened).
	Dials int64 `json:"dials"`
	// Throughput is the requests answered per second of the window.
	Throughput float64 `json:"rps"`
	// Latency covers every request of the window, errors included.
	Latency Summary `json:"latency"`
	// ByKind splits Latency by Request.Kind.
	ByKind map[string]Summary `json:"by_kind"`
}

// ErrorCount returns the number of requests that did not get a 2xx answer.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// ErrorRate returns the share of requests that did not get a 2xx answer.
func (r *Result) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.ErrorCount()) / float64(r.Requests)
}

// ErrorsString lists the errors by kind, "none" when there were none.
func (r *Result) ErrorsString() string {
	if len(r.Errors) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(r.Errors)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, r.Errors[k])
	}
	return b.String()
}

// String is a one-line summary for progress output.
func (r *Result) String() string {
	return fmt.Sprintf("%d requests, %.0f/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms, errors: %s, late %d, pool waits %d, peak conns %d",
		r.Requests, r.Throughput, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.ErrorsString(), r.Late, r.PoolWaits, r.PeakConns)
}

// recorder gathers a run's figures from many goroutines.
type recorder struct {
	all    *Histogram
	kinds  sync.Map // string -> *Histogram
	sent   atomic.Int64
	ok     atomic.Int64
	late   atomic.Int64
	waits  atomic.Int64
	open   atomic.Int64
	peak   atomic.Int64
	dials  atomic.Int64
	mu     sync.Mutex
	errors map[string]int64
}

func newRecorder() *recorder { return &recorder{all: NewHistogram(), errors: map[string]int64{}} }

// record counts one request of the measured window.
func (r *recorder) record(kind string, latency time.Duration, errKind string) {
	r.sent.Add(1)
	r.all.Record(latency)
	h, ok := r.kinds.Load(kind)
	if !ok {
		h, _ = r.kinds.LoadOrStore(kind, NewHistogram())
	}
	h.(*Histogram).Record(latency)
	if errKind == "" {
		r.ok.Add(1)
		return
	}
	r.mu.Lock()
	r.errors[errKind]++
	r.mu.Unlock()
}

func (r *recorder) result(mode string, window time.Duration) *Result {
	res := &Result{Mode: mode, DurationS: window.Seconds(), Requests: r.sent.Load(), OK: r.ok.Load(),
		Late: r.late.Load(), PoolWaits: r.waits.Load(), PeakConns: r.peak.Load(), Dials: r.dials.Load(),
		Latency: r.all.Summary(), ByKind: map[string]Summary{}}
	r.mu.Lock()
	res.Errors = maps.Clone(r.errors)
	r.mu.Unlock()
	if window > 0 {
		res.Throughput = float64(res.Requests) / window.Seconds()
	}
	r.kinds.Range(func(k, v any) bool {
		res.ByKind[k.(string)] = v.(*Histogram).Summary()
		return true
	})
	return res
}

// progress prints a line to w every interval until stop is closed.
func (r *recorder) progress(w io.Writer, label string, interval time.Duration, stop <-chan struct{}) {
	if w == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	var last int64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			n := r.sent.Load()
			r.mu.Lock()
			var errs int64
			for _, c := range r.errors {
				errs += c
			}
			r.mu.Unlock()
			fmt.Fprintf(w, "  %s %4.0fs: open conns %d, measured %d (%.0f/s now), errors %d, late %d, pool waits %d\n",
				label, time.Since(start).Seconds(), r.open.Load(), n, float64(n-last)/interval.Seconds(), errs, r.late.Load(), r.waits.Load())
			last = n
		}
	}
}
