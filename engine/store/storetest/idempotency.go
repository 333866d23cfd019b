package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// idem returns the backend's idempotency methods; every backend must have them.
func idem(t *testing.T, s store.Store) store.IdempotencyStore {
	t.Helper()
	is, ok := s.(store.IdempotencyStore)
	if !ok {
		t.Fatalf("%T does not implement store.IdempotencyStore", s)
	}
	return is
}

// fp returns a well-formed fingerprint derived from s.
func fp(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// t0 is the suite's fixed "now" for idempotency rows: the store takes times as
// arguments, so the tests move the clock by passing later times.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func scopeFor(tenantID, key string) store.IdempotencyScope {
	return store.IdempotencyScope{TenantID: tenantID, ConnectorID: "delhivery", Operation: "create_shipment", Key: key}
}

func mustClaim(t *testing.T, is store.IdempotencyStore, sc store.IdempotencyScope, fingerprint string, now, lease time.Time) store.IdempotencyRecord {
	t.Helper()
	rec, claimed, err := is.ClaimIdempotencyKey(ctxFor(t), sc, fingerprint, now, lease)
	if err != nil || !claimed {
		t.Fatalf("ClaimIdempotencyKey(%q) = claimed %v, %v; want a claim", sc.Key, claimed, err)
	}
	if rec.Token == "" || rec.State != store.IdempotencyInProgress || rec.Fingerprint != fingerprint ||
		!rec.CreatedAt.Equal(now) || !rec.ExpiresAt.Equal(lease) || rec.IdempotencyScope != sc {
		t.Fatalf("claimed record = %+v", rec)
	}
	return rec
}

func wantHeld(t *testing.T, is store.IdempotencyStore, what string, sc store.IdempotencyScope, now time.Time) store.IdempotencyRecord {
	t.Helper()
	rec, claimed, err := is.ClaimIdempotencyKey(ctxFor(t), sc, fp("other"), now, now.Add(time.Minute))
	if err != nil || claimed {
		t.Fatalf("%s: ClaimIdempotencyKey = claimed %v, %v; want the existing row", what, claimed, err)
	}
	if rec.Token != "" {
		t.Fatalf("%s: a losing claim saw the winner's token", what)
	}
	return rec
}

