package inbound

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"time"

	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// PollStore is the part of the store the poller reads and schedules.
type PollStore interface {
	Scheduler
	// DueForPoll returns up to limit shipments whose next poll is due, earliest first.
	DueForPoll(ctx context.Context, now time.Time, limit int) ([]store.Shipment, error)
	// ClaimPoll moves a due poll (NextPollAt due) to until, unless another
	// replica took it first (store.ErrNotFound).
	ClaimPoll(ctx context.Context, tenantID, connectorID, trackingNumber string, due, until time.Time) error
}

// Invoker runs a connector operation (*router.Router satisfies it); the router's
// AfterCall records the results.
type Invoker interface {
	// Invoke runs one operation for a tenant and returns the canonical response.
	Invoke(ctx context.Context, rt router.Route, body []byte) ([]byte, error)
}

// PollerConfig configures a Poller.
type PollerConfig struct {
	// Store lists due shipments and keeps poll times; required.
	Store PollStore
	// Router runs track calls; required.
	Router Invoker
	// Schedule decides the next poll from a shipment's status.
	Schedule Schedule
	// BatchSize is the most numbers per track call; 50 when zero, at most 50.
	BatchSize int
	// Every is how often the poller looks for due shipments; a quarter of the
	// schedule's interval when zero, at most 30s.
	Every time.Duration
	// Jitter is the longest random pause between two batches' calls, which
	// spreads a burst of due shipments over time; 500ms when zero, none when
	// negative.
	Jitter time.Duration
	// Lease is how far ahead a claimed shipment's next poll is pushed while its
	// call runs, so that another replica does not poll it too; if this replica
	// dies, the shipment comes due again when the lease ends. 2m when zero.
	Lease time.Duration
	// Scan is how many due shipments one store read takes; 500 when zero.
	Scan int
	// Logger receives the poller's warnings; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Poller polls carriers for shipments whose next poll is due. Run it in one
// goroutine per hub process; several replicas may run one each.
//
// Claiming: each due shipment's next poll is moved Lease ahead before its call.
// A replica that reads the same rows between another's read and claim polls them
// too; that costs a duplicate track call, which is harmless (track changes nothing
// at the carrier and ApplyTracking appends nothing for a result already applied),
// and the window is one store round trip. A store method that claims atomically
// (UPDATE ... WHERE next_poll_at = the value read, or FOR UPDATE SKIP LOCKED on
// Postgres) would close it.
type Poller struct {
	cfg      PollerConfig
	log      *slog.Logger
	now      func() time.Time
	failures map[groupKey]int // consecutive failed calls per group; Run's goroutine only
}

// groupKey is what one track call can cover: one tenant's account of a connector.
type groupKey struct{ tenant, connector, account string }

// NewPoller returns a Poller.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	if cfg.Store == nil || cfg.Router == nil {
		return nil, errors.New("inbound: Store and Router are required")
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > 50 {
		cfg.BatchSize = 50
	}
	if cfg.Every <= 0 {
		cfg.Every = min(cfg.Schedule.interval()/4, 30*time.Second)
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 500 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Scan <= 0 || cfg.Scan > store.MaxEventBatch {
		cfg.Scan = 500
	}
	p := &Poller{cfg: cfg, log: cfg.Logger, now: cfg.Now, failures: map[groupKey]int{}}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Run polls until ctx ends, looking for due shipments every cfg.Every; it
// returns nil when ctx ends. A failing pass is logged and the next one tried.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		if _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "tracking poll pass", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PassStats counts what one PollOnce did.
type PassStats struct {
	// Shipments is how many due shipments were claimed.
	Shipments int
	// Calls is how many track calls were made.
	Calls int
	// Failed is how many calls failed.
	Failed int
}

// PollOnce polls every shipment due now: it reads them Scan at a time, claims
// them, and makes one track call per batch of one tenant's account of a
// connector, pausing up to Jitter between calls.
func (p *Poller) PollOnce(ctx context.Context) (PassStats, error) {
	var stats PassStats
	for ctx.Err() == nil {
		now := p.now()
		due, err := p.cfg.Store.DueForPoll(ctx, now, p.cfg.Scan)
		if err != nil {
			return stats, fmt.Errorf("reading shipments due for polling: %w", err)
		}
		if len(due) == 0 {
			return stats, nil
		}
		claimed := due[:0]
		for _, sh := range due {
			// Replicas read the same due shipments; the claim is a compare
			// and set on the due time, so each poll is made by one of them.
			err := p.cfg.Store.ClaimPoll(ctx, sh.TenantID, sh.ConnectorID, sh.TrackingNumber, *sh.NextPollAt, now.Add(p.cfg.Lease))
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				return stats, fmt.Errorf("claiming shipment %q: %w", sh.TrackingNumber, err)
			}
			claimed = append(claimed, sh)
		}
		stats.Shipments += len(claimed)
		for i, b := range p.batches(claimed) {
			if i > 0 && !p.pause(ctx) {
				return stats, ctx.Err()
			}
			calls, failed := p.poll(ctx, b)
			stats.Calls += calls
			stats.Failed += failed
		}
		if len(due) < p.cfg.Scan {
			return stats, nil
		}
	}
	return stats, ctx.Err()
}

type batch struct {
	key       groupKey
	shipments []store.Shipment
}

// batches groups shipments by tenant, connector and account, in the order their
// groups first appear, and cuts groups into BatchSize pieces.
func (p *Poller) batches(due []store.Shipment) []batch {
	var order []groupKey
	groups := map[groupKey][]store.Shipment{}
	for _, sh := range due {
		k := groupKey{sh.TenantID, sh.ConnectorID, sh.AccountID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], sh)
	}
	var out []batch
	for _, k := range order {
		list := groups[k]
		for len(list) > 0 {
			n := min(len(list), p.cfg.BatchSize)
			out = append(out, batch{key: k, shipments: list[:n:n]})
			list = list[n:]
		}
	}
	return out
}

