package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// RunWebhooks runs the store.WebhookStore part of the suite: endpoints with sealed
// secrets and rotation, idempotent delivery inserts, leased claims (disjoint while
// leases live, reclaimed once they expire), outcomes, ordering, endpoint health,
// replay pages and the attempt log. open is as for Run; its stores must implement
// store.WebhookStore.
func RunWebhooks(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, store.WebhookStore)
	}{
		{"Endpoints", testWebhookEndpoints},
		{"EndpointValidation", testWebhookEndpointValidation},
		{"SecretRotation", testWebhookSecretRotation},
		{"InsertIdempotent", testWebhookInsertIdempotent},
		{"ClaimsDisjoint", testWebhookClaimsDisjoint},
		{"ExpiredLeaseReclaimed", testWebhookLeaseExpiry},
		{"Outcomes", testWebhookOutcomes},
		{"OrderedAndDisabled", testWebhookOrdered},
		{"EndpointHealth", testWebhookHealth},
		{"Replay", testWebhookReplay},
		{"PurgeHistory", testWebhookPurge},
		{"TraceContext", testWebhookTraceContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ws, ok := s.(store.WebhookStore)
			if !ok {
				t.Fatalf("%T does not implement store.WebhookStore", s)
			}
			tt.fn(t, s, ws)
		})
	}
}

// TestSecret is a valid whsec_ secret for tests (the Standard Webhooks example key).
const TestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

const otherSecret = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkgb2s="

var whT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustEndpoint(t *testing.T, ws store.WebhookStore, e store.WebhookEndpoint) store.WebhookEndpoint {
	t.Helper()
	if e.Secret == "" {
		e.Secret = TestSecret
	}
	if e.URL == "" {
		e.URL = "https://erp.example.com/hooks"
	}
	got, err := ws.CreateWebhookEndpoint(ctxFor(t), e)
	if err != nil {
		t.Fatalf("CreateWebhookEndpoint: %v", err)
	}
	return got
}

func delivery(tenantID, endpointID string, i int, subject string) store.WebhookDelivery {
	id := fmt.Sprintf("evt_%04d", i)
	return store.WebhookDelivery{
		EventID: id, EndpointID: endpointID, TenantID: tenantID, EventType: "tracking.updated",
		Subject: subject, Seq: int64(i), EventTime: whT0.Add(time.Duration(i) * time.Second),
		Body: []byte(fmt.Sprintf(`{"id":%q,"type":"tracking.updated"}`, id)),
	}
}

func mustInsert(t *testing.T, ws store.WebhookStore, ds ...store.WebhookDelivery) int64 {
	t.Helper()
	n, err := ws.InsertWebhookDeliveries(ctxFor(t), ds, whT0)
	if err != nil {
		t.Fatalf("InsertWebhookDeliveries: %v", err)
	}
	return n
}

func claimDeliveries(t *testing.T, ws store.WebhookStore, owner string, limit int, now time.Time) []store.WebhookDelivery {
	t.Helper()
	ds, err := ws.ClaimWebhookDeliveries(ctxFor(t), owner, limit, now, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("ClaimWebhookDeliveries: %v", err)
	}
	return ds
}

func succeeded(d store.WebhookDelivery, at time.Time) store.DeliveryOutcome {
	return store.DeliveryOutcome{EventID: d.EventID, EndpointID: d.EndpointID, LeaseOwner: d.LeaseOwner,
		State: store.DeliverySucceeded, NextAttemptAt: at,
		Attempt: &store.WebhookAttempt{TenantID: d.TenantID, Attempt: d.Attempts + 1, At: at, Status: 204, Duration: 3 * time.Millisecond}}
}

func failed(d store.WebhookDelivery, at, next time.Time, state store.DeliveryState) store.DeliveryOutcome {
	return store.DeliveryOutcome{EventID: d.EventID, EndpointID: d.EndpointID, LeaseOwner: d.LeaseOwner,
		State: state, NextAttemptAt: next,
		Attempt: &store.WebhookAttempt{TenantID: d.TenantID, Attempt: d.Attempts + 1, At: at, Status: 500,
			Duration: time.Millisecond, Error: "status 500", Response: []byte("boom")}}
}