func testIdempotencyClaimComplete(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	is := idem(t, s)
	tn := mustTenant(t, s, "Acme")
	sc := scopeFor(tn.ID, "order-77/attempt")
	lease := t0.Add(90 * time.Second)
	rec := mustClaim(t, is, sc, fp("req"), t0, lease)

	// A second request sees the in-progress row, whatever its own fingerprint.
	got := wantHeld(t, is, "while in progress", sc, t0.Add(time.Second))
	if got.State != store.IdempotencyInProgress || got.Fingerprint != fp("req") || got.Status != 0 ||
		got.Body != nil || !got.ExpiresAt.Equal(lease) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("in-progress row = %+v", got)
	}

	out := store.IdempotencyOutcome{
		Status: 201, ContentType: "application/json",
		// Bytes no text column keeps: NUL, invalid UTF-8, a trailing newline.
		Body:      []byte("{\"awb\":\"123\"}\x00\xff\xfe\n"),
		ExpiresAt: t0.Add(24 * time.Hour),
	}
	if err := is.CompleteIdempotencyKey(ctx, sc, "wrong-token", out); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompleteIdempotencyKey with a wrong token = %v, want ErrNotFound", err)
	}
	if err := is.CompleteIdempotencyKey(ctx, sc, rec.Token, out); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	// Completing twice is a lost claim: the row is no longer in progress.
	if err := is.CompleteIdempotencyKey(ctx, sc, rec.Token, out); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second CompleteIdempotencyKey = %v, want ErrNotFound", err)
	}
	// Releasing a completed row is refused: its answer must stay.
	if err := is.ReleaseIdempotencyKey(ctx, sc, rec.Token); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReleaseIdempotencyKey of a completed row = %v, want ErrNotFound", err)
	}

	// Replays read the answer byte for byte, until the window closes.
	for _, at := range []time.Time{t0.Add(time.Minute), t0.Add(24*time.Hour - time.Millisecond)} {
		got = wantHeld(t, is, "after completion", sc, at)
		if got.State != store.IdempotencyCompleted || got.Status != 201 || got.ContentType != "application/json" ||
			!bytes.Equal(got.Body, out.Body) || got.BodyOmitted || got.Fingerprint != fp("req") ||
			!got.ExpiresAt.Equal(out.ExpiresAt) {
			t.Fatalf("completed row at %v = %+v", at, got)
		}
	}
	g, err := is.GetIdempotencyKey(ctx, sc)
	if err != nil || !bytes.Equal(g.Body, out.Body) || g.Token != "" {
		t.Fatalf("GetIdempotencyKey = %+v, %v", g, err)
	}

	// An answer too large to keep is recorded as omitted; an empty body stays empty.
	big := scopeFor(tn.ID, "big")
	r2 := mustClaim(t, is, big, fp("big"), t0, lease)
	if err := is.CompleteIdempotencyKey(ctx, big, r2.Token, store.IdempotencyOutcome{
		Status: 200, ContentType: "application/json", Body: make([]byte, store.MaxIdempotencyBody+1), ExpiresAt: t0.Add(time.Hour),
	}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("CompleteIdempotencyKey with an oversize body = %v, want ErrInvalid", err)
	}
	if err := is.CompleteIdempotencyKey(ctx, big, r2.Token, store.IdempotencyOutcome{
		Status: 200, ContentType: "application/json", BodyOmitted: true, ExpiresAt: t0.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if g, err := is.GetIdempotencyKey(ctx, big); err != nil || !g.BodyOmitted || g.Body != nil || g.Status != 200 {
		t.Fatalf("omitted row = %+v, %v", g, err)
	}
	empty := scopeFor(tn.ID, "empty")
	r3 := mustClaim(t, is, empty, fp("empty"), t0, lease)
	if err := is.CompleteIdempotencyKey(ctx, empty, r3.Token, store.IdempotencyOutcome{Status: 204, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if g, err := is.GetIdempotencyKey(ctx, empty); err != nil || g.Body == nil || len(g.Body) != 0 || g.Status != 204 {
		t.Fatalf("empty-body row = %+v, %v", g, err)
	}
}

func testIdempotencyScopes(t *testing.T, s store.Store) {
	is := idem(t, s)
	a := mustTenant(t, s, "Acme")
	b := mustTenant(t, s, "Bolt")
	base := scopeFor(a.ID, "k1")
	mustClaim(t, is, base, fp("x"), t0, t0.Add(time.Minute))
	others := []store.IdempotencyScope{
		{TenantID: b.ID, ConnectorID: base.ConnectorID, Operation: base.Operation, Key: base.Key},
		{TenantID: a.ID, ConnectorID: "bluedart", Operation: base.Operation, Key: base.Key},
		{TenantID: a.ID, ConnectorID: base.ConnectorID, Operation: "generate_ewaybill", Key: base.Key},
		{TenantID: a.ID, ConnectorID: base.ConnectorID, Operation: base.Operation, Key: "K1"},
		{TenantID: a.ID, ConnectorID: base.ConnectorID, Operation: base.Operation, Key: "k1 "},
	}
	for _, sc := range others {
		mustClaim(t, is, sc, fp("x"), t0, t0.Add(time.Minute))
	}
	if _, err := is.GetIdempotencyKey(ctxFor(t), scopeFor(b.ID, "never")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIdempotencyKey of an unknown key = %v, want ErrNotFound", err)
	}
}

func testIdempotencyRelease(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	is := idem(t, s)
	tn := mustTenant(t, s, "Acme")
	sc := scopeFor(tn.ID, "k")
	rec := mustClaim(t, is, sc, fp("a"), t0, t0.Add(time.Minute))
	if err := is.ReleaseIdempotencyKey(ctx, sc, "not-the-token"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReleaseIdempotencyKey with a wrong token = %v, want ErrNotFound", err)
	}
	if err := is.ReleaseIdempotencyKey(ctx, sc, rec.Token); err != nil {
		t.Fatalf("ReleaseIdempotencyKey: %v", err)
	}
	if err := is.ReleaseIdempotencyKey(ctx, sc, rec.Token); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second ReleaseIdempotencyKey = %v, want ErrNotFound", err)
	}
	// Released means free at once, for any request.
	again := mustClaim(t, is, sc, fp("b"), t0.Add(time.Second), t0.Add(time.Minute))
	if again.Token == rec.Token {
		t.Fatal("a new claim reused the old token")
	}
	if err := is.CompleteIdempotencyKey(ctx, sc, rec.Token, store.IdempotencyOutcome{Status: 200, ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing a released claim = %v, want ErrNotFound", err)
	}
}

func testIdempotencyExpiry(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	is := idem(t, s)
	tn := mustTenant(t, s, "Acme")

	// A lease that runs out (the hub died mid-call) does not free the key: the
	// dead claim is returned, and is abandoned as an unknown outcome that only
	// the same request may take, to settle it.
	sc := scopeFor(tn.ID, "lease")
	lease := t0.Add(40 * time.Second)
	first := mustClaim(t, is, sc, fp("a"), t0, lease)
	wantHeld(t, is, "just before the lease ends", sc, lease.Add(-time.Millisecond))
	if err := is.AbandonIdempotencyKey(ctx, sc, lease.Add(-time.Millisecond), abandoned(lease)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("abandoning a live claim = %v, want ErrNotFound", err)
	}
	dead, claimed, err := is.ClaimIdempotencyKey(ctx, sc, fp("a"), lease, lease.Add(40*time.Second))
	if err != nil || claimed || dead.State != store.IdempotencyInProgress || dead.Token != "" || !dead.ExpiresAt.Equal(lease) {
		t.Fatalf("claim after the lease = %+v, claimed %v, %v; want the dead claim back", dead, claimed, err)
	}
	if err := is.AbandonIdempotencyKey(ctx, sc, lease, abandoned(lease)); err != nil {
		t.Fatal(err)
	}
	if err := is.AbandonIdempotencyKey(ctx, sc, lease, abandoned(lease)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("abandoning twice = %v, want ErrNotFound", err)
	}
	if err := is.CompleteIdempotencyKey(ctx, sc, first.Token, store.IdempotencyOutcome{Status: 201, ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing with an abandoned claim's token = %v, want ErrNotFound", err)
	}
	if got := wantHeld(t, is, "abandoned, for another request", sc, lease); got.State != store.IdempotencyCompleted ||
		!got.OutcomeUnknown || got.Status != 502 || !got.ExpiresAt.Equal(lease.Add(24*time.Hour)) {
		t.Fatalf("abandoned row = %+v", got)
	}
	second, claimed, err := is.ClaimIdempotencyKey(ctx, sc, fp("a"), lease, lease.Add(40*time.Second))
	if err != nil || !claimed || !second.OutcomeUnknown || second.Token == "" {
		t.Fatalf("same request after abandonment = %+v, claimed %v, %v; want a claim to settle", second, claimed, err)
	}
	if err := is.CompleteIdempotencyKey(ctx, sc, second.Token, store.IdempotencyOutcome{Status: 503, ContentType: "application/problem+json", Body: []byte(`{}`), ExpiresAt: lease.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// A completed row replays until its window closes, then the key is new again.
	end := lease.Add(24 * time.Hour)
	if got := wantHeld(t, is, "inside the window", sc, end.Add(-time.Millisecond)); got.Status != 503 {
		t.Fatalf("row inside the window = %+v", got)
	}
	third := mustClaim(t, is, sc, fp("c"), end, end.Add(time.Minute))
	if g, err := is.GetIdempotencyKey(ctx, sc); err != nil || g.State != store.IdempotencyInProgress || g.Body != nil ||
		g.Status != 0 || g.ContentType != "" || g.Fingerprint != fp("c") || !g.ExpiresAt.Equal(third.ExpiresAt) || g.OutcomeUnknown {
		t.Fatalf("row claimed after its window = %+v, %v", g, err)
	}
}

// abandoned is the unknown outcome a dead claim is turned into at now, kept
// for a day.
func abandoned(now time.Time) store.IdempotencyOutcome {
	return store.IdempotencyOutcome{Status: 502, ContentType: "application/problem+json", Body: []byte(`{"code":"outcome_unknown"}`),
		ExpiresAt: now.Add(24 * time.Hour), Unknown: true}
}

func testIdempotencyPurge(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	is := idem(t, s)
	tn := mustTenant(t, s, "Acme")
	other := mustTenant(t, s, "Bolt")
	// expired: a completed row past its window.
	done := scopeFor(tn.ID, "done")
	r := mustClaim(t, is, done, fp("1"), t0, t0.Add(time.Minute))
	if err := is.CompleteIdempotencyKey(ctx, done, r.Token, store.IdempotencyOutcome{Status: 201, Body: []byte("{}"), ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// a dead in-progress claim: never purged, abandoned instead.
	dead := scopeFor(other.ID, "dead")
	mustClaim(t, is, dead, fp("2"), t0, t0.Add(30*time.Second))
	// live: a claim whose lease runs past the purge, a completed row inside its window.
	running := scopeFor(tn.ID, "running")
	mustClaim(t, is, running, fp("3"), t0, t0.Add(3*time.Hour))
	fresh := scopeFor(other.ID, "fresh")
	r = mustClaim(t, is, fresh, fp("4"), t0, t0.Add(time.Minute))
	if err := is.CompleteIdempotencyKey(ctx, fresh, r.Token, store.IdempotencyOutcome{Status: 201, Body: []byte("{}"), ExpiresAt: t0.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	at := t0.Add(time.Hour)
	n, err := is.PurgeIdempotencyKeys(ctx, at)
	if err != nil || n != 1 {
		t.Fatalf("PurgeIdempotencyKeys = %d, %v; want 1", n, err)
	}
	if _, err := is.GetIdempotencyKey(ctx, done); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("done after purge: %v, want ErrNotFound", err)
	}
	for _, sc := range []store.IdempotencyScope{dead, running, fresh} {
		if _, err := is.GetIdempotencyKey(ctx, sc); err != nil {
			t.Fatalf("%s purged: %v", sc.Key, err)
		}
	}
	if n, err := is.AbandonIdempotencyKeys(ctx, at, abandoned(at)); err != nil || n != 1 {
		t.Fatalf("AbandonIdempotencyKeys = %d, %v; want 1 (the dead claim, not the running one)", n, err)
	}
	if g := wantHeld(t, is, "abandoned", dead, at); !g.OutcomeUnknown || !g.ExpiresAt.Equal(at.Add(24*time.Hour)) {
		t.Fatalf("dead claim after abandoning = %+v", g)
	}
	if g := wantHeld(t, is, "running", running, at); g.State != store.IdempotencyInProgress {
		t.Fatalf("running claim after abandoning = %+v", g)
	}
	if n, err := is.PurgeIdempotencyKeys(ctx, at); err != nil || n != 0 {
		t.Fatalf("second purge = %d, %v; want 0", n, err)
	}
	if n, err := is.PurgeIdempotencyKeys(ctx, t0.Add(48*time.Hour)); err != nil || n != 2 {
		t.Fatalf("purge at the last window's end = %d, %v; want 2 (fresh and the abandoned claim)", n, err)
	}
}

func testIdempotencyConcurrentClaims(t *testing.T, s store.Store) {
	is := idem(t, s)
	tn := mustTenant(t, s, "Acme")
	const n = 24
	for round, now := range []time.Time{t0, t0.Add(time.Hour)} {
		// Round 0 races for a fresh key; round 1 for the same key after its
		// answer's window closed, which exercises the takeover path.
		sc := scopeFor(tn.ID, "race")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var wins []string
		for i := range n {
			wg.Go(func() {
				rec, claimed, err := is.ClaimIdempotencyKey(ctxFor(t), sc, fp(strings.Repeat("x", i)), now, now.Add(time.Minute))
				if err != nil {
					t.Errorf("round %d: ClaimIdempotencyKey: %v", round, err)
					return
				}
				if claimed {
					mu.Lock()
					wins = append(wins, rec.Token)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("round %d: %d of %d concurrent claims won, want exactly 1", round, len(wins), n)
		}
		if err := is.CompleteIdempotencyKey(ctxFor(t), sc, wins[0], store.IdempotencyOutcome{Status: 201, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

func testIdempotencyValidation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	is := idem(t, s)
	tn := mustTenant(t, s, "Acme")
	good := scopeFor(tn.ID, "ok")
	lease := t0.Add(time.Minute)
	bad := map[string]store.IdempotencyScope{
		"empty key":        scopeFor(tn.ID, ""),
		"256-byte key":     scopeFor(tn.ID, strings.Repeat("k", 256)),
		"control in key":   scopeFor(tn.ID, "a\nb"),
		"non-ASCII key":    scopeFor(tn.ID, "clé"),
		"DEL in key":       scopeFor(tn.ID, "a\x7f"),
		"bad connector id": {TenantID: tn.ID, ConnectorID: "Bad-Id", Operation: "create_shipment", Key: "k"},
		"bad operation":    {TenantID: tn.ID, ConnectorID: "delhivery", Operation: "create shipment", Key: "k"},
	}
	for what, sc := range bad {
		if _, _, err := is.ClaimIdempotencyKey(ctx, sc, fp("x"), t0, lease); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("claim with %s: %v, want ErrInvalid", what, err)
		}
		if err := is.CompleteIdempotencyKey(ctx, sc, "t", store.IdempotencyOutcome{Status: 200, ExpiresAt: lease}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("complete with %s: %v, want ErrInvalid", what, err)
		}
	}
	if err := store.CheckIdempotencyKey(strings.Repeat("~", 255)); err != nil {
		t.Errorf("a 255-byte printable key: %v", err)
	}
	var ve *store.ValidationError
	if _, _, err := is.ClaimIdempotencyKey(ctx, scopeFor(tn.ID, "secret\x01key"), fp("x"), t0, lease); !errors.As(err, &ve) ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad key's error quotes it or is not a ValidationError: %v", err)
	}
	for what, f := range map[string]string{"empty": "", "upper case": strings.ToUpper(fp("x")), "short": fp("x")[:63]} {
		if _, _, err := is.ClaimIdempotencyKey(ctx, good, f, t0, lease); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("claim with a %s fingerprint: %v, want ErrInvalid", what, err)
		}
	}
	if _, _, err := is.ClaimIdempotencyKey(ctx, good, fp("x"), t0, t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("claim with a lease ending now: %v, want ErrInvalid", err)
	}
	// Tenants that are malformed or unknown are not found, as everywhere in the store.
	for _, id := range []string{"", "ten_short", "ten_" + strings.Repeat("a", 26)} {
		if _, _, err := is.ClaimIdempotencyKey(ctx, scopeFor(id, "k"), fp("x"), t0, lease); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("claim for tenant %q: %v, want ErrNotFound", id, err)
		}
	}
	rec := mustClaim(t, is, good, fp("x"), t0, lease)
	for what, out := range map[string]store.IdempotencyOutcome{
		"status 0":             {Status: 0, ExpiresAt: lease},
		"status 600":           {Status: 600, ExpiresAt: lease},
		"no expiry":            {Status: 200},
		"omitted with a body":  {Status: 200, BodyOmitted: true, Body: []byte("x"), ExpiresAt: lease},
		"control content type": {Status: 200, ContentType: "a\x00b", ExpiresAt: lease},
	} {
		if err := is.CompleteIdempotencyKey(ctx, good, rec.Token, out); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("complete with %s: %v, want ErrInvalid", what, err)
		}
	}
	// None of the refused completions touched the claim.
	if g, err := is.GetIdempotencyKey(ctx, good); err != nil || g.State != store.IdempotencyInProgress {
		t.Fatalf("claim after refused completions = %+v, %v", g, err)
	}
}

// A create's answer pending under WithPendingAnswer is stored by the
// transaction that records its booking; a lost claim leaves the answer to
// the caller and still records the booking; a body over MaxBody is omitted.
func testIdempotencyAnswerWithBooking(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	is := idem(t, s)
	ss, ok := s.(store.ShipmentStore)
	if !ok {
		t.Fatalf("%T does not implement store.ShipmentStore", s)
	}
	tn := mustTenant(t, s, "Acme")
	lease := t0.Add(90 * time.Second)
	book := func(awb string, p *store.PendingAnswer) []byte {
		t.Helper()
		data := []byte(`{"tracking_number":"` + awb + `","label":"` + strings.Repeat("x", 40) + `"}`)
		if _, err := ss.RecordShipment(store.WithPendingAnswer(ctx, p), store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery",
			AccountID: "acc_1", TrackingNumber: awb}, data); err != nil {
			t.Fatalf("RecordShipment(%s): %v", awb, err)
		}
		if sh, err := ss.GetShipment(ctx, tn.ID, "delhivery", awb); err != nil || !sh.Booked {
			t.Fatalf("booking %s not recorded: %+v, %v", awb, sh, err)
		}
		return data
	}
	pending := func(sc store.IdempotencyScope, token string, maxBody int) *store.PendingAnswer {
		return &store.PendingAnswer{Scope: sc, Token: token, MaxBody: maxBody,
			Outcome: store.IdempotencyOutcome{Status: 200, ContentType: "application/json", ExpiresAt: t0.Add(24 * time.Hour)}}
	}

	sc := scopeFor(tn.ID, "answered-with-booking")
	rec := mustClaim(t, is, sc, fp("req"), t0, lease)
	p := pending(sc, rec.Token, 1<<20)
	data := book("AWB-P1", p)
	if !p.Stored() {
		t.Fatal("the answer pending with the booking was not stored")
	}
	if g, err := is.GetIdempotencyKey(ctx, sc); err != nil || g.State != store.IdempotencyCompleted || g.Status != 200 ||
		g.ContentType != "application/json" || !bytes.Equal(g.Body, data) || g.BodyOmitted || !g.ExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("key after the booking = %+v, %v", g, err)
	}

	// The claim was lost (another token): the booking is recorded, the
	// answer left to the caller, and the key untouched.
	lost := scopeFor(tn.ID, "lost")
	mustClaim(t, is, lost, fp("lost"), t0, lease)
	p = pending(lost, "not-the-token", 1<<20)
	book("AWB-P2", p)
	if p.Stored() {
		t.Fatal("an answer for a lost claim was stored")
	}
	if g, err := is.GetIdempotencyKey(ctx, lost); err != nil || g.State != store.IdempotencyInProgress {
		t.Fatalf("lost claim's key = %+v, %v", g, err)
	}

	// A body longer than MaxBody is kept as omitted.
	big := scopeFor(tn.ID, "big-answer")
	rec = mustClaim(t, is, big, fp("big"), t0, lease)
	p = pending(big, rec.Token, 10)
	book("AWB-P3", p)
	if g, err := is.GetIdempotencyKey(ctx, big); !p.Stored() || err != nil || !g.BodyOmitted || g.Body != nil {
		t.Fatalf("oversize answer: stored %v, key %+v, %v", p.Stored(), g, err)
	}
}
