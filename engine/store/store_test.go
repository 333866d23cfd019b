package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
)

// rawStore pairs a store with a second, independent connection to its database, so the
// conformance suite can look at rows at rest.
type rawStore struct {
	fullStore
	raw *sql.DB
}

// fullStore is what store.Open returns: a Store that also keeps idempotency keys.
type fullStore interface {
	store.Store
	store.IdempotencyStore
}

func (r *rawStore) SealedCredentials(ctx context.Context, accountID string) (string, error) {
	var s string
	err := r.raw.QueryRowContext(ctx, `SELECT credentials FROM accounts WHERE id = $1`, accountID).Scan(&s)
	return s, err
}

func (r *rawStore) SetSealedCredentials(ctx context.Context, accountID, sealed string) error {
	res, err := r.raw.ExecContext(ctx, `UPDATE accounts SET credentials = $1 WHERE id = $2`, sealed, accountID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("updated %d rows", n)
	}
	return nil
}

func testKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func openSQLite(t testing.TB, dir string, key []byte) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Config{DataDir: dir, Key: key, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func rawSQLite(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, store.SQLiteFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		dir := t.TempDir()
		return &rawStore{fullStore: openSQLite(t, dir, testKey(t)).(fullStore), raw: rawSQLite(t, dir)}
	})
}

