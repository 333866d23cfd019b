// Package plugins runs connectors as child processes: one process per connector
// type, serving every tenant's accounts, started on first use, health-checked,
// restarted with backoff after a crash, stopped when idle, capped in number, and
// all stopped on shutdown. First-party connectors are compiled into the hub and
// run by re-executing the hub's own binary; third-party connectors are executables
// in a plugin directory. Both speak the SDK's protocol through sdk/host.
package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/host"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// Config configures a Manager. Zero values take the documented defaults.
type Config struct {
	// Executable is the hub's own binary, re-executed for built-in connectors.
	Executable string
	// BuiltinArgs returns the arguments that make Executable serve built-in
	// connector id; default: connector-process ID.
	BuiltinArgs func(id string) []string
	// Builtins are the connectors compiled into the hub.
	Builtins []sdk.Connector
	// Folders are connectors written as data, loaded from a connectors
	// directory; each is served by re-executing Executable with FolderArgs.
	// A folder whose id is taken by a built-in is skipped with a warning.
	Folders []Folder
	// FolderArgs returns the arguments that make Executable serve the folder
	// dir; default: connector-process --dir DIR.
	FolderArgs func(dir string) []string
	// PluginDir holds third-party connector executables; none when empty.
	PluginDir string
	// MaxProcesses caps how many connector processes run at once; 32 by default.
	// When the cap is reached the least recently used idle process is stopped.
	MaxProcesses int
	// MaxCrashes is how many consecutive crashes (starts that fail, or exits
	// within a minute of starting) put a connector in StateGaveUp; 10 by default.
	MaxCrashes int
	// IdleTimeout stops a process unused this long; 10 minutes by default.
	IdleTimeout time.Duration
	// HealthInterval is how often running processes are pinged; 30s by default.
	HealthInterval time.Duration
	// StartTimeout bounds one start, handshake included; 10s by default.
	StartTimeout time.Duration
	// Env is added to every connector's environment, after the OTEL_* variables
	// of the hub's own environment (OpenTelemetry settings, which connectors
	// export their spans with), so Env wins over them.
	Env []string
	// EgressAllow is the egress guard's allow-list (CIDRs or addresses): the
	// non-public ranges connectors may dial. Every connector process gets it in
	// HUB_EGRESS_ALLOW, after Env so nothing there widens it; empty admits the
	// public internet only. A bad entry fails New.
	EgressAllow []string
	// OnStart, when set, is told about every process start: how long the launch
	// and handshake took, or why it failed. For metrics.
	OnStart func(connector string, d time.Duration, err error)
	// Logger receives the manager's events and the connectors' output.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	c.Env = append(otelEnviron(os.Environ()), c.Env...)
	if c.BuiltinArgs == nil {
		c.BuiltinArgs = func(id string) []string { return []string{"connector-process", id} }
	}
	if c.FolderArgs == nil {
		c.FolderArgs = func(dir string) []string { return []string{"connector-process", "--dir", dir} }
	}
	if c.MaxProcesses <= 0 {
		c.MaxProcesses = 32
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.MaxCrashes <= 0 {
		c.MaxCrashes = 10
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = 30 * time.Second
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// otelEnviron returns the OTEL_* variables of environ, which connector
// processes inherit (the rest of the hub's environment is not passed on).
// OTEL_SERVICE_NAME is left out: a connector names itself after the hub's
// tracing configuration.
func otelEnviron(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "OTEL_SERVICE_NAME=") {
			out = append(out, kv)
		}
	}
	return out
}

// Folder is a connector written as data, in a directory of its own.
type Folder struct {
	// Dir is the connector's folder (manifest.yaml at its root).
	Dir string
	// Manifest is its manifest, already validated.
	Manifest *sdk.Manifest
}

// Restart backoff after consecutive crashes: 100ms, 200ms, 400ms ... up to 30s.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
	// stableAfter resets the crash count once a process has lived this long.
	stableAfter = time.Minute
	pingTimeout = 5 * time.Second
	stopGrace   = 10 * time.Second
)

