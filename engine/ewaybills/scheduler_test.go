package ewaybills_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/ewaybills"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk/model"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testKey(t *testing.T) []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// backends opens the stores to run on: SQLite always, Postgres when
// HUB_POSTGRES_URL is set. open returns a second store over the same database each
// time it is called, as another replica would have.
func backends(t *testing.T) map[string]func(t *testing.T) store.Store {
	dir, key := t.TempDir(), testKey(t)
	out := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			return mustOpen(t, store.Config{DataDir: dir, Key: key, Logger: quiet})
		},
	}
	if admin := os.Getenv("HUB_POSTGRES_URL"); admin != "" {
		var once sync.Once
		var url string
		out["postgres"] = func(t *testing.T) store.Store {
			once.Do(func() { url = storetest.FreshPostgresDB(t, admin) })
			return mustOpen(t, store.Config{PostgresURL: url, Key: key, Logger: quiet})
		}
	}
	return out
}

func mustOpen(t *testing.T, cfg store.Config) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachBackend runs fn once per backend with a fresh database.
func eachBackend(t *testing.T, fn func(t *testing.T, open func(t *testing.T) store.Store)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			open, ok := backends(t)[name]
			if !ok {
				t.Skip("HUB_POSTGRES_URL is not set; run `source .ci/postgres.sh` to start a throw-away Postgres and set it")
			}
			fn(t, open)
		})
	}
}

// base is a time in the real future: the store decides "already expired" by its own
// clock when recording, while the scheduler runs on the fake one.
func futureBase() time.Time { return time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour) }

func generate(t *testing.T, s store.Store, tenantID, number string, validUntil time.Time) {
	t.Helper()
	generateTB(t, s, tenantID, number, validUntil)
}

func generateTB(t testing.TB, s store.Store, tenantID, number string, validUntil time.Time) {
	t.Helper()
	gen := validUntil.Add(-48 * time.Hour)
	data, _ := json.Marshal(model.EWayBill{Number: number, GeneratedAt: gen, ValidUntil: &validUntil})
	if _, err := s.RecordEWayBill(t.Context(), store.EWayBill{TenantID: tenantID, Number: number, ConnectorID: "nic_ewaybill",
		AccountID: "acc_1", GeneratedAt: &gen, ValidUntil: &validUntil}, events.EWayBillGenerated, data); err != nil {
		t.Fatal(err)
	}
}

func extend(t *testing.T, s store.Store, tenantID, number string, validUntil time.Time) {
	t.Helper()
	data, _ := json.Marshal(model.EWayBill{Number: number, ValidUntil: &validUntil})
	if _, err := s.RecordEWayBill(t.Context(), store.EWayBill{TenantID: tenantID, Number: number, ConnectorID: "nic_ewaybill",
		AccountID: "acc_1", ValidUntil: &validUntil}, events.EWayBillVehicleUpdated, data); err != nil {
		t.Fatal(err)
	}
}

func runOnce(t *testing.T, sc *ewaybills.Scheduler) []string {
	t.Helper()
	evs, err := sc.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range evs {
		if e.Type != events.EWayBillExpiring {
			t.Fatalf("scheduler appended %s", e.Type)
		}
		out = append(out, e.Subject)
	}
	return out
}

// expiringInOutbox counts eway_bill.expiring events per subject in the outbox.
func expiringInOutbox(t *testing.T, s store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	var after events.Seq
	for {
		page, err := s.ReadEvents(t.Context(), after, store.MaxEventBatch)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		for _, e := range page {
			if e.Type == events.EWayBillExpiring {
				out[e.Subject]++
			}
			after = e.Seq
		}
	}
}

