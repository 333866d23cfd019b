package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/bus"
	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/sdk/model"
)

type relayStore interface {
	store.Store
	store.EventStore
	store.ShipmentStore
}

// TestEventSinkThroughRelayToKafka runs the whole path: shipment state changes in
// the store, the relay, the Kafka sink, a consumer of the family topics.
func TestEventSinkThroughRelayToKafka(t *testing.T) {
	st := storetest.OpenSQLite(t)
	s := st.(relayStore)
	k := newKafka(t, startKafka(t))
	sink := &bus.EventSink{Bus: k}
	if sink.Name() != "bus:hub.events" || sink.Topic(events.TrackingUpdated) != "hub.events.tracking" {
		t.Fatalf("sink names: %s %s", sink.Name(), sink.Topic(events.TrackingUpdated))
	}
	r, err := events.NewRelay(s, []events.Sink{sink}, events.RelayConfig{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go r.Run(ctx)

	tn, _ := s.CreateTenant(ctx, "Acme")
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.RecordShipment(ctx, store.Shipment{TenantID: tn.ID, ConnectorID: "delhivery", AccountID: "acc_1",
		TrackingNumber: "AWB1"}, json.RawMessage(`{"tracking_number":"AWB1"}`)); err != nil {
		t.Fatal(err)
	}
	for i, st := range []model.TrackingStatus{model.StatusInTransit, model.StatusOutForDelivery, model.StatusDelivered} {
		tr := model.Tracking{TrackingNumber: "AWB1", Status: st,
			Events: []model.TrackingEvent{{Time: base.Add(time.Duration(i) * time.Hour), Status: st}}}
		if _, err := s.ApplyTracking(ctx, tn.ID, "delhivery", "acc_1", tr); err != nil {
			t.Fatal(err)
		}
		r.Notify()
	}
	var mu sync.Mutex
	got := map[string][]string{}
	done := make(chan struct{})
	var once sync.Once
	for _, topic := range []string{"hub.events.shipment", "hub.events.tracking"} {
		go k.Subscribe(ctx, topic, "test", func(ctx context.Context, m bus.Message) error {
			var e events.Event
			if err := json.Unmarshal(m.Value, &e); err != nil {
				t.Errorf("value is not an event: %v", err)
			}
			if m.Headers["id"] != e.ID || m.Headers["type"] != string(e.Type) || string(m.Key) != "AWB1" {
				t.Errorf("headers %v key %q for %s", m.Headers, m.Key, e.ID)
			}
			mu.Lock()
			got[m.Topic] = append(got[m.Topic], string(e.Type))
			if len(got["hub.events.shipment"]) == 2 && len(got["hub.events.tracking"]) == 3 {
				once.Do(func() { close(done) })
			}
			mu.Unlock()
			return nil
		})
	}
	select {
	case <-done:
	case <-t.Context().Done():
		t.Fatalf("got %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got["hub.events.shipment"]) != "[shipment.created shipment.delivered]" {
		t.Fatalf("shipment topic: %v", got["hub.events.shipment"])
	}
}

type trackRecorder struct {
	mu   sync.Mutex
	cmds []bus.TrackCommand
	fail int
	got  chan struct{}
}

func (r *trackRecorder) Track(ctx context.Context, cmd bus.TrackCommand) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return fmt.Errorf("router busy")
	}
	r.cmds = append(r.cmds, cmd)
	r.got <- struct{}{}
	return nil
}

func TestCommands(t *testing.T) {
	for name, b := range map[string]bus.Bus{"memory": bus.NewMemory(bus.MemoryConfig{}), "kafka": newKafka(t, startKafka(t))} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			h := &trackRecorder{fail: 1, got: make(chan struct{}, 10)}
			c := &bus.Commands{Bus: b, Handler: h}
			good := `{"id":"c1","type":"track","tenant_id":"ten_1","connector":"delhivery","account":"acc_1","tracking_numbers":["AWB1","AWB2"]}`
			for _, v := range []string{
				`{"type":"track"`, // not JSON
				`{"id":"c0","type":"launch","tenant_id":"t","connector":"delhivery","account":"a","tracking_numbers":["1"]}`,
				`{"id":"c0","type":"track","tenant_id":"t","connector":"delhivery","account":"a","tracking_numbers":[]}`,
				good, good, // a repeated id is handled once
			} {
				if err := b.Publish(ctx, c.Topic(), []byte("k"), []byte(v), nil); err != nil {
					t.Fatal(err)
				}
			}
			dead := make(chan bus.Message, 10)
			go b.Subscribe(ctx, "hub.commands.dead", "test", func(_ context.Context, m bus.Message) error {
				dead <- m
				return nil
			})
			go c.Run(ctx)
			<-h.got
			for range 3 {
				m := <-dead
				if m.Headers["error"] == "" {
					t.Fatalf("dead letter without an error header: %s", m.Value)
				}
			}
			// The duplicate is acknowledged without a second Track: publish a marker
			// after it and see that the marker is the next command handled.
			marker := `{"id":"c2","type":"track","tenant_id":"ten_1","connector":"delhivery","account":"acc_1","tracking_numbers":["AWB3"]}`
			_ = b.Publish(ctx, c.Topic(), []byte("k"), []byte(marker), nil)
			<-h.got
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.cmds) != 2 || h.cmds[0].ID != "c1" || h.cmds[1].ID != "c2" || len(h.cmds[0].TrackingNumbers) != 2 {
				t.Fatalf("handled %+v", h.cmds)
			}
		})
	}
}
