package ewaybills_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/ewaybills"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
)

// BenchmarkRunOnce measures a pass that emits 1,000 notices (batches of 100),
// per backend; notices/s is reported as a metric.
func BenchmarkRunOnce(b *testing.B) {
	key := make([]byte, 32)
	cfgs := map[string]store.Config{"sqlite": {DataDir: b.TempDir(), Key: key, Logger: quiet}}
	if admin := os.Getenv("HUB_POSTGRES_URL"); admin != "" {
		cfgs["postgres"] = store.Config{PostgresURL: storetest.FreshPostgresDB(b, admin), Key: key, Logger: quiet}
	}
	for name, cfg := range cfgs {
		b.Run(name, func(b *testing.B) {
			s, err := store.Open(b.Context(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			tn, err := s.CreateTenant(b.Context(), "Bench "+name)
			if err != nil {
				b.Fatal(err)
			}
			base := futureBase()
			const bills = 1000
			emitted := 0
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				// Each round's bills end a week after the last round's, and its
				// pass runs 4 hours before they end.
				end := base.Add(time.Duration(round) * 7 * 24 * time.Hour)
				for i := range bills {
					generateTB(b, s, tn.ID, fmt.Sprintf("9%05d%06d", round, i), end)
				}
				sc := &ewaybills.Scheduler{Store: s, Logger: quiet, Now: func() time.Time { return end.Add(-4 * time.Hour) }}
				b.StartTimer()
				evs, err := sc.RunOnce(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				emitted += len(evs)
				round++
			}
			if emitted != round*bills {
				b.Fatalf("emitted %d notices in %d rounds", emitted, round)
			}
			b.ReportMetric(float64(emitted)/b.Elapsed().Seconds(), "notices/s")
		})
	}
}
