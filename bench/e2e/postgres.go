package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is the Postgres server -postgres-url names, seen through an admin
// connection: the harness creates a fresh database on it for each hub
// scenario, reads the database's activity from pg_stat_database and the
// server's CPU time from /proc.
type pgServer struct {
	adminURL string
	// Version is the server's version string.
	Version string
	// Settings are the durability settings the figures depend on.
	Settings map[string]string
	// postmaster is the server's parent process, 0 when it is not on this
	// machine (or not visible in /proc).
	postmaster int

	mu   sync.Mutex // guards conn: one query at a time
	conn *pgx.Conn
}

// pgDurability are the settings that decide what a commit costs; the report
// prints them next to the figures.
var pgDurability = []string{"fsync", "synchronous_commit", "full_page_writes"}

// connectPostgres opens the admin connection and reads the server's version,
// durability settings and postmaster.
func connectPostgres(ctx context.Context, adminURL string) (*pgServer, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to -postgres-url: %w", err)
	}
	s := &pgServer{adminURL: adminURL, conn: conn, Settings: map[string]string{}}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version'), pg_backend_pid()").Scan(&s.Version, &backend); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("reading the Postgres server's version: %w", err)
	}
	for _, name := range pgDurability {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("reading the Postgres setting %s: %w", name, err)
		}
		s.Settings[name] = v
	}
	// The admin connection's backend is a child of the postmaster, if the
	// server runs here.
	if f, err := procStat(backend); err == nil {
		if ppid, err := strconv.Atoi(f[1]); err == nil && processName(ppid) == "postgres" {
			s.postmaster = ppid
		}
	}
	return s, nil
}

// processName returns the command name of a process (/proc/PID/comm), or ""
// when it cannot be read.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Close closes the admin connection.
func (s *pgServer) Close(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn.Close(ctx)
}

// cpuTime returns the CPU time of the server's processes so far: the
// postmaster and its children, including those that have exited (backends of
// closed connections, autovacuum workers).
func (s *pgServer) cpuTime() (time.Duration, error) {
	if s.postmaster == 0 {
		return 0, fmt.Errorf("the Postgres server is not a process on this machine")
	}
	return treeCPUTime(s.postmaster)
}

// createDatabase creates an empty database with a fresh name and returns its
// name and a URL for it (the admin URL with the database replaced).
func (s *pgServer) createDatabase(ctx context.Context) (name, dbURL string, err error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = fmt.Sprintf("hub_e2e_%x", b)
	u, err := url.Parse(s.adminURL)
	if err != nil {
		return "", "", fmt.Errorf("parsing -postgres-url: %w", err)
	}
	u.Path = "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return name, u.String(), nil
}

// dropDatabase drops a database createDatabase made, closing any connection
// still open to it.
func (s *pgServer) dropDatabase(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	return nil
}

// analyze runs ANALYZE on a database createDatabase made. The hub's tables
// start empty and fill within the run, faster than autovacuum (which visits a
// database about once a minute) analyzes them; until then the hub's
// connections keep statement plans cached on near-empty tables. A database in
// service has statistics, so the open loop measures one that has them
// (-postgres-no-analyze measures one without: before migration 00013 its
// shipment lookups scanned every one of the tenant's rows).
func (s *pgServer) analyze(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connecting to analyze: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyzing: %w", err)
	}
	return nil
}

// pgStats are a database's cumulative counters from pg_stat_database.
type pgStats struct {
	XactCommit   int64 `json:"xact_commit"`
	XactRollback int64 `json:"xact_rollback"`
	TupReturned  int64 `json:"tup_returned"`
	TupFetched   int64 `json:"tup_fetched"`
	TupInserted  int64 `json:"tup_inserted"`
	TupUpdated   int64 `json:"tup_updated"`
	TupDeleted   int64 `json:"tup_deleted"`
	BlksHit      int64 `json:"blks_hit"`
	BlksRead     int64 `json:"blks_read"`
}

// sub returns the counters' growth from before to s.
func (s pgStats) sub(before pgStats) pgStats {
	return pgStats{
		XactCommit: s.XactCommit - before.XactCommit, XactRollback: s.XactRollback - before.XactRollback,
		TupReturned: s.TupReturned - before.TupReturned, TupFetched: s.TupFetched - before.TupFetched,
		TupInserted: s.TupInserted - before.TupInserted, TupUpdated: s.TupUpdated - before.TupUpdated,
		TupDeleted: s.TupDeleted - before.TupDeleted, BlksHit: s.BlksHit - before.BlksHit, BlksRead: s.BlksRead - before.BlksRead,
	}
}