func testWebhookEndpoints(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Description: "ERP", EventTypes: []string{"shipment.*"},
		Filter: map[string]json.RawMessage{"connector": json.RawMessage(`"delhivery"`)}, Enabled: true, RateLimit: 5, Ordered: true})
	got, err := ws.GetWebhookEndpoint(ctx, a.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != TestSecret || got.URL != e.URL || !got.Enabled || !got.Ordered || got.RateLimit != 5 ||
		len(got.EventTypes) != 1 || string(got.Filter["connector"]) != `"delhivery"` || !got.CreatedAt.Equal(e.CreatedAt) {
		t.Fatalf("GetWebhookEndpoint = %+v, want %+v", got, e)
	}
	if _, err := ws.GetWebhookEndpoint(ctx, b.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's GetWebhookEndpoint = %v, want ErrNotFound", err)
	}
	if l, _ := ws.ListWebhookEndpoints(ctx, b.ID, false); len(l) != 0 {
		t.Fatalf("tenant b lists %d endpoints", len(l))
	}
	got.Enabled, got.DisabledReason, got.URL = false, "maintenance", "http://erp.example.com:8080/x"
	up, err := ws.UpdateWebhookEndpoint(ctx, got)
	if err != nil || up.Enabled || up.DisabledReason != "maintenance" || up.URL != got.URL || up.Secret != TestSecret {
		t.Fatalf("UpdateWebhookEndpoint = %+v, %v", up, err)
	}
	if l, _ := ws.ListWebhookEndpoints(ctx, a.ID, true); len(l) != 0 {
		t.Fatalf("enabled-only list has a disabled endpoint")
	}
	if l, _ := ws.ListWebhookEndpoints(ctx, a.ID, false); len(l) != 1 {
		t.Fatalf("list = %d endpoints, want 1", len(l))
	}
	other := got
	other.TenantID = b.ID
	if _, err := ws.UpdateWebhookEndpoint(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update through another tenant = %v, want ErrNotFound", err)
	}
	if err := ws.DeleteWebhookEndpoint(ctx, b.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete through another tenant = %v, want ErrNotFound", err)
	}
	if err := ws.DeleteWebhookEndpoint(ctx, a.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.WebhookEndpointByID(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted endpoint = %v, want ErrNotFound", err)
	}
}

func testWebhookEndpointValidation(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "a")
	for _, tc := range []struct {
		name string
		e    store.WebhookEndpoint
	}{
		{"ftp", store.WebhookEndpoint{URL: "ftp://x.example.com/"}},
		{"userinfo", store.WebhookEndpoint{URL: "https://u:p@x.example.com/"}},
		{"no host", store.WebhookEndpoint{URL: "https:///path"}},
		{"relative", store.WebhookEndpoint{URL: "/hooks"}},
		{"bad type", store.WebhookEndpoint{EventTypes: []string{"Shipment Created"}}},
		{"bad filter", store.WebhookEndpoint{Filter: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}},
		{"rate", store.WebhookEndpoint{RateLimit: -1}},
		{"secret prefix", store.WebhookEndpoint{Secret: "sk_abc"}},
		{"short secret", store.WebhookEndpoint{Secret: "whsec_c2hvcnQ="}},
	} {
		e := tc.e
		e.TenantID = a.ID
		if e.URL == "" {
			e.URL = "https://erp.example.com/h"
		}
		if e.Secret == "" {
			e.Secret = TestSecret
		}
		if _, err := ws.CreateWebhookEndpoint(ctx, e); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: CreateWebhookEndpoint = %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := ws.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{TenantID: "ten_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		URL: "https://x.example.com", Secret: TestSecret}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant = %v, want ErrNotFound", err)
	}
}

func testWebhookSecretRotation(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "a")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	r, err := ws.RotateWebhookSecret(ctx, a.ID, e.ID, otherSecret, until)
	if err != nil {
		t.Fatal(err)
	}
	if r.Secret != otherSecret || r.PreviousSecret != TestSecret || r.PreviousExpiresAt == nil || !r.PreviousExpiresAt.Equal(until) {
		t.Fatalf("after rotation: %+v", r)
	}
	if got := r.Secrets(time.Now()); len(got) != 2 {
		t.Fatalf("Secrets during overlap = %d, want 2", len(got))
	}
	if got := r.Secrets(until); len(got) != 1 || got[0] != otherSecret {
		t.Fatalf("Secrets after overlap = %v", len(got))
	}
	r, err = ws.RotateWebhookSecret(ctx, a.ID, e.ID, TestSecret, time.Time{})
	if err != nil || r.PreviousSecret != "" || r.PreviousExpiresAt != nil || r.Secret != TestSecret {
		t.Fatalf("rotation without overlap = %+v, %v", r, err)
	}
	if _, err := ws.RotateWebhookSecret(ctx, a.ID, e.ID, "nope", time.Time{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad secret = %v", err)
	}
}

func testWebhookInsertIdempotent(t *testing.T, s store.Store, ws store.WebhookStore) {
	a := mustTenant(t, s, "a")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	var ds []store.WebhookDelivery
	for i := range 5 {
		ds = append(ds, delivery(a.ID, e.ID, i, "AWB1"))
	}
	if n := mustInsert(t, ws, ds...); n != 5 {
		t.Fatalf("first insert = %d, want 5", n)
	}
	if n := mustInsert(t, ws, ds...); n != 0 {
		t.Fatalf("replayed insert = %d, want 0", n)
	}
	d, err := ws.GetWebhookDelivery(ctxFor(t), ds[2].EventID, e.ID)
	if err != nil || d.State != store.DeliveryPending || string(d.Body) != string(ds[2].Body) || !d.EventTime.Equal(ds[2].EventTime) {
		t.Fatalf("GetWebhookDelivery = %+v, %v", d, err)
	}
	if _, err := ws.InsertWebhookDeliveries(ctxFor(t), []store.WebhookDelivery{{EventID: "bad id!", EndpointID: e.ID,
		TenantID: a.ID, Body: []byte(`{}`)}}, whT0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad event id = %v, want ErrInvalid", err)
	}
}

func testWebhookClaimsDisjoint(t *testing.T, s store.Store, ws store.WebhookStore) {
	a := mustTenant(t, s, "a")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	const n = 200
	var ds []store.WebhookDelivery
	for i := range n {
		ds = append(ds, delivery(a.ID, e.ID, i, fmt.Sprint("S", i)))
	}
	mustInsert(t, ws, ds...)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := ws.ClaimWebhookDeliveries(context.Background(), fmt.Sprint("w", w), 7, whT0, whT0.Add(time.Minute))
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					if prev, dup := seen[d.EventID]; dup {
						errs <- fmt.Errorf("%s claimed by %s and %s", d.EventID, prev, d.LeaseOwner)
					}
					seen[d.EventID] = d.LeaseOwner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), n)
	}
}

