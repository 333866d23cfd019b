package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/internal/syncbuf"
)

// TestServeEndToEnd runs "hub serve" in-process on a temp SQLite data dir with the
// real plugin manager, which starts the Delhivery connector as a child process of
// this test binary (see TestMain), against the Delhivery simulator.
func TestServeEndToEnd(t *testing.T) {
	sim := simulator.New()
	defer sim.Close()
	dir := t.TempDir()

	r := hub(t, "", "tenants", "create", "e2e", "--data-dir", dir, "-o", "json")
	var tc api.TenantCreated
	if err := json.Unmarshal([]byte(r.stdout), &tc); err != nil {
		t.Fatalf("tenants create: %v %s %s", err, r.stdout, r.err)
	}
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "sim", "--environment", "sandbox", "--base-url", sim.URL(), "--credential", "api_token="+sim.Token(),
		"--setting", "pickup_location=Gurugram WH"); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &syncbuf.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, streams{in: strings.NewReader(""), out: logs, err: logs})
	}()
	hubURL := ""
	for hubURL == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			var entry struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "hub listening" {
				hubURL = entry.URL
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "plugins")); err != nil {
		t.Fatalf("plugin dir not created: %v", err)
	}

	client := []string{"--hub-url", hubURL, "--api-key", tc.APIKey.Secret}
	r = hub(t, "", "connector-health", "--hub-url", hubURL, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"id": "delhivery_express"`) || !strings.Contains(r.stdout, `"state": "idle"`) {
		t.Fatalf("connector-health before use: %d %s %s", r.code, r.stdout, r.err)
	}

	shipment := `{
		"reference": "E2E-1",
		"ship_from": {"name": "Dock 3", "phone": "9810000001", "lines": ["Plot 7, Udyog Vihar"], "city": "Gurugram", "state": "Haryana", "postal_code": "122016", "country_code": "IN"},
		"ship_to": {"name": "R. Iyer", "phone": "9876500000", "lines": ["12 Residency Road"], "city": "Bengaluru", "state": "Karnataka", "postal_code": "560025", "country_code": "IN"},
		"parcels": [{"weight": {"value": 0.8, "unit": "kg"}, "items": [{"description": "Books", "quantity": 3}]}],
		"payment_mode": "prepaid"
	}`
	r = hub(t, shipment, append([]string{"invoke", "delhivery_express", "create_shipment", "--idempotency-key", "E2E-1"}, client...)...)
	if r.code != 0 {
		t.Fatalf("create_shipment: %d %s\n%s", r.code, r.err, logs.String())
	}
	var created struct {
		TrackingNumber string `json:"tracking_number"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.TrackingNumber == "" {
		t.Fatalf("create_shipment answer: %v %s", err, r.stdout)
	}
	// The same create again is answered from the stored answer (written in
	// the booking's transaction), byte for byte, without a second booking.
	again := hub(t, shipment, append([]string{"invoke", "delhivery_express", "create_shipment", "--idempotency-key", "E2E-1"}, client...)...)
	if again.code != 0 || again.stdout != r.stdout {
		t.Fatalf("create_shipment replayed: %d %q, want %q\n%s", again.code, again.stdout, r.stdout, again.err)
	}
	r = hub(t, `{"tracking_numbers":["`+created.TrackingNumber+`"]}`, append([]string{"invoke", "delhivery_express", "track"}, client...)...)
	if r.code != 0 || !strings.Contains(r.stdout, created.TrackingNumber) {
		t.Fatalf("track: %d %s %s", r.code, r.stdout, r.err)
	}
	// The validator runs before the connector: a bad PIN code is a 422 naming the field.
	r = hub(t, strings.Replace(shipment, "560025", "060025", 1), append([]string{"invoke", "delhivery_express", "create_shipment"}, client...)...)
	if r.code != 1 || !strings.Contains(r.err, "422 invalid_request") || !strings.Contains(r.err, "/ship_to/postal_code") {
		t.Fatalf("invalid PIN: %d %s", r.code, r.err)
	}

	r = hub(t, "", "connector-health", "--hub-url", hubURL, "-o", "json")
	var rep healthReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || len(rep.Connectors) == 0 {
		t.Fatalf("connector-health after use: %d %v %s", r.code, err, r.stdout)
	}
	pid := 0
	for _, c := range rep.Connectors {
		if c.ID == "delhivery_express" {
			pid = c.PID
			if c.State != "running" || pid == 0 {
				t.Fatalf("delhivery after use: %+v", c)
			}
		}
	}
	r = hub(t, "", append([]string{"connectors", "list"}, client...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "delhivery_express") {
		t.Fatalf("connectors list: %d %s %s", r.code, r.stdout, r.err)
	}
	if resp, err := http.Get(hubURL + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Shutdown stops the connector process with the hub.
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("connector process %d survived the hub: %v", pid, err)
	}
	if strings.Contains(logs.String(), sim.Token()) || strings.Contains(logs.String(), tc.APIKey.Secret) {
		t.Fatal("a secret reached the logs")
	}
}

// TestServeStopsOnSIGTERM runs "hub serve" as its own process, starts a connector
// process through it, sends SIGTERM and checks both exit.
func TestServeStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	defer sim.Close()
	h, key := hubWithDelhivery(t, sim)
	cmd, exited, logs, hubURL := h.cmd, h.exited, h.logs, h.url
	r := hub(t, `{"tracking_numbers":["1234567890"]}`, "invoke", "delhivery_express", "track", "--hub-url", hubURL, "--api-key", key)
	if r.code != 0 {
		t.Fatalf("track: %d %s %s", r.code, r.stdout, r.err)
	}
	r = hub(t, "", "connector-health", "--hub-url", hubURL, "-o", "json")
	var rep healthReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, c := range rep.Connectors {
		if c.ID == "delhivery_express" {
			pid = c.PID
		}
	}
	if pid == 0 {
		t.Fatalf("no running connector process: %s", r.stdout)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve ignored SIGTERM")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("connector process %d survived the hub: %v", pid, err)
	}
	if !strings.Contains(logs.String(), "hub shutting down") {
		t.Fatalf("no shutdown log:\n%s", logs.String())
	}
}

