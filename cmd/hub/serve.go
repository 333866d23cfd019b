package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/engine/config"
	enginehub "github.com/carrierhub/hub/engine/hub"
	"github.com/carrierhub/hub/engine/store"
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

// open opens the store the flags name, with the credentials key from
// HUB_SECRET_KEY or <data-dir>/secret.key (see the engine's OpenStore).
func (f *storeFlags) open(ctx context.Context, log *slog.Logger) (store.Store, error) {
	return enginehub.OpenStore(ctx, config.Store{DataDir: f.dataDir, PostgresURL: f.postgresURL}, log)
}

// serveSettings names the configuration setting (as hub config reference
// lists it) that each of serve's flags sets when given.
var serveSettings = map[string]string{
	"listen":         "server.listen",
	"data-dir":       "store.data_dir",
	"postgres-url":   "store.postgres_url",
	"plugin-dir":     "plugins.dir",
	"connectors-dir": "connectors.dir",
	"max-processes":  "plugins.max_processes",
	"idle-timeout":   "plugins.idle_timeout",
	"log-level":      "log.level",
}

// givenSettings returns the settings of the flags given on cmd's command
// line, keyed by setting, for config.Overlay.
func givenSettings(cmd *cobra.Command, settings map[string]string) map[string]string {
	set := map[string]string{}
	for name, key := range settings {
		if cmd.Flags().Changed(name) {
			set[key] = cmd.Flags().Lookup(name).Value.String()
		}
	}
	return set
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
and stop every connector process. With server.drain_delay set, the hub first keeps
serving that long with /readyz answering 503, so a load balancer takes it out of
rotation before it stops accepting.

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
			if cfg, err = cfg.Overlay(givenSettings(cmd, serveSettings)); err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log.Format, cfg.LogLevel())
			builtins, folders, err := loadConnectors(cfg.Connectors.Dir, log)
			if err != nil {
				return err
			}
			ver, _, _ := buildVersion()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			h, err := enginehub.New(ctx, cfg, enginehub.Options{Builtins: builtins, Folders: folders,
				Logger: log, Version: ver, DebugListen: debugListen})
			if err != nil {
				return err
			}
			return h.Run(ctx)
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
