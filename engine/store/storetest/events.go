package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
)

// EventsStore is what the events and shipments cases need: a Store that is also an
// outbox and keeps shipments. The lead folds both into store.Store.
type EventsStore interface {
	store.Store
	store.EventStore
	store.ShipmentStore
}

// RunEvents runs the outbox (store.EventStore) and shipments (store.ShipmentStore)
// cases: append and read in commit order, ids and times, validation, atomic batches,
// cursors, sink leases, purges, concurrent appends, and the shipment state machine
// with its events, including two trackings racing on one shipment. open has the same
// contract as for Run.
func RunEvents(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, EventsStore)
	}{
		{"EventsAppendRead", testEventsAppendRead},
		{"EventsValidation", testEventsValidation},
		{"EventsDuplicateIDIsAtomic", testEventsDuplicateID},
		{"EventsCursors", testEventsCursors},
		{"EventsBacklog", testBacklog},
		{"EventsSinkLeases", testEventsLeases},
		{"EventsPurge", testEventsPurge},
		{"EventsConcurrentAppends", testEventsConcurrentAppends},
		{"EventsTraceContext", testEventsTraceContext},
		{"ShipmentsRecord", testShipmentsRecord},
		{"ShipmentsTrackingFlow", testShipmentsTrackingFlow},
		{"ShipmentsExceptionAndUnknown", testShipmentsException},
		{"ShipmentsCancel", testShipmentsCancel},
		{"ShipmentsValidation", testShipmentsValidation},
		{"ShipmentsPolling", testShipmentsPolling},
		{"ShipmentsConcurrentSameTracking", testShipmentsConcurrentSame},
		{"ShipmentsConcurrentNoLostUpdate", testShipmentsConcurrentLostUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			es, ok := s.(EventsStore)
			if !ok {
				t.Fatalf("%T does not implement store.EventStore and store.ShipmentStore", s)
			}
			tt.fn(t, es)
		})
	}
}

func ev(tenantID string, typ events.Type, subject, data string) events.Event {
	return events.Event{Type: typ, TenantID: tenantID, Subject: subject, Data: json.RawMessage(data)}
}

// readAll reads the whole outbox in pages of 7, checking Seq strictly increases.
func readAll(t *testing.T, s store.EventStore) []events.Stored {
	t.Helper()
	var all []events.Stored
	var after events.Seq
	for {
		page, err := s.ReadEvents(ctxFor(t), after, 7)
		if err != nil {
			t.Fatalf("ReadEvents(%d): %v", after, err)
		}
		if len(page) == 0 {
			return all
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("ReadEvents: seq %d after %d", e.Seq, after)
			}
			after = e.Seq
		}
		all = append(all, page...)
	}
}

func testEventsAppendRead(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("IST", 5*3600+1800))
	before := time.Now()
	got, err := s.AppendEvents(ctx, []events.Event{
		ev(tn.ID, events.EWayBillGenerated, "331001234567", `{"number":"331001234567"}`),
		{ID: "evt_mine", Type: events.EInvoiceGenerated, TenantID: tn.ID, Subject: "irn-1", Time: at,
			Connector: "nic_irp", Account: "acc_x", Data: json.RawMessage(`{"irn": "irn-1"}`)},
		ev("", events.ConnectorHealthChanged, "delhivery", `{"connector":"delhivery","from":"closed","to":"open"}`),
	})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("AppendEvents returned %d events", len(got))
	}
	if got[1].ID != "evt_mine" || !strings.HasPrefix(got[0].ID, "evt_") || len(got[0].ID) != 30 || got[0].ID == got[2].ID {
		t.Fatalf("ids = %q %q %q", got[0].ID, got[1].ID, got[2].ID)
	}
	if !(got[0].Seq < got[1].Seq && got[1].Seq < got[2].Seq) {
		t.Fatalf("seqs not increasing: %d %d %d", got[0].Seq, got[1].Seq, got[2].Seq)
	}
	if !got[1].Time.Equal(at.Truncate(time.Millisecond)) || got[1].Time.Location() != time.UTC {
		t.Fatalf("given time stored as %v", got[1].Time)
	}
	checkStamp(t, "default event time", got[0].Time, before, after)
	all := readAll(t, s)
	if len(all) != 3 {
		t.Fatalf("ReadEvents found %d events, want 3", len(all))
	}
	for i := range all {
		if all[i].Seq != got[i].Seq || all[i].ID != got[i].ID || !all[i].Time.Equal(got[i].Time) ||
			all[i].Type != got[i].Type || all[i].Subject != got[i].Subject || all[i].TenantID != got[i].TenantID ||
			all[i].Connector != got[i].Connector || all[i].Account != got[i].Account || string(all[i].Data) != string(got[i].Data) {
			t.Fatalf("read back %+v\nappended %+v", all[i], got[i])
		}
	}
	page, err := s.ReadEvents(ctx, got[0].Seq, 1)
	if err != nil || len(page) != 1 || page[0].ID != "evt_mine" {
		t.Fatalf("ReadEvents(after first, 1) = %v, %v", page, err)
	}
	if none, err := s.AppendEvents(ctx, nil); err != nil || len(none) != 0 {
		t.Fatalf("AppendEvents(nil) = %v, %v", none, err)
	}
	// Ids made later sort later.
	a, b := store.NewEventID(at), store.NewEventID(at.Add(time.Millisecond))
	if a >= b {
		t.Fatalf("NewEventID not time-ordered: %s >= %s", a, b)
	}
}

