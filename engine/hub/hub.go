package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/engine/console"
	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/metrics"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/tracing"
	"github.com/carrierhub/hub/engine/validate"
	"github.com/carrierhub/hub/sdk"
)

// Grace periods of the shutdown steps that have no setting of their own.
const (
	// processStopGrace is how long connector processes get to finish their
	// calls and exit once requests have drained.
	processStopGrace = 30 * time.Second
	// spanFlushGrace bounds flushing the last spans to the collector.
	spanFlushGrace = 5 * time.Second
)

// HTTP server timeouts that have no setting: bounds generous enough for any
// API call (a label PDF, a batch track) that still free a stuck connection.
const (
	readTimeout  = 60 * time.Second
	writeTimeout = 5 * time.Minute
	idleTimeout  = 2 * time.Minute
)

// Options are what the hub needs besides its configuration: things the
// command line computes or owns rather than settings an operator writes.
type Options struct {
	// Builtins are the connectors compiled into the hub. Each is served in a
	// process of its own by re-executing Executable; none is fine.
	Builtins []sdk.Connector
	// Folders are connectors written as data, already scanned and validated
	// (the command line loads them from connectors.dir). Each is served by
	// re-executing Executable; a folder whose id a built-in holds is skipped.
	Folders []plugins.Folder
	// Executable is the hub's own binary, re-executed with the hidden
	// connector-process subcommand to serve Builtins and Folders; empty: the
	// running binary.
	Executable string
	// Logger receives the hub's log; nil discards it.
	Logger *slog.Logger
	// Version is the hub's release, shown in the OpenAPI document, the start
	// log line and the spans' service.version.
	Version string
	// DebugListen, when set, is an address (host:port) on which Run serves
	// Go's profiling endpoints (/debug/pprof/), on a listener of their own.
	DebugListen string
}

// Hub is one assembled hub: store, connector processes, event pipeline,
// router and HTTP API. New builds it, Run serves it and then releases
// everything; Close releases it when Run is never called.
type Hub struct {
	cfg  config.Config
	opts Options
	log  *slog.Logger
	// draining is closed when Run starts shutting down: it ends the API's
	// event streams, which would otherwise hold the shutdown up.
	draining chan struct{}
	// latency keeps each connector's latest call times for the overview's P95.
	latency metrics.RecentLatency

	store   store.Store
	tracer  *tracing.Provider
	plugins *plugins.Manager
	pipe    *pipeline
	router  *router.Router
	keeper  *idempotency.Keeper
	handler http.Handler

	// background counts goroutines Run starts besides the pipeline's parts.
	background sync.WaitGroup
	// debug serves the profiling endpoints while Run runs; nil when off.
	debug *http.Server

	started   atomic.Bool
	closed    atomic.Bool
	listening chan struct{} // closed once Run listens; addr is set before
	addr      net.Addr
	closeOnce sync.Once
}

