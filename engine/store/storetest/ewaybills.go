package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk/model"
)

// testEWayBills runs the store.EWayBillStore cases: recording generations and
// vehicle updates once, cancellations, expiry notices (once per validity, re-armed
// by an extension, none for cancelled bills), expiry, validation and concurrent
// claimers.
func testEWayBills(t *testing.T, s store.Store) {
	// The store decides "already expired" by its own clock when recording, so the
	// bills' validity lies in the real future; ClaimExpiring takes its now from the
	// caller, so the cases move that clock freely after base.
	base := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour)
	for _, c := range []struct {
		name string
		fn   func(*testing.T, store.Store, time.Time)
	}{
		{"Record", testEWayBillRecord},
		{"Expiring", testEWayBillExpiring},
		{"Cancel", testEWayBillCancel},
		{"Validation", testEWayBillValidation},
		{"ConcurrentClaims", testEWayBillConcurrentClaims},
	} {
		// Claims are not per tenant: each case's clock starts well past every
		// bill of the cases before, whose eway_bill.expired notices are taken
		// first so that the case sees only its own.
		drainNotices(t, s, base)
		t.Run(c.name, func(t *testing.T) { c.fn(t, s, base) })
		base = base.Add(1000 * time.Hour)
	}
}

// drainNotices claims every notice due at now with a lead of a millisecond:
// the eway_bill.expired notices of bills that ended before now.
func drainNotices(t *testing.T, s store.Store, now time.Time) {
	t.Helper()
	for {
		evs, err := s.ClaimExpiring(ctxFor(t), now, time.Millisecond, store.MaxEventBatch)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) < store.MaxEventBatch {
			return
		}
	}
}

// ewbResponse is a connector's EWayBill response as JSON.
func ewbResponse(number string, generated time.Time, valid *time.Time) json.RawMessage {
	b, _ := json.Marshal(model.EWayBill{Number: number, GeneratedAt: generated, ValidUntil: valid, Status: "active"})
	return b
}

// recordEWB records a response of change for bill number of tenant and returns the
// events appended.
func recordEWB(t *testing.T, s store.Store, tenantID string, change events.Type, number, vehicle string, generated time.Time, valid *time.Time) []events.Stored {
	t.Helper()
	evs, err := s.RecordEWayBill(ctxFor(t), store.EWayBill{TenantID: tenantID, Number: number, ConnectorID: "nic_ewaybill",
		AccountID: "acc_ewb", GeneratedAt: &generated, ValidUntil: valid, Vehicle: vehicle}, change,
		ewbResponse(number, generated, valid))
	if err != nil {
		t.Fatalf("RecordEWayBill(%s, %s): %v", change, number, err)
	}
	return evs
}

func at(t time.Time) *time.Time { return &t }

// claimSubjects claims with now and lead and returns the subjects of the
// events, those of eway_bill.expired as "expired:NUMBER".
func claimSubjects(t *testing.T, s store.Store, now time.Time, lead time.Duration, limit int) []string {
	t.Helper()
	evs, err := s.ClaimExpiring(ctxFor(t), now, lead, limit)
	if err != nil {
		t.Fatalf("ClaimExpiring(%v): %v", now, err)
	}
	out := []string{}
	for _, e := range evs {
		switch e.Type {
		case events.EWayBillExpiring:
			out = append(out, e.Subject)
		case events.EWayBillExpired:
			out = append(out, "expired:"+e.Subject)
		default:
			t.Fatalf("ClaimExpiring appended %s", e.Type)
		}
	}
	return out
}

func getEWB(t *testing.T, s store.Store, tenantID, number string) store.EWayBill {
	t.Helper()
	b, err := s.GetEWayBill(ctxFor(t), tenantID, number)
	if err != nil {
		t.Fatalf("GetEWayBill(%s): %v", number, err)
	}
	return b
}

