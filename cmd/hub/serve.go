package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/connectors/builtin"
	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/secretbox"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/validate"
	"github.com/carrierhub/hub/sdk"
)

// storeFlags are the flags of every command that opens the store directly.
type storeFlags struct {
	dataDir     string
	postgresURL string
}

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.dataDir, "data-dir", envOr("HUB_DATA_DIR", "./hub-data"),
		"directory of the embedded SQLite store and the secret key file (env HUB_DATA_DIR)")
	cmd.PersistentFlags().StringVar(&f.postgresURL, "postgres-url", os.Getenv("HUB_POSTGRES_URL"),
		"use this Postgres database instead of SQLite (env HUB_POSTGRES_URL)")
}

// openStore opens the store with the credentials key from HUB_SECRET_KEY, or
// from <data-dir>/secret.key, which is created on first use.
func (f *storeFlags) open(ctx context.Context, log *slog.Logger) (store.Store, error) {
	key, err := secretbox.KeyFromEnv()
	if errors.Is(err, secretbox.ErrNoKey) {
		if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		key, err = secretbox.LoadOrCreateKeyFile(filepath.Join(f.dataDir, "secret.key"))
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	st, err := store.Open(ctx, store.Config{DataDir: f.dataDir, PostgresURL: f.postgresURL, Key: key, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	return st, nil
}

// validatorFunc adapts engine/validate to the router: its field errors become
// router field errors, so the API can list every offending pointer.
func validatorFunc(v *validate.Validator) router.ValidateFunc {
	return func(op sdk.Operation, body []byte) error {
		err := v.Request(op, body)
		var ve *validate.Error
		if errors.As(err, &ve) {
			fields := make([]router.FieldError, len(ve.Fields))
			for i, f := range ve.Fields {
				fields[i] = router.FieldError{Pointer: f.Pointer, Message: f.Message}
			}
			return router.NewValidationError(fields)
		}
		return err
	}
}

func serveCmd() *cobra.Command {
	var (
		sf           storeFlags
		listen       string
		pluginDir    string
		maxProcesses int
		idleTimeout  time.Duration
		logLevel     string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the hub's HTTP API",
		Long: `Serve the hub's HTTP API on --listen until SIGINT or SIGTERM, then drain requests
and stop every connector process.

The store is SQLite in --data-dir unless --postgres-url is set. Account credentials are
sealed with the key in HUB_SECRET_KEY (32 bytes, hex or base64) or, when unset, with
<data-dir>/secret.key, created on first run. Replicas sharing Postgres must share the key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if pluginDir == "" {
				pluginDir = filepath.Join(sf.dataDir, "plugins")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, serveConfig{
				store: sf, listen: listen, pluginDir: pluginDir, maxProcesses: maxProcesses,
				idleTimeout: idleTimeout, log: log,
			})
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVar(&listen, "listen", envOr("HUB_LISTEN", "127.0.0.1:8080"), "address to serve HTTP on (env HUB_LISTEN)")
	cmd.Flags().StringVar(&pluginDir, "plugin-dir", os.Getenv("HUB_PLUGIN_DIR"), "directory of third-party connector executables (default <data-dir>/plugins; env HUB_PLUGIN_DIR)")
	cmd.Flags().IntVar(&maxProcesses, "max-processes", 32, "most connector processes running at once")
	cmd.Flags().DurationVar(&idleTimeout, "idle-timeout", 10*time.Minute, "stop a connector process unused this long")
	cmd.Flags().StringVar(&logLevel, "log-level", envOr("HUB_LOG_LEVEL", "info"), "debug, info, warn or error (env HUB_LOG_LEVEL)")
	return cmd
}

type serveConfig struct {
	store        storeFlags
	listen       string
	pluginDir    string
	maxProcesses int
	idleTimeout  time.Duration
	log          *slog.Logger
}

// serve runs the hub until ctx is done, then shuts down in order: stop accepting,
// drain requests, stop connector processes, close the store.
func serve(ctx context.Context, cfg serveConfig) (err error) {
	log := cfg.log
	st, err := cfg.store.open(ctx, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing store: %w", cerr)
		}
	}()
	v, err := validate.New()
	if err != nil {
		return fmt.Errorf("compiling request schemas: %w", err)
	}
	if err := os.MkdirAll(cfg.pluginDir, 0o755); err != nil {
		return fmt.Errorf("creating plugin directory: %w", err)
	}
	mgr, err := plugins.New(ctx, plugins.Config{
		Builtins:     builtin.All(),
		PluginDir:    cfg.pluginDir,
		MaxProcesses: cfg.maxProcesses,
		IdleTimeout:  cfg.idleTimeout,
		Logger:       log.With("component", "plugins"),
	})
	if err != nil {
		return fmt.Errorf("starting the plugin manager: %w", err)
	}
	defer func() {
		// The parent context is done by now; give processes their own grace period.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if cerr := mgr.Close(cctx); cerr != nil {
			log.Error("stopping connector processes", "error", cerr)
			if err == nil {
				err = fmt.Errorf("stopping connector processes: %w", cerr)
			}
		}
	}()
	rt, err := router.New(router.Config{Connectors: mgr, Accounts: st, Validate: validatorFunc(v), Logger: log})
	if err != nil {
		return err
	}
	ver, _, _ := buildVersion()
	keeper, err := idempotency.New(idempotency.Config{Store: st, Logger: log.With("component", "idempotency")})
	if err != nil {
		return err
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go keeper.RunSweeper(sweepCtx, idempotency.DefaultSweepInterval)
	handler := api.New(api.Config{Store: st, Router: rt, Connectors: mgr, Logger: log, Version: ver, Idempotency: keeper})

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("hub listening", "url", "http://"+ln.Addr().String(), "version", ver,
		"connectors", len(mgr.Connectors()), "plugin_dir", cfg.pluginDir)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("hub shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("draining requests: %w", err)
	}
	return nil
}