// New assembles a hub from cfg and opts: it validates cfg, opens the store
// (see OpenStore), compiles the request schemas, creates the plugin directory
// (plugins.dir, by default <data_dir>/plugins), sets up metrics and tracing,
// starts the plugin manager (no connector process starts until first used),
// and builds the event pipeline, the router, the idempotency keeper and the
// HTTP handler. Nothing is served and no background work runs until Run. On
// an error, what was built is released.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *Hub, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Plugins.Dir == "" {
		cfg.Plugins.Dir = filepath.Join(cfg.Store.DataDir, "plugins")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{cfg: cfg, opts: opts, log: log, listening: make(chan struct{}), draining: make(chan struct{})}
	defer func() {
		if err != nil {
			if cerr := h.Close(); cerr != nil {
				log.Warn("releasing a hub that did not start", "error", cerr)
			}
		}
	}()

	if h.store, err = OpenStore(ctx, cfg.Store, log); err != nil {
		return nil, err
	}
	v, err := validate.New()
	if err != nil {
		return nil, fmt.Errorf("compiling request schemas: %w", err)
	}
	if err := store.MkdirPrivate(cfg.Plugins.Dir); err != nil { // 0700: it holds executables the hub runs
		return nil, fmt.Errorf("creating plugin directory: %w", err)
	}
	var met *metrics.Metrics
	if cfg.Metrics.Enabled {
		met = metrics.New()
	}
	tc := cfg.Tracing
	h.tracer, err = tracing.Setup(ctx, tracing.Config{Exporter: tc.Exporter, Endpoint: tc.Endpoint, Protocol: tc.Protocol,
		Headers: tc.Headers, SampleRatio: tc.SampleRatio, ServiceName: tc.ServiceName, Version: opts.Version})
	if err != nil {
		return nil, err
	}
	h.plugins, err = plugins.New(ctx, plugins.Config{
		Executable:   opts.Executable,
		Env:          h.tracer.ConnectorEnv(),
		OnStart:      met.ObserveStart,
		Builtins:     opts.Builtins,
		Folders:      opts.Folders,
		PluginDir:    cfg.Plugins.Dir,
		MaxProcesses: cfg.Plugins.MaxProcesses,
		IdleTimeout:  cfg.Plugins.IdleTimeout,
		MaxCrashes:   cfg.Plugins.MaxCrashes,
		EgressAllow:  cfg.Egress.Allow,
		Logger:       log.With("component", "plugins"),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the plugin manager: %w", err)
	}
	if h.pipe, err = newPipeline(ctx, cfg, h.store, log, met); err != nil {
		return nil, err
	}
	exec := resilience.NewExecutor(resilience.Options{Logger: log.With("component", "resilience"), Observer: met.Resilience(),
		SharedRate: sharedRate(cfg.Store, h.store)})
	h.router, err = router.New(router.Config{Connectors: h.plugins, Accounts: h.store, Validate: validatorFunc(v), Logger: log,
		Resilience: exec, Overrides: &h.cfg.Resilience, Observe: h.observeCall(met), AfterCall: h.pipe.AfterCall,
		Unknown: h.pipe.Unknown, SettleAfter: cfg.Idempotency.SettleAfter})
	if err != nil {
		return nil, err
	}
	h.keeper, err = idempotency.New(idempotency.Config{Store: h.store, TTL: cfg.Idempotency.TTL, Logger: log.With("component", "idempotency")})
	if err != nil {
		return nil, err
	}
	h.handler = api.New(api.Config{Store: h.store, Router: h.router, Connectors: h.plugins, Logger: log, Version: opts.Version,
		Idempotency: h.keeper, MaxBodyBytes: cfg.Server.MaxBodyBytes, ObserveRequest: met.ObserveRequest, ObserveReplay: met.ObserveReplay,
		Egress: cfg.Egress.Policy(), InboundRateLimit: cfg.Inbound.RateLimit, InboundBurst: cfg.Inbound.Burst,
		Console: console.Handler(), OutboxSinks: h.pipe.sinks, Draining: h.draining, CallLatency: h.latency.P95})
	if met != nil {
		met.Watch(h.plugins, h.router)
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", met.Handler())
		mux.Handle("/", h.handler)
		h.handler = mux
	}
	return h, nil
}

// observeCall tells the metrics (when enabled) and the recent latencies about
// every connector call.
func (h *Hub) observeCall(met *metrics.Metrics) func(string, sdk.Operation, *sdk.Error, time.Duration) {
	return func(connector string, op sdk.Operation, err *sdk.Error, d time.Duration) {
		met.ObserveCall(connector, op, err, d)
		h.latency.Observe(connector, d)
	}
}

// validatorFunc adapts engine/validate to the router: its field errors pass on
// as they are, so the API can list every offending pointer.
func validatorFunc(v *validate.Validator) router.ValidateFunc {
	return func(op sdk.Operation, body []byte) error {
		err := v.Request(op, body)
		var ve *validate.Error
		if errors.As(err, &ve) {
			return router.NewValidationError(ve.Fields)
		}
		return err
	}
}

// Handler returns the hub's HTTP handler: the API, and GET /metrics when
// metrics are enabled. Run serves it; tests may serve it themselves.
func (h *Hub) Handler() http.Handler { return h.handler }

// Listening returns a channel closed once Run listens, after which Addr and
// URL answer. It is never closed when Run fails before listening.
func (h *Hub) Listening() <-chan struct{} { return h.listening }

// Addr returns the address Run listens on (with the port chosen when
// server.listen asks for port 0), or nil before Run listens.
func (h *Hub) Addr() net.Addr {
	select {
	case <-h.listening:
		return h.addr
	default:
		return nil
	}
}