func TestEmittedOnceAhead(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		s := open(t)
		tn, _ := s.CreateTenant(t.Context(), "Acme")
		base := futureBase()
		generate(t, s, tn.ID, "331001234567", base.Add(10*time.Hour))
		clk := testclock.New(base)
		notified := 0
		sc := &ewaybills.Scheduler{Store: s, Notify: func() { notified++ }, Logger: quiet, Now: clk.Now}
		if got := runOnce(t, sc); len(got) != 0 {
			t.Fatalf("10 hours ahead, emitted %v; the default lead is 8 hours", got)
		}
		clk.Set(base.Add(2 * time.Hour))
		if got := runOnce(t, sc); fmt.Sprint(got) != "[331001234567]" {
			t.Fatalf("8 hours ahead, emitted %v", got)
		}
		for _, d := range []time.Duration{2*time.Hour + time.Minute, 5 * time.Hour, 9*time.Hour + 59*time.Minute} {
			clk.Set(base.Add(d))
			if got := runOnce(t, sc); len(got) != 0 {
				t.Fatalf("at +%v emitted %v again", d, got)
			}
		}
		if notified != 1 {
			t.Fatalf("Notify called %d times, want 1", notified)
		}
		if n := expiringInOutbox(t, s); n["331001234567"] != 1 || len(n) != 1 {
			t.Fatalf("outbox holds %v", n)
		}
		// Past its end the bill is expired, still without a second notice.
		clk.Set(base.Add(11 * time.Hour))
		if got := runOnce(t, sc); len(got) != 0 {
			t.Fatalf("after expiry emitted %v", got)
		}
		if b, _ := s.GetEWayBill(t.Context(), tn.ID, "331001234567"); b.Status != store.EWayBillExpired {
			t.Fatalf("bill after its end: %q", b.Status)
		}
	})
}

func TestReArmedAfterExtension(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		s := open(t)
		tn, _ := s.CreateTenant(t.Context(), "Acme")
		base := futureBase()
		generate(t, s, tn.ID, "331001234567", base.Add(6*time.Hour))
		clk := testclock.New(base)
		sc := &ewaybills.Scheduler{Store: s, Logger: quiet, Now: clk.Now}
		if got := runOnce(t, sc); len(got) != 1 {
			t.Fatalf("emitted %v, want the bill's notice", got)
		}
		// The TMS extends the bill by a day, within the 8 hours before expiry.
		extend(t, s, tn.ID, "331001234567", base.Add(30*time.Hour))
		if got := runOnce(t, sc); len(got) != 0 {
			t.Fatalf("right after the extension emitted %v", got)
		}
		clk.Set(base.Add(22 * time.Hour))
		evs, err := sc.RunOnce(t.Context())
		if err != nil || len(evs) != 1 {
			t.Fatalf("in the new validity's window: %v, %v", evs, err)
		}
		var bill model.EWayBill
		if err := json.Unmarshal(evs[0].Data, &bill); err != nil || bill.ValidUntil == nil || !bill.ValidUntil.Equal(base.Add(30*time.Hour)) {
			t.Fatalf("second notice data %s: %v", evs[0].Data, err)
		}
		if !evs[0].Time.Equal(base.Add(22 * time.Hour)) {
			t.Fatalf("notice time %v, want the scheduler's clock", evs[0].Time)
		}
	})
}

func TestNoneForCancelled(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		s := open(t)
		tn, _ := s.CreateTenant(t.Context(), "Acme")
		base := futureBase()
		generate(t, s, tn.ID, "331001234567", base.Add(4*time.Hour))
		generate(t, s, tn.ID, "331001234568", base.Add(5*time.Hour))
		if _, err := s.CancelEWayBill(t.Context(), tn.ID, "nic_ewaybill", "acc_1", "331001234567",
			json.RawMessage(`{"number":"331001234567","generated_at":"2030-01-01T00:00:00Z","status":"cancelled"}`)); err != nil {
			t.Fatal(err)
		}
		sc := &ewaybills.Scheduler{Store: s, Logger: quiet, Now: func() time.Time { return base }}
		if got := runOnce(t, sc); fmt.Sprint(got) != "[331001234568]" {
			t.Fatalf("emitted %v, want only the bill not cancelled", got)
		}
	})
}

