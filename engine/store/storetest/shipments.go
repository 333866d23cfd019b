package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk/model"
)

// tracking builds a tracking result with one scan per (status, minutes after t0).
func tracking(number string, status model.TrackingStatus, scans ...int) model.Tracking {
	tr := model.Tracking{TrackingNumber: number, Status: status}
	for _, m := range scans {
		tr.Events = append(tr.Events, model.TrackingEvent{Time: t0.Add(time.Duration(m) * time.Minute), Status: status})
	}
	return tr
}

func types(evs []events.Stored) []events.Type {
	out := []events.Type{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func wantTypes(t *testing.T, what string, evs []events.Stored, err error, want ...events.Type) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	got := types(evs)
	if len(got) != len(want) {
		t.Fatalf("%s: events %v, want %v", what, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: events %v, want %v", what, got, want)
		}
	}
}

func mustShipment(t *testing.T, s EventsStore, tenantID, number string) store.Shipment {
	t.Helper()
	sh, err := s.GetShipment(ctxFor(t), tenantID, "delhivery", number)
	if err != nil {
		t.Fatalf("GetShipment(%s): %v", number, err)
	}
	return sh
}

func testShipmentsRecord(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	data := json.RawMessage(`{"tracking_number":"AWB1","reference":"PO-9"}`)
	poll := t0.Add(time.Hour)
	evs, err := s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
		TrackingNumber: "AWB1", Reference: "PO-9", NextPollAt: &poll}, data)
	wantTypes(t, "RecordShipment", evs, err, events.ShipmentCreated)
	e := evs[0]
	if e.Subject != "AWB1" || e.TenantID != tn.ID || e.Connector != "delhivery" || e.Account != "acc_1" || string(e.Data) != string(data) {
		t.Fatalf("shipment.created = %+v", e)
	}
	sh := mustShipment(t, s, tn.ID, "AWB1")
	if !sh.Booked || sh.Status != model.StatusPending || sh.Reference != "PO-9" || sh.AccountID != "acc_1" ||
		sh.NextPollAt == nil || !sh.NextPollAt.Equal(poll) || sh.LastEventAt != nil {
		t.Fatalf("recorded shipment = %+v", sh)
	}
	evs, err = s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
		TrackingNumber: "AWB1"}, data)
	wantTypes(t, "recording a booked shipment again", evs, err)

	// A shipment tracked before it was booked keeps its progress.
	if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tracking("AWB2", model.StatusInTransit, 1)); err != nil {
		t.Fatal(err)
	}
	evs, err = s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
		TrackingNumber: "AWB2"}, data)
	wantTypes(t, "booking a tracked shipment", evs, err, events.ShipmentCreated)
	if sh := mustShipment(t, s, tn.ID, "AWB2"); !sh.Booked || sh.Status != model.StatusInTransit {
		t.Fatalf("booked after tracking = %+v", sh)
	}
	if all := readAll(t, s); len(all) != 3 {
		t.Fatalf("outbox holds %d events, want 3", len(all))
	}

	// Found by tracking number or reference, exactly, within the tenant only.
	for q, want := range map[string]string{"AWB1": "AWB1", "PO-9": "AWB1", "AWB2": "AWB2", "AWB": "", "po-9": ""} {
		found, err := s.FindShipments(ctx, tn.ID, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if (want == "") != (len(found) == 0) || (want != "" && (len(found) != 1 || found[0].TrackingNumber != want)) {
			t.Errorf("FindShipments(%q) = %+v, want %q", q, found, want)
		}
	}
	other := mustTenant(t, s, "Other")
	if found, err := s.FindShipments(ctx, other.ID, "AWB1", 10); err != nil || len(found) != 0 {
		t.Errorf("another tenant finds %+v, %v", found, err)
	}
	if _, err := s.FindShipments(ctx, tn.ID, "AWB1", 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("FindShipments with limit 0: %v", err)
	}
}