// hubProcess is `hub serve` running as its own process (this test binary).
type hubProcess struct {
	cmd    *exec.Cmd
	exited chan error
	logs   *syncbuf.Buffer
	url    string
}

// startHub runs `hub serve` on a free loopback port over the data directory and
// waits until it listens. The process is killed when the test ends.
func startHub(t testing.TB, dir string, extra ...string) *hubProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &hubProcess{exited: make(chan error, 1), logs: &syncbuf.Buffer{}}
	h.cmd = exec.Command(exe, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, extra...)...)
	h.cmd.Env = append(os.Environ(), "HUB_TEST_RUN_MAIN=1")
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	dieWithTest(h.cmd)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.exited <- h.cmd.Wait() }()
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for h.url == "" {
		select {
		case err := <-h.exited:
			t.Fatalf("serve exited: %v\n%s", err, h.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start listening:\n%s", h.logs.String())
		}
		for _, line := range strings.Split(h.logs.String(), "\n") {
			var entry struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "hub listening" {
				h.url = entry.URL
			}
		}
	}
	return h
}

// TestServeFlagsSetSettings checks that every flag serve overlays on the
// configuration exists and names a setting, and that a flag's value goes
// through the configuration's validation.
func TestServeFlagsSetSettings(t *testing.T) {
	cmd := serveCmd()
	set := map[string]string{}
	for name, key := range serveSettings {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			f = cmd.PersistentFlags().Lookup(name)
		}
		if f == nil {
			t.Errorf("serveSettings names --%s, which serve does not declare", name)
			continue
		}
		set[key] = f.DefValue
	}
	// Defaults of the flags are not all valid values (0 processes); that only the
	// keys are known is checked here, with values that are.
	set["plugins.max_processes"], set["plugins.idle_timeout"], set["log.level"], set["server.listen"] = "4", "1m0s", "warn", "127.0.0.1:0"
	cfg, err := config.Default().Overlay(set)
	if err != nil {
		t.Fatalf("serve's flags do not all name settings: %v", err)
	}
	if cfg.Plugins.MaxProcesses != 4 || cfg.Plugins.IdleTimeout != time.Minute || cfg.Log.Level != "warn" {
		t.Fatalf("overlaid: %+v", cfg)
	}
	dir := t.TempDir()
	if r := hub(t, "", "serve", "--data-dir", dir, "--max-processes", "0"); r.code != 1 || !strings.Contains(r.err, "plugins.max_processes: must be at least 1") {
		t.Fatalf("serve --max-processes 0: %d %s", r.code, r.err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a refused flag touched the data directory: %v", entries)
	}
}
