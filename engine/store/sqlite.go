package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteFile is the database file's name inside Config.DataDir.
const SQLiteFile = "hub.db"

// sqliteBusyTimeoutMillis is how long a connection waits for another connection's (or
// another process's) write lock before failing with SQLITE_BUSY.
const sqliteBusyTimeoutMillis = 10000

// sqliteDSN returns the modernc.org/sqlite data source for path. Every connection of
// the pool runs the pragmas: WAL, so readers never block the writer and a CLI process
// can read while the hub writes; a busy timeout, so two writers (in one process or two)
// queue instead of failing; foreign keys, which SQLite leaves off by default. Explicit
// transactions begin IMMEDIATE so they take the write lock up front, which avoids
// deadlocks between two read-then-write transactions.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// openSQLite opens (creating if needed, private to the hub's user: see
// prepareDataDir) DataDir/hub.db and returns the *sql.DB.
func openSQLite(dataDir string, log *slog.Logger) (*sql.DB, string, error) {
	if dataDir == "" {
		return nil, "", errors.New("store: DataDir is required when PostgresURL is not set")
	}
	if strings.ContainsRune(dataDir, '?') {
		return nil, "", fmt.Errorf("store: DataDir %q must not contain '?'", dataDir)
	}
	path := filepath.Join(dataDir, SQLiteFile)
	if err := prepareDataDir(dataDir, path, log); err != nil {
		return nil, "", err
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, "", fmt.Errorf("store: opening %s: %w", path, err)
	}
	// SQLite has one writer at a time whatever the pool size; a few connections let
	// reads proceed beside it. Keep them all idle-pooled: opening one runs the pragmas.
	n := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, path, nil
}

// sqliteBackend is the backend over modernc.org/sqlite. It prepares each distinct
// query once and reuses the statement (database/sql re-prepares it per connection as
// needed): SQLite spends most of a point lookup compiling the SQL otherwise.
type sqliteBackend struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// writer admits one transaction of this process at a time. SQLite has one
	// writer anyway; queueing here rather than in SQLite's busy handler keeps
	// waiting transactions from holding pool connections that the running one
	// needs to prepare its statements.
	writer chan struct{}
	// qmu guards queue, the transactions waiting for the writer (see inTx).
	qmu   sync.Mutex
	queue []*txRequest
	// webhookWrites serialises the webhook dispatcher's bulk writes (see
	// sqlStore.sqliteWriteLock).
	webhookWrites sync.Mutex
	// pooled runs statements outside any transaction, on the pool.
	pooled sqliteTx
}

func newSQLiteBackend(db *sql.DB) *sqliteBackend {
	b := &sqliteBackend{db: db, stmts: map[string]*sql.Stmt{}, writer: make(chan struct{}, 1)}
	b.pooled = sqliteTx{b: b}
	return b
}

// stmt returns the prepared statement for query. The store's queries are a fixed set
// of constants, so the map stays small.
func (b *sqliteBackend) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.stmts[query]; ok {
		return st, nil
	}
	st, err := b.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	b.stmts[query] = st
	return st, nil
}

var _ backend = (*sqliteBackend)(nil)

func (b *sqliteBackend) name() string { return "sqlite" }

// exec, queryRow and query send statements that write through the writer (a
// group commit, see inTx) and run the others on the pool.
func (b *sqliteBackend) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if writes(query) {
		var n int64
		err := b.inTx(ctx, func(q querier) (err error) {
			n, err = q.exec(ctx, query, args...)
			return err
		})
		return n, err
	}
	return b.pooled.exec(ctx, query, args...)
}

func (b *sqliteBackend) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	if writes(query) {
		return b.inTx(ctx, func(q querier) error { return q.queryRow(ctx, query, args, dest...) })
	}
	return b.pooled.queryRow(ctx, query, args, dest...)
}

func (b *sqliteBackend) query(ctx context.Context, query string, args []any, each func(func(...any) error) error) error {
	if writes(query) {
		return b.inTx(ctx, func(q querier) error { return q.query(ctx, query, args, each) })
	}
	return b.pooled.query(ctx, query, args, each)
}

func (b *sqliteBackend) kind(err error) errKind {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return kindOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return kindUnique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return kindForeignKey
	}
	return kindOther
}

func (b *sqliteBackend) ping(ctx context.Context) error { return b.db.PingContext(ctx) }

func (b *sqliteBackend) close() error {
	b.mu.Lock()
	for q, st := range b.stmts {
		_ = st.Close()
		delete(b.stmts, q)
	}
	b.mu.Unlock()
	return b.db.Close()
}

// sqliteTx is a querier bound to one SQLite transaction, or, with tx nil, to
// none (the backend's pool).
type sqliteTx struct {
	b  *sqliteBackend
	tx *sql.Tx
	// detached runs statements without their context's cancellation: in a group
	// commit one caller's cancelled statement would roll back every caller's work.
	detached bool
}

// stmt returns the backend's prepared statement for query, bound to the
// transaction when there is one, and the function that releases it.
func (t *sqliteTx) stmt(ctx context.Context, query string) (*sql.Stmt, func(), error) {
	ctx = t.ctx(ctx)
	st, err := t.b.stmt(ctx, query)
	if err != nil || t.tx == nil {
		return st, func() {}, err
	}
	ts := t.tx.StmtContext(ctx, st)
	return ts, func() { ts.Close() }, nil
}

// ctx is the context statements run with (see detached).
func (t *sqliteTx) ctx(ctx context.Context) context.Context {
	if t.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (t *sqliteTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	st, release, err := t.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	defer release()
	res, err := st.ExecContext(t.ctx(ctx), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *sqliteTx) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	st, release, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	defer release()
	err = st.QueryRowContext(t.ctx(ctx), args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (t *sqliteTx) query(ctx context.Context, query string, args []any, each func(func(...any) error) error) error {
	st, release, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	defer release()
	rows, err := st.QueryContext(t.ctx(ctx), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, each)
}
