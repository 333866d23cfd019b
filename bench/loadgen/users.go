package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// UsersConfig configures a closed-loop run.
type UsersConfig struct {
	// Addr is the server's host:port.
	Addr string
	// Users is how many users (and connections) to simulate.
	Users int
	// Period is the time between a user's requests, on average.
	Period time.Duration
	// Jitter spreads each wait uniformly over Period*(1±Jitter); 0.2 by default,
	// negative for none.
	Jitter float64
	// Warmup is measured from the end of the ramp-up (users start spread over
	// one Period); requests sent before it ends are not recorded.
	Warmup time.Duration
	// Duration is the measured window after the warm-up.
	Duration time.Duration
	// Timeout bounds one request, connecting included; 10s by default.
	Timeout time.Duration
	// Workload makes the requests.
	Workload Workload
	// Progress, when set, receives a line every ProgressEvery (5s by default).
	Progress      io.Writer
	ProgressEvery time.Duration
}

func (c *UsersConfig) check() error {
	switch {
	case c.Addr == "":
		return errors.New("no server address")
	case c.Users < 1:
		return fmt.Errorf("users %d: want at least 1", c.Users)
	case c.Period <= 0:
		return fmt.Errorf("period %s: want more than zero", c.Period)
	case c.Duration <= 0:
		return fmt.Errorf("duration %s: want more than zero", c.Duration)
	case c.Jitter >= 1:
		return fmt.Errorf("jitter %g: want less than 1", c.Jitter)
	case c.Workload == nil:
		return errors.New("no workload")
	}
	if c.Jitter == 0 {
		c.Jitter = 0.2
	}
	c.Jitter = max(c.Jitter, 0)
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	return nil
}

// RunUsers runs the closed-loop workload: user u opens its connection and sends
// its first request at u/Users of the way through the first Period (the ramp),
// then one every Period±Jitter. Requests sent in [ramp+Warmup,
// ramp+Warmup+Duration) are measured from send to last body byte; users stop
// sending at the end of the window and the run returns once their last requests
// are answered or time out. Cancelling ctx stops the run early; the result then
// covers what was measured.
func RunUsers(ctx context.Context, cfg UsersConfig) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("users mode: %w", err)
	}
	rec := newRecorder()
	start := time.Now()
	measureFrom := start.Add(cfg.Period + cfg.Warmup)
	measureTo := measureFrom.Add(cfg.Duration)
	stop := make(chan struct{})
	go rec.progress(cfg.Progress, "users", cfg.ProgressEvery, stop)
	var wg sync.WaitGroup
	for u := range cfg.Users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runUser(ctx, &cfg, rec, u, start, measureFrom, measureTo)
		}()
	}
	wg.Wait()
	close(stop)
	window := cfg.Duration
	if end := time.Now(); end.Before(measureTo) {
		window = max(end.Sub(measureFrom), 0)
	}
	res := rec.result("users", window)
	res.Users, res.PeriodS = cfg.Users, cfg.Period.Seconds()
	return res, ctx.Err()
}

func runUser(ctx context.Context, cfg *UsersConfig, rec *recorder, u int, start, measureFrom, measureTo time.Time) {
	c := newConn(cfg.Addr, &rec.open, &rec.peak, &rec.dials)
	defer c.close()
	rng := rand.New(rand.NewPCG(uint64(u), uint64(start.UnixNano())))
	next := start.Add(time.Duration(int64(cfg.Period) * int64(u) / int64(cfg.Users)))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for next.Before(measureTo) {
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		req := cfg.Workload(u)
		sent := time.Now()
		kind := c.do(req, cfg.Timeout)
		done := time.Now()
		measured := !sent.Before(measureFrom) && sent.Before(measureTo)
		if measured {
			rec.record(req.Kind, done.Sub(sent), kind)
		}
		wait := cfg.Period
		if cfg.Jitter > 0 {
			wait = time.Duration(float64(cfg.Period) * (1 + cfg.Jitter*(2*rng.Float64()-1)))
		}
		next = next.Add(wait)
		if done.After(next) {
			if !next.Before(measureFrom) && next.Before(measureTo) {
				rec.late.Add(1)
			}
			next = done
		}
	}
}