func testEventsValidation(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	good := ev(tn.ID, events.PODReceived, "AWB1", `{}`)
	bad := map[string]events.Event{
		"unknown type":   ev(tn.ID, "shipment.teleported", "AWB1", `{}`),
		"bad tenant":     ev("acme", events.PODReceived, "AWB1", `{}`),
		"empty subject":  ev(tn.ID, events.PODReceived, "", `{}`),
		"control char":   ev(tn.ID, events.PODReceived, "AWB\x00", `{}`),
		"long subject":   ev(tn.ID, events.PODReceived, strings.Repeat("x", 256), `{}`),
		"not json":       ev(tn.ID, events.PODReceived, "AWB1", `{"a":`),
		"no data":        ev(tn.ID, events.PODReceived, "AWB1", ``),
		"bad connector":  {Type: events.PODReceived, TenantID: tn.ID, Subject: "A", Connector: "Del Hivery", Data: json.RawMessage(`1`)},
		"bad id":         {ID: "e1", Type: events.PODReceived, TenantID: tn.ID, Subject: "A", Data: json.RawMessage(`1`)},
		"oversized data": ev(tn.ID, events.PODReceived, "AWB1", `"`+strings.Repeat("x", store.MaxEventData)+`"`),
	}
	for name, e := range bad {
		_, err := s.AppendEvents(ctx, []events.Event{good, e})
		wantErr(t, name, err, store.ErrInvalid)
	}
	_, err := s.AppendEvents(ctx, make([]events.Event, store.MaxEventBatch+1))
	wantErr(t, "oversized batch", err, store.ErrInvalid)
	for _, limit := range []int{0, -1, store.MaxEventBatch + 1} {
		_, err := s.ReadEvents(ctx, 0, limit)
		wantErr(t, fmt.Sprintf("ReadEvents limit %d", limit), err, store.ErrInvalid)
	}
	if all := readAll(t, s); len(all) != 0 {
		t.Fatalf("rejected batches stored %d events", len(all))
	}
}

