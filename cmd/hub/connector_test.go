package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/sdk/conformance"
)

// TestConnectorTestEveryBuiltin runs hub connector test on every built-in
// connector: the one command CI relies on for the catalogue.
func TestConnectorTestEveryBuiltin(t *testing.T) {
	r := hub(t, "", "connector", "test", "-o", "json")
	var reports []conformance.Report
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
		t.Fatalf("connector test -o json: %v\n%s\n%s", err, r.stdout, r.err)
	}
	if len(reports) != len(builtinIDs()) {
		t.Fatalf("%d reports for %d built-in connectors", len(reports), len(builtinIDs()))
	}
	for _, rep := range reports {
		for _, p := range rep.Problems() {
			t.Errorf("%s: %s", rep.Connector, p)
		}
	}
	if r.code != 0 && !t.Failed() {
		t.Fatalf("exit %d with no problem reported: %s", r.code, r.err)
	}
}

// TestConnectorNewPassesConnectorTest writes a folder with the scaffold for
// every protocol and checks it passes hub connector test as written.
func TestConnectorNewPassesConnectorTest(t *testing.T) {
	for _, c := range []struct{ protocol, auth string }{
		{"rest_json", "header:X-Api-Key"},
		{"rest_json", "oauth2:/oauth/token"},
		{"rest_json", "basic"},
		{"xml_http", "query:apikey"},
		{"soap", "wsse"},
		{"sftp_csv", "none"},
	} {
		t.Run(c.protocol+"_"+strings.ReplaceAll(c.auth, "/", "_"), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "acme_express")
			r := hub(t, "", "connector", "new", "acme_express", "--protocol", c.protocol, "--auth", c.auth, "--dir", dir)
			if r.code != 0 {
				t.Fatalf("connector new: %d %s", r.code, r.err)
			}
			r = hub(t, "", "connector", "test", dir)
			if r.code != 0 {
				t.Fatalf("connector test on a fresh scaffold: %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			if !strings.Contains(r.stdout, "are samples written by hub connector new") {
				t.Errorf("the samples are not reported: %s", r.stdout)
			}
		})
	}
	if r := hub(t, "", "connector", "new", "Bad-Id"); r.code == 0 || !strings.Contains(r.err, "lower snake case") {
		t.Errorf("a bad id: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "connector", "new", "x_carrier", "--protocol", "grpc"); r.code == 0 || !strings.Contains(r.err, "rest_json") {
		t.Errorf("a bad protocol: %d %s", r.code, r.err)
	}
}

// TestConnectorTestReportsProblems breaks a scaffolded folder in several ways
// and checks each is named.
func TestConnectorTestReportsProblems(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme_express")
	if r := hub(t, "", "connector", "new", "acme_express", "--dir", dir); r.code != 0 {
		t.Fatal(r.err)
	}
	edit := func(file, old, new string) {
		p := filepath.Join(dir, file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q", file, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("mappings/status.csv", "DELIVERED,delivered,delivered", "DELIVERED,in_transit,delivered")
	edit("mappings/status.csv", "PICKED_UP,in_transit,picked_up", "PICKED_UP,teleported,picked_up")
	edit("manifest.yaml", "    confidence: low", "    confidence: maybe")
	edit("testdata/exchanges/cancel-shipment-cancelled.yaml", `{"tracking_number": "EX100200300"}`, `{"tracking_number": ""}`)
	r := hub(t, "", "connector", "test", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, r.stdout)
	}
	for _, want := range []string{"FAIL acme_express", "confidence \"maybe\"", "track-delivered: the canonical answer differs", "track.delivered",
		"cancel-shipment-cancelled: the canonical request is one the hub refuses", "does not fit the track response schema"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}
	edit("manifest.yaml", "operations:", "operationz:")
	r = hub(t, "", "connector", "test", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "manifest.yaml:") {
		t.Fatalf("a broken manifest: %d\n%s", r.code, r.stdout)
	}
}

// TestConnectorsDirThroughServe puts a scaffolded folder outside the
// repository, names it with --connectors-dir, and tracks a shipment through
// hub serve against hub simulate's generic simulator.
func TestConnectorsDirThroughServe(t *testing.T) {
	root := t.TempDir()
	connDir := filepath.Join(root, "connectors")
	folder := filepath.Join(connDir, "acme_express")
	if r := hub(t, "", "connector", "new", "acme_express", "--dir", folder, "--ops", "track"); r.code != 0 {
		t.Fatal(r.err)
	}
	// A broken folder beside it is refused without stopping the good one.
	if err := os.MkdirAll(filepath.Join(connDir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(connDir, "broken", "manifest.yaml"), []byte("id: broken\nname: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sim, _, err := startSimulator(folder)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	creds, _ := sim.Account()

	dataDir := filepath.Join(root, "data")
	r := hub(t, "", "tenants", "create", "acme", "--data-dir", dataDir, "-o", "json")
	var tc api.TenantCreated
	if err := json.Unmarshal([]byte(r.stdout), &tc); err != nil {
		t.Fatalf("tenants create: %v %s", err, r.err)
	}
	r = hub(t, "", "accounts", "create", "--data-dir", dataDir, "--connectors-dir", connDir, "--tenant", tc.Tenant.ID,
		"--connector", "acme_express", "--name", "sim", "--environment", "sandbox", "--base-url", sim.URL(),
		"--credential", "api_key="+creds["api_key"])
	if r.code != 0 || strings.Contains(r.err, "not checked") {
		t.Fatalf("accounts create: %d %s", r.code, r.err)
	}
	h := startHub(t, dataDir, "--connectors-dir", connDir)
	client := []string{"--hub-url", h.url, "--api-key", tc.APIKey.Secret}
	r = hub(t, "", append([]string{"connectors", "list"}, client...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "acme_express") {
		t.Fatalf("connectors list: %d %s %s", r.code, r.stdout, r.err)
	}
	r = hub(t, `{"tracking_numbers":["EX100200300"]}`, append([]string{"invoke", "acme_express", "track"}, client...)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"status": "delivered"`) {
		t.Fatalf("track through hub serve: %d %s %s\n%s", r.code, r.stdout, r.err, h.logs.String())
	}
	if !strings.Contains(h.logs.String(), "refusing a connector folder") || !strings.Contains(h.logs.String(), "broken") {
		t.Errorf("the broken folder was not reported:\n%s", h.logs.String())
	}
}
