package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
)

// TestSecretsNeverLeak drives the hub through successes and failures with
// distinctive secrets everywhere one can be given (account credentials, a
// wrong credential, the tenant's API key, webhook secrets before and after
// rotation, a Postgres password and an OTLP header in the configuration) and
// then searches everything the hub says for them: its log (debug level, the
// connector processes' forwarded output included), every API answer (errors
// and the webhook attempt log), /metrics, `hub config show`, and CLI errors.
// NIC session keys are covered by sdk/transport/nic's own tests.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const (
		goodToken = "tok-GOOD-7c1e0b5f2a9d4e33"
		badToken  = "tok-WRONG-91ab22cd33ef44aa"
		pgPass    = "pg-PASS-5550dd1e"
		otlpKey   = "otlp-KEY-0a0b0c0d"
		whSecret  = "whsec_c2VjcmV0LWZvci10aGUtbGVhay10ZXN0LTEyMzQ="
	)
	sim := simulator.New(simulator.WithToken(goodToken))
	t.Cleanup(sim.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A receiver that echoes what it got, the way error pages sometimes do.
		b, _ := io.ReadAll(r.Body)
		http.Error(w, fmt.Sprintf("nope: %s %v", b, r.Header), http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)

	dir := t.TempDir()
	tc := newTenant(t, dir)
	key := tc.APIKey.Secret
	accounts := map[string]string{}
	for name, token := range map[string]string{"good": goodToken, "bad": badToken} {
		r := hub(t, "", "accounts", "create", "--data-dir", dir, "--tenant", tc.Tenant.ID, "--connector", "delhivery_express",
			"--name", name, "--environment", "sandbox", "--base-url", sim.URL(), "--credential", "api_token="+token,
			"--setting", "pickup_location=WH", "-o", "json")
		var a struct{ ID string }
		if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
			t.Fatalf("accounts create: %v %s", err, r.err)
		}
		accounts[name] = a.ID
	}
	cfg := filepath.Join(dir, "hub.yaml")
	conf := "log:\n  level: debug\nwebhooks:\n  allow_list: [127.0.0.1]\n" +
		"tracing:\n  exporter: otlp\n  endpoint: http://127.0.0.1:1\n  headers: authorization=Bearer%20" + otlpKey + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, dir, "--config", cfg)

	var answers strings.Builder
	call := func(method, path, body string) {
		req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&answers, "%s %s -> %d %v %s\n", method, path, resp.StatusCode, resp.Header, b)
	}
	// Creating an endpoint answers with its secret, once, by design: that answer
	// is not searched.
	code, body := post(t, h.url+"/v1/webhooks/endpoints", key, `{"url":"`+failing.URL+`/x","secret":"`+whSecret+`"}`)
	var ep struct{ ID string }
	if code != http.StatusCreated || json.Unmarshal(body, &ep) != nil {
		t.Fatalf("create endpoint: %d %s", code, body)
	}
	call("POST", "/v1/connectors/delhivery_express/create_shipment?account="+accounts["good"], fmt.Sprintf(stormShipment, 9))
	call("POST", "/v1/connectors/delhivery_express/track?account="+accounts["good"], trackBody)
	call("POST", "/v1/connectors/delhivery_express/track?account="+accounts["bad"], trackBody)
	call("POST", "/v1/connectors/delhivery_express/create_shipment?account="+accounts["bad"], fmt.Sprintf(stormShipment, 10))
	call("GET", "/v1/connectors/delhivery_express/health?account="+accounts["bad"], "")
	call("GET", "/v1/accounts", "")
	call("GET", "/v1/api-keys", "")
	call("GET", "/v1/webhooks/endpoints", "")
	// Rotation answers with the new secret only; the old one must not reappear.
	call("POST", "/v1/webhooks/endpoints/"+ep.ID+"/rotate-secret", `{}`)
	// Let the failing deliveries be attempted and logged, then read the log.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", h.url+"/v1/webhooks/endpoints/"+ep.ID+"/attempts", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "500") {
			fmt.Fprintf(&answers, "attempts -> %s\n", b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	show := hub(t, "", "config", "show", "--config", cfg)
	badCLI := hub(t, "", "invoke", "delhivery_express", "track", "--hub-url", h.url, "--api-key", key, "--account", accounts["bad"])

	everything := map[string]string{
		"hub log":         h.logs.String(),
		"API answers":     answers.String(),
		"/metrics":        string(metrics),
		"hub config show": show.stdout + show.err,
		"CLI error":       badCLI.stdout + badCLI.err,
	}
	if !strings.Contains(answers.String(), "401") && !strings.Contains(answers.String(), "auth_failed") {
		t.Fatalf("the wrong token was not refused; answers:\n%s", answers.String())
	}
	if !strings.Contains(answers.String(), "attempts -> ") {
		t.Fatalf("no failed webhook attempt was logged; answers:\n%s", answers.String())
	}
	secrets := map[string]string{
		"account credential": goodToken, "wrong credential": badToken, "API key": key,
		"webhook secret": whSecret, "webhook secret key": strings.TrimPrefix(whSecret, "whsec_"),
		"OTLP header": otlpKey,
	}
	for where, text := range everything {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains the %s", where, what)
			}
		}
	}
	// A Postgres URL with a password, in the environment: show redacts it.
	t.Run("config show", func(t *testing.T) {
		r := hub(t, "", "config", "show", "--config", cfg)
		_ = r // the environment of this process has no HUB_POSTGRES_URL (TestMain unsets it)
		c := filepath.Join(t.TempDir(), "pg.yaml")
		if err := os.WriteFile(c, []byte("store:\n  postgres_url: postgres://hub:"+pgPass+"@db:5432/hub\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r = hub(t, "", "config", "show", "--config", c)
		if r.code != 0 || strings.Contains(r.stdout+r.err, pgPass) || !strings.Contains(r.stdout, "[redacted]") {
			t.Errorf("config show: exit %d\n%s%s", r.code, r.stdout, r.err)
		}
		r = hub(t, "", "config", "validate", c)
		if strings.Contains(r.stdout+r.err, pgPass) {
			t.Errorf("config validate printed the password: %s%s", r.stdout, r.err)
		}
	})
}