// pause waits a random time up to Jitter; false when ctx ended.
func (p *Poller) pause(ctx context.Context) bool {
	if p.cfg.Jitter <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(mrand.N(p.cfg.Jitter + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// poll tracks one batch and schedules its shipments; it returns the calls made
// and how many failed. A batch the connector refuses outright (a permanent,
// non-retryable error) is split into single calls, so one bad number cannot
// starve the others.
func (p *Poller) poll(ctx context.Context, b batch) (calls, failed int) {
	err := p.track(ctx, b)
	calls++
	if err == nil {
		delete(p.failures, b.key)
		p.scheduleAfter(ctx, b.shipments)
		return calls, 0
	}
	failed++
	se := sdk.AsError(err)
	switch {
	case se.Source == sdk.SourceHub && (se.Code == sdk.CodeNotFound || se.Code == sdk.CodeInvalidRequest):
		// The connector, its track operation or the account is gone: polling
		// cannot succeed until someone acts, and a new booking or track call
		// schedules again.
		p.log.WarnContext(ctx, "tracking polls stopped", "tenant", b.key.tenant, "connector", b.key.connector,
			"account", b.key.account, "shipments", len(b.shipments), "code", se.Code, "error", se.Message)
		p.setAll(ctx, b.shipments, time.Time{})
		return calls, failed
	case refusesNumbers(se) && len(b.shipments) > 1:
		for _, sh := range b.shipments {
			c, f := p.poll(ctx, batch{key: b.key, shipments: []store.Shipment{sh}})
			calls += c
			failed += f
		}
		return calls, failed
	}
	p.failures[b.key]++
	n := p.failures[b.key]
	if refusesNumbers(se) {
		n = 64 // the carrier refuses this number: wait the longest
	}
	p.log.WarnContext(ctx, "tracking poll failed", "tenant", b.key.tenant, "connector", b.key.connector,
		"account", b.key.account, "shipments", len(b.shipments), "failures", n, "code", se.Code)
	p.setAll(ctx, b.shipments, p.now().Add(p.cfg.Schedule.Backoff(n)))
	return calls, failed
}

// refusesNumbers reports whether an error refuses the request's content (a
// malformed or unknown number) rather than the call (an outage, bad credentials).
func refusesNumbers(se *sdk.Error) bool {
	return se.Code == sdk.CodeInvalidRequest || se.Code == sdk.CodePermanent || se.Code == sdk.CodeNotFound
}

// track makes one track call for a batch; the router's AfterCall records the results.
func (p *Poller) track(ctx context.Context, b batch) error {
	numbers := make([]string, len(b.shipments))
	for i, sh := range b.shipments {
		numbers[i] = sh.TrackingNumber
	}
	body, err := json.Marshal(model.TrackRequest{TrackingNumbers: numbers})
	if err != nil {
		return sdk.Errorf(sdk.CodeInternal, "encoding track request: %v", err)
	}
	_, err = p.cfg.Router.Invoke(ctx, router.Route{TenantID: b.key.tenant, ConnectorID: b.key.connector,
		Operation: sdk.OpTrack, AccountID: b.key.account, RequestID: pollRequestID()}, body)
	return err
}

// scheduleAfter sets each polled shipment's next poll from its status as stored
// after the results were applied (a terminal status clears it).
func (p *Poller) scheduleAfter(ctx context.Context, list []store.Shipment) {
	now := p.now()
	for _, sh := range list {
		cur, err := p.cfg.Store.GetShipment(ctx, sh.TenantID, sh.ConnectorID, sh.TrackingNumber)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			// The claim's lease stands: the shipment comes due again when it ends.
			p.log.WarnContext(ctx, "reading a polled shipment", "tracking_number", sh.TrackingNumber, "error", err)
			continue
		}
		var at time.Time
		if wait, ok := p.cfg.Schedule.Next(cur.Status); ok {
			at = now.Add(wait)
		}
		p.set(ctx, sh, at)
	}
}

func (p *Poller) setAll(ctx context.Context, list []store.Shipment, at time.Time) {
	for _, sh := range list {
		p.set(ctx, sh, at)
	}
}

func (p *Poller) set(ctx context.Context, sh store.Shipment, at time.Time) {
	err := p.cfg.Store.SetNextPoll(ctx, sh.TenantID, sh.ConnectorID, sh.TrackingNumber, at)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.log.WarnContext(ctx, "scheduling a shipment's poll", "tracking_number", sh.TrackingNumber, "error", err)
	}
}

// pollRequestID names a poll's call in logs and traces.
func pollRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "poll_" + hex.EncodeToString(b[:])
}
