package store

import (
	"sync"
	"time"
)

// shipmentCache keeps the shipments this process last read, so the common
// tracking answer that brings nothing new, and the poll scheduling that follows
// it, cost no database read. It is used on the embedded (SQLite) store only,
// where the hub process is the one writer of shipments (CLI processes never
// write them); replicas sharing Postgres each write, so there every read goes to
// the database.
//
// Every write of a shipment forgets its entry after the write returned, and
// bumps a generation; a read stores what it found only when no write ended while
// it ran (the generation is unchanged), under the same lock, so an entry is never
// older than the last write that finished.
type shipmentCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[shipmentKey]Shipment
	max int
}

type shipmentKey struct{ tenant, connector, number string }

func newShipmentCache(max int) *shipmentCache {
	return &shipmentCache{m: make(map[shipmentKey]Shipment), max: max}
}

// get returns a copy of the cached shipment; a nil cache has nothing.
func (c *shipmentCache) get(k shipmentKey) (Shipment, bool) {
	if c == nil {
		return Shipment{}, false
	}
	c.mu.Lock()
	sh, ok := c.m[k]
	c.mu.Unlock()
	if !ok {
		return Shipment{}, false
	}
	for _, p := range []**time.Time{&sh.LastEventAt, &sh.DeliveredAt, &sh.NextPollAt} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return sh, true
}

// generation returns the count of writes so far, to pass to put.
func (c *shipmentCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores a shipment read when the write count is still gen. A full cache
// drops an arbitrary entry first.
func (c *shipmentCache) put(k shipmentKey, sh Shipment, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = sh
}

// forget drops a shipment after a write of it returned.
func (c *shipmentCache) forget(k shipmentKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	delete(c.m, k)
	c.mu.Unlock()
}

// shipmentCacheSize bounds the embedded store's shipment cache: about 200 bytes
// an entry, so some 13 MB when full.
const shipmentCacheSize = 1 << 16
