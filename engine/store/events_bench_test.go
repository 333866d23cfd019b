package store_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk/model"
)

type eventsStore interface {
	store.Store
	store.EventStore
	store.ShipmentStore
}

// BenchmarkAppendEvents measures appending a batch of 100 events in one transaction.
func BenchmarkAppendEvents(b *testing.B) {
	for backend, s := range benchStores(b) {
		es := s.(eventsStore)
		tn, _ := s.CreateTenant(b.Context(), "Acme")
		batch := make([]events.Event, 100)
		for i := range batch {
			batch[i] = events.Event{Type: events.TrackingUpdated, TenantID: tn.ID, Subject: fmt.Sprintf("AWB%d", i),
				Connector: "delhivery", Account: "acc_1", Data: json.RawMessage(`{"tracking_number":"AWB","status":"in_transit"}`)}
		}
		b.Run(backend+"/batch100", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := es.AppendEvents(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(backend+"/read100", func(b *testing.B) {
			b.ReportAllocs()
			var after events.Seq
			for b.Loop() {
				page, err := es.ReadEvents(b.Context(), after, 100)
				if err != nil {
					b.Fatal(err)
				}
				if len(page) < 100 {
					after = 0
					continue
				}
				after = page[len(page)-1].Seq
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkApplyTracking measures folding one new scan into a shipment (a
// transaction with the row lock, the update and one tracking.updated event).
func BenchmarkApplyTracking(b *testing.B) {
	for backend, s := range benchStores(b) {
		es := s.(eventsStore)
		tn, _ := s.CreateTenant(b.Context(), "Acme")
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		b.Run(backend, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				tr := model.Tracking{TrackingNumber: fmt.Sprintf("AWB%d", i%1000), Status: model.StatusInTransit,
					Events: []model.TrackingEvent{{Time: base.Add(time.Duration(i) * time.Second), Status: model.StatusInTransit}}}
				if _, err := es.ApplyTracking(b.Context(), tn.ID, "delhivery", "acc_1", tr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyTrackingConcurrent measures tracking updates from 64 concurrent
// callers, as under API load: every call brings a new scan, so each is a write
// transaction with its event. On SQLite they share commits (group commit); the
// "repeat" case brings nothing new and costs a read only (on SQLite, a cache
// hit).
func BenchmarkApplyTrackingConcurrent(b *testing.B) {
	for backend, s := range benchStores(b) {
		es := s.(eventsStore)
		tn, _ := s.CreateTenant(b.Context(), "Acme")
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		// n numbers the scans across every run of the sub-benchmarks (the
		// framework runs each more than once), so a "new scan" is always new.
		var n atomic.Int64
		for _, repeat := range []bool{false, true} {
			name := backend + "/new-scan"
			if repeat {
				name = backend + "/repeat"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(32)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						at := base.Add(time.Duration(i) * time.Second)
						if repeat {
							at = base
						}
						tr := model.Tracking{TrackingNumber: fmt.Sprintf("AWB%d", i%1000), Status: model.StatusInTransit,
							Events: []model.TrackingEvent{{Time: at, Status: model.StatusInTransit}}}
						if _, err := es.ApplyTracking(b.Context(), tn.ID, "delhivery", "acc_1", tr); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			})
		}
	}
}
