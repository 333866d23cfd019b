// Package ewaybills warns ahead of e-way bills' expiry: a Scheduler asks the store,
// every minute or so, for the active e-way bills whose validity ends within a lead
// time and emits eway_bill.expiring for each, once per validity, so that the TMS
// can extend a bill before the goods in transit are left without one.
//
// The store does the work in one transaction per batch (store.EWayBillStore
// ClaimExpiring: mark the bill, append the event); the scheduler only paces it and
// wakes the relay. Several replicas may each run a Scheduler on one store: every
// notice is still emitted once.
//
// It imports the store and the events contract, nothing else of the engine.
package ewaybills

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
)

// Defaults of Scheduler's fields.
const (
	// DefaultLead is 8 hours: NIC accepts an extension (EXTENDVALIDITY) from 8
	// hours before a bill's expiry to 8 hours after it, so a notice 8 hours ahead
	// arrives when the extension window opens and leaves all of it to act in.
	DefaultLead = 8 * time.Hour
	// DefaultEvery is how often the scheduler looks for bills entering the lead
	// window: a notice is at most this late.
	DefaultEvery = time.Minute
	// DefaultBatch is how many notices one transaction appends.
	DefaultBatch = 100
)

// Store is the part of the store the scheduler uses (store.Store satisfies it).
type Store interface {
	// ClaimExpiring marks up to limit bills ending within lead of now as notified
	// and appends their eway_bill.expiring events; see store.EWayBillStore.
	ClaimExpiring(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]events.Stored, error)
}

var _ Store = (store.EWayBillStore)(nil)

// Scheduler emits eway_bill.expiring for e-way bills about to expire. Set the
// fields, then call Run in one goroutine per hub process (or RunOnce from tests);
// the fields must not change after that.
type Scheduler struct {
	// Store claims the notices; required.
	Store Store
	// Lead is how long before a bill's expiry its notice is emitted; DefaultLead
	// when zero or negative.
	Lead time.Duration
	// Every is how often Run looks for bills entering the lead window;
	// DefaultEvery when zero or negative.
	Every time.Duration
	// Batch is how many notices one store transaction appends; DefaultBatch when
	// zero or negative, at most store.MaxEventBatch.
	Batch int
	// Notify, when set, is called after notices were appended (events.Relay
	// Notify), so they are relayed at once.
	Notify func()
	// Logger receives a line per pass that emitted notices and the passes'
	// failures; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (s *Scheduler) lead() time.Duration {
	if s.Lead <= 0 {
		return DefaultLead
	}
	return s.Lead
}

func (s *Scheduler) every() time.Duration {
	if s.Every <= 0 {
		return DefaultEvery
	}
	return s.Every
}

func (s *Scheduler) batch() int {
	switch {
	case s.Batch <= 0:
		return DefaultBatch
	case s.Batch > store.MaxEventBatch:
		return store.MaxEventBatch
	}
	return s.Batch
}

func (s *Scheduler) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Scheduler) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// errNoStore is Run's and RunOnce's answer when Store is unset.
var errNoStore = errors.New("ewaybills: Scheduler.Store is required")

// Run emits due notices every Every until ctx ends, and returns nil then. A
// failing pass is logged and the next one tried.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.Store == nil {
		return errNoStore
	}
	t := time.NewTicker(s.every())
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log().WarnContext(ctx, "e-way bill expiry pass", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce emits every notice due now, Batch per store transaction, and returns
// the events appended. Notify is called once if any were. On an error it returns
// what earlier batches appended with the error.
func (s *Scheduler) RunOnce(ctx context.Context) ([]events.Stored, error) {
	if s.Store == nil {
		return nil, errNoStore
	}
	now, lead, batch := s.now(), s.lead(), s.batch()
	var out []events.Stored
	var err error
	for {
		var evs []events.Stored
		evs, err = s.Store.ClaimExpiring(ctx, now, lead, batch)
		out = append(out, evs...)
		// Each batch marks its bills, so the loop ends once the due ones are taken.
		if err != nil || len(evs) < batch {
			break
		}
	}
	if len(out) > 0 {
		if s.Notify != nil {
			s.Notify()
		}
		s.log().InfoContext(ctx, "e-way bill expiry notices emitted", "count", len(out), "lead", lead.String())
	}
	return out, err
}