func testEventsDuplicateID(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	e := ev(tn.ID, events.PODReceived, "AWB1", `{}`)
	e.ID = "evt_fixed"
	if _, err := s.AppendEvents(ctx, []events.Event{e}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AppendEvents(ctx, []events.Event{ev(tn.ID, events.PODReceived, "AWB2", `{}`), e})
	wantErr(t, "duplicate id", err, store.ErrConflict)
	all := readAll(t, s)
	if len(all) != 1 {
		t.Fatalf("a failed batch left %d events, want only the first", len(all))
	}
	// The counter moved on with the rolled-back batch or not; either way the next
	// append is after everything read.
	next, err := s.AppendEvents(ctx, []events.Event{ev(tn.ID, events.PODReceived, "AWB3", `{}`)})
	if err != nil || next[0].Seq <= all[0].Seq {
		t.Fatalf("append after a rollback = %v, %v", next, err)
	}
}

func testEventsCursors(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	if c, err := s.GetCursor(ctx, "kafka"); err != nil || c != 0 {
		t.Fatalf("GetCursor(new) = %d, %v", c, err)
	}
	for _, step := range []struct{ set, want events.Seq }{{5, 5}, {3, 5}, {9, 9}} {
		if err := s.SetCursor(ctx, "kafka", step.set); err != nil {
			t.Fatal(err)
		}
		if c, err := s.GetCursor(ctx, "kafka"); err != nil || c != step.want {
			t.Fatalf("after SetCursor(%d): GetCursor = %d, %v; want %d", step.set, c, err, step.want)
		}
	}
	if c, err := s.GetCursor(ctx, "webhooks"); err != nil || c != 0 {
		t.Fatalf("cursors are per sink: GetCursor(webhooks) = %d, %v", c, err)
	}
	wantErr(t, "empty sink", s.SetCursor(ctx, "", 1), store.ErrInvalid)
	wantErr(t, "negative seq", s.SetCursor(ctx, "kafka", -1), store.ErrInvalid)
	_, err := s.GetCursor(ctx, strings.Repeat("s", 101))
	wantErr(t, "long sink", err, store.ErrInvalid)
}

func testEventsLeases(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	lease := func(owner string, now time.Time) bool {
		t.Helper()
		ok, err := s.AcquireSinkLease(ctx, "kafka", owner, now, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lease("a", t0) {
		t.Fatal("first lease refused")
	}
	if lease("b", t0.Add(time.Second)) {
		t.Fatal("b took a live lease")
	}
	if !lease("a", t0.Add(5*time.Second)) {
		t.Fatal("renewal refused")
	}
	if lease("b", t0.Add(14*time.Second)) {
		t.Fatal("b took the renewed lease before it ran out")
	}
	if !lease("b", t0.Add(15*time.Second)) {
		t.Fatal("b could not take an expired lease")
	}
	if err := s.ReleaseSinkLease(ctx, "kafka", "a"); err != nil {
		t.Fatal(err)
	}
	if lease("a", t0.Add(16*time.Second)) {
		t.Fatal("a's release of a lease it no longer held freed b's")
	}
	if err := s.ReleaseSinkLease(ctx, "kafka", "b"); err != nil {
		t.Fatal(err)
	}
	if !lease("a", t0.Add(16*time.Second)) {
		t.Fatal("a released lease could not be taken")
	}
	if err := s.SetCursor(ctx, "kafka", 4); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.GetCursor(ctx, "kafka"); c != 4 {
		t.Fatalf("leases and cursors share a row: cursor %d", c)
	}
	_, err := s.AcquireSinkLease(ctx, "kafka", "", t0, time.Second)
	wantErr(t, "empty owner", err, store.ErrInvalid)
	_, err = s.AcquireSinkLease(ctx, "kafka", "a", t0, 0)
	wantErr(t, "zero ttl", err, store.ErrInvalid)

	// Of many concurrent claimants of a free lease, one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.AcquireSinkLease(ctx, "race", fmt.Sprintf("r%d", i), t0, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d claimants won one lease", wins)
	}
}

func testEventsPurge(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	var evs []events.Event
	for i := range 10 {
		evs = append(evs, ev(tn.ID, events.PODReceived, fmt.Sprintf("AWB%d", i), `{}`))
	}
	got, err := s.AppendEvents(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if n, err := s.PurgeEvents(ctx, future); err != nil || n != 0 {
		t.Fatalf("purge with no cursors = %d, %v; want nothing", n, err)
	}
	_ = s.SetCursor(ctx, "kafka", got[7].Seq)
	_ = s.SetCursor(ctx, "webhooks", got[3].Seq)
	if n, err := s.PurgeEvents(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purge of nothing old enough = %d, %v", n, err)
	}
	if n, err := s.PurgeEvents(ctx, future); err != nil || n != 4 {
		t.Fatalf("purge = %d, %v; want the 4 events both sinks passed", n, err)
	}
	all := readAll(t, s)
	if len(all) != 6 || all[0].Seq != got[4].Seq {
		t.Fatalf("after purge: %d events from seq %d", len(all), all[0].Seq)
	}
}

func testEventsConcurrentAppends(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	const writers, each = 6, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				batch := []events.Event{ev(tn.ID, events.PODReceived, fmt.Sprintf("w%d-%d", w, i), `{}`),
					ev(tn.ID, events.PODReceived, fmt.Sprintf("w%d-%d-b", w, i), `{}`)}
				if _, err := s.AppendEvents(ctx, batch); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	all := readAll(t, s)
	if len(all) != writers*each*2 {
		t.Fatalf("read %d events, want %d", len(all), writers*each*2)
	}
	ids := map[string]bool{}
	for i, e := range all {
		if ids[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		ids[e.ID] = true
		if i > 0 && e.Seq != all[i-1].Seq+1 {
			t.Fatalf("gap in committed seqs: %d after %d", e.Seq, all[i-1].Seq)
		}
		// A batch is contiguous.
		if strings.HasSuffix(e.Subject, "-b") && all[i-1].Subject+"-b" != e.Subject {
			t.Fatalf("batch split: %s after %s", e.Subject, all[i-1].Subject)
		}
	}
}
