package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/carrierhub/hub/engine/secretbox"
)

// Config chooses and configures a backend for Open.
type Config struct {
	// DataDir holds the SQLite database (DataDir/hub.db), created with mode 0700 if
	// missing; the database and the files SQLite keeps beside it are 0600 whatever
	// the umask. Used when PostgresURL is empty.
	DataDir string
	// PostgresURL, when set, selects Postgres, e.g.
	// postgres://hub:secret@db:5432/hub?sslmode=verify-full. It never appears in logs
	// or errors with its password.
	PostgresURL string
	// Key is the 32-byte secretbox key that seals account credentials (see
	// secretbox.KeyFromEnv and secretbox.LoadOrCreateKeyFile).
	Key []byte
	// Logger receives migration and open messages; nil discards them.
	Logger *slog.Logger
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the Postgres advisory lock key held while migrating, so replicas
// starting together migrate once. (crc32 of "carrierhub.store".)
const migrationLockID int64 = 0x3c7d_21a9

// Open returns the Postgres store when cfg.PostgresURL is set, else the SQLite store
// in cfg.DataDir, after bringing its schema up to date. Several processes may open the
// same database at once (the hub and a CLI, or replicas): migrations run under a lock.
func Open(ctx context.Context, cfg Config) (Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	box, err := secretbox.New(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("store: encryption key: %w", err)
	}
	s := &sqlStore{box: box, now: time.Now}
	if cfg.PostgresURL != "" {
		pool, err := openPostgres(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, err
		}
		db := stdlib.OpenDBFromPool(pool)
		err = migrate(ctx, log, goose.DialectPostgres, db, nil)
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("store: closing migration connection: %w", cerr)
		}
		if err != nil {
			pool.Close()
			return nil, err
		}
		s.db = &postgresBackend{pool: pool}
		log.InfoContext(ctx, "store opened", "backend", "postgres", "host", pool.Config().ConnConfig.Host,
			"database", pool.Config().ConnConfig.Database)
		return s, nil
	}
	db, path, err := openSQLite(cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, log, goose.DialectSQLite3, db, func() (func(), error) { return lockFile(path + ".migrate-lock") }); err != nil {
		db.Close()
		return nil, err
	}
	s.db = newSQLiteBackend(db)
	s.ships = newShipmentCache(shipmentCacheSize)
	log.InfoContext(ctx, "store opened", "backend", "sqlite", "path", path)
	return s, nil
}

// migrate applies pending migrations. fileLock, when set, serialises processes (SQLite
// has no session lock); Postgres uses an advisory lock instead.
func migrate(ctx context.Context, log *slog.Logger, dialect goose.Dialect, db *sql.DB,
	fileLock func() (func(), error)) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithSlog(log)}
	if fileLock == nil {
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	} else {
		unlock, err := fileLock()
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer unlock()
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		var pe *goose.PartialError
		if errors.As(err, &pe) && pe.Failed != nil && pe.Failed.Source != nil {
			return fmt.Errorf("store: migration %s: %w", pe.Failed.Source.Path, pe.Err)
		}
		return fmt.Errorf("store: migrating: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "store migration applied", "version", r.Source.Version, "file", r.Source.Path)
	}
	return nil
}
