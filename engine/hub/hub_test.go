package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/internal/syncbuf"
)

// testConfig is the default configuration on a temporary SQLite data
// directory, listening on a free loopback port.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	t.Setenv("HUB_SECRET_KEY", "") // the key file in the data directory, not the developer's key
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Store.DataDir = t.TempDir()
	cfg.Server.ShutdownGrace = 5 * time.Second
	return cfg
}

// TestRunServesUntilCancelled runs New and Run with no connectors, checks the
// readiness probe and the start log line, then cancels and expects a clean
// shutdown.
func TestRunServesUntilCancelled(t *testing.T) {
	cfg := testConfig(t)
	logs := &syncbuf.Buffer{}
	h, err := New(t.Context(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Version: "v0.0.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Addr() != nil || h.URL() != "" {
		t.Fatalf("an address before Run: %v %q", h.Addr(), h.URL())
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Listening():
	case err := <-done:
		t.Fatalf("Run returned before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not listen:\n%s", logs)
	}

	resp, err := http.Get(h.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz = %d", resp.StatusCode)
	}
	resp, err = http.Get(h.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(cfg.Store.DataDir, "plugins")); err != nil {
		t.Fatalf("the default plugin directory: %v", err)
	}
	if info, err := os.Stat(filepath.Join(cfg.Store.DataDir, KeyFileName)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v %v", info, err)
	}
	// Tests and scripts find the hub by this line.
	var started struct {
		URL        string `json:"url"`
		Version    string `json:"version"`
		Connectors *int   `json:"connectors"`
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		var entry struct{ Msg string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "hub listening" {
			_ = json.Unmarshal([]byte(line), &started)
		}
	}
	if started.URL != h.URL() || started.Version != "v0.0.0-test" || started.Connectors == nil || *started.Connectors != 0 {
		t.Fatalf("hub listening line: %+v, want url %s\n%s", started, h.URL(), logs)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return after cancel:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "hub shutting down") {
		t.Fatalf("no shutdown line:\n%s", logs)
	}
	if _, err := http.Get(h.URL() + "/readyz"); err == nil {
		t.Fatal("still serving after Run returned")
	}
	if err := h.Close(); err != nil {
		t.Fatalf("Close after Run = %v", err)
	}
	if err := h.Run(t.Context()); err == nil {
		t.Fatal("a second Run succeeded")
	}
}

// TestCloseWithoutRun releases a hub that never ran: the store is closed, so
// another hub can open the same data directory and serve.
func TestCloseWithoutRun(t *testing.T) {
	cfg := testConfig(t)
	h, err := New(t.Context(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The handler answers without Run, for tests that serve it themselves.
	srv := httptest.NewServer(h.Handler())
	resp, err := http.Get(srv.URL + "/healthz")
	srv.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz = %d", resp.StatusCode)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := h.Run(t.Context()); err == nil {
		t.Fatal("Run after Close succeeded")
	}
	again, err := New(t.Context(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNewRefusesAndReleases checks that a configuration error is reported
// before anything opens, and that a failure partway leaves nothing behind.
func TestNewRefusesAndReleases(t *testing.T) {
	cfg := testConfig(t)
	cfg.Plugins.MaxProcesses = 0
	if _, err := New(t.Context(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "plugins.max_processes") {
		t.Fatalf("New with a bad setting = %v", err)
	}
	if entries, _ := os.ReadDir(cfg.Store.DataDir); len(entries) != 0 {
		t.Fatalf("a refused configuration touched the data directory: %v", entries)
	}

	cfg = testConfig(t)
	blocker := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Plugins.Dir = filepath.Join(blocker, "plugins") // cannot be created: the store opens, then New fails
	if _, err := New(t.Context(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "creating plugin directory") {
		t.Fatalf("New with an impossible plugin directory = %v", err)
	}
	cfg.Plugins.Dir = ""
	h, err := New(t.Context(), cfg, Options{}) // the store was released
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRunReportsAListenError checks that Run fails, releasing the hub, when
// its address is taken.
func TestRunReportsAListenError(t *testing.T) {
	taken := httptest.NewServer(http.NotFoundHandler())
	defer taken.Close()
	cfg := testConfig(t)
	cfg.Server.Listen = strings.TrimPrefix(taken.URL, "http://")
	h, err := New(t.Context(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "listening") {
		t.Fatalf("Run on a taken address = %v", err)
	}
	if h.Addr() != nil {
		t.Fatalf("an address after a failed listen: %v", h.Addr())
	}
}

// TestOpenStoreBootstrapsTheKey checks the key file is created once, private,
// in a private data directory, and reused on the next open.
func TestOpenStoreBootstrapsTheKey(t *testing.T) {
	t.Setenv("HUB_SECRET_KEY", "")
	dir := filepath.Join(t.TempDir(), "data")
	st, err := OpenStore(t.Context(), config.Store{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := st.CreateTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := st.CreateAPIKey(t.Context(), tenant.ID, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v %v", info, err)
	}
	key, err := os.ReadFile(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	st, err = OpenStore(t.Context(), config.Store{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if k, err := st.Authenticate(t.Context(), secret); err != nil || k.TenantID != tenant.ID {
		t.Fatalf("reopened store: %+v %v", k, err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, KeyFileName)); !bytes.Equal(key, again) {
		t.Fatal("the key file changed on the second open")
	}
}
