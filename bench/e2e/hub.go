package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// buildHub compiles ./cmd/hub of the main module (found through the bench
// module's replace directive) into dir and returns the binary's path.
func buildHub(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/carrierhub/hub").Output()
	src := strings.TrimSpace(string(out))
	if err != nil || src == "" {
		return "", fmt.Errorf("locating the hub's module (run from bench/): %v", err)
	}
	bin := filepath.Join(dir, "hub")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hub")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the hub in %s: %w\n%s", src, err, out)
	}
	return bin, nil
}

// egressAllow lets the hub's egress guard admit the carrier simulator, which
// listens on loopback.
const egressAllow = "HUB_EGRESS_ALLOW=127.0.0.0/8"

// hubSetup is a data directory, and the Postgres database when not empty,
// with a tenant and an account on the carrier.
type hubSetup struct {
	dataDir     string
	postgresURL string
	apiKey      string
}

// storeEnv is the environment that points the hub's CLI and `hub serve` at
// their store: the Postgres database when postgresURL is set, else (empty)
// the embedded SQLite store in the data directory. The URL goes through the
// environment, not the command line, where any process could read it.
func storeEnv(postgresURL string) string { return "HUB_POSTGRES_URL=" + postgresURL }

// setupHub creates tenant acme and a Delhivery account on the carrier with the
// CLI, as an operator would, in the store postgresURL names (empty: SQLite in
// dataDir). dataDir also holds the credentials key (secret.key), which `hub
// serve` on the same directory then reads; a Postgres database must be new,
// since tenant acme can be created only once.
func setupHub(ctx context.Context, bin, dataDir, postgresURL, carrierURL, token string) (hubSetup, error) {
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), storeEnv(postgresURL), egressAllow)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("hub %s: %w: %s", args[0]+" "+args[1], err, stderr.String())
		}
		return out, nil
	}
	out, err := run("tenants", "create", "acme", "--data-dir", dataDir, "-o", "json")
	if err != nil {
		return hubSetup{}, err
	}
	var tc struct {
		Tenant struct {
			ID string `json:"id"`
		} `json:"tenant"`
		APIKey struct {
			Secret string `json:"secret"`
		} `json:"api_key"`
	}
	if err := json.Unmarshal(out, &tc); err != nil || tc.Tenant.ID == "" || tc.APIKey.Secret == "" {
		return hubSetup{}, fmt.Errorf("hub tenants create: unexpected answer (%v)", err)
	}
	if _, err := run("accounts", "create", "--data-dir", dataDir, "--tenant", tc.Tenant.ID, "--connector", connectorID,
		"--name", "e2e", "--environment", "sandbox", "--base-url", carrierURL, "--credential", "api_token="+token,
		"--setting", "pickup_location="+pickupLocation, "-o", "json"); err != nil {
		return hubSetup{}, err
	}
	return hubSetup{dataDir: dataDir, postgresURL: postgresURL, apiKey: tc.APIKey.Secret}, nil
}

// defaultHubConfig raises the Delhivery connector's bulkhead above its defaults
// (64 calls in flight, 256 queued): at 2,500 requests/s and a 50 ms carrier
// about 125 calls are in flight, and the default would turn the benchmark into
// a measurement of the queue. Everything else is the hub's default.
const defaultHubConfig = `# Written by bench/e2e: the bulkhead is sized for the benchmark's load.
resilience:
  connectors:
    delhivery_express:
      max_in_flight: 4096
      max_queued: 16384
`

// hubPprofFlag is the serve flag the harness expects a pprof listener under.
const hubPprofFlag = "--debug-listen"

// startHub runs `hub serve` on a free loopback port, on the store s was set up
// in. pprofAddr, when not empty, is passed as --debug-listen (only when the
// binary has that flag).
func startHub(ctx context.Context, bin string, s hubSetup, configFile, pprofAddr string, env []string) (*child, string, error) {
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", s.dataDir, "--config", configFile}
	if s.postgresURL == "" {
		args = append(args, "--postgres-url=") // SQLite, whatever the config file says
	}
	if pprofAddr != "" {
		args = append(args, hubPprofFlag, pprofAddr)
	}
	var url string
	c, err := startChild(ctx, "hub", bin, args, append(env, "HUB_LOG_FORMAT=json", storeEnv(s.postgresURL), egressAllow), func(line string) bool {
		var entry struct{ Msg, URL string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "hub listening" && entry.URL != "" {
			url = entry.URL
			return true
		}
		return false
	})
	if err != nil {
		return nil, "", err
	}
	return c, url, nil
}

// hubHasPprofFlag reports whether `hub serve --help` lists --debug-listen.
func hubHasPprofFlag(ctx context.Context, bin string) bool {
	out, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput()
	return bytes.Contains(out, []byte(hubPprofFlag))
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// warmHub makes one track call through the hub, which starts the connector
// process, and returns the connector's pid (a child of the hub).
func warmHub(ctx context.Context, hubURL, apiKey, waybill string, hubPID int) (int, error) {
	client := &http.Client{Timeout: 60 * time.Second}
	body := `{"tracking_numbers":["` + waybill + `"]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hubURL+"/v1/connectors/"+connectorID+"/track", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("first track call through the hub: %w", err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("first track call through the hub answered %d: %.500s", resp.StatusCode, out)
	}
	for range 50 {
		if kids := childPIDs(hubPID); len(kids) > 0 {
			return kids[0], nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, errors.New("the hub has no child process after a track call: no connector process to measure")
}

// fetchProfile saves GET url to path.
func fetchProfile(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: status %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return f.Close()
}
