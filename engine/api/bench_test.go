package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// BenchmarkInvokeHandler measures the API's own cost for one operation call
// (auth, body, routing, logging; no network, the connector answers at once) on
// the real SQLite store, with the API key cache on and off.
func BenchmarkInvokeHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		ttl  int
	}{{"auth-cached", 0}, {"auth-uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			st, err := store.Open(ctx, store.Config{DataDir: b.TempDir(), Key: make([]byte, 32)})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			tn, _ := st.CreateTenant(ctx, "bench")
			_, secret, _ := st.CreateAPIKey(ctx, tn.ID, "k", false)
			conns := &fakeConnectors{
				infos:  []plugins.Info{{Manifest: acmeManifest}},
				invoke: func(context.Context, string, *sdk.Call) ([]byte, error) { return []byte(`{"tracking":[]}`), nil },
			}
			rt, _ := router.New(router.Config{Overrides: oneAttempt, Connectors: conns, Accounts: st})
			h := New(Config{Store: st, Router: rt, Connectors: conns, Logger: slog.New(slog.DiscardHandler), AuthCacheTTL: timeTTL(c.ttl)})
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/v1/accounts", strings.NewReader(acmeAccount))
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("account: %d %s", rec.Code, rec.Body)
			}
			body := `{"tracking_numbers":["X1"]}`
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("POST", "/v1/connectors/acme/track", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+secret)
				req.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

func timeTTL(n int) (d time.Duration) { return time.Duration(n) }