// Manager owns the connector processes. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	entries map[string]*entry
	ids     []string // sorted

	mu     sync.Mutex // guards closed and the running count used by the cap
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// entry is one connector type and its (at most one) process.
type entry struct {
	id       string
	manifest *sdk.Manifest
	builtin  bool
	path     string
	args     []string
	logger   *slog.Logger

	mu       sync.Mutex
	proc     *host.Process
	starting chan struct{} // closed when the start in flight finishes
	startErr error
	state    State
	stopping bool // an intentional stop, not a crash
	restarts int
	crashes  int // consecutive
	// maxCrashes is Config.MaxCrashes.
	maxCrashes int
	nextStart  time.Time
	lastErr    string
	startedAt  time.Time
	lastUsed   time.Time
	inflight   int
}

// New creates a manager for the built-in connectors and those found in
// cfg.PluginDir. No process starts until a connector is first used.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	allow, err := egress.Parse(cfg.EgressAllow)
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	cfg.defaults()
	cfg.Env = append(cfg.Env, allow.Env())
	if cfg.Executable == "" && (len(cfg.Builtins) > 0 || len(cfg.Folders) > 0) {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the hub's executable: %w", err)
		}
		cfg.Executable = exe
	}
	m := &Manager{cfg: cfg, entries: map[string]*entry{}, stop: make(chan struct{})}
	for _, c := range cfg.Builtins {
		d, err := sdk.NewDispatcher(c)
		if err != nil {
			return nil, fmt.Errorf("built-in connector: %w", err)
		}
		man := d.Manifest()
		if _, dup := m.entries[man.ID]; dup {
			return nil, fmt.Errorf("built-in connector %s registered twice", man.ID)
		}
		m.add(&entry{id: man.ID, manifest: man, builtin: true, path: cfg.Executable, args: cfg.BuiltinArgs(man.ID)})
	}
	for _, f := range cfg.Folders {
		if old, dup := m.entries[f.Manifest.ID]; dup {
			m.cfg.Logger.Warn("skipping connector folder whose id is taken", "dir", f.Dir, "id", f.Manifest.ID, "builtin", old.builtin)
			continue
		}
		m.add(&entry{id: f.Manifest.ID, manifest: f.Manifest, path: cfg.Executable, args: cfg.FolderArgs(f.Dir)})
		m.cfg.Logger.Info("found connector folder", "id", f.Manifest.ID, "version", f.Manifest.Version, "dir", f.Dir)
	}
	if cfg.PluginDir != "" {
		if err := m.discover(ctx, cfg.PluginDir); err != nil {
			return nil, err
		}
	}
	slices.Sort(m.ids)
	m.wg.Add(1)
	go m.maintain()
	return m, nil
}

func (m *Manager) add(e *entry) {
	e.state = StateIdle
	e.maxCrashes = m.cfg.MaxCrashes
	e.logger = m.cfg.Logger.With("connector", e.id)
	m.entries[e.id] = e
	m.ids = append(m.ids, e.id)
}

// discover registers every executable in dir that describes itself as a
// connector. Broken executables are logged and skipped; built-ins win over a
// plugin with the same id.
func (m *Manager) discover(ctx context.Context, dir string) error {
	files, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading plugin directory: %w", err)
	}
	for _, f := range files {
		info, err := f.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		path := filepath.Join(dir, f.Name())
		man, err := host.Describe(ctx, path)
		if err != nil {
			m.cfg.Logger.Warn("skipping plugin that does not describe itself", "path", path, "error", err)
			continue
		}
		if old, dup := m.entries[man.ID]; dup {
			m.cfg.Logger.Warn("skipping plugin whose id is taken", "path", path, "id", man.ID, "builtin", old.builtin)
			continue
		}
		m.add(&entry{id: man.ID, manifest: man, path: path})
		m.cfg.Logger.Info("found connector plugin", "id", man.ID, "version", man.Version, "path", path)
	}
	return nil
}

