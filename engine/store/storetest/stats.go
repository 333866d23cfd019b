package storetest

import (
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
)

// testBacklog checks the metrics' view of the pipeline: a sink's depth and
// oldest undelivered event, and the webhook queue.
func testBacklog(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	st, ok := s.(store.StatsStore)
	if !ok {
		t.Skip("the store keeps no stats")
	}
	if b, err := st.OutboxBacklog(ctx, "kafka"); err != nil || b.OutboxDepth != 0 || !b.OutboxOldest.IsZero() {
		t.Fatalf("empty outbox: %+v, %v", b, err)
	}
	tn := mustTenant(t, s, "Acme")
	before := time.Now().Add(-time.Second)
	got, err := s.AppendEvents(ctx, []events.Event{
		ev(tn.ID, events.ShipmentCreated, "A1", `{}`), ev(tn.ID, events.TrackingUpdated, "A1", `{}`), ev(tn.ID, events.ShipmentDelivered, "A1", `{}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "kafka", got[0].Seq); err != nil {
		t.Fatal(err)
	}
	b, err := st.OutboxBacklog(ctx, "kafka")
	if err != nil || b.OutboxDepth != 2 || b.OutboxOldest.Before(before) {
		t.Fatalf("kafka backlog: %+v, %v; want 2 events", b, err)
	}
	if b, err := st.OutboxBacklog(ctx, "webhooks"); err != nil || b.OutboxDepth != 3 {
		t.Fatalf("webhooks backlog: %+v, %v; want 3 events", b, err)
	}
	w, err := st.WebhookBacklog(ctx)
	if err != nil || w.Pending != 0 || w.EndpointsEnabled != 0 || w.EndpointsDisabled != 0 {
		t.Fatalf("empty webhook queue: %+v, %v", w, err)
	}
}
