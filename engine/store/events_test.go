package store_test

import (
	"os"
	"testing"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
)

// TestSQLiteEventsConformance runs the events, shipments and webhook cases on SQLite.
func TestSQLiteEventsConformance(t *testing.T) {
	open := func(t *testing.T) store.Store { return openSQLite(t, t.TempDir(), testKey(t)) }
	storetest.RunEvents(t, open)
	storetest.RunWebhooks(t, open)
}

// TestPostgresEventsConformance runs the events and shipments cases against the
// server at HUB_POSTGRES_URL, each subtest in a database of its own.
func TestPostgresEventsConformance(t *testing.T) {
	admin := os.Getenv("HUB_POSTGRES_URL")
	if admin == "" {
		t.Skip("HUB_POSTGRES_URL is not set; run `source .ci/postgres.sh` to start a throw-away Postgres and set it")
	}
	open := func(t *testing.T) store.Store {
		s, err := store.Open(t.Context(), store.Config{PostgresURL: storetest.FreshPostgresDB(t, admin), Key: testKey(t), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.RunEvents(t, open)
	storetest.RunWebhooks(t, open)
}
