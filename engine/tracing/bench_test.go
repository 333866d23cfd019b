package tracing

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/telemetry"
)

var benchManifest = &sdk.Manifest{
	ID: "acme", Name: "Acme", Version: "1.0.0", Category: "carrier_parcel", Docs: "https://example.test",
	Operations: []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}},
	Account:    sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://sandbox.acme.test"}},
}

// benchConnectors answers every call at once, so the benchmarks measure the
// hub's own cost.
type benchConnectors struct{}

func (benchConnectors) Manifest(string) (*sdk.Manifest, bool) { return benchManifest, true }
func (benchConnectors) Invoke(context.Context, string, *sdk.Call) ([]byte, error) {
	return []byte(`{"results":[]}`), nil
}
func (benchConnectors) Connectors() []plugins.Info { return []plugins.Info{{Manifest: benchManifest}} }
func (benchConnectors) Health(context.Context, string, *sdk.Account) (plugins.Health, error) {
	return plugins.Health{}, nil
}

func (benchConnectors) Exchanges(context.Context, string, string, int) (json.RawMessage, error) {
	return json.RawMessage("[]"), nil
}

// discard is a span exporter that counts and drops, so a long benchmark does
// not keep every span in memory.
type discard struct{ n atomic.Int64 }

func (d *discard) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	d.n.Add(int64(len(spans)))
	return nil
}
func (d *discard) Shutdown(context.Context) error { return nil }

// providers are the two settings compared: tracing off (exporter none: the
// no-op provider) and on (every trace sampled, batched to an exporter that
// drops them).
func providers(b *testing.B) []struct {
	name string
	tp   trace.TracerProvider
} {
	exp := &discard{}
	on := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = on.Shutdown(context.Background()) })
	telemetry.SetGlobal(noop.NewTracerProvider())
	return []struct {
		name string
		tp   trace.TracerProvider
	}{{"off", noop.NewTracerProvider()}, {"on", on}}
}

var oneAttempt = &resilience.Overrides{Connectors: map[string]resilience.ConnectorOverrides{"acme": {Policy: sdk.Policy{MaxAttempts: 1}}}}

// BenchmarkRouterInvoke is the router's cost per call (account cached, the
// connector answers at once) with its span off and on.
func BenchmarkRouterInvoke(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: b.TempDir(), Key: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tn, _ := st.CreateTenant(ctx, "bench")
	acct, err := st.CreateAccount(ctx, store.Account{TenantID: tn.ID, ConnectorID: "acme", Name: "main", Environment: "sandbox",
		Credentials: map[string]string{"api_token": "t"}})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"tracking_numbers":["X"]}`)
	for _, p := range providers(b) {
		b.Run(p.name, func(b *testing.B) {
			r, err := router.New(router.Config{Connectors: benchConnectors{}, Accounts: st, Overrides: oneAttempt,
				TracerProvider: p.tp, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			rt := router.Route{TenantID: tn.ID, ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: acct.ID}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Invoke(ctx, rt, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAPIInvoke is one operation call through the API handler and the
// router (auth cached, the connector answers at once), with the server and
// router spans off and on, and with a caller's traceparent.
func BenchmarkAPIInvoke(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: b.TempDir(), Key: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tn, _ := st.CreateTenant(ctx, "bench")
	_, secret, _ := st.CreateAPIKey(ctx, tn.ID, "k", false)
	if _, err := st.CreateAccount(ctx, store.Account{TenantID: tn.ID, ConnectorID: "acme", Name: "main", Environment: "sandbox",
		Credentials: map[string]string{"api_token": "t"}}); err != nil {
		b.Fatal(err)
	}
	body := `{"tracking_numbers":["X1"]}`
	for _, p := range providers(b) {
		for _, parent := range []string{"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
			name := p.name
			if parent != "" {
				name += "/traceparent"
			}
			b.Run(name, func(b *testing.B) {
				log := slog.New(slog.DiscardHandler)
				rt, err := router.New(router.Config{Connectors: benchConnectors{}, Accounts: st, Overrides: oneAttempt, TracerProvider: p.tp, Logger: log})
				if err != nil {
					b.Fatal(err)
				}
				h := api.New(api.Config{Store: st, Router: rt, Connectors: benchConnectors{}, Logger: log, TracerProvider: p.tp,
					AuthCacheTTL: time.Minute})
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest("POST", "/v1/connectors/acme/track", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+secret)
					req.Header.Set("Content-Type", "application/json")
					if parent != "" {
						req.Header.Set("Traceparent", parent)
					}
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
