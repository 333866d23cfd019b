package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/plugins"
)

// TestConnectorHealthReportsGaveUp is issue 13's crash loop through `hub
// serve` and a real connector process: with plugins.max_crashes 2, the
// Delhivery process killed once is crashed (degraded) and restarted on the
// next call; killed again, the hub gives it up. connector-health then reports
// it down (exit 2) with state gave_up and the last exit reason, in the table
// and in JSON, and a call fails at once with carrier_unavailable saying so.
func TestConnectorHealthReportsGaveUp(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	t.Cleanup(sim.Close)
	dir := t.TempDir()
	tc := newTenant(t, dir)
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "sim", "--environment", "sandbox", "--base-url", sim.URL(), "--credential", "api_token="+sim.Token(),
		"--setting", "pickup_location=WH"); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("plugins:\n  max_crashes: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)
	key := tc.APIKey.Secret
	url := h.url + "/v1/connectors/delhivery_express/track"

	// kill starts the process with a call if needed, SIGKILLs it and waits
	// until connector-health shows the state the crash leads to.
	kill := func(want plugins.State) connectorVerdict {
		t.Helper()
		if code, body := post(t, url, key, trackBody); code != http.StatusOK {
			t.Fatalf("track: %d %s", code, body)
		}
		pid, _ := connectorPID(t, h.url, "delhivery_express")
		if pid == 0 {
			t.Fatal("no Delhivery process after a call")
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, rep := connectorPID(t, h.url, "delhivery_express")
			for _, c := range rep.Connectors {
				if c.ID == "delhivery_express" && c.State == want {
					return c
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("connector not %s 20 s after SIGKILL: %+v\n%s", want, rep, h.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if c := kill(plugins.StateCrashed); c.Health != degraded {
		t.Fatalf("after one crash: %+v, want degraded", c)
	}
	c := kill(plugins.StateGaveUp)
	if c.Health != down || c.Restarts != 2 || !strings.Contains(c.LastError, "exited unexpectedly") || !strings.Contains(c.LastError, "killed") {
		t.Fatalf("after two crashes: %+v, want down with the last exit reason", c)
	}

	// The table: state gave_up, health down, the last error on its own line.
	r := hub(t, "", "connector-health", "--hub-url", h.url)
	if r.code != 2 || !strings.Contains(r.stdout, "overall: down") ||
		!strings.Contains(r.stdout, "delhivery_express last error: process exited unexpectedly: signal: killed") {
		t.Fatalf("connector-health exited %d:\n%s%s", r.code, r.stdout, r.err)
	}
	row := ""
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "delhivery_express ") && !strings.Contains(line, "last error") {
			row = line
		}
	}
	if f := strings.Fields(row); len(f) < 3 || f[1] != down || f[2] != string(plugins.StateGaveUp) {
		t.Fatalf("table row %q: want health down and state gave_up\n%s", row, r.stdout)
	}
	// JSON: the same, for monitors.
	j := hub(t, "", "connector-health", "--hub-url", h.url, "-o", "json")
	var rep healthReport
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || j.code != 2 || rep.Status != down {
		t.Fatalf("connector-health -o json exited %d: %v\n%s", j.code, err, j.stdout)
	}
	var raw struct {
		Connectors []map[string]any `json:"connectors"`
	}
	_ = json.Unmarshal([]byte(j.stdout), &raw)
	found := false
	for _, m := range raw.Connectors {
		if m["id"] == "delhivery_express" {
			found = true
			if m["state"] != "gave_up" || m["health"] != "down" || !strings.Contains(m["last_error"].(string), "signal: killed") {
				t.Errorf("JSON entry %v: want state gave_up, health down and the last exit reason", m)
			}
		}
	}
	if !found {
		t.Fatalf("JSON has no delhivery_express: %s", j.stdout)
	}

	// A call now fails at once, naming the give-up, and starts nothing.
	code, body := post(t, url, key, trackBody)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "carrier_unavailable") || !strings.Contains(string(body), "gave up") {
		t.Fatalf("a call after giving up: %d %s", code, body)
	}
	if pid, _ := connectorPID(t, h.url, "delhivery_express"); pid != 0 {
		t.Fatalf("a call after giving up started process %d", pid)
	}
}

// TestConnectorHealthGaveUpTable checks the gave_up row against a fake hub:
// down (exit 2) with the state and the last error, in text and JSON, within
// 80 columns.
func TestConnectorHealthGaveUpTable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"id":"bluedart_soap","state":"running","pid":9,"restarts":0,"uptime_seconds":60},` +
			`{"id":"delhivery_express","state":"gave_up","restarts":10,"last_error":"process exited unexpectedly: exit status 3","uptime_seconds":0}]`))
	}))
	defer srv.Close()
	r := hub(t, "", "connector-health", "--hub-url", srv.URL)
	if r.code != 2 || !strings.Contains(r.stdout, "delhivery_express last error: process exited unexpectedly: exit status 3") ||
		!strings.Contains(r.stdout, "overall: down") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "delhivery_express" && f[1] != "last" && (f[1] != down || f[2] != "gave_up") {
			t.Errorf("row %q: want down gave_up", line)
		}
		if len([]rune(line)) > 80 {
			t.Errorf("line wider than 80 columns: %q", line)
		}
	}
	j := hub(t, "", "connector-health", "--hub-url", srv.URL, "-o", "json")
	var rep healthReport
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || j.code != 2 || rep.Status != down {
		t.Fatalf("json: exit %d %v %s", j.code, err, j.stdout)
	}
	for _, c := range rep.Connectors {
		if c.ID == "delhivery_express" && (c.Health != down || c.State != plugins.StateGaveUp || c.LastError != "process exited unexpectedly: exit status 3") {
			t.Errorf("json entry %+v", c)
		}
	}
}
