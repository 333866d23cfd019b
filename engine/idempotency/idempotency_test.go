package idempotency_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/internal/testclock"
)

type fullStore interface {
	store.Store
	store.IdempotencyStore
}

// openStore opens a real SQLite store in a temporary directory, or the Postgres at
// HUB_POSTGRES_URL when postgres is true (skipping when it is unset).
func openStore(tb testing.TB, postgres bool) fullStore {
	tb.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg := store.Config{DataDir: tb.TempDir(), Key: key, Logger: slog.New(slog.DiscardHandler)}
	if postgres {
		admin := os.Getenv("HUB_POSTGRES_URL")
		if admin == "" {
			tb.Skip("HUB_POSTGRES_URL is not set; run `source .ci/postgres.sh` to start a throw-away Postgres")
		}
		cfg.PostgresURL = storetest.FreshPostgresDB(tb, admin)
	}
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	fs, ok := s.(fullStore)
	if !ok {
		tb.Fatalf("%T does not keep idempotency keys", s)
	}
	return fs
}

type fixture struct {
	st    fullStore
	clk   *testclock.Clock
	k     *idempotency.Keeper
	scope store.IdempotencyScope
}

func newFixture(t *testing.T, cfg idempotency.Config) *fixture {
	t.Helper()
	f := &fixture{st: openStore(t, false), clk: testclock.New(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))}
	// Unique tenant names let the fixture share a Postgres database if ever pointed at one.
	tn, err := f.st.CreateTenant(t.Context(), fmt.Sprintf("acme-%d", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Now = f.st, f.clk.Now
	if f.k, err = idempotency.New(cfg); err != nil {
		t.Fatal(err)
	}
	f.scope = store.IdempotencyScope{TenantID: tn.ID, ConnectorID: "delhivery", Operation: "create_shipment", Key: "order-1"}
	return f
}

func (f *fixture) begin(t *testing.T, fingerprint string, want idempotency.Outcome) idempotency.Result {
	t.Helper()
	res, err := f.k.Begin(t.Context(), f.scope, fingerprint, 20*time.Second)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if res.Outcome != want {
		t.Fatalf("Begin = %v, want %v", res.Outcome, want)
	}
	if (res.Claim != nil) != (want == idempotency.Claimed || want == idempotency.Settle) {
		t.Fatalf("Begin %v returned claim %v", res.Outcome, res.Claim)
	}
	return res
}

func TestFingerprint(t *testing.T) {
	a := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"a":1}`))
	if len(a) != 64 || a != idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"a":1}`)) {
		t.Fatalf("fingerprint %q is not a stable SHA-256", a)
	}
	for _, other := range []string{
		idempotency.Fingerprint("create_shipment", "acc_2", []byte(`{"a":1}`)),
		idempotency.Fingerprint("create_pickup", "acc_1", []byte(`{"a":1}`)),
		idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"a": 1}`)),
		// Framing: moving bytes between fields changes the fingerprint.
		idempotency.Fingerprint("create_shipmentacc_1", "", []byte(`{"a":1}`)),
		idempotency.Fingerprint("create_shipment", "acc_1{", []byte(`"a":1}`)),
	} {
		if other == a {
			t.Fatal("two different requests share a fingerprint")
		}
	}
}

func TestClaimCompleteReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{}`))
	res := f.begin(t, fp, idempotency.Claimed)
	if want := f.clk.Now().Add(20*time.Second + idempotency.DefaultLeaseMargin/2); !res.Claim.Deadline().Equal(want) {
		t.Fatalf("Deadline = %v, want %v", res.Claim.Deadline(), want)
	}
	f.begin(t, fp, idempotency.InProgress)
	f.begin(t, idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"x":1}`)), idempotency.Mismatch)

	answer := idempotency.Response{Status: 201, ContentType: "application/json", Body: []byte(`{"awb":"1234"}`)}
	if err := res.Claim.Complete(t.Context(), answer); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(23 * time.Hour)
	got := f.begin(t, fp, idempotency.Replay)
	if got.Response.Status != 201 || got.Response.ContentType != "application/json" || !bytes.Equal(got.Response.Body, answer.Body) {
		t.Fatalf("replayed %+v", got.Response)
	}
	f.begin(t, idempotency.Fingerprint("create_shipment", "acc_2", []byte(`{}`)), idempotency.Mismatch)

	// The TTL runs from completion; after it the key is new, whatever the request.
	f.clk.Add(time.Hour)
	f.begin(t, idempotency.Fingerprint("create_shipment", "acc_2", []byte(`{}`)), idempotency.Claimed)
}

func TestConfiguredTTLAndRelease(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{TTL: time.Hour, LeaseMargin: 10 * time.Second})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{}`))
	res := f.begin(t, fp, idempotency.Claimed)
	// Released (a failure before the call): the key is free at once, even for another body.
	if err := res.Claim.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := res.Claim.Release(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Release = %v, want ErrNotFound", err)
	}
	res = f.begin(t, idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"fixed":true}`)), idempotency.Claimed)
	if err := res.Claim.Complete(t.Context(), idempotency.Response{Status: 503, ContentType: "application/problem+json", Body: []byte(`{"code":"carrier_unavailable"}`)}); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Hour - time.Millisecond)
	if got := f.begin(t, idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"fixed":true}`)), idempotency.Replay); got.Response.Status != 503 {
		t.Fatalf("replayed %+v", got.Response)
	}
	f.clk.Add(time.Millisecond)
	f.begin(t, fp, idempotency.Claimed)
}