// stats reads a database's counters. Each backend adds to them when a
// transaction ends at most once a second (and within 10 s of going idle), so
// a reading lags the database's work by about a second.
func (s *pgServer) stats(ctx context.Context, db string) (pgStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st pgStats
	err := s.conn.QueryRow(ctx, `SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated,
		tup_deleted, blks_hit, blks_read FROM pg_stat_database WHERE datname = $1`, db).Scan(&st.XactCommit, &st.XactRollback,
		&st.TupReturned, &st.TupFetched, &st.TupInserted, &st.TupUpdated, &st.TupDeleted, &st.BlksHit, &st.BlksRead)
	if err != nil {
		return pgStats{}, fmt.Errorf("reading pg_stat_database for %s: %w", db, err)
	}
	return st, nil
}

// pgLoad is a database's activity over a measured window, for the report.
type pgLoad struct {
	// Database is the database the hub used.
	Database string `json:"database"`
	// Version and Settings describe the server (Settings: fsync,
	// synchronous_commit, full_page_writes).
	Version  string            `json:"server_version"`
	Settings map[string]string `json:"settings"`
	// Seconds is the time between the two readings of pg_stat_database.
	Seconds float64 `json:"seconds"`
	// Delta is the counters' growth over it.
	Delta pgStats `json:"delta"`
	// RequestsPerSec is the load generator's rate over its measured window:
	// requests sent in it divided by its length.
	RequestsPerSec float64 `json:"requests_per_s"`
	// TransactionsPerSec counts commits and rollbacks.
	TransactionsPerSec float64 `json:"transactions_per_s"`
	// RowsWrittenPerSec counts rows inserted, updated and deleted.
	RowsWrittenPerSec float64 `json:"rows_written_per_s"`
	// RowsReadPerSec counts rows returned by scans (tup_returned).
	RowsReadPerSec float64 `json:"rows_read_per_s"`
	// TransactionsPer1kRPS and RowsWrittenPer1kRPS are the two rates for each
	// 1,000 requests/s through the hub.
	TransactionsPer1kRPS float64 `json:"transactions_per_s_per_1k_rps"`
	RowsWrittenPer1kRPS  float64 `json:"rows_written_per_s_per_1k_rps"`
	// BufferHitRatio is blks_hit over blks_hit plus blks_read.
	BufferHitRatio float64 `json:"buffer_hit_ratio"`
	// Analyzed says the harness ran ANALYZE on the database before the
	// window (see pgServer.analyze).
	Analyzed bool `json:"analyzed"`
}

// pgWindow reads a database's counters at the start of a measured window and
// again at its end.
type pgWindow struct {
	srv    *pgServer
	db     string
	start  time.Time
	before pgStats
	err    error
	done   chan struct{} // closed once the first reading is taken (or given up)
	cancel context.CancelFunc
}

// watch reads db's counters once after has passed: the start of the measured
// window of a phase starting now. The caller ends it with finish or stop.
func (s *pgServer) watch(ctx context.Context, db string, after time.Duration) *pgWindow {
	wait, cancel := context.WithCancel(ctx)
	w := &pgWindow{srv: s, db: db, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-t.C:
		case <-wait.Done():
			w.err = errors.New("the measured window never began")
			return
		}
		w.start = time.Now()
		// ctx, not wait: a query cut short by stop would close the connection.
		w.before, w.err = s.stats(ctx, db)
	}()
	return w
}

// stop gives up the window, waiting for a reading under way.
func (w *pgWindow) stop() {
	w.cancel()
	<-w.done
}

// finish takes the second reading and returns the window's load, normalised by
// the load generator's requests in the window (requests over durationS).
func (w *pgWindow) finish(ctx context.Context, requests int64, durationS float64) (*pgLoad, error) {
	w.stop()
	if w.err != nil {
		return nil, w.err
	}
	after, err := w.srv.stats(ctx, w.db)
	if err != nil {
		return nil, err
	}
	l := &pgLoad{Database: w.db, Version: w.srv.Version, Settings: w.srv.Settings,
		Seconds: time.Since(w.start).Seconds(), Delta: after.sub(w.before)}
	l.normalise(requests, durationS)
	return l, nil
}

// normalise derives the rates from Delta and Seconds, and the rates per 1,000
// requests/s from the load generator's requests over durationS.
func (l *pgLoad) normalise(requests int64, durationS float64) {
	if l.Seconds <= 0 {
		return
	}
	d := l.Delta
	l.TransactionsPerSec = float64(d.XactCommit+d.XactRollback) / l.Seconds
	l.RowsWrittenPerSec = float64(d.TupInserted+d.TupUpdated+d.TupDeleted) / l.Seconds
	l.RowsReadPerSec = float64(d.TupReturned) / l.Seconds
	if blks := d.BlksHit + d.BlksRead; blks > 0 {
		l.BufferHitRatio = float64(d.BlksHit) / float64(blks)
	}
	if durationS > 0 && requests > 0 {
		l.RequestsPerSec = float64(requests) / durationS
		l.TransactionsPer1kRPS = l.TransactionsPerSec * 1000 / l.RequestsPerSec
		l.RowsWrittenPer1kRPS = l.RowsWrittenPerSec * 1000 / l.RequestsPerSec
	}
}
