package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
)

// outboxStore is the store as the relay tests use it.
type outboxStore interface {
	store.Store
	store.EventStore
	store.ShipmentStore
}

func openStore(t *testing.T) outboxStore {
	t.Helper()
	s := storetest.OpenSQLite(t)
	return s.(outboxStore)
}

// recordingSink keeps what it is given, fails its first failFirst deliveries and
// signals when it has seen want distinct events.
type recordingSink struct {
	name      string
	mu        sync.Mutex
	failFirst int
	calls     int
	got       []events.Stored
	seen      map[string]int
	want      int
	done      chan struct{}
}

func newSink(name string, want, failFirst int) *recordingSink {
	return &recordingSink{name: name, want: want, failFirst: failFirst, seen: map[string]int{}, done: make(chan struct{})}
}

func (s *recordingSink) Name() string { return s.name }

func (s *recordingSink) Deliver(ctx context.Context, batch []events.Stored) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		return errors.New("sink unavailable")
	}
	for _, e := range batch {
		s.got = append(s.got, e)
		s.seen[e.ID]++
	}
	if len(s.seen) >= s.want && s.done != nil {
		close(s.done)
		s.done = nil
	}
	return nil
}

func (s *recordingSink) expect(want int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want = want
	s.done = make(chan struct{})
	if len(s.seen) >= want {
		close(s.done)
		ch := s.done
		s.done = nil
		return ch
	}
	return s.done
}