func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{LeaseMargin: 10 * time.Second})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{}`))
	dead := f.begin(t, fp, idempotency.Claimed)
	f.clk.Add(30*time.Second - time.Millisecond) // 20s timeout + 10s margin
	f.begin(t, fp, idempotency.InProgress)
	f.clk.Add(time.Millisecond)
	// The hub holding the key died: its call may have reached the carrier, so
	// the key is not free. Another request is a mismatch; the same one settles
	// the unknown outcome instead of calling again.
	f.begin(t, idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"other":1}`)), idempotency.Mismatch)
	live := f.begin(t, fp, idempotency.Settle)
	if !live.Claim.Settling() || live.Response.Status != 502 || problemCode(t, live.Response.Body) != "outcome_unknown" {
		t.Fatalf("settle claim = %+v, response %d %s", live.Claim, live.Response.Status, live.Response.Body)
	}
	// The hub that lost its lease cannot overwrite the settler's answer.
	if err := dead.Claim.Complete(t.Context(), idempotency.Response{Status: 201, Body: []byte(`{"awb":"old"}`)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Complete after the lease ran out = %v, want ErrNotFound", err)
	}
	if err := live.Claim.Complete(t.Context(), idempotency.Response{Status: 201, ContentType: "application/json", Body: []byte(`{"awb":"new"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := f.begin(t, fp, idempotency.Replay); string(got.Response.Body) != `{"awb":"new"}` {
		t.Fatalf("replayed %s", got.Response.Body)
	}
}

func TestSweepAbandonsDeadClaims(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{LeaseMargin: 10 * time.Second})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{}`))
	f.begin(t, fp, idempotency.Claimed)
	f.clk.Add(time.Minute)
	// The sweeper finds the dead claim before any retry: it keeps it, as an
	// unknown outcome the retry settles, for the TTL.
	if n, err := f.k.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; want nothing deleted", n, err)
	}
	rec, err := f.st.GetIdempotencyKey(t.Context(), f.scope)
	if err != nil || !rec.OutcomeUnknown || rec.State != store.IdempotencyCompleted {
		t.Fatalf("dead claim after the sweep = %+v, %v", rec, err)
	}
	f.begin(t, fp, idempotency.Settle)
}

// problemCode reads a stored problem answer's code.
func problemCode(t *testing.T, body []byte) string {
	t.Helper()
	var p struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("stored problem %s: %v", body, err)
	}
	return p.Code
}

func TestOversizeAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{MaxBody: 1024})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{}`))
	res := f.begin(t, fp, idempotency.Claimed)
	if err := res.Claim.Complete(t.Context(), idempotency.Response{Status: 200, ContentType: "application/json", Body: bytes.Repeat([]byte("x"), 1025)}); err != nil {
		t.Fatal(err)
	}
	f.begin(t, fp, idempotency.NotReplayable)
	f.begin(t, idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"y":2}`)), idempotency.Mismatch)
	rec, err := f.st.GetIdempotencyKey(t.Context(), f.scope)
	if err != nil || !rec.BodyOmitted || rec.Body != nil {
		t.Fatalf("stored %+v, %v", rec, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	st := openStore(t, false)
	for what, cfg := range map[string]idempotency.Config{
		"no store":       {},
		"negative TTL":   {Store: st, TTL: -time.Second},
		"negative lease": {Store: st, LeaseMargin: -time.Second},
		"huge body":      {Store: st, MaxBody: idempotency.DefaultMaxBody + 1},
	} {
		if _, err := idempotency.New(cfg); err == nil {
			t.Errorf("New with %s: no error", what)
		}
	}
}

func TestBeginRejectsBadKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", nil)
	for _, key := range []string{"", string(make([]byte, 256)), "tab\there"} {
		sc := f.scope
		sc.Key = key
		if _, err := f.k.Begin(t.Context(), sc, fp, time.Second); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Begin with key %q: %v, want ErrInvalid", key, err)
		}
	}
}