func testEWayBillRecord(t *testing.T, s store.Store, base time.Time) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "EWB Record")
	other := mustTenant(t, s, "EWB Other")
	gen := base.Add(-24 * time.Hour).Add(123 * time.Millisecond)
	valid := base.Add(24 * time.Hour)

	evs := recordEWB(t, s, tn.ID, events.EWayBillGenerated, "331001234567", "KA01AB1234", gen, &valid)
	if len(evs) != 1 {
		t.Fatalf("generation appended %d events, want 1", len(evs))
	}
	e := evs[0]
	if e.Type != events.EWayBillGenerated || e.Subject != "331001234567" || e.TenantID != tn.ID ||
		e.Connector != "nic_ewaybill" || e.Account != "acc_ewb" || !e.Time.Equal(gen) {
		t.Fatalf("generated event = %+v", e.Event)
	}
	if !bytes.Equal(e.Data, ewbResponse("331001234567", gen, &valid)) {
		t.Fatalf("event data %s is not the response", e.Data)
	}
	b := getEWB(t, s, tn.ID, "331001234567")
	if b.Status != store.EWayBillActive || b.Vehicle != "KA01AB1234" || b.GeneratedAt == nil || !b.GeneratedAt.Equal(gen) ||
		b.ValidUntil == nil || !b.ValidUntil.Equal(valid) || b.ExpiringNotifiedFor != nil || b.ConnectorID != "nic_ewaybill" {
		t.Fatalf("recorded bill = %+v", b)
	}
	if b.ValidUntil.Location() != time.UTC {
		t.Errorf("ValidUntil location %v, want UTC", b.ValidUntil.Location())
	}
	if evs := recordEWB(t, s, tn.ID, events.EWayBillGenerated, "331001234567", "KA01AB1234", gen, &valid); len(evs) != 0 {
		t.Fatalf("the same generation recorded twice appended %v", evs)
	}
	if _, err := s.GetEWayBill(ctx, other.ID, "331001234567"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's bill: %v, want ErrNotFound", err)
	}
	if _, err := s.GetEWayBill(ctx, tn.ID, "999999999999"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown bill: %v, want ErrNotFound", err)
	}

	// A vehicle update: appended once per distinct response.
	evs = recordEWB(t, s, tn.ID, events.EWayBillVehicleUpdated, "331001234567", "KA02CD5678", gen, &valid)
	if len(evs) != 1 || evs[0].Type != events.EWayBillVehicleUpdated || evs[0].Subject != "331001234567" {
		t.Fatalf("vehicle update appended %+v", evs)
	}
	if evs := recordEWB(t, s, tn.ID, events.EWayBillVehicleUpdated, "331001234567", "KA02CD5678", gen, &valid); len(evs) != 0 {
		t.Fatalf("the same vehicle update recorded twice appended %v", evs)
	}
	if b := getEWB(t, s, tn.ID, "331001234567"); b.Vehicle != "KA02CD5678" {
		t.Fatalf("vehicle after update = %q", b.Vehicle)
	}
	// Validity only moves forward: an update reporting an earlier end keeps the later.
	earlier := valid.Add(-time.Hour)
	if evs := recordEWB(t, s, tn.ID, events.EWayBillVehicleUpdated, "331001234567", "KA03EF9012", gen, &earlier); len(evs) != 1 {
		t.Fatalf("a different vehicle update appended %d events, want 1", len(evs))
	}
	if b := getEWB(t, s, tn.ID, "331001234567"); !b.ValidUntil.Equal(valid) || b.Vehicle != "KA03EF9012" {
		t.Fatalf("after an update with an earlier validity: %+v", b)
	}

	// A vehicle update of a bill the hub never saw generated records it.
	if evs := recordEWB(t, s, tn.ID, events.EWayBillVehicleUpdated, "331009999999", "", gen, nil); len(evs) != 1 {
		t.Fatalf("update of an unknown bill appended %d events, want 1", len(evs))
	}
	if b := getEWB(t, s, tn.ID, "331009999999"); b.Status != store.EWayBillActive || b.ValidUntil != nil {
		t.Fatalf("bill known from an update = %+v", b)
	}

	// A bill recorded after its validity ended is expired at once.
	past := time.Now().Add(-time.Hour)
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "331000000001", "", past.Add(-24*time.Hour), &past)
	if b := getEWB(t, s, tn.ID, "331000000001"); b.Status != store.EWayBillExpired {
		t.Fatalf("bill recorded after its expiry has status %q", b.Status)
	}
}