func testShipmentsTrackingFlow(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	// Every step also checks TrackingIsNews predicted what ApplyTracking did.
	apply := func(tr model.Tracking) ([]events.Stored, error) {
		news, err := s.TrackingIsNews(ctx, tn.ID, "delhivery", tr)
		if err != nil {
			t.Fatalf("TrackingIsNews: %v", err)
		}
		evs, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tr)
		if err == nil && news != (len(evs) > 0) {
			t.Fatalf("TrackingIsNews = %v, but ApplyTracking appended %d events", news, len(evs))
		}
		return evs, err
	}
	if news, err := s.TrackingIsNews(ctx, tn.ID, "delhivery", tracking("AWB0", model.StatusInTransit, 1)); err != nil || !news {
		t.Fatalf("TrackingIsNews of an unknown shipment = %v, %v; want news", news, err)
	}
	if _, err := s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
		TrackingNumber: "AWB1"}, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNextPoll(ctx, tn.ID, "delhivery", "AWB1", t0); err != nil {
		t.Fatal(err)
	}
	tr := tracking("AWB1", model.StatusInTransit, 10, 20)
	evs, err := apply(tr)
	wantTypes(t, "first tracking", evs, err, events.TrackingUpdated)
	var back model.Tracking
	if err := json.Unmarshal(evs[0].Data, &back); err != nil || back.TrackingNumber != "AWB1" || len(back.Events) != 2 {
		t.Fatalf("tracking.updated data = %s (%v)", evs[0].Data, err)
	}
	if !evs[0].Time.Equal(t0.Add(20 * time.Minute)) {
		t.Fatalf("tracking.updated time = %v, want the newest scan's", evs[0].Time)
	}
	evs, err = apply(tr)
	wantTypes(t, "the same tracking again", evs, err)
	evs, err = apply(tracking("AWB1", model.StatusPending, 5))
	wantTypes(t, "an older answer", evs, err)
	sh := mustShipment(t, s, tn.ID, "AWB1")
	if sh.Status != model.StatusInTransit || sh.LastEventAt == nil || !sh.LastEventAt.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("after an older answer: %+v", sh)
	}
	tr = tracking("AWB1", model.StatusInTransit, 10, 20, 30)
	evs, err = apply(tr)
	wantTypes(t, "a new scan, same status", evs, err, events.TrackingUpdated)
	tr.SubStatus = "reached_destination_hub"
	evs, err = apply(tr)
	wantTypes(t, "a sub-status change", evs, err, events.TrackingUpdated)

	done := tracking("AWB1", model.StatusDelivered, 10, 20, 30, 40)
	delivered := t0.Add(41 * time.Minute)
	done.DeliveredAt = &delivered
	evs, err = apply(done)
	wantTypes(t, "delivered", evs, err, events.TrackingUpdated, events.ShipmentDelivered)
	sh = mustShipment(t, s, tn.ID, "AWB1")
	if sh.Status != model.StatusDelivered || sh.DeliveredAt == nil || !sh.DeliveredAt.Equal(delivered) || sh.NextPollAt != nil {
		t.Fatalf("delivered shipment = %+v", sh)
	}
	evs, err = apply(tracking("AWB1", model.StatusException, 50))
	wantTypes(t, "a scan after delivery", evs, err, events.TrackingUpdated)
	if sh := mustShipment(t, s, tn.ID, "AWB1"); sh.Status != model.StatusDelivered {
		t.Fatalf("a terminal status moved: %+v", sh)
	}
	if all := readAll(t, s); len(all) != 7 {
		t.Fatalf("outbox holds %d events, want 7: %v", len(all), types(all))
	}
}

