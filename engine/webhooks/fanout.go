package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
)

// Fanout turns outbox events into delivery rows, one per (event, matching enabled
// endpoint of the event's tenant). It is a sink of the outbox relay: the relay
// hands it each batch at least once, and a batch handed again adds nothing.
type Fanout struct {
	store store.WebhookStore
	now   func() time.Time
}

// NewFanout returns a fan-out writing to st; now is the clock (time.Now when nil).
func NewFanout(st store.WebhookStore, now func() time.Time) *Fanout {
	if now == nil {
		now = time.Now
	}
	return &Fanout{store: st, now: now}
}

// Name names the sink in the relay's cursors and logs.
func (f *Fanout) Name() string { return "webhooks" }

// Deliver fans a batch out; see Fanout.
func (f *Fanout) Deliver(ctx context.Context, batch []events.Stored) error {
	_, err := f.Fanout(ctx, batch)
	return err
}

// Fanout writes the delivery rows of a batch in one transaction per 1,000 rows and
// returns how many were new. Each delivery holds the event's JSON, the exact bytes
// that will be signed and sent.
func (f *Fanout) Fanout(ctx context.Context, batch []events.Stored) (int64, error) {
	byTenant := map[string][]store.WebhookEndpoint{}
	var rows []store.WebhookDelivery
	for _, ev := range batch {
		eps, ok := byTenant[ev.TenantID]
		if !ok {
			var err error
			eps, err = f.store.ListWebhookEndpoints(ctx, ev.TenantID, true)
			if err != nil {
				return 0, fmt.Errorf("fanning out event %s: %w", ev.ID, err)
			}
			byTenant[ev.TenantID] = eps
		}
		if len(eps) == 0 {
			continue
		}
		body, err := json.Marshal(ev.Event)
		if err != nil {
			return 0, fmt.Errorf("encoding event %s: %w", ev.ID, err)
		}
		var doc any // decoded once, when some endpoint filters on data
		for _, ep := range eps {
			if !TypeMatches(ep.EventTypes, string(ev.Type)) {
				continue
			}
			if len(ep.Filter) > 0 {
				if doc == nil {
					if err := json.Unmarshal(body, &doc); err != nil {
						return 0, fmt.Errorf("decoding event %s: %w", ev.ID, err)
					}
				}
				if !FilterMatches(ep.Filter, doc) {
					continue
				}
			}
			rows = append(rows, store.WebhookDelivery{
				EventID: ev.ID, EndpointID: ep.ID, TenantID: ev.TenantID, EventType: string(ev.Type),
				Subject: ev.Subject, Seq: int64(ev.Seq), Ordered: ep.Ordered, EventTime: ev.Time, Body: body,
				TraceParent: ev.TraceParent, TraceState: ev.TraceState,
			})
		}
	}
	if len(rows) == 0 {
		return 0, nil
	}
	n, err := f.store.InsertWebhookDeliveries(ctx, rows, f.now())
	if err != nil {
		return n, fmt.Errorf("fanning out %d events: %w", len(batch), err)
	}
	return n, nil
}

// TypeMatches reports whether an endpoint subscribed to patterns takes events of
// type t: no patterns or "*" take all, "family.*" a family, others exactly.
func TypeMatches(patterns []string, t string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == "*" || p == t {
			return true
		}
		if fam, ok := strings.CutSuffix(p, ".*"); ok && strings.HasPrefix(t, fam+".") {
			return true
		}
	}
	return false
}

// FilterMatches reports whether every filter entry equals the value doc (the
// decoded event) holds there. A key starting with "/" is a JSON pointer (RFC 6901);
// any other key is a top-level field. A missing value never matches.
func FilterMatches(filter map[string]json.RawMessage, doc any) bool {
	for k, raw := range filter {
		ptr := k
		if !strings.HasPrefix(ptr, "/") {
			ptr = "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
		}
		got, ok := lookup(doc, ptr)
		if !ok {
			return false
		}
		var want any
		if err := json.Unmarshal(raw, &want); err != nil || !reflect.DeepEqual(got, want) {
			return false
		}
	}
	return true
}

// lookup resolves a JSON pointer in a decoded document.
func lookup(doc any, ptr string) (any, bool) {
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Replay re-queues an endpoint's succeeded and dead deliveries of events in
// [since, until) (until zero: open), page by page, calling progress (when not nil)
// after each page with the count queued so far and the total known then. It
// returns how many were queued.
func Replay(ctx context.Context, st store.WebhookStore, tenantID, endpointID string, since, until, now time.Time,
	progress func(done, total int64)) (int64, error) {
	w := store.ReplayWindow{Since: since, Until: until, Limit: 500}
	var done int64
	for {
		r, err := st.ReplayWebhookDeliveries(ctx, tenantID, endpointID, w, now)
		if err != nil {
			return done, fmt.Errorf("replaying endpoint %s: %w", endpointID, err)
		}
		done += r.Queued
		if progress != nil {
			progress(done, done+r.Remaining)
		}
		if r.Next == "" {
			return done, nil
		}
		w.After = r.Next
	}
}