func testEWayBillExpiring(t *testing.T, s store.Store, base time.Time) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "EWB Expiring")
	other := mustTenant(t, s, "EWB Expiring Other")
	gen := base.Add(-24 * time.Hour)
	const lead = 8 * time.Hour
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "100000000003", "KA01AB1234", gen, at(base.Add(3*time.Hour)))
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "100000000010", "KA01AB1234", gen, at(base.Add(10*time.Hour)))
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "100000000000", "", gen, nil) // no Part-B: no validity yet
	recordEWB(t, s, other.ID, events.EWayBillGenerated, "100000000001", "", gen, at(base.Add(1*time.Hour)))

	// The console's list: the tenant's own bills ending within the window,
	// soonest first; bills with no validity and other tenants' are not in it.
	list, err := s.ExpiringEWayBills(ctx, tn.ID, base, base.Add(lead), 10)
	if err != nil || len(list) != 1 || list[0].Number != "100000000003" {
		t.Fatalf("ExpiringEWayBills(8h) = %+v, %v; want 100000000003 only", list, err)
	}
	if list, err = s.ExpiringEWayBills(ctx, tn.ID, base, base.Add(12*time.Hour), 10); err != nil || len(list) != 2 || list[1].Number != "100000000010" {
		t.Fatalf("ExpiringEWayBills(12h) = %+v, %v", list, err)
	}
	if _, err := s.ExpiringEWayBills(ctx, tn.ID, base, base.Add(lead), 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("ExpiringEWayBills with limit 0: %v", err)
	}

	// Nothing is due before the lead window.
	if got := claimSubjects(t, s, base.Add(-8*time.Hour), lead, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the lead window", got)
	}
	// Due: the bills ending within lead, earliest first, every tenant's.
	evs, err := s.ClaimExpiring(ctx, base, lead, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Subject != "100000000001" || evs[1].Subject != "100000000003" {
		t.Fatalf("claimed %+v, want 100000000001 then 100000000003", evs)
	}
	e := evs[1]
	if e.TenantID != tn.ID || e.Connector != "nic_ewaybill" || e.Account != "acc_ewb" || !e.Time.Equal(base) {
		t.Fatalf("expiring event = %+v", e.Event)
	}
	var bill model.EWayBill
	dec := json.NewDecoder(bytes.NewReader(e.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bill); err != nil {
		t.Fatalf("expiring data %s is not a model.EWayBill: %v", e.Data, err)
	}
	if bill.Number != "100000000003" || bill.ValidUntil == nil || !bill.ValidUntil.Equal(base.Add(3*time.Hour)) ||
		!bill.GeneratedAt.Equal(gen) || bill.Status != "active" || bill.VehicleNumber != "KA01AB1234" ||
		bill.HoursLeft == nil || *bill.HoursLeft != 3 {
		t.Fatalf("expiring data = %+v", bill)
	}
	if b := getEWB(t, s, tn.ID, "100000000003"); b.ExpiringNotifiedFor == nil || !b.ExpiringNotifiedFor.Equal(*b.ValidUntil) {
		t.Fatalf("notified bill = %+v", b)
	}
	// Exactly once per validity.
	for _, now := range []time.Time{base, base.Add(time.Hour), base.Add(90 * time.Minute)} {
		if got := claimSubjects(t, s, now, lead, 10); len(got) != 0 {
			t.Fatalf("claimed %v again at %v", got, now)
		}
	}
	// The limit bounds a claim; the rest come next time.
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "100000000004", "", gen, at(base.Add(4*time.Hour)))
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "100000000005", "", gen, at(base.Add(5*time.Hour)))
	if got := claimSubjects(t, s, base, lead, 1); fmt.Sprint(got) != "[100000000004]" {
		t.Fatalf("limit 1 claimed %v", got)
	}
	if got := claimSubjects(t, s, base, lead, 1); fmt.Sprint(got) != "[100000000005]" {
		t.Fatalf("second limit-1 claim got %v", got)
	}

	// An extension re-arms the notice for the new validity.
	extended := base.Add(27 * time.Hour)
	if evs := recordEWB(t, s, tn.ID, events.EWayBillExtended, "100000000003", "KA05GH3456", gen, &extended); len(evs) != 1 ||
		evs[0].Type != events.EWayBillExtended {
		t.Fatalf("extension appended %+v", evs)
	}
	if got := claimSubjects(t, s, base.Add(2*time.Hour), lead, 10); fmt.Sprint(got) != "[100000000010]" {
		t.Fatalf("after the extension claimed %v, want only 100000000010", got)
	}
	if got := claimSubjects(t, s, base.Add(20*time.Hour), lead, 10); fmt.Sprint(got) != "[100000000003]" {
		t.Fatalf("in the extended validity's window claimed %v, want 100000000003 again", got)
	}

	// A bill that ends with no notice before (the hub was down through its
	// lead time) gets eway_bill.expired once, with the hours since; bills whose
	// expiring notice went out expire with no event. An extension (allowed up
	// to 8 hours after expiry) makes it active and re-arms it.
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "100000000050", "", gen, at(base.Add(50*time.Hour)))
	evs, err = s.ClaimExpiring(ctx, base.Add(51*time.Hour), lead, 10)
	if err != nil || len(evs) != 1 || evs[0].Type != events.EWayBillExpired || evs[0].Subject != "100000000050" {
		t.Fatalf("claimed %+v, %v; want eway_bill.expired for 100000000050 alone", evs, err)
	}
	var gone model.EWayBill
	if err := json.Unmarshal(evs[0].Data, &gone); err != nil || gone.Status != "expired" || gone.HoursLeft == nil || *gone.HoursLeft != -1 {
		t.Fatalf("expired data = %s, %v", evs[0].Data, err)
	}
	if got := claimSubjects(t, s, base.Add(52*time.Hour), lead, 10); len(got) != 0 {
		t.Fatalf("claimed %v again", got)
	}
	if b := getEWB(t, s, tn.ID, "100000000050"); b.Status != store.EWayBillExpired {
		t.Fatalf("bill past its end has status %q, want expired", b.Status)
	}
	recordEWB(t, s, tn.ID, events.EWayBillVehicleUpdated, "100000000050", "KA05GH3456", gen, at(base.Add(74*time.Hour)))
	if b := getEWB(t, s, tn.ID, "100000000050"); b.Status != store.EWayBillActive {
		t.Fatalf("extended bill has status %q, want active", b.Status)
	}
	if got := claimSubjects(t, s, base.Add(70*time.Hour), lead, 10); fmt.Sprint(got) != "[100000000050]" {
		t.Fatalf("extended bill: claimed %v", got)
	}
	// The notices are in the outbox like any event.
	n := 0
	for _, e := range readAll(t, s) {
		if e.Type == events.EWayBillExpiring {
			n++
		}
	}
	if n != 7 {
		t.Fatalf("outbox holds %d eway_bill.expiring events, want 7", n)
	}
}

