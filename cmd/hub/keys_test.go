package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/store"
)

// call sends one API request to a running hub and returns its status, body and
// Content-Type.
func call(t *testing.T, method, url, key, body string) (int, []byte, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header.Get("Content-Type")
}

// TestKeyAttacksRefusedThroughServe replays issue 13's two key attacks against
// "hub serve" with keys made by the CLI, as an operator sets a hub up:
//
//   - a tenant's non-admin key revoked the tenant's admin key (204, after which
//     the admin key got 401): now 403 problem+json, and the admin key works;
//   - a tenant's admin key listed every tenant through GET /v1/tenants: now it
//     sees only its own tenant, and another tenant is 404.
//
// It also shows what takes their place: an operator key made with
// "hub operator-keys create" lists and creates tenants and sees no tenant's
// data; the tenant's last admin key is kept (409); keys expire.
func TestKeyAttacksRefusedThroughServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	acme := newTenant(t, dir) // the CLI's first key of a tenant is its admin key
	var beta api.TenantCreated
	r := hub(t, "", "tenants", "create", "beta", "--data-dir", dir, "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &beta); err != nil {
		t.Fatalf("tenants create beta: %v %s", err, r.err)
	}
	var plain api.APIKeyCreated
	r = hub(t, "", "keys", "create", "--data-dir", dir, "--tenant", acme.Tenant.ID, "--name", "erp-sync", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &plain); err != nil || plain.Admin {
		t.Fatalf("keys create: %v %s %s", err, r.stdout, r.err)
	}
	var op OperatorKeyCreated
	r = hub(t, "", "operator-keys", "create", "platform team", "--data-dir", dir, "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &op); err != nil || !strings.HasPrefix(op.Secret, "hub_op_") || !strings.HasPrefix(op.ID, "opk_") {
		t.Fatalf("operator-keys create: %v %s %s", err, r.stdout, r.err)
	}
	r = hub(t, "", "operator-keys", "create", "on call", "--data-dir", dir, "--expires-in", "720h")
	if r.code != 0 || !strings.Contains(r.stdout, "shown only now") || !strings.Contains(r.stdout, "hub_op_") {
		t.Fatalf("operator-keys create --expires-in: %d %s %s", r.code, r.stdout, r.err)
	}
	var gone OperatorKeyCreated
	r = hub(t, "", "operator-keys", "create", "leaver", "--data-dir", dir, "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &gone); err != nil {
		t.Fatalf("operator-keys create leaver: %v %s", err, r.err)
	}
	if r := hub(t, "", "operator-keys", "revoke", gone.ID, "--data-dir", dir); r.code != 0 {
		t.Fatalf("operator-keys revoke: %d %s", r.code, r.err)
	}
	if r := hub(t, "", "operator-keys", "create", "x", "--data-dir", dir, "--expires-at", "2001-01-01T00:00:00Z"); r.code != 1 || !strings.Contains(r.err, "not in the future") {
		t.Fatalf("operator-keys create with a past expiry: %d %s", r.code, r.err)
	}
	r = hub(t, "", "operator-keys", "list", "--data-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "EXPIRES") || !strings.Contains(r.stdout, "platform team") ||
		!strings.Contains(r.stdout, "revoked") || strings.Contains(r.stdout, op.Secret) {
		t.Fatalf("operator-keys list: %d %s %s", r.code, r.stdout, r.err)
	}

	h := startHub(t, dir)
	adminKey := acme.APIKey.Secret

	// Attack 1: a non-admin key revokes the admin key.
	code, body, ct := call(t, "DELETE", h.url+"/v1/api-keys/"+acme.APIKey.ID, plain.Secret, "")
	if code != http.StatusForbidden || ct != "application/problem+json" || !strings.Contains(string(body), `"code":"forbidden"`) {
		t.Fatalf("attack 1, non-admin key revoking the admin key: %d %s %s, want 403 problem+json", code, ct, body)
	}
	if code, body, _ := call(t, "GET", h.url+"/v1/api-keys", adminKey, ""); code != http.StatusOK {
		t.Fatalf("the admin key after attack 1: %d %s", code, body)
	}
	if code, body, _ := call(t, "POST", h.url+"/v1/api-keys", plain.Secret, `{"name":"escalate","admin":true}`); code != http.StatusForbidden {
		t.Fatalf("non-admin key creating an admin key: %d %s", code, body)
	}

	// Attack 2: a tenant's admin key lists every tenant.
	code, body, _ = call(t, "GET", h.url+"/v1/tenants", adminKey, "")
	var seen []store.Tenant
	if err := json.Unmarshal(body, &seen); code != http.StatusOK || err != nil || len(seen) != 1 || seen[0].ID != acme.Tenant.ID ||
		strings.Contains(string(body), beta.Tenant.ID) || strings.Contains(string(body), "beta") {
		t.Fatalf("attack 2, tenant admin key listing tenants: %d %s, want only its own tenant", code, body)
	}
	if code, body, _ := call(t, "GET", h.url+"/v1/tenants/"+beta.Tenant.ID, adminKey, ""); code != http.StatusNotFound || strings.Contains(string(body), "beta") {
		t.Fatalf("tenant admin key getting another tenant: %d %s, want 404", code, body)
	}
	if code, body, _ := call(t, "POST", h.url+"/v1/tenants", adminKey, `{"name":"mallory"}`); code != http.StatusForbidden {
		t.Fatalf("tenant admin key creating a tenant: %d %s, want 403", code, body)
	}

	// The operator key manages tenants and sees no tenant's data.
	code, body, _ = call(t, "GET", h.url+"/v1/tenants", op.Secret, "")
	if err := json.Unmarshal(body, &seen); code != http.StatusOK || err != nil || len(seen) != 2 {
		t.Fatalf("operator key listing tenants: %d %s, want both", code, body)
	}
	if code, body, _ := call(t, "GET", h.url+"/v1/tenants/"+beta.Tenant.ID, op.Secret, ""); code != http.StatusOK || !strings.Contains(string(body), "beta") {
		t.Fatalf("operator key getting a tenant: %d %s", code, body)
	}
	code, body, _ = call(t, "POST", h.url+"/v1/tenants", op.Secret, `{"name":"gamma"}`)
	var gamma api.TenantCreated
	if err := json.Unmarshal(body, &gamma); code != http.StatusCreated || err != nil || !gamma.APIKey.Admin {
		t.Fatalf("operator key creating a tenant: %d %s", code, body)
	}
	if code, body, _ := call(t, "GET", h.url+"/v1/accounts", gamma.APIKey.Secret, ""); code != http.StatusOK {
		t.Fatalf("the new tenant's admin key: %d %s", code, body)
	}
	if code, body, _ := call(t, "GET", h.url+"/v1/accounts", op.Secret, ""); code != http.StatusForbidden {
		t.Fatalf("operator key on a tenant's route: %d %s, want 403", code, body)
	}
	if code, body, _ := call(t, "GET", h.url+"/v1/tenants", gone.Secret, ""); code != http.StatusUnauthorized {
		t.Fatalf("revoked operator key: %d %s, want 401", code, body)
	}

	// The tenant's last admin key is kept, through the API and the CLI.
	code, body, ct = call(t, "DELETE", h.url+"/v1/api-keys/"+acme.APIKey.ID, adminKey, "")
	if code != http.StatusConflict || ct != "application/problem+json" || !strings.Contains(string(body), "last live admin key") {
		t.Fatalf("revoking the last admin key: %d %s %s, want 409 naming why", code, ct, body)
	}
	if r := hub(t, "", "keys", "revoke", acme.APIKey.ID, "--data-dir", dir, "--tenant", acme.Tenant.ID); r.code != 1 || !strings.Contains(r.err, "last live admin key") {
		t.Fatalf("keys revoke of the last admin key: %d %s", r.code, r.err)
	}

	// Keys expire: given on create, listed by the API and the CLI.
	expiry := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	code, body, _ = call(t, "POST", h.url+"/v1/api-keys", adminKey, `{"name":"contractor","expires_at":"`+expiry+`"}`)
	if code != http.StatusCreated || !strings.Contains(string(body), `"expires_at":"`+expiry+`"`) {
		t.Fatalf("creating an expiring key: %d %s", code, body)
	}
	if code, body, _ := call(t, "GET", h.url+"/v1/api-keys", adminKey, ""); code != http.StatusOK || !strings.Contains(string(body), expiry) {
		t.Fatalf("listing keys: %d %s, want the expiry shown", code, body)
	}
	r = hub(t, "", "keys", "create", "--data-dir", dir, "--tenant", acme.Tenant.ID, "--name", "old", "--expires-at", "2001-01-01T00:00:00Z")
	if r.code != 1 || !strings.Contains(r.err, "not in the future") {
		t.Fatalf("keys create with a past expiry: %d %s", r.code, r.err)
	}
	r = hub(t, "", "keys", "list", "--data-dir", dir, "--tenant", acme.Tenant.ID)
	if r.code != 0 || !strings.Contains(r.stdout, "EXPIRES") || !strings.Contains(r.stdout, "contractor") || !strings.Contains(r.stdout, expiry[:10]) {
		t.Fatalf("keys list: %d %s %s", r.code, r.stdout, r.err)
	}
}
