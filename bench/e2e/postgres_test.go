package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPgLoadNormalise(t *testing.T) {
	for _, tc := range []struct {
		name               string
		load               pgLoad
		requests           int64
		durationS          float64
		txPerS, rowsPerS   float64
		txPer1k, rowsPer1k float64
		hitRatio           float64
	}{
		{
			name: "2,000 requests/s",
			load: pgLoad{Seconds: 10, Delta: pgStats{XactCommit: 29000, XactRollback: 1000, TupInserted: 4000, TupUpdated: 5000,
				TupDeleted: 1000, BlksHit: 99, BlksRead: 1}},
			requests: 60000, durationS: 30,
			txPerS: 3000, rowsPerS: 1000, txPer1k: 1500, rowsPer1k: 500, hitRatio: 0.99,
		},
		{
			name:     "no requests: rates without the per-1,000 figures",
			load:     pgLoad{Seconds: 2, Delta: pgStats{XactCommit: 10, TupInserted: 4}},
			requests: 0, durationS: 30,
			txPerS: 5, rowsPerS: 2,
		},
		{
			name: "no time between the readings: nothing",
			load: pgLoad{Delta: pgStats{XactCommit: 10}}, requests: 100, durationS: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.load
			l.normalise(tc.requests, tc.durationS)
			got := []float64{l.TransactionsPerSec, l.RowsWrittenPerSec, l.TransactionsPer1kRPS, l.RowsWrittenPer1kRPS, l.BufferHitRatio}
			want := []float64{tc.txPerS, tc.rowsPerS, tc.txPer1k, tc.rowsPer1k, tc.hitRatio}
			names := []string{"transactions/s", "rows written/s", "transactions/s per 1k rps", "rows written/s per 1k rps", "buffer hit ratio"}
			for i := range got {
				if d := got[i] - want[i]; d > 1e-9 || d < -1e-9 {
					t.Errorf("%s = %g, want %g", names[i], got[i], want[i])
				}
			}
		})
	}
}

func TestPgStatsSub(t *testing.T) {
	before := pgStats{XactCommit: 1, XactRollback: 2, TupReturned: 3, TupFetched: 4, TupInserted: 5, TupUpdated: 6, TupDeleted: 7, BlksHit: 8, BlksRead: 9}
	after := pgStats{XactCommit: 11, XactRollback: 12, TupReturned: 13, TupFetched: 14, TupInserted: 15, TupUpdated: 16, TupDeleted: 17, BlksHit: 18, BlksRead: 19}
	want := pgStats{10, 10, 10, 10, 10, 10, 10, 10, 10}
	if got := after.sub(before); got != want {
		t.Errorf("sub = %+v, want %+v", got, want)
	}
}

func TestParseFlagsStore(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "sqlite"},
		{[]string{"-postgres-url", "postgres://postgres@127.0.0.1:5432/postgres"}, "postgres"},
	} {
		o, err := parseFlags(tc.args)
		if err != nil {
			t.Fatalf("parseFlags(%q): %v", tc.args, err)
		}
		if o.Store != tc.want {
			t.Errorf("parseFlags(%q).Store = %q, want %q", tc.args, o.Store, tc.want)
		}
	}
}

func TestTreeCPUTimeCoversTheProcess(t *testing.T) {
	pid := os.Getpid()
	own, err := cpuTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := treeCPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if tree < own {
		t.Errorf("treeCPUTime = %s, less than the process's own %s", tree, own)
	}
}

// TestPostgres runs against the server in HUB_POSTGRES_URL (source
// .ci/postgres.sh) and skips without one: a fresh database, its counters as
// rows are written, the server's CPU time, and the drop.
func TestPostgres(t *testing.T) {
	adminURL := os.Getenv("HUB_POSTGRES_URL")
	if adminURL == "" {
		t.Skip("HUB_POSTGRES_URL is not set (source .ci/postgres.sh)")
	}
	ctx := t.Context()
	srv, err := connectPostgres(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	for _, name := range pgDurability {
		if srv.Settings[name] == "" {
			t.Errorf("setting %s not read", name)
		}
	}
	db, dbURL, err := srv.createDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dropped := false
	defer func() {
		if !dropped {
			_ = srv.dropDatabase(context.Background(), db)
		}
	}()
	before, err := srv.stats(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE TABLE t (n int)", "INSERT INTO t SELECT generate_series(1, 100)", "UPDATE t SET n = n + 1 WHERE n <= 10"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(ctx) // a backend that exits reports its counters at once
	if err := srv.analyze(ctx, dbURL); err != nil {
		t.Error(err)
	}

	var d pgStats
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		after, err := srv.stats(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if d = after.sub(before); d.TupInserted >= 100 {
			break
		}
	}
	if d.TupInserted < 100 || d.TupUpdated < 10 || d.XactCommit < 3 {
		t.Errorf("counters grew by %+v; want at least 100 inserted, 10 updated, 3 commits", d)
	}

	if srv.postmaster == 0 {
		t.Log("the server is not a process on this machine: its CPU time is not checked")
	} else if cpu, err := srv.cpuTime(); err != nil || cpu <= 0 {
		t.Errorf("server CPU time = %s, %v; want more than zero", cpu, err)
	}

	if err := srv.dropDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	dropped = true
	if _, err := srv.stats(ctx, db); err == nil {
		t.Errorf("stats of dropped database %s: no error", db)
	}
}
