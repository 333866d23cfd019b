package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/metrics"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/secretbox"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/tracing"
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
		sf            storeFlags
		configFile    string
		listen        string
		pluginDir     string
		connectorsDir string
		maxProcesses  int
		idleTimeout   time.Duration
		logLevel      string
		debugListen   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the hub's HTTP API",
		Long: `Serve the hub's HTTP API on --listen until SIGINT or SIGTERM, then drain requests
and stop every connector process.

Settings come from the defaults, then the YAML file named by --config (or HUB_CONFIG),
then HUB_* environment variables, then these flags; ` + "`hub config reference`" + ` lists them
all. With no file the hub runs on the embedded SQLite store in --data-dir.

Account credentials are sealed with the key in HUB_SECRET_KEY (32 bytes, hex or base64)
or, when unset, with <data-dir>/secret.key, created on first run. Replicas sharing
Postgres must share the key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configFile, os.Environ())
			if err != nil {
				return err
			}
			flags := cmd.Flags()
			if flags.Changed("listen") {
				cfg.Server.Listen = listen
			}
			if flags.Changed("data-dir") {
				cfg.Store.DataDir = sf.dataDir
			}
			if flags.Changed("postgres-url") {
				cfg.Store.PostgresURL = sf.postgresURL
			}
			if flags.Changed("plugin-dir") {
				cfg.Plugins.Dir = pluginDir
			}
			if flags.Changed("connectors-dir") {
				cfg.Connectors.Dir = connectorsDir
			}
			if flags.Changed("max-processes") {
				cfg.Plugins.MaxProcesses = maxProcesses
			}
			if flags.Changed("idle-timeout") {
				cfg.Plugins.IdleTimeout = idleTimeout
			}
			if flags.Changed("log-level") {
				cfg.Log.Level = logLevel
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if cfg.Plugins.Dir == "" {
				cfg.Plugins.Dir = filepath.Join(cfg.Store.DataDir, "plugins")
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log.Format, cfg.LogLevel())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, serveConfig{cfg: cfg, log: log, debugListen: debugListen})
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVar(&configFile, "config", os.Getenv("HUB_CONFIG"), "YAML configuration file (env HUB_CONFIG); see hub config reference")
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve HTTP on (default 127.0.0.1:8080; env HUB_LISTEN)")
	cmd.Flags().StringVar(&pluginDir, "plugin-dir", "", "directory of third-party connector executables (default <data-dir>/plugins; env HUB_PLUGIN_DIR)")
	cmd.Flags().StringVar(&connectorsDir, "connectors-dir", "", "directory of third-party connector folders written as data (env HUB_CONNECTORS_DIR)")
	cmd.Flags().IntVar(&maxProcesses, "max-processes", 0, "most connector processes running at once (default 32)")
	cmd.Flags().DurationVar(&idleTimeout, "idle-timeout", 0, "stop a connector process unused this long (default 10m)")
	cmd.Flags().StringVar(&logLevel, "log-level", "", "debug, info, warn or error (default info; env HUB_LOG_LEVEL)")
	cmd.Flags().StringVar(&debugListen, "debug-listen", "", "serve Go's profiling endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off by default)")
	return cmd
}

// newLogger returns the hub's slog logger: JSON, or text when format says so or
// is auto and w is a terminal.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" || (format == "auto" && isTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type serveConfig struct {
	cfg config.Config
	log *slog.Logger
	// debugListen, when set, is where the profiling endpoints are served.
	debugListen string
}

// serve runs the hub until ctx is done, then shuts down in order: stop accepting,
// drain requests, stop connector processes, close the store.
func serve(ctx context.Context, cfg serveConfig) (err error) {
	log := cfg.log
	sf := storeFlags{dataDir: cfg.cfg.Store.DataDir, postgresURL: cfg.cfg.Store.PostgresURL}
	st, err := sf.open(ctx, log)
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
	if err := os.MkdirAll(cfg.cfg.Plugins.Dir, 0o755); err != nil {
		return fmt.Errorf("creating plugin directory: %w", err)
	}
	var met *metrics.Metrics
	if cfg.cfg.Metrics.Enabled {
		met = metrics.New()
	}
	ver, _, _ := buildVersion()
	tc := cfg.cfg.Tracing
	tp, err := tracing.Setup(ctx, tracing.Config{Exporter: tc.Exporter, Endpoint: tc.Endpoint, Protocol: tc.Protocol,
		Headers: tc.Headers, SampleRatio: tc.SampleRatio, ServiceName: tc.ServiceName, Version: ver})
	if err != nil {
		return err
	}
	defer func() {
		// Last out: connector calls and requests have finished by now.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if ferr := tp.Shutdown(fctx); ferr != nil {
			log.Warn("flushing spans", "error", ferr)
		}
	}()
	builtins, folders, err := loadConnectors(cfg.cfg.Connectors.Dir, log)
	if err != nil {
		return err
	}
	mgr, err := plugins.New(ctx, plugins.Config{
		Env:          tp.ConnectorEnv(),
		OnStart:      met.ObserveStart,
		Builtins:     builtins,
		Folders:      folders,
		PluginDir:    cfg.cfg.Plugins.Dir,
		MaxProcesses: cfg.cfg.Plugins.MaxProcesses,
		IdleTimeout:  cfg.cfg.Plugins.IdleTimeout,
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
	pipe, err := newPipeline(ctx, cfg.cfg, st, log, met)
	if err != nil {
		return err
	}
	pipeCtx, stopPipe := context.WithCancel(ctx)
	defer func() { stopPipe(); pipe.wait() }()
	exec := resilience.NewExecutor(resilience.Options{Logger: log.With("component", "resilience"), Observer: met.Resilience()})
	rt, err := router.New(router.Config{Connectors: mgr, Accounts: st, Validate: validatorFunc(v), Logger: log,
		Resilience: exec, Overrides: &cfg.cfg.Resilience, Observe: met.ObserveCall, AfterCall: pipe.AfterCall})
	if err != nil {
		return err
	}
	pipe.start(pipeCtx, rt)
	keeper, err := idempotency.New(idempotency.Config{Store: st, TTL: cfg.cfg.Idempotency.TTL, Logger: log.With("component", "idempotency")})
	if err != nil {
		return err
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go keeper.RunSweeper(sweepCtx, idempotency.DefaultSweepInterval)
	var handler http.Handler = api.New(api.Config{Store: st, Router: rt, Connectors: mgr, Logger: log, Version: ver, Idempotency: keeper,
		MaxBodyBytes: cfg.cfg.Server.MaxBodyBytes, ObserveRequest: met.ObserveRequest, ObserveReplay: met.ObserveReplay})
	if met != nil {
		met.Watch(mgr, rt)
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", met.Handler())
		mux.Handle("/", handler)
		handler = mux
	}

	if cfg.debugListen != "" {
		if err := serveDebug(ctx, cfg.debugListen, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("hub listening", "url", "http://"+ln.Addr().String(), "version", ver,
		"connectors", len(mgr.Connectors()), "plugin_dir", cfg.cfg.Plugins.Dir, "tracing", tc.Exporter)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("hub shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.cfg.Server.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("draining requests: %w", err)
	}
	return nil
}