func testEWayBillCancel(t *testing.T, s store.Store, base time.Time) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "EWB Cancel")
	gen := base.Add(-time.Hour)
	recordEWB(t, s, tn.ID, events.EWayBillGenerated, "200000000001", "", gen, at(base.Add(2*time.Hour)))
	data := json.RawMessage(`{"number":"200000000001","generated_at":"2030-01-01T00:00:00Z","status":"cancelled"}`)
	evs, err := s.CancelEWayBill(ctx, tn.ID, "nic_ewaybill", "acc_ewb", "200000000001", data)
	if err != nil || len(evs) != 1 || evs[0].Type != events.EWayBillCancelled || evs[0].Subject != "200000000001" ||
		string(evs[0].Data) != string(data) {
		t.Fatalf("CancelEWayBill = %+v, %v; want one eway_bill.cancelled with the response", evs, err)
	}
	if b := getEWB(t, s, tn.ID, "200000000001"); b.Status != store.EWayBillCancelled {
		t.Fatalf("cancelled bill has status %q", b.Status)
	}
	if evs, err := s.CancelEWayBill(ctx, tn.ID, "nic_ewaybill", "acc_ewb", "200000000001", data); err != nil || evs == nil || len(evs) != 0 {
		t.Fatalf("cancelling twice: %v, %v; want no event, not nil", evs, err)
	}
	if got := claimSubjects(t, s, base, 8*time.Hour, 10); len(got) != 0 {
		t.Fatalf("claimed %v for a cancelled bill", got)
	}
	// A cancelled bill stays cancelled whatever is recorded after.
	recordEWB(t, s, tn.ID, events.EWayBillVehicleUpdated, "200000000001", "KA01AB1234", gen, at(base.Add(30*time.Hour)))
	if b := getEWB(t, s, tn.ID, "200000000001"); b.Status != store.EWayBillCancelled {
		t.Fatalf("after an update, the cancelled bill has status %q", b.Status)
	}
	if got := claimSubjects(t, s, base.Add(25*time.Hour), 8*time.Hour, 10); len(got) != 0 {
		t.Fatalf("claimed %v for a cancelled bill", got)
	}
	// An unknown bill is inserted cancelled, and a late generation does not revive it.
	if _, err := s.CancelEWayBill(ctx, tn.ID, "nic_ewaybill", "acc_ewb", "200000000002", data); err != nil {
		t.Fatal(err)
	}
	if evs := recordEWB(t, s, tn.ID, events.EWayBillGenerated, "200000000002", "", gen, at(base.Add(time.Hour))); len(evs) != 0 {
		t.Fatalf("generation after cancellation appended %v", evs)
	}
	if b := getEWB(t, s, tn.ID, "200000000002"); b.Status != store.EWayBillCancelled || b.GeneratedAt != nil {
		t.Fatalf("bill known from its cancellation = %+v", b)
	}
}

