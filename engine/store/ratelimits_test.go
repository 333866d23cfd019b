package store_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReserveRate measures one cluster-wide rate reservation (one
// statement): serially, from parallel goroutines on one hot key (replicas
// sharing an account), and from parallel goroutines on keys of their own.
func BenchmarkReserveRate(b *testing.B) {
	const interval, tolerance, maxWait = time.Microsecond, time.Second, time.Hour
	for backend, s := range benchStores(b) {
		ctx := b.Context()
		b.Run(backend+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.ReserveRate(ctx, "bench/serial", interval, tolerance, time.Now(), maxWait); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/parallel-one-key", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.ReserveRate(ctx, "bench/hot", interval, tolerance, time.Now(), maxWait); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		var worker atomic.Int64
		b.Run(backend+"/parallel-own-keys", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				key := fmt.Sprintf("bench/own/%d", worker.Add(1))
				for pb.Next() {
					if _, err := s.ReserveRate(ctx, key, interval, tolerance, time.Now(), maxWait); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