// TestReplicasEmitOnce runs two schedulers, each over its own store (its own
// connections, as two hub replicas have) on one database, at the same moment.
func TestReplicasEmitOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		a, b := open(t), open(t)
		tn, _ := a.CreateTenant(t.Context(), "Acme")
		base := futureBase()
		const bills = 75
		for i := range bills {
			generate(t, a, tn.ID, fmt.Sprintf("3310012345%02d", i), base.Add(time.Hour+time.Duration(i)*time.Minute))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for _, s := range []store.Store{a, b, a, b} {
			sc := &ewaybills.Scheduler{Store: s, Batch: 4, Logger: quiet, Now: func() time.Time { return base }}
			wg.Go(func() {
				for range 3 {
					evs, err := sc.RunOnce(t.Context())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, e := range evs {
						seen[e.Subject]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// A pass ends early when another replica holds the rest (Postgres skips
		// locked rows); one more pass takes what is left.
		if _, err := (&ewaybills.Scheduler{Store: a, Logger: quiet, Now: func() time.Time { return base }}).RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		for n, c := range seen {
			if c != 1 {
				t.Fatalf("bill %s: %d notices", n, c)
			}
		}
		out := expiringInOutbox(t, b)
		if len(out) != bills {
			t.Fatalf("outbox holds notices for %d bills, want %d", len(out), bills)
		}
		for n, c := range out {
			if c != 1 {
				t.Fatalf("outbox holds %d notices for %s", c, n)
			}
		}
	})
}

func TestBatches(t *testing.T) {
	s := mustOpen(t, store.Config{DataDir: t.TempDir(), Key: testKey(t), Logger: quiet})
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	base := futureBase()
	for i := range 23 {
		generate(t, s, tn.ID, fmt.Sprintf("3310012345%02d", i), base.Add(time.Duration(i+1)*time.Minute))
	}
	calls := 0
	counting := storeFunc(func(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]events.Stored, error) {
		calls++
		if limit != 5 || lead != ewaybills.DefaultLead || !now.Equal(base) {
			t.Errorf("ClaimExpiring(%v, %v, %d)", now, lead, limit)
		}
		return s.ClaimExpiring(ctx, now, lead, limit)
	})
	notified := 0
	sc := &ewaybills.Scheduler{Store: counting, Batch: 5, Notify: func() { notified++ }, Logger: quiet, Now: func() time.Time { return base }}
	if got := runOnce(t, sc); len(got) != 23 {
		t.Fatalf("emitted %d, want 23", len(got))
	}
	if calls != 5 || notified != 1 {
		t.Fatalf("%d store calls and %d notifies, want 5 batches and one notify", calls, notified)
	}
}

type storeFunc func(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]events.Stored, error)

func (f storeFunc) ClaimExpiring(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]events.Stored, error) {
	return f(ctx, now, lead, limit)
}

func TestRunUntilCancelled(t *testing.T) {
	s := mustOpen(t, store.Config{DataDir: t.TempDir(), Key: testKey(t), Logger: quiet})
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	base := futureBase()
	clk := testclock.New(base)
	notices := make(chan struct{}, 10)
	sc := &ewaybills.Scheduler{Store: s, Every: time.Millisecond, Logger: quiet, Now: clk.Now,
		Notify: func() { notices <- struct{}{} }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	// A bill that enters the window while Run is running gets its notice.
	generate(t, s, tn.ID, "331001234567", base.Add(time.Hour))
	<-notices
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after its context ended", err)
	}
	if n := expiringInOutbox(t, s); n["331001234567"] != 1 {
		t.Fatalf("outbox holds %v", n)
	}
}

func TestErrors(t *testing.T) {
	if err := (&ewaybills.Scheduler{}).Run(t.Context()); err == nil {
		t.Fatal("Run without a store succeeded")
	}
	if _, err := (&ewaybills.Scheduler{}).RunOnce(t.Context()); err == nil {
		t.Fatal("RunOnce without a store succeeded")
	}
	boom := fmt.Errorf("claiming expiring e-way bills: %w", context.DeadlineExceeded)
	calls := 0
	failing := storeFunc(func(context.Context, time.Time, time.Duration, int) ([]events.Stored, error) {
		calls++
		if calls == 1 {
			return make([]events.Stored, 2), nil
		}
		return nil, boom
	})
	notified := 0
	evs, err := (&ewaybills.Scheduler{Store: failing, Batch: 2, Notify: func() { notified++ }, Logger: quiet}).RunOnce(t.Context())
	if err != boom || len(evs) != 2 || notified != 1 {
		t.Fatalf("RunOnce = %d events, %v, %d notifies; want the first batch, the error and a notify", len(evs), err, notified)
	}
}
