package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
)

// FreshPostgresDB creates an empty database on the server at adminURL (a test's
// HUB_POSTGRES_URL), returns a URL for it, and drops it when the test ends, so
// tests and subtests never see each other's rows.
func FreshPostgresDB(t testing.TB, adminURL string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("hub_test_%x", b)
	ctx := context.Background() // t.Context is cancelled before cleanups run.
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("connecting to HUB_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("connecting to drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("parsing HUB_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
