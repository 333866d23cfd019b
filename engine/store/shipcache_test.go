package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk/model"
)

// TestShipmentCachePutAfterWriteIsRefused checks the generation guard: a read
// that began before a write finished cannot store what it read.
func TestShipmentCachePutAfterWriteIsRefused(t *testing.T) {
	c := newShipmentCache(2)
	k := shipmentKey{"t", "c", "n"}
	gen := c.generation()
	c.forget(k) // a write ends while the read runs
	c.put(k, Shipment{Status: model.StatusPending}, gen)
	if _, ok := c.get(k); ok {
		t.Fatal("a read older than a write was cached")
	}
	c.put(k, Shipment{Status: model.StatusInTransit}, c.generation())
	if sh, ok := c.get(k); !ok || sh.Status != model.StatusInTransit {
		t.Fatalf("get = %+v, %v", sh, ok)
	}
	for i := range 5 {
		c.put(shipmentKey{"t", "c", fmt.Sprint(i)}, Shipment{}, c.generation())
	}
	if len(c.m) > 2 {
		t.Fatalf("cache holds %d entries, bound 2", len(c.m))
	}
}

// TestShipmentCacheNeverStale races tracking writes against cached reads on the
// embedded store, then checks the cache agrees with the database.
func TestShipmentCacheNeverStale(t *testing.T) {
	s, err := Open(t.Context(), Config{DataDir: t.TempDir(), Key: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.(*sqlStore)
	ctx := context.Background()
	tn, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				at := base.Add(time.Duration(i*4+w) * time.Minute)
				tr := model.Tracking{TrackingNumber: fmt.Sprint("AWB", i%5), Status: model.StatusInTransit,
					Events: []model.TrackingEvent{{Time: at, Status: model.StatusInTransit}}}
				if _, err := st.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tr); err != nil {
					t.Error(err)
					return
				}
				if _, err := st.GetShipment(ctx, tn.ID, "delhivery", fmt.Sprint("AWB", (i+w)%5)); err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range 5 {
		n := fmt.Sprint("AWB", i)
		cached, err := st.GetShipment(ctx, tn.ID, "delhivery", n)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := st.getShipment(ctx, st.db, tn.ID, "delhivery", n)
		if err != nil {
			t.Fatal(err)
		}
		if !cached.LastEventAt.Equal(*fresh.LastEventAt) || !cached.UpdatedAt.Equal(fresh.UpdatedAt) {
			t.Errorf("%s: cached last event %s, database %s", n, cached.LastEventAt, fresh.LastEventAt)
		}
	}
}