// TestPostgresConformance runs the suite against the server at HUB_POSTGRES_URL, each
// subtest in a database of its own (created from the server's template and dropped
// afterwards) so runs and subtests never see each other's rows.
func TestPostgresConformance(t *testing.T) {
	admin := os.Getenv("HUB_POSTGRES_URL")
	if admin == "" {
		t.Skip("HUB_POSTGRES_URL is not set; run `source .ci/postgres.sh` to start a throw-away Postgres and set it")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		u := storetest.FreshPostgresDB(t, admin)
		s, err := store.Open(t.Context(), store.Config{PostgresURL: u, Key: testKey(t), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		raw := stdlib.OpenDB(*cfg)
		t.Cleanup(func() { raw.Close() })
		return &rawStore{fullStore: s.(fullStore), raw: raw}
	})
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := t.Context()
	_, err := store.Open(ctx, store.Config{DataDir: t.TempDir(), Key: make([]byte, 16)})
	if err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("16-byte key: error = %v", err)
	}
	_, err = store.Open(ctx, store.Config{Key: testKey(t)})
	if err == nil || !strings.Contains(err.Error(), "DataDir") {
		t.Fatalf("no DataDir nor PostgresURL: error = %v", err)
	}
	_, err = store.Open(ctx, store.Config{DataDir: t.TempDir() + "/a?b", Key: testKey(t)})
	if err == nil {
		t.Fatal("DataDir with '?' accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = store.Open(ctx, store.Config{DataDir: file, Key: testKey(t)}); err == nil {
		t.Fatal("DataDir that is a file accepted")
	}
}

func TestOpenPostgresErrorsHidePassword(t *testing.T) {
	// A port nothing listens on: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const pw = "pa55-WORD-x9"
	for _, u := range []string{
		"postgres://hub:" + pw + "@" + addr + "/hub?sslmode=disable&connect_timeout=2",
		"postgres://hub:" + pw + "@" + addr + "/hub?sslmode=bogus",
		"postgres://hub:" + pw + "@[::1/hub",
	} {
		_, err := store.Open(t.Context(), store.Config{PostgresURL: u, Key: testKey(t)})
		if err == nil {
			t.Fatalf("Open(%s) succeeded", strings.ReplaceAll(u, pw, "***"))
		}
		if strings.Contains(err.Error(), pw) {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
}

// TestSQLiteFileHasNoPlaintext reads the database files byte by byte: a credential
// must not be anywhere in them, in the main file or the write-ahead log.
func TestSQLiteFileHasNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	s := openSQLite(t, dir, testKey(t))
	ctx := t.Context()
	tn, err := s.CreateTenant(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "PLAINTEXT-CANARY-3f9a71"
	if _, err := s.CreateAccount(ctx, store.Account{
		TenantID: tn.ID, ConnectorID: "delhivery", Name: "main", Environment: "production",
		Credentials: map[string]string{"password": secret},
	}); err != nil {
		t.Fatal(err)
	}
	_, apiSecret, err := s.CreateAPIKey(ctx, tn.ID, "k", false)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, name := range []string{store.SQLiteFile, store.SQLiteFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		for _, plain := range []string{secret, apiSecret, "password"} {
			if bytes.Contains(b, []byte(plain)) {
				t.Errorf("%s contains %q in the clear", name, plain)
			}
		}
	}
	// The check must read the files the rows are in: the plain tenant name is there.
	if !bytes.Contains(all, []byte("Acme")) {
		t.Fatal("the tenant name is in neither database file: the check reads the wrong files")
	}
}

// TestSQLiteWrongKey: a store reopened with another key reports credentials it cannot
// open instead of returning garbage.
func TestSQLiteWrongKey(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	key := testKey(t)
	s, err := store.Open(ctx, store.Config{DataDir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := s.CreateTenant(ctx, "Acme")
	a, err := s.CreateAccount(ctx, store.Account{TenantID: tn.ID, ConnectorID: "bluedart", Name: "m",
		Environment: "sandbox", Credentials: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	again := openSQLite(t, dir, key)
	if got, err := again.GetAccount(ctx, tn.ID, a.ID); err != nil || got.Credentials["k"] != "v" {
		t.Fatalf("reopened with the same key: %+v, %v", got, err)
	}
	other := openSQLite(t, dir, testKey(t))
	if _, err := other.GetAccount(ctx, tn.ID, a.ID); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reopened with another key: error = %v, want a decryption error", err)
	}
}

// TestSQLiteTwoProcesses opens one data directory twice at once, as the hub and a CLI
// do: both migrate safely, and each sees the other's writes.
func TestSQLiteTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t)
	ctx := t.Context()
	stores := make([]store.Store, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := store.Open(ctx, store.Config{DataDir: dir, Key: key})
			if err != nil {
				t.Errorf("concurrent Open %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		return
	}
	for i, s := range stores {
		wg.Go(func() {
			if _, err := s.CreateTenant(ctx, fmt.Sprintf("t%d", i)); err != nil {
				t.Errorf("create through handle %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i, s := range stores {
		list, err := s.ListTenants(ctx)
		if err != nil || len(list) != len(stores) {
			t.Fatalf("handle %d sees %d tenants, %v; want %d", i, len(list), err, len(stores))
		}
	}
	var mode string
	if err := rawSQLite(t, dir).QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestPackageErrors(t *testing.T) {
	err := &store.ValidationError{Field: "name", Reason: "must not be empty"}
	if !errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		t.Fatal("ValidationError must match ErrInvalid only")
	}
	if err.Error() != "invalid name: must not be empty" {
		t.Fatalf("Error() = %q", err.Error())
	}
}

// benchStores returns the backends to benchmark: SQLite always, Postgres when
// HUB_POSTGRES_URL is set.
func benchStores(b *testing.B) map[string]store.Store {
	out := map[string]store.Store{"sqlite": openSQLite(b, b.TempDir(), testKey(b))}
	if admin := os.Getenv("HUB_POSTGRES_URL"); admin != "" {
		s, err := store.Open(b.Context(), store.Config{PostgresURL: storetest.FreshPostgresDB(b, admin), Key: testKey(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		out["postgres"] = s
	}
	return out
}

// BenchmarkAuthenticate measures the lookup every API call makes, among 1000 keys.
func BenchmarkAuthenticate(b *testing.B) {
	for backend, s := range benchStores(b) {
		ctx := b.Context()
		tn, err := s.CreateTenant(ctx, "Acme")
		if err != nil {
			b.Fatal(err)
		}
		var secret string
		for i := range 1000 {
			_, sec, err := s.CreateAPIKey(ctx, tn.ID, fmt.Sprintf("k%d", i), false)
			if err != nil {
				b.Fatal(err)
			}
			if i == 500 {
				secret = sec
			}
		}
		b.Run(backend+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Authenticate(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Authenticate(ctx, secret); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetAccount measures reading and unsealing an account, among 1000.
func BenchmarkGetAccount(b *testing.B) {
	for backend, s := range benchStores(b) {
		ctx := b.Context()
		tn, err := s.CreateTenant(ctx, "Acme")
		if err != nil {
			b.Fatal(err)
		}
		var id string
		for i := range 1000 {
			a, err := s.CreateAccount(ctx, store.Account{
				TenantID: tn.ID, ConnectorID: "delhivery", Name: fmt.Sprintf("a%d", i), Environment: "production",
				Credentials: map[string]string{"api_token": "0123456789abcdef0123456789abcdef", "client": "ACME"},
				Settings:    map[string]string{"pickup_location": "BLR-1"},
			})
			if err != nil {
				b.Fatal(err)
			}
			if i == 500 {
				id = a.ID
			}
		}
		b.Run(backend+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetAccount(ctx, tn.ID, id); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.GetAccount(ctx, tn.ID, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