func testWebhookLeaseExpiry(t *testing.T, s store.Store, ws store.WebhookStore) {
	a := mustTenant(t, s, "a")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	mustInsert(t, ws, delivery(a.ID, e.ID, 1, "S"))
	first := claimDeliveries(t, ws, "one", 10, whT0)
	if len(first) != 1 || first[0].LeaseOwner == "" {
		t.Fatalf("first claim = %+v", first)
	}
	if got := claimDeliveries(t, ws, "two", 10, whT0.Add(59*time.Second)); len(got) != 0 {
		t.Fatalf("claim during the lease = %d rows, want 0", len(got))
	}
	second := claimDeliveries(t, ws, "two", 10, whT0.Add(time.Minute))
	if len(second) != 1 || second[0].LeaseOwner == first[0].LeaseOwner {
		t.Fatalf("claim after the lease = %+v", second)
	}
	// The first holder's late outcome changes nothing: its lease is gone.
	if err := ws.CompleteWebhookDeliveries(ctxFor(t), []store.DeliveryOutcome{succeeded(first[0], whT0.Add(61*time.Second))}, whT0); err != nil {
		t.Fatal(err)
	}
	d, _ := ws.GetWebhookDelivery(ctxFor(t), first[0].EventID, e.ID)
	if d.State != store.DeliveryPending || d.LeaseOwner != second[0].LeaseOwner {
		t.Fatalf("after a stale outcome: %+v", d)
	}
	if err := ws.CompleteWebhookDeliveries(ctxFor(t), []store.DeliveryOutcome{succeeded(second[0], whT0.Add(62*time.Second))}, whT0); err != nil {
		t.Fatal(err)
	}
	d, _ = ws.GetWebhookDelivery(ctxFor(t), first[0].EventID, e.ID)
	if d.State != store.DeliverySucceeded || d.Attempts != 1 || d.LeaseOwner != "" {
		t.Fatalf("after the holder's outcome: %+v", d)
	}
}

