package storetest

import (
	"crypto/rand"
	"testing"

	"github.com/carrierhub/hub/engine/store"
)

// OpenSQLite opens an embedded store in a fresh temporary directory with a
// random credentials key, closed when the test ends: the store a test of code
// above the store runs on.
func OpenSQLite(tb testing.TB) store.Store {
	tb.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	s, err := store.Open(tb.Context(), store.Config{DataDir: tb.TempDir(), Key: key})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
