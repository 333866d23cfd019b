package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// RateConfig configures an open-loop run.
type RateConfig struct {
	// Addr is the server's host:port.
	Addr string
	// Rate is the requests per second to send.
	Rate float64
	// Warmup is sent at Rate before the measured window and not recorded.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Timeout bounds one request, connecting and waiting for a pooled connection
	// included; 10s by default.
	Timeout time.Duration
	// Pool is the most keep-alive connections requests share; 0 picks
	// max(256, Rate), enough for requests taking a second each. Connections
	// are opened as concurrency needs them and reused most recently used first.
	// Requests that find every connection busy wait for one (counted in
	// Result.PoolWaits: the pool, not the server, limited the run), and the wait
	// is part of their latency.
	Pool int
	// Workload makes the requests; its argument is the request's sequence number
	// in the run.
	Workload Workload
	// Progress, when set, receives a line every ProgressEvery (5s by default).
	Progress      io.Writer
	ProgressEvery time.Duration
}

func (c *RateConfig) check() error {
	switch {
	case c.Addr == "":
		return errors.New("no server address")
	case !(c.Rate > 0) || c.Rate > 1e6:
		return fmt.Errorf("rate %g: want more than 0 and at most 1,000,000 requests per second", c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("duration %s: want more than zero", c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("warm-up %s: want zero or more", c.Warmup)
	case c.Pool < 0:
		return fmt.Errorf("pool %d: want zero (automatic) or more", c.Pool)
	case c.Workload == nil:
		return errors.New("no workload")
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Pool == 0 {
		c.Pool = max(256, int(c.Rate))
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	return nil
}

// RunRate sends requests due every 1/Rate seconds for Warmup+Duration, each on
// the first free pooled connection, and measures each from its due time to the
// last byte of its answer. Requests due in the measured window are recorded.
// The run returns once the last request is answered or timed out. Cancelling
// ctx stops sending; the result then covers what was measured.
func RunRate(ctx context.Context, cfg RateConfig) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("rate mode: %w", err)
	}
	rec := newRecorder()
	p := newPool(cfg.Pool, func() *conn { return newConn(cfg.Addr, &rec.open, &rec.peak, &rec.dials) })
	stop := make(chan struct{})
	go rec.progress(cfg.Progress, "rate", cfg.ProgressEvery, stop)

	interval := time.Duration(float64(time.Second) / cfg.Rate)
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	measureTo := measureFrom.Add(cfg.Duration)
	total := int64((cfg.Warmup + cfg.Duration) / interval)
	var wg sync.WaitGroup
	var lastDue time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
loop:
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				break loop
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		lastDue = due
		measured := !due.Before(measureFrom) && due.Before(measureTo)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendPooled(&cfg, rec, p, int(i), due, measured)
		}()
	}
	wg.Wait()
	close(stop)
	p.closeAll()
	window := cfg.Duration
	if lastDue.Before(measureTo.Add(-interval)) {
		window = max(lastDue.Sub(measureFrom)+interval, 0)
	}
	res := rec.result("rate", window)
	res.TargetRate, res.Pool = cfg.Rate, cfg.Pool
	return res, ctx.Err()
}

// pool lends out at most size connections, most recently used first, so only
// as many connections are opened as requests are in flight at once.
type pool struct {
	tokens chan struct{}
	mu     sync.Mutex
	free   []*conn
	all    []*conn
	dial   func() *conn
}

func newPool(size int, dial func() *conn) *pool {
	p := &pool{tokens: make(chan struct{}, size), dial: dial}
	for range size {
		p.tokens <- struct{}{}
	}
	return p
}

// get takes a connection, waiting at most until deadline; it reports whether it
// had to wait, and returns nil when the deadline passed first.
func (p *pool) get(deadline time.Time) (c *conn, waited bool) {
	select {
	case <-p.tokens:
	default:
		waited = true
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-p.tokens:
		case <-t.C:
			return nil, true
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		c = p.free[n-1]
		p.free = p.free[:n-1]
		return c, waited
	}
	c = p.dial()
	p.all = append(p.all, c)
	return c, waited
}

func (p *pool) put(c *conn) {
	p.mu.Lock()
	p.free = append(p.free, c)
	p.mu.Unlock()
	p.tokens <- struct{}{}
}

// closeAll closes every connection; call it once no request is in flight.
func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.all {
		c.close()
	}
}

// sendPooled waits for a free connection, sends one request on it and records
// it from its due time.
func sendPooled(cfg *RateConfig, rec *recorder, p *pool, seq int, due time.Time, measured bool) {
	req := cfg.Workload(seq)
	c, waited := p.get(due.Add(cfg.Timeout))
	if waited && measured {
		rec.waits.Add(1)
	}
	if c == nil {
		if measured {
			rec.record(req.Kind, time.Since(due), ErrTimeout)
		}
		return
	}
	defer p.put(c)
	remaining := time.Until(due.Add(cfg.Timeout))
	if remaining <= 0 {
		if measured {
			rec.record(req.Kind, time.Since(due), ErrTimeout)
		}
		return
	}
	kind := c.do(req, remaining)
	if measured {
		rec.record(req.Kind, time.Since(due), kind)
	}
}