func testWebhookOutcomes(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	mustInsert(t, ws, delivery(a.ID, e.ID, 1, "S1"), delivery(a.ID, e.ID, 2, "S2"), delivery(a.ID, e.ID, 3, "S3"))
	got := claimDeliveries(t, ws, "w", 10, whT0)
	if len(got) != 3 {
		t.Fatalf("claimed %d, want 3", len(got))
	}
	next := whT0.Add(5 * time.Second)
	outs := []store.DeliveryOutcome{
		succeeded(got[0], whT0),
		failed(got[1], whT0, next, store.DeliveryPending),
		{EventID: got[2].EventID, EndpointID: e.ID, LeaseOwner: got[2].LeaseOwner, State: store.DeliveryPending, NextAttemptAt: next},
	}
	if err := ws.CompleteWebhookDeliveries(ctx, outs, whT0); err != nil {
		t.Fatal(err)
	}
	d1, _ := ws.GetWebhookDelivery(ctx, got[1].EventID, e.ID)
	if d1.State != store.DeliveryPending || d1.Attempts != 1 || !d1.NextAttemptAt.Equal(next) || d1.LastStatus != 500 {
		t.Fatalf("failed delivery: %+v", d1)
	}
	d2, _ := ws.GetWebhookDelivery(ctx, got[2].EventID, e.ID)
	if d2.Attempts != 0 || !d2.NextAttemptAt.Equal(next) {
		t.Fatalf("deferred delivery counts an attempt: %+v", d2)
	}
	if again := claimDeliveries(t, ws, "w", 10, whT0.Add(time.Second)); len(again) != 0 {
		t.Fatalf("claimed %d before they were due", len(again))
	}
	if again := claimDeliveries(t, ws, "w", 10, next); len(again) != 2 {
		t.Fatalf("claimed %d when due, want 2", len(again))
	}
	atts, err := ws.ListWebhookAttempts(ctx, a.ID, e.ID, "", 10)
	if err != nil || len(atts) != 2 {
		t.Fatalf("attempts of the endpoint = %d, %v", len(atts), err)
	}
	atts, err = ws.ListWebhookAttempts(ctx, a.ID, "", got[1].EventID, 10)
	if err != nil || len(atts) != 1 || atts[0].Status != 500 || string(atts[0].Response) != "boom" || atts[0].Error == "" {
		t.Fatalf("attempts of the event = %+v, %v", atts, err)
	}
	if want := delivery(a.ID, e.ID, 2, "S2").Body; string(atts[0].Request) != string(want) {
		t.Fatalf("attempt's request = %q, want the delivery's body %q", atts[0].Request, want)
	}
	if atts, _ := ws.ListWebhookAttempts(ctx, b.ID, e.ID, "", 10); len(atts) != 0 {
		t.Fatalf("another tenant sees %d attempts", len(atts))
	}
	if n, _ := ws.CountWebhookDeliveries(ctx, e.ID, store.DeliverySucceeded); n != 1 {
		t.Fatalf("succeeded count = %d", n)
	}
}

