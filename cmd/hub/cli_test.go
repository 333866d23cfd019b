package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/internal/syncbuf"
	"github.com/carrierhub/hub/sdk"
)

// TestMain lets the test binary stand in for the hub binary: the plugin manager
// re-executes os.Executable() (this binary) as "connector-process ID", and then
// it runs main instead of the tests; so it does with HUB_TEST_RUN_MAIN=1, for
// tests that need the hub as a separate process. With HUB_TEST_KAFKA_BROKER=1
// it is a Kafka broker instead (kafkabroker_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(kafkaBrokerEnv) == "1" {
		runKafkaBroker()
		return
	}
	if (len(os.Args) >= 3 && os.Args[1] == "connector-process") || os.Getenv("HUB_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	// The CLI reads HUB_POSTGRES_URL (CI sets it for the store's tests); these
	// tests each use their own SQLite data directory instead.
	os.Unsetenv("HUB_POSTGRES_URL")
	// The simulators these tests run carriers on listen on loopback, which the
	// egress guard refuses unless allowed; the hubs they start (in process or
	// as processes, which inherit it) allow it, as a laptop trying the hub does.
	os.Setenv("HUB_EGRESS_ALLOW", "127.0.0.0/8")
	os.Exit(m.Run())
}

type result struct {
	code        int
	stdout, err string
}

// hub runs the CLI in-process.
func hub(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	var out, errb syncbuf.Buffer
	code := run(t.Context(), args, streams{in: strings.NewReader(stdin), out: &out, err: &errb})
	return result{code: code, stdout: out.String(), err: errb.String()}
}

func TestConnectorHealthExitCodes(t *testing.T) {
	t.Parallel()
	started := time.Now().Add(-90 * time.Minute).UTC().Format(time.RFC3339)
	cases := []struct {
		name  string
		procs string
		extra []string
		code  int
		want  string
	}{
		{"all healthy", `[{"id":"a","state":"running","pid":12,"started_at":"` + started + `","uptime_seconds":5400,"restarts":0},{"id":"b","state":"idle","restarts":0,"uptime_seconds":0}]`, nil, 0, "overall: healthy"},
		{"starting counts as healthy", `[{"id":"a","state":"starting","restarts":0,"uptime_seconds":0}]`, nil, 0, "overall: healthy"},
		{"crashed is degraded", `[{"id":"a","state":"running","restarts":0,"uptime_seconds":1},{"id":"b","state":"crashed","restarts":1,"last_error":"exit status 2","uptime_seconds":0}]`, nil, 1, "overall: degraded"},
		{"restarted with an error is degraded", `[{"id":"a","state":"running","pid":3,"restarts":2,"last_error":"signal: killed","uptime_seconds":60}]`, nil, 1, "a last error: signal: killed"},
		{"restarts within the tolerance", `[{"id":"a","state":"running","pid":3,"restarts":2,"last_error":"signal: killed","uptime_seconds":60}]`, []string{"--max-restarts", "2"}, 0, "overall: healthy"},
		{"stopped is down", `[{"id":"a","state":"crashed","restarts":1,"last_error":"x","uptime_seconds":0},{"id":"b","state":"stopped","restarts":0,"uptime_seconds":0}]`, nil, 2, "overall: down"},
		{"unknown state is down", `[{"id":"a","state":"zombie","restarts":0,"uptime_seconds":0}]`, nil, 2, "overall: down"},
		{"garbage answer is down", `<html>`, nil, 2, "overall: down"},
		{"an open breaker is degraded", `[{"id":"delhivery_express_long_name","state":"running","pid":3,"restarts":0,"uptime_seconds":6000,"calls":{"accounts":3,"breakers_open":1,"breakers_half_open":0,"requests":40,"failures":30,"error_rate":0.75,"rejected":12,"in_flight":2,"queued":0,"retries_refused":4}}]`, nil, 1, "1/3 open  75%"},
		{"closed breakers are healthy", `[{"id":"a","state":"running","pid":3,"restarts":0,"uptime_seconds":60,"calls":{"accounts":2,"breakers_open":0,"breakers_half_open":0,"requests":10,"failures":0,"error_rate":0,"rejected":0,"in_flight":0,"queued":0,"retries_refused":0}}]`, nil, 0, "ok        0%"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz/connectors" || r.Header.Get("Authorization") != "" {
					http.Error(w, "unexpected", 400)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(c.procs))
			}))
			defer srv.Close()
			r := hub(t, "", append([]string{"connector-health", "--hub-url", srv.URL}, c.extra...)...)
			if r.code != c.code || !strings.Contains(r.stdout, c.want) {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, c.code, r.stdout, r.err)
			}
			for _, line := range strings.Split(r.stdout, "\n") {
				if len([]rune(line)) > 80 {
					t.Fatalf("line wider than 80 columns: %q", line)
				}
			}
			j := hub(t, "", append([]string{"connector-health", "--hub-url", srv.URL, "-o", "json"}, c.extra...)...)
			var rep healthReport
			if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || j.code != c.code || !strings.Contains(r.stdout, "overall: "+rep.Status) {
				t.Fatalf("json: exit %d %v %s", j.code, err, j.stdout)
			}
		})
	}
	t.Run("uptime column", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`[{"id":"delhivery_express","state":"running","pid":4321,"uptime_seconds":5400,"restarts":0}]`))
		}))
		defer srv.Close()
		r := hub(t, "", "connector-health", "--hub-url", srv.URL)
		if !strings.Contains(r.stdout, "delhivery_express") || !strings.Contains(r.stdout, "1h30m") || !strings.Contains(r.stdout, "4321") {
			t.Fatalf("%s", r.stdout)
		}
	})
	t.Run("hub unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		if r := hub(t, "", "connector-health", "--hub-url", url); r.code != 2 || !strings.Contains(r.err, "calling the hub") {
			t.Fatalf("exit %d %s", r.code, r.err)
		}
	})
	t.Run("hub error status", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
		defer srv.Close()
		if r := hub(t, "", "connector-health", "--hub-url", srv.URL); r.code != 2 {
			t.Fatalf("exit %d", r.code)
		}
	})
}

