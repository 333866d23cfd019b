package hub

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/events"
)

// TestPurgeHonoursEventsRetention checks that relayed events stay in the
// outbox for events.retention and are purged after it.
func TestPurgeHonoursEventsRetention(t *testing.T) {
	cfg := testConfig(t)
	cfg.Events.Retention = 48 * time.Hour
	ctx := t.Context()
	st, err := OpenStore(ctx, cfg.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tenant, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPipeline(ctx, cfg, st, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.wait()
	stored, err := st.AppendEvents(ctx, []events.Event{{Type: events.PODReceived, TenantID: tenant.ID, Subject: "AWB1", Data: json.RawMessage(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetCursor(ctx, "every-sink", stored[0].Seq); err != nil { // relayed
		t.Fatal(err)
	}
	remaining := func() int {
		t.Helper()
		evs, err := st.ReadEvents(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	p.purge(ctx, time.Now().Add(47*time.Hour))
	if n := remaining(); n != 1 {
		t.Fatalf("within events.retention: %d events left, want 1", n)
	}
	p.purge(ctx, time.Now().Add(49*time.Hour))
	if n := remaining(); n != 0 {
		t.Fatalf("past events.retention: %d events left, want 0", n)
	}
}
