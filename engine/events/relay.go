package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Sink receives the outbox's events from a Relay: the webhook fan-out, a Kafka
// topic family. Deliver is called from one goroutine at a time per sink, with events
// in Seq order; returning nil means every event of the batch is durably accepted
// (the relay then moves the sink's cursor past them). An error makes the relay retry
// the same batch after a backoff, so a sink may see an event more than once and must
// tolerate that (receivers de-duplicate by Event.ID).
type Sink interface {
	// Name identifies the sink's cursor and lease in the store; it must stay the
	// same across restarts.
	Name() string
	// Deliver hands a batch over.
	Deliver(ctx context.Context, batch []Stored) error
}

// Outbox is what a Relay needs of the store (store.EventStore implements it).
type Outbox interface {
	// ReadEvents returns up to limit events after a Seq, in Seq order.
	ReadEvents(ctx context.Context, after Seq, limit int) ([]Stored, error)
	// GetCursor returns a sink's cursor.
	GetCursor(ctx context.Context, sink string) (Seq, error)
	// SetCursor moves a sink's cursor forward.
	SetCursor(ctx context.Context, sink string, seq Seq) error
	// AcquireSinkLease claims or renews the right to deliver to a sink.
	AcquireSinkLease(ctx context.Context, sink, owner string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseSinkLease gives the right up.
	ReleaseSinkLease(ctx context.Context, sink, owner string) error
}

// RelayConfig tunes a Relay; zero fields take the defaults shown.
type RelayConfig struct {
	// Owner names this relay in sink leases; it must differ between replicas
	// (default: a random id).
	Owner string
	// Batch is the most events handed to a sink at once (default 100).
	Batch int
	// PollInterval is how often the outbox is read when nothing calls Notify
	// (default 1 s): the fallback for appends made by other replicas.
	PollInterval time.Duration
	// LeaseTTL is how long a sink's lease lasts without renewal (default 30 s); the
	// relay renews it before a batch once a third of it has passed, so every batch
	// starts with at least two thirds of it left. A replica that dies mid-batch
	// delays the sink by at most this long.
	LeaseTTL time.Duration
	// Linger is how long a sink's loop, woken by Notify, waits before reading
	// the outbox (default 10 ms; negative for not at all), so that events
	// appended meanwhile travel in one batch: under load every event would
	// otherwise be a batch of its own, each with a cursor write.
	Linger time.Duration
	// MinBackoff and MaxBackoff bound the wait after a sink error (defaults 100 ms
	// and 30 s): exponential, with full jitter.
	MinBackoff time.Duration
	// MaxBackoff is the longest wait after a sink error.
	MaxBackoff time.Duration
	// Logger receives sink errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock for leases (default time.Now).
	Now func() time.Time
}

// Relay moves the outbox to sinks, at least once and in Seq order per sink. Several
// hub replicas may each run a Relay over the same store: a lease per sink in the
// store lets one of them deliver to a given sink at a time, so a sink's progress is
// one cursor advanced by one writer. (A lease rather than FOR UPDATE SKIP LOCKED on
// event rows: the outbox is an ordered log read by a cursor, not a queue of rows
// claimed one by one, and the lease works the same in SQLite.) If a lease runs out
// while its holder is still delivering, the batch may be delivered twice; never
// lost, since a cursor only moves after its sink accepted the batch.
type Relay struct {
	outbox Outbox
	sinks  []Sink
	cfg    RelayConfig
	wakes  []chan struct{}
}

// NewRelay returns a relay from outbox to sinks, whose names must be unique.
func NewRelay(outbox Outbox, sinks []Sink, cfg RelayConfig) (*Relay, error) {
	if outbox == nil {
		return nil, errors.New("relay: no outbox")
	}
	seen := map[string]bool{}
	for _, s := range sinks {
		if s == nil || s.Name() == "" {
			return nil, errors.New("relay: a sink has no name")
		}
		if seen[s.Name()] {
			return nil, fmt.Errorf("relay: two sinks named %q", s.Name())
		}
		seen[s.Name()] = true
	}
	if cfg.Owner == "" {
		cfg.Owner = fmt.Sprintf("relay-%016x", rand.Uint64())
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Linger == 0 {
		cfg.Linger = 10 * time.Millisecond
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Relay{outbox: outbox, sinks: sinks, cfg: cfg}
	for range sinks {
		r.wakes = append(r.wakes, make(chan struct{}, 1))
	}
	return r, nil
}

// Notify tells the relay the outbox has new events, so they are relayed at once
// rather than at the next poll. It never blocks; call it after an append commits.
func (r *Relay) Notify() {
	for _, w := range r.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Run relays until ctx is done, one goroutine per sink, then releases its leases and
// returns ctx's error.
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i, s := range r.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runSink(ctx, s, r.wakes[i])
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// runSink is one sink's loop.
func (r *Relay) runSink(ctx context.Context, s Sink, wake <-chan struct{}) {
	name := s.Name()
	log := r.cfg.Logger.With("sink", name, "owner", r.cfg.Owner)
	var lease sinkLease
	defer func() {
		if lease.held {
			// The run's context is done; the release must still reach the store.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.outbox.ReleaseSinkLease(rctx, name, r.cfg.Owner); err != nil {
				log.Warn("releasing sink lease", "err", err)
			}
		}
	}()
	failures := 0
	for ctx.Err() == nil {
		n, err := r.step(ctx, s, &lease)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			d := backoff(r.cfg.MinBackoff, r.cfg.MaxBackoff, failures)
			log.Warn("relaying events", "err", err, "failures", failures, "retry_in", d)
			sleep(ctx, d, nil)
		case n == r.cfg.Batch:
			failures = 0 // more is waiting: go on at once
		default:
			failures = 0
			if sleep(ctx, r.cfg.PollInterval, wake) && r.cfg.Linger > 0 {
				sleep(ctx, r.cfg.Linger, nil)
			}
		}
	}
}

// sinkLease is what a sink's loop knows of its lease: whether it holds it,
// and when it last renewed it (the lease lasts at least LeaseTTL from then).
type sinkLease struct {
	held    bool
	renewed time.Time
}

// step delivers at most one batch and returns how many events it delivered.
// Without the lease it delivers nothing. The lease is renewed only once a
// third of its TTL has passed: a renewal is a write transaction, and renewing
// before every batch of a busy outbox cost as many as the batches themselves.
func (r *Relay) step(ctx context.Context, s Sink, lease *sinkLease) (int, error) {
	name := s.Name()
	if now := r.cfg.Now(); !lease.held || now.Sub(lease.renewed) >= r.cfg.LeaseTTL/3 || now.Before(lease.renewed) {
		ok, err := r.outbox.AcquireSinkLease(ctx, name, r.cfg.Owner, now, r.cfg.LeaseTTL)
		if err != nil {
			lease.renewed = time.Time{} // try again at the next step
			return 0, fmt.Errorf("acquiring lease: %w", err)
		}
		lease.held, lease.renewed = ok, now
		if !ok {
			return 0, nil
		}
	}
	cursor, err := r.outbox.GetCursor(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("reading cursor: %w", err)
	}
	batch, err := r.outbox.ReadEvents(ctx, cursor, r.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("reading outbox: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	if err := s.Deliver(ctx, batch); err != nil {
		return 0, fmt.Errorf("delivering %d events from seq %d: %w", len(batch), batch[0].Seq, err)
	}
	if err := r.outbox.SetCursor(ctx, name, batch[len(batch)-1].Seq); err != nil {
		return 0, fmt.Errorf("advancing cursor: %w", err)
	}
	return len(batch), nil
}

// backoff returns the wait before retry number n (from 1): full jitter over an
// exponentially growing cap.
func backoff(lo, hi time.Duration, n int) time.Duration {
	c := hi
	if n < 32 && lo<<(n-1) > 0 && lo<<(n-1) < hi {
		c = lo << (n - 1)
	}
	return lo/2 + rand.N(c-lo/2+1)
}

// sleep waits for d, a wake-up or ctx; it reports whether a wake-up ended it.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
		return true
	}
	return false
}