// Manifest returns a connector's manifest.
func (m *Manager) Manifest(id string) (*sdk.Manifest, bool) {
	e, ok := m.entries[id]
	if !ok {
		return nil, false
	}
	return e.manifest, true
}

// Connectors lists every known connector with its process status, by id.
func (m *Manager) Connectors() []Info {
	out := make([]Info, 0, len(m.ids))
	for _, id := range m.ids {
		e := m.entries[id]
		out = append(out, Info{Manifest: e.manifest, Builtin: e.builtin, Status: e.status()})
	}
	return out
}

// Status returns one connector's process status.
func (m *Manager) Status(id string) (Status, bool) {
	e, ok := m.entries[id]
	if !ok {
		return Status{}, false
	}
	return e.status(), true
}

func (e *entry) status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{State: e.state, Restarts: e.restarts, LastError: e.lastErr, LastUsed: e.lastUsed, InFlight: e.inflight}
	if e.proc != nil && e.state == StateRunning {
		s.PID = e.proc.PID()
		s.StartedAt = e.startedAt
	}
	return s
}

// Invoke runs one call in the connector's process, starting it if needed. Its
// error is always an *sdk.Error.
func (m *Manager) Invoke(ctx context.Context, id string, call *sdk.Call) ([]byte, error) {
	p, release, err := m.acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	defer release()
	out, err := p.Invoke(ctx, call)
	if err != nil {
		m.noteExit(id, p)
	}
	return out, err
}

// noteExit records at once that a process whose call failed has exited, so the
// next call restarts it instead of finding it dead.
func (m *Manager) noteExit(id string, p *host.Process) {
	select {
	case <-p.Done():
		m.entries[id].exited(p)
	default:
	}
}

// Health starts the connector if needed and runs its own health check for
// account (nil for the connector itself).
func (m *Manager) Health(ctx context.Context, id string, account *sdk.Account) (Health, error) {
	p, release, err := m.acquire(ctx, id)
	if err != nil {
		st, _ := m.Status(id)
		return Health{Status: st}, err
	}
	supported, err := p.CheckHealth(ctx, account)
	release()
	st, _ := m.Status(id)
	h := Health{Status: st, CheckSupported: supported}
	if err != nil {
		h.CheckError = sdk.AsError(err)
	}
	return h, nil
}

// Exchanges returns an account's latest provider exchanges as the connector's
// process keeps them (sdk/exchange records as JSON, newest first, redacted by
// the connector). A process that is not running has none: it is not started
// for this, and the answer is an empty list.
func (m *Manager) Exchanges(ctx context.Context, id, accountID string, limit int) (json.RawMessage, error) {
	e, ok := m.entries[id]
	if !ok {
		return nil, &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceHub, Message: fmt.Sprintf("no connector %q", id)}
	}
	e.mu.Lock()
	p := e.proc
	running := e.state == StateRunning && p != nil
	if running {
		e.inflight++
	}
	e.mu.Unlock()
	if !running {
		return json.RawMessage("[]"), nil
	}
	defer e.done()
	return p.Exchanges(ctx, accountID, limit)
}

func unavailable(format string, args ...any) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceHub, NotSent: true, Message: fmt.Sprintf(format, args...)}
}