// URL returns the API's base URL (http://host:port), or "" before Run listens.
func (h *Hub) URL() string {
	addr := h.Addr()
	if addr == nil {
		return ""
	}
	return "http://" + addr.String()
}

// Run starts the background work (event pipeline, idempotency sweeper, and
// the profiling endpoints when Options.DebugListen asks), listens on
// server.listen and serves the API until ctx is done. It then shuts down in
// order: answer /readyz 503 for server.drain_delay while still serving, stop
// accepting and drain requests (for up to server.shutdown_grace),
// stop the background work, stop connector processes, flush spans, close the
// store. It returns nil after a clean shutdown; the hub cannot run again.
func (h *Hub) Run(ctx context.Context) (err error) {
	if !h.started.CompareAndSwap(false, true) {
		return errors.New("hub: Run called twice")
	}
	if h.closed.Load() {
		return errors.New("hub: Run after Close")
	}
	defer func() {
		if cerr := h.close(context.WithoutCancel(ctx)); err == nil {
			err = cerr
		}
	}()
	background, stopBackground := context.WithCancel(ctx)
	defer stopBackground() // before the deferred close, which waits for the background work
	h.pipe.start(background, h.router)
	h.background.Add(1)
	go func() {
		defer h.background.Done()
		h.keeper.RunSweeper(background, idempotency.DefaultSweepInterval)
	}()

	if h.opts.DebugListen != "" {
		if h.debug, err = serveDebug(h.opts.DebugListen, h.log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", h.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           h.handler,
		ReadHeaderTimeout: h.cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		// The API answers headers over its own limit with a problem+json 431;
		// net/http's plain 431 is left for what lies beyond this backstop.
		MaxHeaderBytes: api.ServerMaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	h.addr = ln.Addr()
	close(h.listening)
	h.log.Info("hub listening", "url", h.URL(), "version", h.opts.Version,
		"connectors", len(h.plugins.Connectors()), "plugin_dir", h.cfg.Plugins.Dir, "tracing", h.cfg.Tracing.Exporter)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	close(h.draining)
	if d := h.cfg.Server.DrainDelay; d > 0 {
		// Still serving, but no longer ready: the load balancer takes the
		// replica out of rotation, and every answer closes its connection.
		h.log.Info("hub draining: /readyz answers 503 until it stops accepting", "drain_delay", d)
		time.Sleep(d)
	}
	h.log.Info("hub shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.Server.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("draining requests: %w", err)
	}
	return nil
}

// Close releases a hub whose Run was never called: connector processes, the
// bus, spans and the store. Run releases everything itself when it returns,
// so Close after Run, or a second Close, does nothing and returns nil. Close
// must not be called while Run runs; cancel Run's context instead.
func (h *Hub) Close() error {
	// Close has no caller's context; each step below is bounded by its own grace.
	return h.close(context.Background())
}

// close releases everything New built, once, in dependency order. ctx gives
// the grace periods a parent; it should not be done already.
func (h *Hub) close(ctx context.Context) error {
	var err error
	h.closeOnce.Do(func() { err = h.release(ctx) })
	return err
}

func (h *Hub) release(ctx context.Context) (err error) {
	h.closed.Store(true)
	if h.debug != nil {
		h.debug.Close()
	}
	// The background work stops with Run's context; wait until it has, so
	// nothing uses the store or the bus after they close.
	h.background.Wait()
	if h.pipe != nil {
		h.pipe.wait()
	}
	if h.plugins != nil {
		cctx, cancel := context.WithTimeout(ctx, processStopGrace)
		cerr := h.plugins.Close(cctx)
		cancel()
		if cerr != nil {
			h.log.Error("stopping connector processes", "error", cerr)
			err = fmt.Errorf("stopping connector processes: %w", cerr)
		}
	}
	if h.tracer != nil {
		// Last but the store: connector calls and requests have finished by now.
		fctx, cancel := context.WithTimeout(ctx, spanFlushGrace)
		if ferr := h.tracer.Shutdown(fctx); ferr != nil {
			h.log.Warn("flushing spans", "error", ferr)
		}
		cancel()
	}
	if h.store != nil {
		if cerr := h.store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing store: %w", cerr)
		}
	}
	return err
}