func TestSweeper(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{TTL: time.Hour})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{}`))
	res := f.begin(t, fp, idempotency.Claimed)
	if err := res.Claim.Complete(t.Context(), idempotency.Response{Status: 201, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.k.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep inside the TTL = %d, %v", n, err)
	}
	f.clk.Add(time.Hour)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.k.RunSweeper(ctx, time.Millisecond)
	}()
	// Wait (without a wall-clock bound; the test's own timeout is the limit) until a
	// sweep has removed the row.
	for {
		_, err := f.st.GetIdempotencyKey(t.Context(), f.scope)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

// BenchmarkClaimComplete measures what idempotency adds to a create: one Begin that
// claims a fresh key and one Complete storing a 1 KiB answer.
func BenchmarkClaimComplete(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			st := openStore(b, backend == "postgres")
			tn, err := st.CreateTenant(b.Context(), fmt.Sprintf("bench-%d", time.Now().UnixNano()))
			if err != nil {
				b.Fatal(err)
			}
			k, err := idempotency.New(idempotency.Config{Store: st})
			if err != nil {
				b.Fatal(err)
			}
			body := bytes.Repeat([]byte("x"), 1024)
			fp := idempotency.Fingerprint("create_shipment", "acc_1", body)
			answer := idempotency.Response{Status: 201, ContentType: "application/json", Body: body}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				sc := store.IdempotencyScope{TenantID: tn.ID, ConnectorID: "delhivery", Operation: "create_shipment", Key: fmt.Sprintf("key-%d", i)}
				res, err := k.Begin(b.Context(), sc, fp, 30*time.Second)
				if err != nil || res.Outcome != idempotency.Claimed {
					b.Fatalf("Begin = %v, %v", res.Outcome, err)
				}
				if err := res.Claim.Complete(b.Context(), answer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUnknownOutcomeIsSettled: an outcome_unknown answer is not replayed as final.
// During its hold a retry is told to wait (Unsettled, with the time left); then the
// same request gets a claim to settle it, with the stored answer, while others are
// told to wait; a settler that cannot tell gives it back; one that finds out
// completes it, and from then on the final answer is replayed. Another request
// under the key is still a mismatch.
func TestUnknownOutcomeIsSettled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Config{})
	fp := idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"reference":"R1"}`))
	first := f.begin(t, fp, idempotency.Claimed)
	if first.Claim.Settling() {
		t.Fatal("a first claim says it settles")
	}
	unknown := idempotency.Response{Status: 502, ContentType: "application/problem+json", Body: []byte(`{"code":"outcome_unknown"}`)}
	if err := first.Claim.CompleteUnknown(t.Context(), unknown, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(2 * time.Second)
	if res := f.begin(t, fp, idempotency.Unsettled); res.RetryAfter != 3*time.Second {
		t.Fatalf("RetryAfter during the hold = %v, want 3s", res.RetryAfter)
	}
	f.begin(t, idempotency.Fingerprint("create_shipment", "acc_1", []byte(`{"reference":"R2"}`)), idempotency.Mismatch)

	f.clk.Add(3 * time.Second)
	settle := f.begin(t, fp, idempotency.Settle)
	if !settle.Claim.Settling() || settle.Response.Status != 502 || !bytes.Equal(settle.Response.Body, unknown.Body) {
		t.Fatalf("settle = %+v", settle)
	}
	if res := f.begin(t, fp, idempotency.Unsettled); res.RetryAfter < idempotency.InProgressRetryAfter {
		t.Fatalf("RetryAfter while another settles = %v", res.RetryAfter)
	}
	// It cannot tell: the outcome stays unknown, and the next retry settles.
	if err := settle.Claim.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	settle = f.begin(t, fp, idempotency.Settle)
	booked := idempotency.Response{Status: 200, ContentType: "application/json", Body: []byte(`{"tracking_number":"1"}`)}
	if err := settle.Claim.Complete(t.Context(), booked); err != nil {
		t.Fatal(err)
	}
	if res := f.begin(t, fp, idempotency.Replay); res.Response.Status != 200 || !bytes.Equal(res.Response.Body, booked.Body) {
		t.Fatalf("replay after settling = %+v", res.Response)
	}
	// Past the TTL the key is fresh.
	f.clk.Add(idempotency.DefaultTTL)
	f.begin(t, fp, idempotency.Claimed)
}
