package webhooks_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/carrierhub/hub/engine/store"
)

// fullStore is what store.Open returns, with the webhook part.
type fullStore interface {
	store.Store
	store.WebhookStore
}

func testKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// backends lists the stores tests run on: SQLite always, Postgres when
// HUB_POSTGRES_URL is set (each test in a database of its own).
func backends(t testing.TB) map[string]func(testing.TB) fullStore {
	out := map[string]func(testing.TB) fullStore{"sqlite": openSQLite}
	if os.Getenv("HUB_POSTGRES_URL") != "" {
		out["postgres"] = openPostgres
	} else {
		t.Log("HUB_POSTGRES_URL is not set; Postgres cases skipped (source .ci/postgres.sh to run them)")
	}
	return out
}

func openSQLite(t testing.TB) fullStore {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir(), Key: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(fullStore)
}

func openPostgres(t testing.TB) fullStore {
	t.Helper()
	s, _ := openPostgresURL(t)
	return s
}

// analyze refreshes the planner's statistics of a Postgres store's database, as
// autovacuum does within a minute of a table filling; SQLite needs nothing.
func analyze(t testing.TB, s fullStore) {
	u, ok := pgURLs.Load(s)
	if !ok {
		return
	}
	c, err := pgx.Connect(context.Background(), u.(string))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}

var pgURLs sync.Map // fullStore -> its database URL

func openPostgresURL(t testing.TB) (fullStore, string) {
	t.Helper()
	admin := os.Getenv("HUB_POSTGRES_URL")
	if admin == "" {
		t.Skip("HUB_POSTGRES_URL is not set; run `source .ci/postgres.sh` to start a throw-away Postgres")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("hub_wh_%x", b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connecting to HUB_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	s, err := store.Open(ctx, store.Config{PostgresURL: u.String(), Key: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("connecting to drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	pgURLs.Store(s.(fullStore), u.String())
	return s.(fullStore), u.String()
}
