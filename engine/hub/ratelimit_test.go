package hub

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/sdk"
)

// TestSharedRateOnlyOnPostgres: the executor shares its rate limits through
// the store only when the store is Postgres; on the embedded store, one
// process, its own buckets decide.
func TestSharedRateOnlyOnPostgres(t *testing.T) {
	st := storetest.OpenSQLite(t)
	if r := sharedRate(config.Store{DataDir: t.TempDir()}, st); r != nil {
		t.Fatalf("SQLite: shared rate %T, want none", r)
	}
	if r := sharedRate(config.Store{PostgresURL: "postgres://db/hub"}, st); r == nil {
		t.Fatal("Postgres: no shared rate")
	}
}

// TestReplicasShareTheRateLimit: three executors (replicas) over one store
// hold one account to its limit together: of 9 calls at one instant at 10 a
// second with a burst of 2, two go at once and the others every 100ms, each
// in a slot of its own, whichever replica makes it.
func TestReplicasShareTheRateLimit(t *testing.T) {
	st := storetest.OpenSQLite(t)
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	var sleeps []time.Duration
	opts := resilience.Options{
		Logger:     slog.New(slog.DiscardHandler),
		Now:        func() time.Time { return now },
		SharedRate: storeRate{st},
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			mu.Unlock()
			return nil
		},
	}
	replicas := []*resilience.Executor{resilience.NewExecutor(opts), resilience.NewExecutor(opts), resilience.NewExecutor(opts)}
	call := resilience.Call{Connector: "acme", Account: "acc_1", Operation: sdk.OpTrack,
		Policy: resilience.Policy{RateLimit: 10, RateBurst: 2, Timeout: 10 * time.Second}}
	var wg sync.WaitGroup
	for i := range 9 {
		wg.Go(func() {
			_, err := replicas[i%3].Do(t.Context(), call, func(context.Context) ([]byte, error) { return nil, nil })
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	slices.Sort(sleeps)
	want := []time.Duration{100, 200, 300, 400, 500, 600, 700}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(sleeps, want) {
		t.Fatalf("waits %v, want %v", sleeps, want)
	}
}
