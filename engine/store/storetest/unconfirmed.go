package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// testIdempotencyUnknown: an answer stored as an unknown outcome is not final. Until
// its hold ends nobody may settle it; then one request with the same fingerprint
// takes it (another fingerprint never does), and completes it with a final answer,
// stores it as unknown again, or gives it back unchanged. A stale token is refused.
func testIdempotencyUnknown(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	is := idem(t, s)
	tn := mustTenant(t, s, "Acme")
	sc := scopeFor(tn.ID, "order-9")
	rec := mustClaim(t, is, sc, fp("req"), t0, t0.Add(time.Minute))
	unknown := store.IdempotencyOutcome{Status: 502, ContentType: "application/problem+json",
		Body: []byte(`{"code":"outcome_unknown"}`), ExpiresAt: t0.Add(24 * time.Hour), Unknown: true, HoldUntil: t0.Add(10 * time.Second)}
	if err := is.CompleteIdempotencyKey(ctx, sc, rec.Token, store.IdempotencyOutcome{Status: 200, ExpiresAt: t0.Add(time.Hour),
		HoldUntil: t0}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a final answer with a hold = %v, want ErrInvalid", err)
	}
	if err := is.CompleteIdempotencyKey(ctx, sc, rec.Token, unknown); err != nil {
		t.Fatal(err)
	}
	g, err := is.GetIdempotencyKey(ctx, sc)
	if err != nil || !g.OutcomeUnknown || g.State != store.IdempotencyCompleted || g.Status != 502 ||
		!bytes.Equal(g.Body, unknown.Body) || !g.LeaseUntil.Equal(unknown.HoldUntil) {
		t.Fatalf("unknown row = %+v, %v", g, err)
	}
	// The spent token completes nothing.
	if err := is.CompleteIdempotencyKey(ctx, sc, rec.Token, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing with a spent token = %v, want ErrNotFound", err)
	}

	// During the hold, and with another fingerprint at any time, the row is only reported.
	for _, c := range []struct {
		fp string
		at time.Time
	}{{fp("req"), t0.Add(9 * time.Second)}, {fp("other"), t0.Add(time.Minute)}} {
		got, claimed, err := is.ClaimIdempotencyKey(ctx, sc, c.fp, c.at, c.at.Add(time.Minute))
		if err != nil || claimed || !got.OutcomeUnknown || got.Token != "" {
			t.Fatalf("claim at %v = %+v, claimed %v, %v; want the unknown row reported", c.at, got, claimed, err)
		}
	}

	// After the hold, one settler wins among concurrent ones.
	at := t0.Add(10 * time.Second)
	lease := at.Add(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []store.IdempotencyRecord
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, claimed, err := is.ClaimIdempotencyKey(ctx, sc, fp("req"), at, lease)
			if err != nil {
				t.Error(err)
				return
			}
			if claimed {
				mu.Lock()
				winners = append(winners, got)
				mu.Unlock()
			} else if got.Token != "" || !got.LeaseUntil.Equal(lease) {
				t.Errorf("losing settler saw %+v", got)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d settlers won, want 1", len(winners))
	}
	settle := winners[0]
	if settle.Token == "" || !settle.OutcomeUnknown || settle.State != store.IdempotencyCompleted ||
		!bytes.Equal(settle.Body, unknown.Body) || !settle.LeaseUntil.Equal(lease) {
		t.Fatalf("settling claim = %+v", settle)
	}

	// Giving it back leaves it unknown and free at once.
	if err := is.ReleaseIdempotencyKey(ctx, sc, settle.Token); err != nil {
		t.Fatal(err)
	}
	if err := is.ReleaseIdempotencyKey(ctx, sc, settle.Token); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second release = %v, want ErrNotFound", err)
	}
	g, err = is.GetIdempotencyKey(ctx, sc)
	if err != nil || !g.OutcomeUnknown || !g.LeaseUntil.IsZero() || !bytes.Equal(g.Body, unknown.Body) {
		t.Fatalf("row given back = %+v, %v", g, err)
	}

	// A settler whose lease ran out loses to the next one; the next completes.
	first, claimed, err := is.ClaimIdempotencyKey(ctx, sc, fp("req"), at, at.Add(time.Second))
	if err != nil || !claimed {
		t.Fatalf("settle claim = claimed %v, %v", claimed, err)
	}
	later := at.Add(2 * time.Second)
	second, claimed, err := is.ClaimIdempotencyKey(ctx, sc, fp("req"), later, later.Add(time.Minute))
	if err != nil || !claimed || second.Token == first.Token {
		t.Fatalf("settle after the lease = claimed %v, %v", claimed, err)
	}
	final := store.IdempotencyOutcome{Status: 200, ContentType: "application/json", Body: []byte(`{"tracking_number":"1"}`),
		ExpiresAt: later.Add(24 * time.Hour)}
	if err := is.CompleteIdempotencyKey(ctx, sc, first.Token, final); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stale settler's completion = %v, want ErrNotFound", err)
	}
	if err := is.ReleaseIdempotencyKey(ctx, sc, first.Token); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stale settler's release = %v, want ErrNotFound", err)
	}
	if err := is.CompleteIdempotencyKey(ctx, sc, second.Token, final); err != nil {
		t.Fatal(err)
	}
	got := wantHeld(t, is, "settled", sc, later.Add(time.Minute))
	if got.OutcomeUnknown || !got.LeaseUntil.IsZero() || got.Status != 200 || !bytes.Equal(got.Body, final.Body) {
		t.Fatalf("settled row = %+v", got)
	}
	if _, claimed, _ := is.ClaimIdempotencyKey(ctx, sc, fp("req"), later.Add(time.Minute), later.Add(2*time.Minute)); claimed {
		t.Fatal("a settled row was claimed again")
	}

	// A settlement may end unknown again, with a new hold; once the row expires
	// the key is fresh.
	sc2 := scopeFor(tn.ID, "order-10")
	r2 := mustClaim(t, is, sc2, fp("req2"), t0, t0.Add(time.Minute))
	unknown.HoldUntil = time.Time{}
	if err := is.CompleteIdempotencyKey(ctx, sc2, r2.Token, unknown); err != nil {
		t.Fatal(err)
	}
	s2, claimed, err := is.ClaimIdempotencyKey(ctx, sc2, fp("req2"), t0.Add(time.Second), t0.Add(time.Minute))
	if err != nil || !claimed {
		t.Fatalf("settle without a hold = claimed %v, %v", claimed, err)
	}
	again := unknown
	again.HoldUntil = t0.Add(30 * time.Second)
	if err := is.CompleteIdempotencyKey(ctx, sc2, s2.Token, again); err != nil {
		t.Fatal(err)
	}
	if g, err := is.GetIdempotencyKey(ctx, sc2); err != nil || !g.OutcomeUnknown || !g.LeaseUntil.Equal(again.HoldUntil) {
		t.Fatalf("unknown again = %+v, %v", g, err)
	}
	fresh := mustClaim(t, is, sc2, fp("new"), unknown.ExpiresAt, unknown.ExpiresAt.Add(time.Minute))
	if fresh.OutcomeUnknown || !fresh.LeaseUntil.IsZero() {
		t.Fatalf("fresh claim after expiry = %+v", fresh)
	}
	if g, err := is.GetIdempotencyKey(ctx, sc2); err != nil || g.OutcomeUnknown || g.State != store.IdempotencyInProgress {
		t.Fatalf("row after a fresh claim = %+v, %v", g, err)
	}
}