// testAPI is an httptest hub on a real SQLite store with fake connectors.
type testAPI struct {
	url, secret, tenant, dataDir string
	invoke                       func(ctx context.Context, id string, call *sdk.Call) ([]byte, error)
	mu                           sync.Mutex
}

type fakeManager struct{ a *testAPI }

var fakeManifest = &sdk.Manifest{
	ID: "acme", Name: "Acme", Version: "1.0.0", Category: "carrier_parcel", Docs: "https://example.test",
	Operations: []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}, {Name: sdk.OpCreateShipment}},
	Account:    sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://acme.test"}},
}

func (f fakeManager) Connectors() []plugins.Info {
	return []plugins.Info{{Manifest: fakeManifest, Status: plugins.Status{State: plugins.StateRunning, PID: 77}}}
}
func (f fakeManager) Manifest(id string) (*sdk.Manifest, bool) { return fakeManifest, id == "acme" }
func (f fakeManager) Invoke(ctx context.Context, id string, call *sdk.Call) ([]byte, error) {
	f.a.mu.Lock()
	fn := f.a.invoke
	f.a.mu.Unlock()
	return fn(ctx, id, call)
}
func (f fakeManager) Health(context.Context, string, *sdk.Account) (plugins.Health, error) {
	return plugins.Health{}, nil
}

func (f fakeManager) Exchanges(context.Context, string, string, int) (json.RawMessage, error) {
	return json.RawMessage("[]"), nil
}

