package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres SQLSTATE codes the store classifies.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// openPostgres connects a pool. Errors never contain the URL's password: pgx redacts
// it, and the store adds only the host.
func openPostgres(ctx context.Context, rawURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: parsing PostgresURL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connecting to postgres at %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connecting to postgres at %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// postgresBackend is the backend over a pgx pool.
type postgresBackend struct {
	pool *pgxpool.Pool
}

var _ backend = (*postgresBackend)(nil)

func (b *postgresBackend) name() string { return "postgres" }

func (b *postgresBackend) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := b.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (b *postgresBackend) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	err := b.pool.QueryRow(ctx, query, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (b *postgresBackend) query(ctx context.Context, query string, args []any, each func(func(...any) error) error) error {
	rows, err := b.pool.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, each)
}

func (b *postgresBackend) kind(err error) errKind {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return kindOther
	}
	switch pe.Code {
	case pgUniqueViolation:
		return kindUnique
	case pgForeignKeyViolation:
		return kindForeignKey
	}
	return kindOther
}

func (b *postgresBackend) ping(ctx context.Context) error { return b.pool.Ping(ctx) }

func (b *postgresBackend) close() error {
	b.pool.Close()
	return nil
}

// inTx runs fn in one READ COMMITTED pgx transaction.
func (b *postgresBackend) inTx(ctx context.Context, fn func(q querier) error) (err error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(pgQuerier{tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pgConn is what pgQuerier needs of a pool or a transaction.
type pgConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgQuerier is a querier over a pgx pool or transaction.
type pgQuerier struct{ c pgConn }

func (q pgQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	err := q.c.QueryRow(ctx, query, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (q pgQuerier) query(ctx context.Context, query string, args []any, each func(func(...any) error) error) error {
	rows, err := q.c.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, each)
}
