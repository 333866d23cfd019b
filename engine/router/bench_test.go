package router

import (
	"context"
	"testing"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// BenchmarkInvoke measures the router's own cost per call (the connector answers
// at once) on the real SQLite store, with and without the account cache.
func BenchmarkInvoke(b *testing.B) {
	ctx := context.Background()
	key := make([]byte, 32)
	st, err := store.Open(ctx, store.Config{DataDir: b.TempDir(), Key: key})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tenant, err := st.CreateTenant(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, store.Account{TenantID: tenant.ID, ConnectorID: "acme", Name: "main", Environment: "sandbox",
		Credentials: map[string]string{"api_token": "t0k3n"}})
	if err != nil {
		b.Fatal(err)
	}
	conns := &fakeConnectors{
		manifest: func(string) (*sdk.Manifest, bool) { return testManifest, true },
		invoke:   func(context.Context, string, *sdk.Call) ([]byte, error) { return []byte(`{}`), nil },
	}
	body := []byte(`{"tracking_numbers":["X"]}`)
	for _, c := range []struct {
		name      string
		ttl       Config
		accountID string
	}{
		{"cached/by-id", Config{}, acct.ID},
		{"cached/only-account", Config{}, ""},
		{"uncached/by-id", Config{AccountTTL: -1}, acct.ID},
		{"uncached/only-account", Config{AccountTTL: -1}, ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.ttl
			cfg.Connectors, cfg.Accounts = conns, st
			r, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			rt := Route{TenantID: tenant.ID, ConnectorID: "acme", Operation: sdk.OpTrack, AccountID: c.accountID}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Invoke(ctx, rt, body); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