func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	a := &testAPI{dataDir: t.TempDir()}
	r := hub(t, "", "tenants", "create", "acme-logistics", "--data-dir", a.dataDir, "-o", "json")
	if r.code != 0 {
		t.Fatalf("tenants create: %d %s", r.code, r.err)
	}
	var tc api.TenantCreated
	if err := json.Unmarshal([]byte(r.stdout), &tc); err != nil {
		t.Fatal(err)
	}
	a.secret, a.tenant = tc.APIKey.Secret, tc.Tenant.ID
	if r := hub(t, "", "accounts", "create", "--data-dir", a.dataDir, "--tenant", a.tenant, "--connector", "acme", "--name", "main", "--environment", "sandbox"); r.code != 0 {
		t.Fatalf("accounts create: %d %s", r.code, r.err)
	}
	sf := storeFlags{dataDir: a.dataDir}
	st, err := sf.open(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mgr := fakeManager{a}
	rt, err := router.New(router.Config{Connectors: mgr, Accounts: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Store: st, Router: rt, Connectors: mgr, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// TestInvokeAndConnectorsViaAPI is not parallel: it sets HUB_API_KEY.
func TestInvokeAndConnectorsViaAPI(t *testing.T) {
	a := newTestAPI(t)
	var got *sdk.Call
	a.invoke = func(_ context.Context, _ string, call *sdk.Call) ([]byte, error) {
		got = call
		return []byte(`{"tracking":[{"tracking_number":"W1","status":"delivered"}]}`), nil
	}
	r := hub(t, `{"tracking_numbers":["W1"]}`, "invoke", "acme", "track", "--hub-url", a.url, "--api-key", a.secret)
	if r.code != 0 || !strings.Contains(r.stdout, `"tracking_number": "W1"`) {
		t.Fatalf("invoke: %d %s %s", r.code, r.stdout, r.err)
	}
	if string(got.Payload) != `{"tracking_numbers":["W1"]}` || got.Account.BaseURL != "https://acme.test" {
		t.Fatalf("call: %+v", got)
	}

	file := filepath.Join(t.TempDir(), "req.json")
	if err := os.WriteFile(file, []byte(`{"reference":"R1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUB_API_KEY", a.secret)
	if r := hub(t, "", "invoke", "acme", "create_shipment", "--file", file, "--idempotency-key", "k-1", "--hub-url", a.url); r.code != 0 || got.IdempotencyKey != "k-1" {
		t.Fatalf("invoke from file: %d %s %+v", r.code, r.err, got)
	}

	a.mu.Lock()
	a.invoke = func(context.Context, string, *sdk.Call) ([]byte, error) {
		return nil, &sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceCarrier, Message: "slow down", CarrierCode: "429", CarrierMessage: "Too many requests", RetryAfter: 30 * time.Second}
	}
	a.mu.Unlock()
	r = hub(t, `{"tracking_numbers":["W1"]}`, "invoke", "acme", "track", "--hub-url", a.url)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.err, "429 rate_limited: slow down") || !strings.Contains(r.err, "carrier said: 429 Too many requests") || !strings.Contains(r.err, "retry after: 30s") {
		t.Fatalf("problem: %d stdout=%q stderr=%s", r.code, r.stdout, r.err)
	}
	r = hub(t, `{"tracking_numbers":`, "invoke", "acme", "track", "--hub-url", a.url)
	if r.code != 1 || !strings.Contains(r.err, "400 invalid_request") {
		t.Fatalf("malformed: %d %s", r.code, r.err)
	}
	r = hub(t, `{}`, "invoke", "nope", "track", "--hub-url", a.url)
	if r.code != 1 || !strings.Contains(r.err, "404 not_found") {
		t.Fatalf("unknown connector: %d %s", r.code, r.err)
	}
	r = hub(t, `{}`, "invoke", "acme", "track", "--hub-url", a.url, "--api-key", "hub_wrong")
	if r.code != 1 || !strings.Contains(r.err, "401 unauthenticated") {
		t.Fatalf("bad key: %d %s", r.code, r.err)
	}

	r = hub(t, "", "connectors", "list", "--hub-url", a.url)
	if r.code != 0 || !strings.Contains(r.stdout, "acme") || !strings.Contains(r.stdout, "running") || !strings.Contains(r.stdout, "track,create_shipment") {
		t.Fatalf("connectors list: %d %s %s", r.code, r.stdout, r.err)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if len([]rune(line)) > 80 {
			t.Fatalf("wider than 80 columns: %q", line)
		}
	}
	r = hub(t, "", "connectors", "list", "--hub-url", a.url, "-o", "json")
	var list []api.ConnectorView
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].PID != 77 {
		t.Fatalf("json: %v %s", err, r.stdout)
	}
}

func TestStoreCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := hub(t, "", "tenants", "create", "northwind", "--data-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "(admin)") || !strings.Contains(r.stdout, "shown only now") {
		t.Fatalf("tenants create: %d %s %s", r.code, r.stdout, r.err)
	}
	var tenantID, secret string
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "tenant" {
			tenantID = f[1]
		}
		if len(f) >= 2 && f[0] == "secret" {
			secret = f[1]
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "secret.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", info, err)
	}
	// The printed secret is a live admin key of the new tenant.
	sf := storeFlags{dataDir: dir}
	st, err := sf.open(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.Authenticate(t.Context(), secret)
	st.Close()
	if err != nil || !k.Admin || k.TenantID != tenantID {
		t.Fatalf("printed key: %+v %v", k, err)
	}
	if r := hub(t, "", "tenants", "create", "northwind", "--data-dir", dir); r.code != 1 || !strings.Contains(r.err, store.ErrConflict.Error()) {
		t.Fatalf("duplicate tenant: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "tenants", "list", "--data-dir", dir); r.code != 0 || !strings.Contains(r.stdout, "northwind") || !strings.Contains(r.stdout, tenantID) {
		t.Fatalf("tenants list: %d %s", r.code, r.stdout)
	}

	r = hub(t, "", "keys", "create", "--data-dir", dir, "--tenant", tenantID, "--name", "erp-sync")
	if r.code != 0 || !strings.Contains(r.stdout, "erp-sync") {
		t.Fatalf("keys create: %d %s %s", r.code, r.stdout, r.err)
	}
	keyID := strings.Fields(r.stdout)[1]
	if r := hub(t, "", "keys", "list", "--data-dir", dir, "--tenant", tenantID); r.code != 0 || !strings.Contains(r.stdout, keyID) || strings.Contains(r.stdout, secret) {
		t.Fatalf("keys list: %d %s", r.code, r.stdout)
	}
	if r := hub(t, "", "keys", "revoke", keyID, "--data-dir", dir, "--tenant", tenantID); r.code != 0 {
		t.Fatalf("keys revoke: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "keys", "revoke", keyID, "--data-dir", dir, "--tenant", "ten_other"); r.code != 1 {
		t.Fatalf("revoking another tenant's key: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "keys", "list", "--data-dir", dir); r.code != 1 || !strings.Contains(r.err, "tenant") {
		t.Fatalf("missing --tenant: %d %s", r.code, r.err)
	}

	// Built-in connectors' account names are checked before anything is stored.
	r = hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tenantID, "--connector", "delhivery_express",
		"--name", "dl", "--environment", "sandbox", "--credential", "password=x")
	if r.code != 1 || !strings.Contains(r.err, "--credential api_token: is required") || !strings.Contains(r.err, "--credential password") || !strings.Contains(r.err, "--setting pickup_location") {
		t.Fatalf("invalid account: %d %s", r.code, r.err)
	}
	credFile := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(credFile, []byte(`{"api_token":"tok-VERY-SECRET"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tenantID, "--connector", "delhivery_express",
		"--name", "dl", "--environment", "sandbox", "--credentials-file", credFile, "--setting", "pickup_location=WH1")
	if r.code != 0 || strings.Contains(r.stdout+r.err, "tok-VERY-SECRET") {
		t.Fatalf("accounts create: %d %s %s", r.code, r.stdout, r.err)
	}
	r = hub(t, "", "accounts", "list", "--data-dir", dir, "--tenant", tenantID, "-o", "json")
	var accts []store.Account
	if err := json.Unmarshal([]byte(r.stdout), &accts); err != nil || len(accts) != 1 || accts[0].Settings["pickup_location"] != "WH1" || strings.Contains(r.stdout, "tok-VERY-SECRET") {
		t.Fatalf("accounts list: %v %s", err, r.stdout)
	}
	if r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tenantID, "--connector", "x", "--name", "n", "--environment", "sandbox", "--setting", "novalue"); r.code != 1 || !strings.Contains(r.err, "want name=value") {
		t.Fatalf("bad --setting: %d %s", r.code, r.err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := hub(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "hub ") || !strings.Contains(r.stdout, "go1.") {
		t.Fatalf("%d %s", r.code, r.stdout)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	if r := hub(t, "", "frobnicate"); r.code != 1 || !strings.Contains(r.err, "unknown command") {
		t.Fatalf("%d %s", r.code, r.err)
	}
}

func TestConfigCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("server:\n  listen: 127.0.0.1:9999\nresilience:\n  connectors:\n    delhivery:\n      timeout: 20s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("server:\n  listen: 127.0.0.1:9999\n  tls: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := hub(t, "", "config", "validate", good); r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("valid file: %d %s%s", r.code, r.stdout, r.err)
	}
	if r := hub(t, "", "config", "validate", bad); r.code != 1 || !strings.Contains(r.err, bad+`:3: unknown key "tls"`) {
		t.Fatalf("unknown key: %d %s", r.code, r.err)
	}
	r := hub(t, "", "config", "show", "--config", good)
	if r.code != 0 || !strings.Contains(r.stdout, "listen: 127.0.0.1:9999") || !strings.Contains(r.stdout, "timeout: 20s") {
		t.Fatalf("show: %d %s%s", r.code, r.stdout, r.err)
	}
	if r := hub(t, "", "config", "reference"); r.code != 0 || !strings.Contains(r.stdout, "`resilience.connectors.<connector>.operations.<operation>.max_attempts`") {
		t.Fatalf("reference: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "serve", "--config", bad); r.code == 0 || !strings.Contains(r.err, `unknown key "tls"`) {
		t.Fatalf("serve with a bad file: %d %s", r.code, r.err)
	}
}

func TestConnectorHealthWatchAndFilter(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"id":"a","state":"running","pid":3,"restarts":0,"uptime_seconds":60},{"id":"b","state":"crashed","restarts":1,"last_error":"exit 2","uptime_seconds":0}]`))
	}))
	defer srv.Close()
	if r := hub(t, "", "connector-health", "--hub-url", srv.URL, "--connector", "a"); r.code != 0 || strings.Contains(r.stdout, "\nb ") {
		t.Fatalf("--connector a: %d\n%s", r.code, r.stdout)
	}
	if r := hub(t, "", "connector-health", "--hub-url", srv.URL, "--connector", "b"); r.code != 1 {
		t.Fatalf("--connector b: %d\n%s", r.code, r.stdout)
	}
	if r := hub(t, "", "connector-health", "--hub-url", srv.URL, "--connector", "zzz"); r.code != 2 || !strings.Contains(r.err, `no connector "zzz"`) {
		t.Fatalf("--connector zzz: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "connector-health", "--hub-url", srv.URL, "--probe"); r.code == 0 || !strings.Contains(r.err, "--probe needs an API key") {
		t.Fatalf("--probe without a key: %d %s", r.code, r.err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"connector-health", "--hub-url", srv.URL, "--watch", "--interval", "10ms"}, streams{in: strings.NewReader(""), out: &out, err: &errb})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), "overall: degraded") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("watch did not redraw:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("watch ended with %d: %s", code, errb.String())
	}
}
