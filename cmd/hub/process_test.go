package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/engine/api"
)

// These tests run `hub serve` as its own process with real connector processes
// under it, and kill things the way production does.

// hubWithDelhivery prepares a data directory with a tenant and a Delhivery
// account on the simulator, starts the hub on it, and returns the hub and the
// tenant's API key.
func hubWithDelhivery(t *testing.T, sim *simulator.Simulator) (*hubProcess, string) {
	t.Helper()
	dir := t.TempDir()
	tc := newTenant(t, dir)
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
		"--name", "sim", "--environment", "sandbox", "--base-url", sim.URL(), "--credential", "api_token="+sim.Token(),
		"--setting", "pickup_location=WH"); r.code != 0 {
		t.Fatalf("accounts create: %s", r.err)
	}
	return startHub(t, dir), tc.APIKey.Secret
}

// newTenant creates tenant "acme" in the data directory with the CLI, as an
// operator would, and returns it with its first API key.
func newTenant(t *testing.T, dir string) api.TenantCreated {
	t.Helper()
	r := hub(t, "", "tenants", "create", "acme", "--data-dir", dir, "-o", "json")
	var tc api.TenantCreated
	if err := json.Unmarshal([]byte(r.stdout), &tc); err != nil {
		t.Fatalf("tenants create: %v %s", err, r.err)
	}
	return tc
}

// post calls the hub's API and returns the status and body.
func post(t *testing.T, url, key, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// connectorPID asks connector-health, as an operator would, for a connector's pid.
func connectorPID(t *testing.T, hubURL, id string) (int, healthReport) {
	t.Helper()
	r := hub(t, "", "connector-health", "--hub-url", hubURL, "-o", "json")
	var rep healthReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("connector-health: %v %q %s", err, r.stdout, r.err)
	}
	for _, c := range rep.Connectors {
		if c.ID == id {
			return c.PID, rep
		}
	}
	return 0, rep
}

// running reports whether pid runs; an exited process not yet reaped by
// whoever adopted it (a zombie) counts as gone.
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

const trackBody = `{"tracking_numbers":["1234567890"]}`

func TestHubKilledWithSIGKILLLeavesNoConnectorBehind(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	defer sim.Close()
	h, key := hubWithDelhivery(t, sim)
	if code, body := post(t, h.url+"/v1/connectors/delhivery_express/track", key, trackBody); code != http.StatusOK {
		t.Fatalf("track: %d %s", code, body)
	}
	pid, rep := connectorPID(t, h.url, "delhivery_express")
	if pid == 0 || !running(pid) {
		t.Fatalf("no running Delhivery process: %+v", rep)
	}
	ids := map[string]bool{}
	for _, c := range rep.Connectors {
		ids[c.ID] = true
	}
	if !ids["delhivery_express"] || !ids["bluedart_soap"] {
		t.Fatalf("connector-health lists %v, want both built-in connectors", ids)
	}

	if err := h.cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup runs in the hub
		t.Fatal(err)
	}
	<-h.exited
	deadline := time.Now().Add(5 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("connector %d outlived the SIGKILLed hub by more than 5s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConnectorKilledMidRequest(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	defer sim.Close()
	h, key := hubWithDelhivery(t, sim)
	url := h.url + "/v1/connectors/delhivery_express/track"
	if code, body := post(t, url, key, trackBody); code != http.StatusOK {
		t.Fatalf("track: %d %s", code, body)
	}
	pid, _ := connectorPID(t, h.url, "delhivery_express")

	sim.SetLatency(5 * time.Second)
	type answer struct {
		code int
		body []byte
	}
	done := make(chan answer, 1)
	go func() { c, b := post(t, url, key, trackBody); done <- answer{c, b} }()
	time.Sleep(300 * time.Millisecond) // the call is now waiting on the carrier inside the connector
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := <-done
	var problem struct {
		Code, Source string
		Status       int
	}
	if err := json.Unmarshal(got.body, &problem); err != nil || got.code != http.StatusBadGateway || problem.Code != "internal" || problem.Source != "connector" {
		t.Fatalf("in-flight call got %d %s, want a 502 problem with code internal from the connector", got.code, got.body)
	}

	sim.SetLatency(0)
	if code, body := post(t, url, key, trackBody); code != http.StatusOK {
		t.Fatalf("call after the crash: %d %s", code, body)
	}
	newPID, rep := connectorPID(t, h.url, "delhivery_express")
	if newPID == 0 || newPID == pid {
		t.Fatalf("connector not restarted: pid %d (was %d), %+v", newPID, pid, rep)
	}
	if r := hub(t, "", "connector-health", "--hub-url", h.url); r.code != 1 {
		t.Errorf("connector-health after a crash exited %d, want 1 (degraded):\n%s", r.code, r.stdout)
	}
	if !running(newPID) {
		t.Fatal("restarted connector is not running")
	}
}

func TestFiftyConcurrentCallsThroughTheAPI(t *testing.T) {
	t.Parallel()
	sim := simulator.New()
	defer sim.Close()
	h, key := hubWithDelhivery(t, sim)
	url := h.url + "/v1/connectors/delhivery_express/track"
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := post(t, url, key, trackBody)
			if code != http.StatusOK || !bytes.Contains(body, []byte(`"results"`)) {
				mu.Lock()
				failures++
				mu.Unlock()
				t.Errorf("concurrent call: %d %s", code, body)
			}
		}()
	}
	wg.Wait()
	if failures == 0 {
		if pid, rep := connectorPID(t, h.url, "delhivery_express"); pid == 0 || rep.Connectors == nil {
			t.Fatalf("no connector process after 50 calls: %+v", rep)
		}
	}
}