func testWebhookOrdered(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "a")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true, Ordered: true})
	var ds []store.WebhookDelivery
	for i, subject := range []string{"A", "A", "B"} {
		d := delivery(a.ID, e.ID, i+1, subject)
		d.Ordered = true
		ds = append(ds, d)
	}
	mustInsert(t, ws, ds...)
	if d, _ := ws.GetWebhookDelivery(ctx, ds[0].EventID, e.ID); !d.Ordered {
		t.Fatalf("the ordered flag was not stored")
	}
	got := claimDeliveries(t, ws, "w", 10, whT0)
	if len(got) != 2 {
		t.Fatalf("ordered claim = %d rows, want the head of each subject (2)", len(got))
	}
	for _, d := range got {
		if d.EventID == "evt_0002" {
			t.Fatalf("the second event of subject A was claimed before the first finished")
		}
	}
	var outs []store.DeliveryOutcome
	for _, d := range got {
		outs = append(outs, succeeded(d, whT0))
	}
	if err := ws.CompleteWebhookDeliveries(ctx, outs, whT0); err != nil {
		t.Fatal(err)
	}
	next := claimDeliveries(t, ws, "w", 10, whT0)
	if len(next) != 1 || next[0].EventID != "evt_0002" {
		t.Fatalf("after the head succeeded: %+v", next)
	}
	if err := ws.CompleteWebhookDeliveries(ctx, []store.DeliveryOutcome{succeeded(next[0], whT0)}, whT0); err != nil {
		t.Fatal(err)
	}
	// A disabled endpoint's deliveries wait, pending, until it is enabled again.
	e2 := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: false})
	mustInsert(t, ws, delivery(a.ID, e2.ID, 9, "C"))
	if got := claimDeliveries(t, ws, "w", 10, whT0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("claimed %d deliveries of a disabled endpoint", len(got))
	}
	e2.Enabled = true
	if _, err := ws.UpdateWebhookEndpoint(ctx, e2); err != nil {
		t.Fatal(err)
	}
	if got := claimDeliveries(t, ws, "w", 10, whT0.Add(time.Hour)); len(got) != 1 {
		t.Fatalf("after enabling: %d deliveries", len(got))
	}
}

func testWebhookHealth(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "a")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	for i := range 3 {
		mustInsert(t, ws, delivery(a.ID, e.ID, i, fmt.Sprint(i)))
	}
	got := claimDeliveries(t, ws, "w", 1, whT0)
	if err := ws.CompleteWebhookDeliveries(ctx, []store.DeliveryOutcome{failed(got[0], whT0, whT0.Add(time.Hour), store.DeliveryPending)}, whT0); err != nil {
		t.Fatal(err)
	}
	ep, _ := ws.WebhookEndpointByID(ctx, e.ID)
	if ep.FailingSince == nil || !ep.FailingSince.Equal(whT0) {
		t.Fatalf("failing_since = %v, want %v", ep.FailingSince, whT0)
	}
	later := whT0.Add(time.Minute)
	got = claimDeliveries(t, ws, "w", 1, later)
	if err := ws.CompleteWebhookDeliveries(ctx, []store.DeliveryOutcome{failed(got[0], later, later.Add(time.Hour), store.DeliveryDead)}, later); err != nil {
		t.Fatal(err)
	}
	ep, _ = ws.WebhookEndpointByID(ctx, e.ID)
	if !ep.FailingSince.Equal(whT0) {
		t.Fatalf("a second failure moved failing_since to %v", ep.FailingSince)
	}
	early := whT0.Add(-time.Second)
	if _, off, err := ws.DisableWebhookEndpoint(ctx, e.ID, "failing", &early, later); err != nil || off {
		t.Fatalf("disable before the period = %v, %v", off, err)
	}
	got = claimDeliveries(t, ws, "w", 1, later)
	if err := ws.CompleteWebhookDeliveries(ctx, []store.DeliveryOutcome{succeeded(got[0], later)}, later); err != nil {
		t.Fatal(err)
	}
	if ep, _ = ws.WebhookEndpointByID(ctx, e.ID); ep.FailingSince != nil {
		t.Fatalf("a success left failing_since at %v", ep.FailingSince)
	}
	ep, off, err := ws.DisableWebhookEndpoint(ctx, e.ID, "gone (410)", nil, later)
	if err != nil || !off || ep.Enabled || ep.DisabledReason != "gone (410)" {
		t.Fatalf("disable = %+v, %v, %v", ep, off, err)
	}
	if _, off, _ := ws.DisableWebhookEndpoint(ctx, e.ID, "again", nil, later); off {
		t.Fatalf("disabling twice reported a change")
	}
}