func testEWayBillValidation(t *testing.T, s store.Store, base time.Time) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "EWB Validation")
	good := store.EWayBill{TenantID: tn.ID, Number: "300000000001", ConnectorID: "nic_ewaybill", AccountID: "acc_ewb"}
	data := ewbResponse("300000000001", base, nil)
	for name, c := range map[string]struct {
		b      store.EWayBill
		change events.Type
		data   json.RawMessage
		want   error
	}{
		"malformed tenant":    {b: func() store.EWayBill { b := good; b.TenantID = "nope"; return b }(), change: events.EWayBillGenerated, data: data, want: store.ErrNotFound},
		"bad connector":       {b: func() store.EWayBill { b := good; b.ConnectorID = "NIC EWB"; return b }(), change: events.EWayBillGenerated, data: data, want: store.ErrInvalid},
		"no account":          {b: func() store.EWayBill { b := good; b.AccountID = ""; return b }(), change: events.EWayBillGenerated, data: data, want: store.ErrInvalid},
		"empty number":        {b: func() store.EWayBill { b := good; b.Number = ""; return b }(), change: events.EWayBillGenerated, data: data, want: store.ErrInvalid},
		"control in number":   {b: func() store.EWayBill { b := good; b.Number = "3000\x00"; return b }(), change: events.EWayBillGenerated, data: data, want: store.ErrInvalid},
		"other change":        {b: good, change: events.ShipmentCreated, data: data, want: store.ErrInvalid},
		"expiring is claimed": {b: good, change: events.EWayBillExpiring, data: data, want: store.ErrInvalid},
		"not json":            {b: good, change: events.EWayBillGenerated, data: json.RawMessage(`{"number":`), want: store.ErrInvalid},
		"no data":             {b: good, change: events.EWayBillGenerated, want: store.ErrInvalid},
	} {
		evs, err := s.RecordEWayBill(ctx, c.b, c.change, c.data)
		if !errors.Is(err, c.want) || evs != nil {
			t.Errorf("%s: RecordEWayBill = %v, %v; want nil, %v", name, evs, err, c.want)
		}
	}
	if _, err := s.CancelEWayBill(ctx, tn.ID, "nic_ewaybill", "acc_ewb", "", data); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("cancel without a number: %v", err)
	}
	if _, err := s.CancelEWayBill(ctx, tn.ID, "nic_ewaybill", "acc_ewb", "300000000001", json.RawMessage(`x`)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("cancel with bad data: %v", err)
	}
	for _, limit := range []int{0, -1, store.MaxEventBatch + 1} {
		if _, err := s.ClaimExpiring(ctx, base, time.Hour, limit); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ClaimExpiring limit %d: %v, want ErrInvalid", limit, err)
		}
	}
	if _, err := s.ClaimExpiring(ctx, base, 0, 10); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ClaimExpiring lead 0: %v, want ErrInvalid", err)
	}
	if _, err := s.GetEWayBill(ctx, "nope", "300000000001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetEWayBill with a malformed tenant: %v", err)
	}
	// Nothing of the refused calls was stored.
	if _, err := s.GetEWayBill(ctx, tn.ID, "300000000001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused record left a bill: %v", err)
	}
	// A well-formed id of no tenant is ErrNotFound too.
	b := good
	b.TenantID = "ten_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	if _, err := s.RecordEWayBill(ctx, b, events.EWayBillGenerated, data); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: %v, want ErrNotFound", err)
	}
}

func testEWayBillConcurrentClaims(t *testing.T, s store.Store, base time.Time) {
	tn := mustTenant(t, s, "EWB Concurrent")
	const bills = 60
	for i := range bills {
		recordEWB(t, s, tn.ID, events.EWayBillGenerated, fmt.Sprintf("4000000000%02d", i), "", base.Add(-time.Hour),
			at(base.Add(time.Duration(i)*time.Minute+time.Hour)))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				evs, err := s.ClaimExpiring(ctxFor(t), base, 8*time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range evs {
					seen[e.Subject]++
				}
				mu.Unlock()
				if len(evs) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != bills {
		t.Fatalf("%d bills notified, want %d", len(seen), bills)
	}
	for n, c := range seen {
		if c != 1 {
			t.Fatalf("bill %s notified %d times", n, c)
		}
	}
}