// testUnconfirmed: creates of unknown outcome are recorded (one row per
// idempotency key, one per call without), settled as booked or not booked, and
// listed per tenant, newest first.
func testUnconfirmed(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "Acme")
	b := mustTenant(t, s, "Beta")
	in := store.UnconfirmedShipment{TenantID: a.ID, ConnectorID: "delhivery_express", AccountID: "acc_1",
		Operation: "create_shipment", Reference: "ORD-1", IdempotencyKey: "k1", RequestID: "req-1",
		Reason: "connector process exited during the call"}
	before := time.Now().Add(-time.Millisecond)
	u, err := s.RecordUnconfirmed(ctx, in)
	after := time.Now().Add(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.ID) != 30 || u.ID[:4] != "ush_" || u.State != store.Unconfirmed || u.TrackingNumber != "" || u.Reference != "ORD-1" {
		t.Fatalf("recorded = %+v", u)
	}
	checkStamp(t, "created_at", u.CreatedAt, before, after)

	// The same key again reuses the row.
	in.RequestID, in.Reason = "req-2", "timed out"
	u2, err := s.RecordUnconfirmed(ctx, in)
	if err != nil || u2.ID != u.ID || !u2.CreatedAt.Equal(u.CreatedAt) || u2.RequestID != "req-2" || u2.Reason != "timed out" {
		t.Fatalf("recorded again = %+v, %v (first %+v)", u2, err, u)
	}
	// Without a key, every call is its own row.
	nokey := in
	nokey.IdempotencyKey, nokey.Reference = "", "ORD-2"
	n1, err := s.RecordUnconfirmed(ctx, nokey)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := s.RecordUnconfirmed(ctx, nokey)
	if err != nil || n2.ID == n1.ID {
		t.Fatalf("key-less records = %+v, %+v, %v", n1, n2, err)
	}
	other := in
	other.TenantID = b.ID
	if _, err := s.RecordUnconfirmed(ctx, other); err != nil {
		t.Fatal(err)
	}

	list, err := s.ListUnconfirmed(ctx, a.ID, store.Unconfirmed, 100)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListUnconfirmed = %d rows, %v; want 3", len(list), err)
	}
	for i := 1; i < len(list); i++ {
		if list[i].CreatedAt.After(list[i-1].CreatedAt) {
			t.Fatalf("not newest first: %+v", list)
		}
	}

	// Settling by key.
	got, err := s.SettleUnconfirmed(ctx, a.ID, "delhivery_express", "create_shipment", "k1", store.UnconfirmedBooked, "1000001",
		"the provider has it under its reference")
	if err != nil || got.ID != u.ID || got.State != store.UnconfirmedBooked || got.TrackingNumber != "1000001" || got.Resolution == "" {
		t.Fatalf("settled = %+v, %v", got, err)
	}
	if _, err := s.SettleUnconfirmed(ctx, a.ID, "delhivery_express", "create_shipment", "nope", store.UnconfirmedNotBooked, "", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("settling an unknown key = %v, want ErrNotFound", err)
	}
	if _, err := s.SettleUnconfirmed(ctx, b.ID, "delhivery_express", "create_shipment", "k1", store.UnconfirmedNotBooked, "", "the caller said so"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		state store.UnconfirmedState
		want  int
	}{{store.Unconfirmed, 2}, {store.UnconfirmedBooked, 1}, {store.UnconfirmedNotBooked, 0}, {"", 3}} {
		if l, err := s.ListUnconfirmed(ctx, a.ID, c.state, 100); err != nil || len(l) != c.want {
			t.Fatalf("ListUnconfirmed(%q) = %d rows, %v; want %d", c.state, len(l), err, c.want)
		}
	}
	if l, err := s.ListUnconfirmed(ctx, b.ID, store.UnconfirmedNotBooked, 100); err != nil || len(l) != 1 || l[0].TenantID != b.ID {
		t.Fatalf("tenant B's rows = %+v, %v", l, err)
	}
	// A new unknown outcome under a settled key makes it unconfirmed again.
	if u3, err := s.RecordUnconfirmed(ctx, in); err != nil || u3.State != store.Unconfirmed || u3.TrackingNumber != "" || u3.ID != u.ID {
		t.Fatalf("recorded after settling = %+v, %v", u3, err)
	}

	// Validation.
	for name, bad := range map[string]func(*store.UnconfirmedShipment){
		"connector": func(u *store.UnconfirmedShipment) { u.ConnectorID = "Bad Id" },
		"operation": func(u *store.UnconfirmedShipment) { u.Operation = "" },
		"account":   func(u *store.UnconfirmedShipment) { u.AccountID = "" },
		"key":       func(u *store.UnconfirmedShipment) { u.IdempotencyKey = "bad\nkey" },
		"reason":    func(u *store.UnconfirmedShipment) { u.Reason = string(make([]byte, store.MaxUnconfirmedReason+1)) },
		"control":   func(u *store.UnconfirmedShipment) { u.Reason = "line\nbreak" },
	} {
		c := in
		bad(&c)
		if _, err := s.RecordUnconfirmed(ctx, c); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: RecordUnconfirmed = %v, want ErrInvalid", name, err)
		}
	}
	c := in
	c.TenantID = "ten_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	if _, err := s.RecordUnconfirmed(ctx, c); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: RecordUnconfirmed = %v, want ErrNotFound", err)
	}
	if _, err := s.SettleUnconfirmed(ctx, a.ID, "delhivery_express", "create_shipment", "k1", store.UnconfirmedBooked, "", "x"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("booked without a number = %v, want ErrInvalid", err)
	}
	if _, err := s.SettleUnconfirmed(ctx, a.ID, "delhivery_express", "create_shipment", "k1", store.Unconfirmed, "", "x"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("settling to unconfirmed = %v, want ErrInvalid", err)
	}
	if _, err := s.ListUnconfirmed(ctx, a.ID, "lost", 10); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("listing a bad state = %v, want ErrInvalid", err)
	}
}