func testWebhookReplay(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	const n = 25
	for i := range n {
		mustInsert(t, ws, delivery(a.ID, e.ID, i, fmt.Sprint(i)))
	}
	got := claimDeliveries(t, ws, "w", n, whT0)
	var outs []store.DeliveryOutcome
	for i, d := range got {
		if i%2 == 0 {
			outs = append(outs, succeeded(d, whT0))
		} else {
			outs = append(outs, failed(d, whT0, whT0, store.DeliveryDead))
		}
	}
	if err := ws.CompleteWebhookDeliveries(ctx, outs, whT0); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.ReplayWebhookDeliveries(ctx, b.ID, e.ID, store.ReplayWindow{Since: whT0, Limit: 10}, whT0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's replay = %v, want ErrNotFound", err)
	}
	// Events 5..19 are in the window [whT0+5s, whT0+20s).
	w := store.ReplayWindow{Since: whT0.Add(5 * time.Second), Until: whT0.Add(20 * time.Second), Limit: 4}
	now := whT0.Add(time.Hour)
	var total int64
	pages := 0
	for {
		r, err := ws.ReplayWebhookDeliveries(ctx, a.ID, e.ID, w, now)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total += r.Queued
		if r.Queued > 0 && r.Remaining != 15-total {
			t.Fatalf("page %d: remaining %d, want %d", pages, r.Remaining, 15-total)
		}
		if r.Next == "" {
			break
		}
		w.After = r.Next
	}
	if total != 15 || pages != 4 {
		t.Fatalf("replayed %d in %d pages, want 15 in 4", total, pages)
	}
	d, _ := ws.GetWebhookDelivery(ctx, "evt_0007", e.ID)
	if d.State != store.DeliveryPending || d.Attempts != 0 || !d.NextAttemptAt.Equal(now) {
		t.Fatalf("replayed delivery: %+v", d)
	}
	if d, _ := ws.GetWebhookDelivery(ctx, "evt_0020", e.ID); d.State == store.DeliveryPending {
		t.Fatalf("an event outside the window was replayed")
	}
	if _, err := ws.ReplayWebhookDeliveries(ctx, a.ID, e.ID, store.ReplayWindow{Since: whT0, Limit: 10, After: "junk"}, now); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad cursor = %v, want ErrInvalid", err)
	}
}

func testWebhookPurge(t *testing.T, s store.Store, ws store.WebhookStore) {
	ctx := ctxFor(t)
	a := mustTenant(t, s, "a")
	e := mustEndpoint(t, ws, store.WebhookEndpoint{TenantID: a.ID, Enabled: true})
	mustInsert(t, ws, delivery(a.ID, e.ID, 1, "S1"), delivery(a.ID, e.ID, 2, "S2"), delivery(a.ID, e.ID, 3, "S3"))
	got := claimDeliveries(t, ws, "w", 10, whT0)
	if len(got) != 3 {
		t.Fatalf("claimed %d, want 3", len(got))
	}
	outs := []store.DeliveryOutcome{
		succeeded(got[0], whT0),
		failed(got[1], whT0, whT0, store.DeliveryDead),
		failed(got[2], whT0, whT0.Add(time.Hour), store.DeliveryPending),
	}
	if err := ws.CompleteWebhookDeliveries(ctx, outs, whT0); err != nil {
		t.Fatal(err)
	}
	if d, a, err := ws.PurgeWebhookHistory(ctx, whT0); err != nil || d != 0 || a != 0 {
		t.Fatalf("purge before anything was written = %d deliveries, %d attempts, %v", d, a, err)
	}
	d, n, err := ws.PurgeWebhookHistory(ctx, whT0.Add(time.Second))
	if err != nil || d != 2 || n != 3 {
		t.Fatalf("purge = %d deliveries, %d attempts, %v; want 2 and 3", d, n, err)
	}
	if _, err := ws.GetWebhookDelivery(ctx, got[0].EventID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("succeeded delivery after purge: %v", err)
	}
	if p, err := ws.GetWebhookDelivery(ctx, got[2].EventID, e.ID); err != nil || p.State != store.DeliveryPending {
		t.Fatalf("pending delivery after purge = %+v, %v", p, err)
	}
	if atts, _ := ws.ListWebhookAttempts(ctx, a.ID, e.ID, "", 10); len(atts) != 0 {
		t.Fatalf("%d attempts left after purge", len(atts))
	}
}