func testShipmentsException(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	apply := func(tr model.Tracking) ([]events.Stored, error) {
		return s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tr)
	}
	evs, err := apply(tracking("AWB9", model.StatusOutForDelivery, 1))
	wantTypes(t, "an unknown shipment", evs, err, events.TrackingUpdated)
	if sh := mustShipment(t, s, tn.ID, "AWB9"); sh.Booked || sh.Status != model.StatusOutForDelivery || sh.AccountID != "acc_1" {
		t.Fatalf("inserted shipment = %+v", sh)
	}
	evs, err = apply(tracking("AWB9", model.StatusAttemptFailed, 1, 2))
	wantTypes(t, "attempt failed", evs, err, events.TrackingUpdated, events.ShipmentException)
	evs, err = apply(tracking("AWB9", model.StatusException, 1, 2, 3))
	wantTypes(t, "exception", evs, err, events.TrackingUpdated, events.ShipmentException)
	evs, err = apply(tracking("AWB9", model.StatusException, 1, 2, 3))
	wantTypes(t, "the same exception", evs, err)
	evs, err = apply(tracking("AWB9", model.StatusUnknown))
	wantTypes(t, "an unknown status", evs, err)
}

func testShipmentsCancel(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	for _, n := range []string{"AWB1", "AWB2"} {
		if _, err := s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
			TrackingNumber: n}, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tracking("AWB2", model.StatusInTransit, 1)); err != nil {
		t.Fatal(err)
	}
	data := json.RawMessage(`{"tracking_number":"AWB1","cancelled":true}`)
	evs, err := s.CancelShipment(ctx, tn.ID, "delhivery", "acc_1", "AWB1", data)
	wantTypes(t, "cancel pending", evs, err, events.ShipmentCancelled)
	if string(evs[0].Data) != string(data) {
		t.Fatalf("shipment.cancelled data = %s", evs[0].Data)
	}
	if sh := mustShipment(t, s, tn.ID, "AWB1"); sh.Status != model.StatusCancelled {
		t.Fatalf("cancelled shipment = %+v", sh)
	}
	evs, err = s.CancelShipment(ctx, tn.ID, "delhivery", "acc_1", "AWB2", data)
	wantTypes(t, "cancel in transit", evs, err, events.ShipmentCancelled)
	if sh := mustShipment(t, s, tn.ID, "AWB2"); sh.Status != model.StatusInTransit {
		t.Fatalf("a moving shipment was marked cancelled: %+v", sh)
	}
	evs, err = s.CancelShipment(ctx, tn.ID, "delhivery", "acc_1", "AWB3", data)
	wantTypes(t, "cancel unknown", evs, err, events.ShipmentCancelled)
	if sh := mustShipment(t, s, tn.ID, "AWB3"); sh.Status != model.StatusCancelled || sh.Booked {
		t.Fatalf("cancelled unknown shipment = %+v", sh)
	}
}

func testShipmentsValidation(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	good := tracking("AWB1", model.StatusInTransit, 1)
	_, err := s.ApplyTracking(ctx, "ten_aaaaaaaaaaaaaaaaaaaaaaaaaa", "delhivery", "acc_1", good)
	wantErr(t, "missing tenant", err, store.ErrNotFound)
	_, err = s.ApplyTracking(ctx, "acme", "delhivery", "acc_1", good)
	wantErr(t, "malformed tenant", err, store.ErrNotFound)
	withErr := good
	withErr.Error = &model.ItemError{Code: "not_found", Message: "no such waybill"}
	cases := map[string]error{}
	_, cases["item error"] = s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", withErr)
	_, cases["bad connector"] = s.ApplyTracking(ctx, tn.ID, "Delhivery!", "acc_1", good)
	_, cases["no account"] = s.ApplyTracking(ctx, tn.ID, "delhivery", "", good)
	_, cases["empty number"] = s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tracking("", model.StatusInTransit))
	_, cases["bad status"] = s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tracking("AWB1", "teleported"))
	_, cases["zero scan time"] = s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1",
		model.Tracking{TrackingNumber: "AWB1", Status: model.StatusInTransit, Events: []model.TrackingEvent{{}}})
	_, cases["record bad data"] = s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery",
		AccountID: "acc_1", TrackingNumber: "AWB1"}, json.RawMessage(`nope`))
	_, cases["record bad status"] = s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery",
		AccountID: "acc_1", TrackingNumber: "AWB1", Status: "lost"}, json.RawMessage(`{}`))
	_, cases["cancel bad data"] = s.CancelShipment(ctx, tn.ID, "delhivery", "acc_1", "AWB1", nil)
	for name, err := range cases {
		wantErr(t, name, err, store.ErrInvalid)
	}
	_, err = s.GetShipment(ctx, tn.ID, "delhivery", "AWB1")
	wantErr(t, "nothing stored", err, store.ErrNotFound)
	if all := readAll(t, s); len(all) != 0 {
		t.Fatalf("refused calls appended %d events", len(all))
	}
}