// acquire returns the connector's running process, starting it if needed, and
// marks a call in flight until release is called.
func (m *Manager) acquire(ctx context.Context, id string) (*host.Process, func(), error) {
	e, ok := m.entries[id]
	if !ok {
		return nil, nil, &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceHub, Message: fmt.Sprintf("no connector %q", id)}
	}
	for {
		m.mu.Lock()
		closed := m.closed
		m.mu.Unlock()
		if closed {
			return nil, nil, unavailable("the hub is shutting down")
		}

		e.mu.Lock()
		if e.state == StateGaveUp {
			last := e.lastErr
			e.mu.Unlock()
			return nil, nil, unavailable("connector %s gave up after %d consecutive crashes (last: %s); restart the hub once it is fixed", id, m.cfg.MaxCrashes, last)
		}
		if e.state == StateRunning && e.proc != nil {
			p := e.proc
			select {
			case <-p.Done(): // exited; watch may not have recorded it yet
				e.mu.Unlock()
				e.exited(p)
				continue
			default:
			}
			e.inflight++
			e.mu.Unlock()
			return p, func() { e.done() }, nil
		}
		if e.starting != nil {
			wait := e.starting
			e.mu.Unlock()
			select {
			case <-wait:
				e.mu.Lock()
				err := e.startErr
				e.mu.Unlock()
				if err != nil {
					return nil, nil, unavailable("connector %s could not start: %v", id, err)
				}
				continue
			case <-ctx.Done():
				return nil, nil, &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceHub, NotSent: true, Message: "deadline passed while the connector was starting"}
			}
		}
		if delay := time.Until(e.nextStart); delay > 0 {
			e.mu.Unlock()
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
				return nil, nil, unavailable("connector %s crashed and restarts in %s", id, delay.Round(time.Millisecond))
			}
			select {
			case <-time.After(delay):
				continue
			case <-ctx.Done():
				return nil, nil, &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceHub, NotSent: true, Message: "deadline passed while the connector was restarting"}
			}
		}
		e.starting = make(chan struct{})
		e.state = StateStarting
		e.mu.Unlock()

		if err := m.makeRoom(e); err != nil {
			e.finishStart(nil, err)
			return nil, nil, err
		}
		m.start(e)
	}
}

// makeRoom enforces the process cap by stopping the least recently used idle
// process, or fails when every running process is busy.
func (m *Manager) makeRoom(starting *entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	running := 0
	var victim *entry
	var victimUsed time.Time
	for _, e := range m.entries {
		if e == starting {
			continue
		}
		e.mu.Lock()
		if e.proc != nil && e.state == StateRunning {
			running++
			if e.inflight == 0 && (victim == nil || e.lastUsed.Before(victimUsed)) {
				victim, victimUsed = e, e.lastUsed
			}
		}
		e.mu.Unlock()
	}
	if running < m.cfg.MaxProcesses {
		return nil
	}
	if victim == nil {
		return unavailable("all %d connector processes are busy (max_processes); try again shortly", m.cfg.MaxProcesses)
	}
	m.cfg.Logger.Info("stopping least recently used connector to respect the process cap", "connector", victim.id, "max_processes", m.cfg.MaxProcesses)
	victim.stopProcess(StateIdle, false)
	return nil
}

// start launches e's process and records the outcome; the caller set e.starting.
func (m *Manager) start(e *entry) {
	began := time.Now()
	p, err := host.Start(context.Background(), host.Config{
		Path: e.path, Args: e.args, Env: m.cfg.Env, Logger: e.logger, StartTimeout: m.cfg.StartTimeout,
	})
	if err == nil && p.Manifest().ID != e.id {
		p.Kill()
		err = fmt.Errorf("executable describes itself as %q, not %q", p.Manifest().ID, e.id)
	}
	if m.cfg.OnStart != nil {
		m.cfg.OnStart(e.id, time.Since(began), err)
	}
	if err != nil {
		e.logger.Error("connector failed to start", "error", err)
		e.finishStart(nil, err)
		return
	}
	e.logger.Info("connector started", "pid", p.PID(), "start_ms", time.Since(began).Milliseconds())
	e.finishStart(p, nil)
	m.wg.Add(1)
	go m.watch(e, p)
}

