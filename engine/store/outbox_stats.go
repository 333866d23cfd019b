package store

import (
	"context"
	"time"
)

// Backlog is how far behind the event pipeline is, for metrics.
type Backlog struct {
	// OutboxDepth is how many events a sink has not delivered yet.
	OutboxDepth int64
	// OutboxOldest is when the oldest of them was written; zero when none.
	OutboxOldest time.Time
}

// DeliveryBacklog is the webhook dispatcher's queue, for metrics.
type DeliveryBacklog struct {
	// Pending counts deliveries waiting for a (next) attempt.
	Pending int64
	// OldestDue is the earliest due time among them; zero when none.
	OldestDue time.Time
	// EndpointsEnabled and EndpointsDisabled count endpoints by state.
	EndpointsEnabled int64
	// EndpointsDisabled counts disabled endpoints.
	EndpointsDisabled int64
}

// StatsStore reads the pipeline's backlog cheaply (index lookups and a small
// table's count), at scrape time.
type StatsStore interface {
	// OutboxBacklog returns a sink's backlog: events after its cursor.
	OutboxBacklog(ctx context.Context, sink string) (Backlog, error)
	// WebhookBacklog returns the dispatcher's queue and the endpoints by state.
	WebhookBacklog(ctx context.Context) (DeliveryBacklog, error)
}

var _ StatsStore = (*sqlStore)(nil)

// OutboxBacklog returns a sink's backlog. Sequence numbers have no gaps, so the
// depth is the last seq minus the cursor.
func (s *sqlStore) OutboxBacklog(ctx context.Context, sink string) (Backlog, error) {
	cur, err := s.GetCursor(ctx, sink)
	if err != nil {
		return Backlog{}, err
	}
	var last int64
	if err := s.db.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`, nil, &last); err != nil {
		return Backlog{}, s.dbErr("reading the outbox's last event", err)
	}
	b := Backlog{OutboxDepth: max(0, last-int64(cur))}
	if b.OutboxDepth == 0 {
		return b, nil
	}
	var ms int64
	switch err := s.db.queryRow(ctx, `SELECT created_at FROM events WHERE seq > $1 ORDER BY seq LIMIT 1`, []any{int64(cur)}, &ms); err {
	case nil:
		b.OutboxOldest = fromMillis(ms)
	case errNoRows:
	default:
		return Backlog{}, s.dbErr("reading the outbox's oldest event", err)
	}
	return b, nil
}

// WebhookBacklog returns the dispatcher's queue and the endpoints by state.
func (s *sqlStore) WebhookBacklog(ctx context.Context) (DeliveryBacklog, error) {
	var b DeliveryBacklog
	var due nullMillis
	if err := s.db.queryRow(ctx, `SELECT COUNT(*), MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'`,
		nil, &b.Pending, &due); err != nil {
		return DeliveryBacklog{}, s.dbErr("counting pending deliveries", err)
	}
	if due.Valid {
		b.OldestDue = fromMillis(due.Int64)
	}
	err := s.db.query(ctx, `SELECT enabled, COUNT(*) FROM webhook_endpoints GROUP BY enabled`, nil,
		func(scan func(...any) error) error {
			var enabled bool
			var n int64
			if err := scan(&enabled, &n); err != nil {
				return err
			}
			if enabled {
				b.EndpointsEnabled = n
			} else {
				b.EndpointsDisabled = n
			}
			return nil
		})
	if err != nil {
		return DeliveryBacklog{}, s.dbErr("counting endpoints", err)
	}
	return b, nil
}
