package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
)

// groupBackend opens a SQLite backend on a fresh file with one table, t(k).
func groupBackend(t *testing.T) *sqliteBackend {
	t.Helper()
	db, _, err := openSQLite(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b := newSQLiteBackend(db)
	t.Cleanup(func() { b.close() })
	if _, err := db.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t *testing.T, b *sqliteBackend, k string) int {
	t.Helper()
	var n int
	if err := b.queryRow(context.Background(), `SELECT COUNT(*) FROM t WHERE k = $1`, []any{k}, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGroupCommitIsolatesMembers runs many concurrent transactions, so that
// they share commits, and checks each kept its own outcome: the ones that
// returned an error or panicked left nothing behind, the others all committed,
// and a panic reached its own caller only.
func TestGroupCommitIsolatesMembers(t *testing.T) {
	b := groupBackend(t)
	const n = 300
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	results := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			results[i] = b.inTx(context.Background(), func(q querier) error {
				if _, err := q.exec(context.Background(), `INSERT INTO t (k) VALUES ($1)`, fmt.Sprint("a", i)); err != nil {
					return err
				}
				if _, err := q.exec(context.Background(), `INSERT INTO t (k) VALUES ($1)`, fmt.Sprint("b", i)); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errBoom
				case 7:
					panic(fmt.Sprint("panic ", i))
				case 9:
					// A constraint failure inside the transaction: its caller sees it.
					_, err := q.exec(context.Background(), `INSERT INTO t (k) VALUES ($1)`, fmt.Sprint("a", i))
					return err
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		want := 1
		switch i % 10 {
		case 3:
			if !errors.Is(results[i], errBoom) {
				t.Errorf("member %d: error %v, want boom", i, results[i])
			}
			want = 0
		case 7:
			if panics[i] != fmt.Sprint("panic ", i) {
				t.Errorf("member %d: panic %v", i, panics[i])
			}
			want = 0
		case 9:
			if results[i] == nil || b.kind(results[i]) != kindUnique {
				t.Errorf("member %d: error %v, want a unique violation", i, results[i])
			}
			want = 0
		default:
			if results[i] != nil || panics[i] != nil {
				t.Errorf("member %d: error %v, panic %v", i, results[i], panics[i])
			}
		}
		if got := count(t, b, fmt.Sprint("a", i)) + count(t, b, fmt.Sprint("b", i)); got != 2*want {
			t.Errorf("member %d left %d rows, want %d", i, got, 2*want)
		}
	}
}

// TestGroupCommitWritesThroughExec checks single-statement writes outside a
// transaction go through the writer too and report their row counts.
func TestGroupCommitWritesThroughExec(t *testing.T) {
	b := groupBackend(t)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if n, err := b.exec(context.Background(), `INSERT INTO t (k) VALUES ($1)`, fmt.Sprint("k", i)); err != nil || n != 1 {
				t.Errorf("insert %d = %d, %v", i, n, err)
			}
		})
	}
	wg.Wait()
	if n, err := b.exec(context.Background(), `DELETE FROM t WHERE k LIKE 'k%'`); err != nil || n != 100 {
		t.Fatalf("delete = %d, %v; want 100", n, err)
	}
}

// TestGroupCommitCancelledWaiterWithdraws checks a caller whose context ends
// while it waits for the writer gets the context's error and its transaction
// never runs.
func TestGroupCommitCancelledWaiterWithdraws(t *testing.T) {
	b := groupBackend(t)
	b.writer <- struct{}{} // another transaction holds the writer
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	done := make(chan error)
	go func() {
		done <- b.inTx(ctx, func(q querier) error { ran = true; return nil })
	}()
	for {
		b.qmu.Lock()
		queued := len(b.queue)
		b.qmu.Unlock()
		if queued == 1 {
			break
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("inTx = %v, want context.Canceled", err)
	}
	<-b.writer
	if err := b.inTx(context.Background(), func(q querier) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("the withdrawn transaction ran")
	}
}