func (e *entry) finishStart(p *host.Process, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.proc, e.startErr = p, err
	if err != nil {
		e.lastErr = err.Error()
		e.crashed()
	} else {
		e.state = StateRunning
		e.startedAt = time.Now()
		e.lastUsed = e.startedAt
		e.stopping = false
	}
	close(e.starting)
	e.starting = nil
}

// watch records the process's exit.
func (m *Manager) watch(e *entry, p *host.Process) {
	defer m.wg.Done()
	<-p.Done()
	e.exited(p)
}

// exited records that p has exited: a crash unless it was stopped on purpose.
// It is idempotent, so both watch and a caller that saw the exit may call it.
func (e *entry) exited(p *host.Process) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc != p {
		return // already recorded, or stopped on purpose
	}
	e.proc = nil
	e.restarts++
	if time.Since(e.startedAt) > stableAfter {
		e.crashes = 0
	}
	e.lastErr = fmt.Sprintf("process exited unexpectedly: %v", p.ExitErr())
	e.logger.Error("connector process exited unexpectedly", "error", p.ExitErr(), "restarts", e.restarts)
	e.crashed()
}

// crashed counts one more consecutive crash: the next start waits out the
// backoff, and after maxCrashes the connector gives up. The caller holds e.mu.
func (e *entry) crashed() {
	e.crashes++
	e.state = StateCrashed
	e.nextStart = time.Now().Add(backoff(e.crashes))
	if e.crashes >= e.maxCrashes {
		e.state = StateGaveUp
		e.logger.Error("connector gave up: too many consecutive crashes", "crashes", e.crashes, "last_error", e.lastErr)
	}
}

// backoff is the wait before restart after n consecutive crashes, with jitter.
func backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := minBackoff << min(n-2, 16)
	if d > maxBackoff {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (e *entry) done() {
	e.mu.Lock()
	e.inflight--
	e.lastUsed = time.Now()
	e.mu.Unlock()
}

// stopProcess stops e's process (if any) in the background and sets state.
// With wait, it returns once the process has exited.
func (e *entry) stopProcess(state State, wait bool) {
	e.mu.Lock()
	p := e.proc
	e.stopping = true
	e.state = state
	e.proc = nil
	e.mu.Unlock()
	if p == nil {
		return
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		p.Stop(ctx)
	}
	if wait {
		stop()
	} else {
		go stop()
	}
}

// maintain reaps idle processes and pings running ones until Close.
func (m *Manager) maintain() {
	defer m.wg.Done()
	tick := min(m.cfg.HealthInterval, m.cfg.IdleTimeout/4)
	t := time.NewTicker(max(tick, 50*time.Millisecond))
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		ping := time.Since(lastPing) >= m.cfg.HealthInterval
		if ping {
			lastPing = time.Now()
		}
		for _, id := range m.ids {
			e := m.entries[id]
			e.mu.Lock()
			p, idle := e.proc, e.state == StateRunning && e.inflight == 0 && time.Since(e.lastUsed) > m.cfg.IdleTimeout
			e.mu.Unlock()
			if p == nil {
				continue
			}
			if idle {
				e.logger.Info("stopping idle connector", "idle_for", m.cfg.IdleTimeout)
				e.stopProcess(StateIdle, false)
				continue
			}
			if ping {
				ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
				err := p.Ping(ctx)
				cancel()
				if err != nil {
					e.logger.Error("connector failed its health ping; killing it", "error", err)
					p.Kill() // watch records the crash; the next call restarts it
				}
			}
		}
	}
}

// Close stops every connector process, letting in-flight calls finish until ctx
// ends, and returns when all have exited.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	m.mu.Unlock()

	var wg sync.WaitGroup
	for _, e := range m.entries {
		e.mu.Lock()
		p := e.proc
		e.stopping = true
		e.state = StateStopped
		e.proc = nil
		e.mu.Unlock()
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop(ctx) }()
	}
	wg.Wait()
	m.wg.Wait()
	return nil
}
