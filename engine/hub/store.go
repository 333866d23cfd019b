package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/engine/secretbox"
	"github.com/carrierhub/hub/engine/store"
)

// KeyFileName is the file in the data directory holding the credentials key
// when HUB_SECRET_KEY is unset.
const KeyFileName = "secret.key"

// OpenStore opens the store cfg describes: Postgres when cfg.PostgresURL is
// set, else the embedded SQLite store in cfg.DataDir. Account credentials are
// sealed with the key in HUB_SECRET_KEY or, when that is unset, with the key in
// <data_dir>/secret.key, created on first use (the directory with mode 0700,
// the file with 0600). Replicas sharing Postgres must share the key. log
// receives the store's open and migration messages; nil discards them. The
// caller closes the store.
func OpenStore(ctx context.Context, cfg config.Store, log *slog.Logger) (store.Store, error) {
	key, err := secretbox.KeyFromEnv()
	if errors.Is(err, secretbox.ErrNoKey) {
		if err := store.MkdirPrivate(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		key, err = secretbox.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, KeyFileName))
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	st, err := store.Open(ctx, store.Config{DataDir: cfg.DataDir, PostgresURL: cfg.PostgresURL, Key: key, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	return st, nil
}