func testShipmentsPolling(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	for i, n := range []string{"AWB1", "AWB2", "AWB3"} {
		if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tracking(n, model.StatusInTransit, 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetNextPoll(ctx, tn.ID, "delhivery", n, t0.Add(time.Duration(3-i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueForPoll(ctx, t0.Add(2*time.Minute), 10)
	if err != nil || len(due) != 2 || due[0].TrackingNumber != "AWB3" || due[1].TrackingNumber != "AWB2" {
		t.Fatalf("DueForPoll = %+v, %v; want AWB3 then AWB2", due, err)
	}
	due, err = s.DueForPoll(ctx, t0.Add(time.Hour), 1)
	if err != nil || len(due) != 1 || due[0].TrackingNumber != "AWB3" {
		t.Fatalf("DueForPoll(limit 1) = %+v, %v", due, err)
	}
	if err := s.SetNextPoll(ctx, tn.ID, "delhivery", "AWB3", time.Time{}); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueForPoll(ctx, t0.Add(time.Hour), 10)
	if len(due) != 2 {
		t.Fatalf("after clearing AWB3, %d due", len(due))
	}
	// Reaching a terminal status stops the polling.
	if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tracking("AWB2", model.StatusDelivered, 9)); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueForPoll(ctx, t0.Add(time.Hour), 10)
	if len(due) != 1 || due[0].TrackingNumber != "AWB1" {
		t.Fatalf("after delivery, due = %+v", due)
	}
	wantErr(t, "SetNextPoll unknown", s.SetNextPoll(ctx, tn.ID, "delhivery", "AWB404", t0), store.ErrNotFound)

	// Replicas that read the same due poll race to claim it: one wins.
	at := *due[0].NextPollAt
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			switch err := s.ClaimPoll(ctx, tn.ID, "delhivery", "AWB1", at, t0.Add(2*time.Hour)); {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("ClaimPoll: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 8 concurrent claims of one due poll won, want 1", wins.Load())
	}
	if due, _ = s.DueForPoll(ctx, t0.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("a claimed poll is still due: %+v", due)
	}
	wantErr(t, "ClaimPoll of a poll already claimed", s.ClaimPoll(ctx, tn.ID, "delhivery", "AWB1", at, t0.Add(3*time.Hour)), store.ErrNotFound)
	_, err = s.DueForPoll(ctx, t0, 0)
	wantErr(t, "DueForPoll limit 0", err, store.ErrInvalid)
}

func testShipmentsConcurrentSame(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	tr := tracking("AWB1", model.StatusDelivered, 1, 2)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tr); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := types(readAll(t, s))
	if len(got) != 2 || got[0] != events.TrackingUpdated || got[1] != events.ShipmentDelivered {
		t.Fatalf("8 racing copies of one tracking appended %v; want one tracking.updated and one shipment.delivered", got)
	}
}

func testShipmentsConcurrentLostUpdate(t *testing.T, s EventsStore) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	// Each writer brings one more scan; whatever the interleaving, the newest scan
	// and the furthest status win, and every tracking.updated is for news.
	const writers = 6
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := model.StatusInTransit
			if i == writers-1 {
				st = model.StatusOutForDelivery
			}
			if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tracking("AWB1", st, i+1)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	sh := mustShipment(t, s, tn.ID, "AWB1")
	if sh.Status != model.StatusOutForDelivery || sh.LastEventAt == nil || !sh.LastEventAt.Equal(t0.Add(writers*time.Minute)) {
		t.Fatalf("lost update: %+v", sh)
	}
	n := len(readAll(t, s))
	if n < 1 || n > writers {
		t.Fatalf("%d tracking events for %d writers", n, writers)
	}
}