func appendN(t *testing.T, s outboxStore, tenantID string, n int) []events.Stored {
	t.Helper()
	var evs []events.Event
	for i := range n {
		evs = append(evs, events.Event{Type: events.PODReceived, TenantID: tenantID, Subject: fmt.Sprintf("AWB%d", i),
			Data: json.RawMessage(`{}`)})
	}
	got, err := s.AppendEvents(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func startRelay(t *testing.T, r *events.Relay) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

var quick = events.RelayConfig{Batch: 40, PollInterval: time.Hour, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

func TestRelayDeliversInOrderRetryingSinkErrors(t *testing.T) {
	s := openStore(t)
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	appended := appendN(t, s, tn.ID, 250)
	sink := newSink("test", 250, 3)
	first := sink.expect(250)
	r, err := events.NewRelay(s, []events.Sink{sink}, quick)
	if err != nil {
		t.Fatal(err)
	}
	stop := startRelay(t, r)
	<-first
	// The poll interval is an hour: only Notify can bring the next event promptly.
	more := sink.expect(251)
	appended = append(appended, appendN(t, s, tn.ID, 1)...)
	r.Notify()
	<-more
	// The cursor moves just after the sink accepted the batch.
	for c := events.Seq(0); c != appended[len(appended)-1].Seq; c, _ = s.GetCursor(t.Context(), "test") {
		if t.Context().Err() != nil {
			t.Fatalf("cursor stuck at %d", c)
		}
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.got) != len(appended) {
		t.Fatalf("sink got %d events, want %d", len(sink.got), len(appended))
	}
	for i, e := range sink.got {
		if e.ID != appended[i].ID || e.Seq != appended[i].Seq {
			t.Fatalf("event %d: got %s/%d, want %s/%d", i, e.ID, e.Seq, appended[i].ID, appended[i].Seq)
		}
	}
	// Stopping released the lease: another replica may take over at once.
	if ok, err := s.AcquireSinkLease(t.Context(), "test", "other", time.Now(), time.Minute); err != nil || !ok {
		t.Fatalf("lease after stop: %v, %v", ok, err)
	}
}

func TestRelayResumesFromCursorAfterRestart(t *testing.T) {
	s := openStore(t)
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	appended := appendN(t, s, tn.ID, 30)
	if err := s.SetCursor(t.Context(), "test", appended[9].Seq); err != nil {
		t.Fatal(err)
	}
	sink := newSink("test", 20, 0)
	done := sink.expect(20)
	r, _ := events.NewRelay(s, []events.Sink{sink}, quick)
	stop := startRelay(t, r)
	<-done
	_ = stop()
	if sink.got[0].ID != appended[10].ID || len(sink.got) != 20 {
		t.Fatalf("resumed at %s with %d events; want %s and 20", sink.got[0].ID, len(sink.got), appended[10].ID)
	}
}

func TestRelayReplicasShareOneSink(t *testing.T) {
	s := openStore(t)
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	sink := newSink("shared", 300, 0)
	done := sink.expect(300)
	var relays []*events.Relay
	var stops []func() error
	for i := range 3 {
		cfg := quick
		cfg.Owner = fmt.Sprintf("replica-%d", i)
		r, err := events.NewRelay(s, []events.Sink{sink}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		relays = append(relays, r)
		stops = append(stops, startRelay(t, r))
	}
	for i := range 10 {
		appendN(t, s, tn.ID, 30)
		relays[i%3].Notify()
		for _, r := range relays {
			r.Notify()
		}
	}
	<-done
	for _, stop := range stops {
		_ = stop()
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i := 1; i < len(sink.got); i++ {
		if sink.got[i].Seq <= sink.got[i-1].Seq {
			t.Fatalf("out of order or repeated: seq %d after %d", sink.got[i].Seq, sink.got[i-1].Seq)
		}
	}
	if len(sink.got) != 300 {
		t.Fatalf("sink got %d deliveries of 300 events: the lease let replicas overlap", len(sink.got))
	}
}

func TestNewRelayRejectsBadSinks(t *testing.T) {
	s := openStore(t)
	if _, err := events.NewRelay(s, []events.Sink{newSink("a", 0, 0), newSink("a", 0, 0)}, events.RelayConfig{}); err == nil {
		t.Fatal("duplicate sink names accepted")
	}
	if _, err := events.NewRelay(s, []events.Sink{newSink("", 0, 0)}, events.RelayConfig{}); err == nil {
		t.Fatal("unnamed sink accepted")
	}
	if _, err := events.NewRelay(nil, nil, events.RelayConfig{}); err == nil {
		t.Fatal("nil outbox accepted")
	}
}

// leaseCounter counts lease acquisitions and renewals.
type leaseCounter struct {
	outboxStore
	mu    sync.Mutex
	calls int
}

func (c *leaseCounter) AcquireSinkLease(ctx context.Context, sink, owner string, now time.Time, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.outboxStore.AcquireSinkLease(ctx, sink, owner, now, ttl)
}

func (c *leaseCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// The lease is renewed once a third of its TTL has passed, not before every
// batch: a renewal is a write transaction.
func TestRelayRenewsTheLeaseOnlyAfterAThirdOfItsTTL(t *testing.T) {
	s := &leaseCounter{outboxStore: openStore(t)}
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	var clock sync.Mutex
	now := time.Now()
	cfg := quick
	cfg.LeaseTTL = 30 * time.Second
	cfg.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	sink := newSink("test", 250, 0)
	first := sink.expect(200)
	r, err := events.NewRelay(s, []events.Sink{sink}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, tn.ID, 200)
	stop := startRelay(t, r)
	defer stop()
	<-first // five batches of 40
	if n := s.count(); n != 1 {
		t.Fatalf("lease acquired %d times for five batches within its first third", n)
	}
	clock.Lock()
	now = now.Add(10 * time.Second)
	clock.Unlock()
	rest := sink.expect(250)
	appendN(t, s, tn.ID, 50)
	r.Notify()
	<-rest
	if n := s.count(); n != 2 {
		t.Fatalf("lease acquired %d times, want a renewal once a third of the TTL passed", n)
	}
	// Another owner still cannot take it.
	if ok, err := s.outboxStore.AcquireSinkLease(t.Context(), "test", "other", now, time.Minute); err != nil || ok {
		t.Fatalf("another owner took a held lease: %v, %v", ok, err)
	}
}

// Events appended one by one, each with a Notify, within the linger travel in
// fewer batches than events.
func TestRelayLingersToBatchEventsAppendedTogether(t *testing.T) {
	s := openStore(t)
	tn, _ := s.CreateTenant(t.Context(), "Acme")
	cfg := quick
	cfg.Linger = time.Second
	sink := newSink("test", 10, 0)
	done := sink.expect(10)
	r, err := events.NewRelay(s, []events.Sink{sink}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := startRelay(t, r)
	defer stop()
	for range 10 {
		appendN(t, s, tn.ID, 1)
		r.Notify()
	}
	<-done
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.calls >= 10 {
		t.Fatalf("10 events in %d batches", sink.calls)
	}
}
