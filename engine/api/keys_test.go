package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/internal/syncbuf"
)

// keysHarness serves the API over a real SQLite store, so the store's own rules
// (the last admin key, expiry) are the ones answered. Tenant A has an admin key
// and a plain key, tenant B an admin key; opKey is an operator key. The API's
// clock is the harness's, which tests may move forward.
type keysHarness struct {
	*harness
	st                 store.Store
	adminA, plainA     string
	adminAID, plainAID string
	adminB, adminBID   string
	mu                 sync.Mutex
	now                time.Time
}

func newKeysHarness(t *testing.T) *keysHarness {
	t.Helper()
	st := storetest.OpenSQLite(t)
	h := &keysHarness{harness: &harness{t: t, logs: &syncbuf.Buffer{}, conns: &fakeConnectors{}}, st: st, now: time.Now()}
	ctx := context.Background()
	ta, err := st.CreateTenant(ctx, "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := st.CreateTenant(ctx, "tenant-b")
	if err != nil {
		t.Fatal(err)
	}
	h.tenantA, h.tenantB = ta.ID, tb.ID
	key := func(tenantID, name string, admin bool) (string, string) {
		k, secret, err := st.CreateAPIKey(ctx, tenantID, name, admin)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID, secret
	}
	h.adminAID, h.adminA = key(ta.ID, "admin", true)
	h.plainAID, h.plainA = key(ta.ID, "plain", false)
	h.adminBID, h.adminB = key(tb.ID, "admin", true)
	if _, h.opKey, err = st.CreateOperatorKey(ctx, "platform"); err != nil {
		t.Fatal(err)
	}
	rt, err := router.New(router.Config{Overrides: oneAttempt, Connectors: h.conns, Accounts: st})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(New(Config{Store: st, Router: rt, Connectors: h.conns, Version: "test",
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)), Now: h.clock}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *keysHarness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *keysHarness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// wantProblem checks an answer is the problem+json of status and code and that
// its detail says want.
func wantProblem(t *testing.T, what string, r reply, status int, code, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.status, r.body, status)
	}
	p := r.problem(t)
	if p.Code != code || !strings.Contains(p.Detail, want) {
		t.Fatalf("%s: problem %+v, want code %s and a detail saying %q", what, p, code, want)
	}
}

// TestNonAdminCannotRevokeAdminKey replays issue 13's attack: a tenant's
// non-admin key revoked the tenant's admin key (204), after which the admin key
// got 401. Now it is 403 and the admin key keeps working.
func TestNonAdminCannotRevokeAdminKey(t *testing.T) {
	t.Parallel()
	h := newKeysHarness(t)
	wantProblem(t, "plain key revoking the admin key", h.do("DELETE", "/v1/api-keys/"+h.adminAID, h.plainA, ""),
		http.StatusForbidden, codeForbidden, "only an admin key may revoke an admin key")
	if r := h.do("GET", "/v1/api-keys", h.adminA, ""); r.status != http.StatusOK {
		t.Fatalf("the admin key after the refused revocation: %d %s", r.status, r.body)
	}
	wantProblem(t, "plain key creating an admin key", h.do("POST", "/v1/api-keys", h.plainA, `{"name":"mine","admin":true}`),
		http.StatusForbidden, codeForbidden, "only an admin key may create an admin key")

	// Another tenant's admin key is not found, whoever asks.
	for _, key := range []string{h.plainA, h.adminA} {
		if r := h.do("DELETE", "/v1/api-keys/"+h.adminBID, key, ""); r.status != http.StatusNotFound {
			t.Fatalf("revoking another tenant's admin key: %d %s", r.status, r.body)
		}
	}
	if r := h.do("GET", "/v1/api-keys", h.adminB, ""); r.status != http.StatusOK {
		t.Fatalf("tenant B's admin key: %d %s", r.status, r.body)
	}

	// A plain key may still manage plain keys, itself included.
	r := h.do("POST", "/v1/api-keys", h.plainA, `{"name":"ci"}`)
	var ci APIKeyCreated
	r.decode(t, &ci)
	if r.status != http.StatusCreated || ci.Admin {
		t.Fatalf("plain key creating a plain key: %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/v1/api-keys/"+ci.ID, h.plainA, ""); r.status != http.StatusNoContent {
		t.Fatalf("plain key revoking a plain key: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/api-keys", ci.Secret, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d %s", r.status, r.body)
	}
}

// TestLastAdminKeyIsKept checks the tenant's last live admin key cannot be
// revoked (409 naming why), and that an admin may hand over to another admin.
func TestLastAdminKeyIsKept(t *testing.T) {
	t.Parallel()
	h := newKeysHarness(t)
	wantProblem(t, "the last admin key revoking itself", h.do("DELETE", "/v1/api-keys/"+h.adminAID, h.adminA, ""),
		http.StatusConflict, "conflict", "last live admin key")
	if r := h.do("GET", "/v1/api-keys", h.adminA, ""); r.status != http.StatusOK {
		t.Fatalf("the admin key after the refused revocation: %d %s", r.status, r.body)
	}

	r := h.do("POST", "/v1/api-keys", h.adminA, `{"name":"successor","admin":true}`)
	var next APIKeyCreated
	r.decode(t, &next)
	if r.status != http.StatusCreated || !next.Admin || next.Secret == "" {
		t.Fatalf("admin creating an admin key: %d %s", r.status, r.body)
	}
	wantProblem(t, "plain key revoking the new admin key", h.do("DELETE", "/v1/api-keys/"+next.ID, h.plainA, ""),
		http.StatusForbidden, codeForbidden, "admin")
	if r := h.do("DELETE", "/v1/api-keys/"+h.adminAID, next.Secret, ""); r.status != http.StatusNoContent {
		t.Fatalf("the successor revoking the first admin key: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/api-keys", h.adminA, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("the revoked admin key: %d %s", r.status, r.body)
	}
	wantProblem(t, "the successor revoking itself", h.do("DELETE", "/v1/api-keys/"+next.ID, next.Secret, ""),
		http.StatusConflict, "conflict", "create another admin key first")
	// Revoking a revoked admin key again is still a success.
	if r := h.do("DELETE", "/v1/api-keys/"+h.adminAID, next.Secret, ""); r.status != http.StatusNoContent {
		t.Fatalf("revoking a revoked admin key again: %d %s", r.status, r.body)
	}
}

// TestTenantKeysSeeOnlyTheirTenant replays issue 13's other key attack: a
// tenant's admin key listed every tenant through GET /v1/tenants. A tenant's
// key now sees only its own tenant there (and 404 for any other), cannot
// create tenants, and only operator keys manage tenants.
func TestTenantKeysSeeOnlyTheirTenant(t *testing.T) {
	t.Parallel()
	h := newKeysHarness(t)
	for _, key := range []string{h.adminA, h.plainA} {
		var list []store.Tenant
		r := h.do("GET", "/v1/tenants", key, "")
		r.decode(t, &list)
		if r.status != http.StatusOK || len(list) != 1 || list[0].ID != h.tenantA || strings.Contains(string(r.body), h.tenantB) {
			t.Fatalf("tenant A's key lists tenants: %d %s; want only tenant A", r.status, r.body)
		}
		if r := h.do("GET", "/v1/tenants/"+h.tenantA, key, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "tenant-a") {
			t.Fatalf("tenant A's key gets its tenant: %d %s", r.status, r.body)
		}
		r = h.do("GET", "/v1/tenants/"+h.tenantB, key, "")
		unknown := h.do("GET", "/v1/tenants/ten_"+strings.Repeat("q", 26), key, "")
		if r.status != http.StatusNotFound || strings.Contains(string(r.body), "tenant-b") || unknown.status != http.StatusNotFound {
			t.Fatalf("tenant A's key gets tenant B: %d %s; an unknown tenant: %d", r.status, r.body, unknown.status)
		}
		wantProblem(t, "tenant key creating a tenant", h.do("POST", "/v1/tenants", key, `{"name":"mallory"}`),
			http.StatusForbidden, codeForbidden, "operator key")
	}

	var all []store.Tenant
	h.do("GET", "/v1/tenants", h.opKey, "").decode(t, &all)
	if len(all) != 2 {
		t.Fatalf("operator lists %d tenants, want 2", len(all))
	}
	if r := h.do("GET", "/v1/tenants/"+h.tenantB, h.opKey, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "tenant-b") {
		t.Fatalf("operator gets tenant B: %d %s", r.status, r.body)
	}
	r := h.do("POST", "/v1/tenants", h.opKey, `{"name":"tenant-c"}`)
	var tc TenantCreated
	r.decode(t, &tc)
	if r.status != http.StatusCreated || !tc.APIKey.Admin || tc.APIKey.TenantID != tc.Tenant.ID || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("operator creates a tenant: %d %s", r.status, r.body)
	}
	// The new tenant's admin key manages its own keys, and is its last admin.
	if r := h.do("POST", "/v1/api-keys", tc.APIKey.Secret, `{"name":"deputy","admin":true}`); r.status != http.StatusCreated {
		t.Fatalf("the new tenant's admin key: %d %s", r.status, r.body)
	}

	// Operator keys see no tenant's data; the catalogue is not a tenant's.
	if r := h.do("GET", "/v1/connectors", h.opKey, ""); r.status != http.StatusOK {
		t.Fatalf("operator key on the catalogue: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v1/accounts", "/v1/api-keys", "/v1/webhooks/endpoints"} {
		wantProblem(t, "operator key on "+path, h.do("GET", path, h.opKey, ""), http.StatusForbidden, codeForbidden, "tenant's API keys")
	}
	wantProblem(t, "operator key creating an API key", h.do("POST", "/v1/api-keys", h.opKey, `{"name":"x","admin":true}`),
		http.StatusForbidden, codeForbidden, "operator key")

	// A revoked operator key is 401, like any unknown key.
	opKeys, err := h.st.ListOperatorKeys(t.Context())
	if err != nil || len(opKeys) != 1 {
		t.Fatalf("ListOperatorKeys = %v, %v", opKeys, err)
	}
	if err := h.st.RevokeOperatorKey(t.Context(), opKeys[0].ID); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute) // past the API's authentication cache
	wantProblem(t, "revoked operator key", h.do("GET", "/v1/tenants", h.opKey, ""), http.StatusUnauthorized, codeUnauthenticated, "unknown, revoked or expired")
	wantProblem(t, "made-up operator key", h.do("GET", "/v1/tenants", "hub_op_"+strings.Repeat("x", 43), ""),
		http.StatusUnauthorized, codeUnauthenticated, "unknown, revoked or expired")
}

// TestKeyExpiry checks expires_at: given on create and listed, an expired key
// answered 401 like a revoked one (by the store's clock or the API's, the
// authentication cache included), and no key outliving the expiring key that
// made it.
func TestKeyExpiry(t *testing.T) {
	t.Parallel()
	h := newKeysHarness(t)
	for _, body := range []string{`{"name":"x","expires_at":"tomorrow"}`, `{"name":"x","expires_at":"2001-01-01T00:00:00Z"}`, `{"name":"x","expires_at":12}`} {
		r := h.do("POST", "/v1/api-keys", h.adminA, body)
		p := r.problem(t)
		if r.status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Pointer == nil || *p.Errors[0].Pointer != "/expires_at" {
			t.Fatalf("POST /v1/api-keys %s: %d %s, want 422 at /expires_at", body, r.status, r.body)
		}
	}

	expiry := h.clock().Add(time.Hour).UTC().Truncate(time.Second)
	r := h.do("POST", "/v1/api-keys", h.adminA, `{"name":"contractor","expires_at":"`+expiry.Format(time.RFC3339)+`"}`)
	var temp APIKeyCreated
	r.decode(t, &temp)
	if r.status != http.StatusCreated || temp.ExpiresAt == nil || !temp.ExpiresAt.Equal(expiry) {
		t.Fatalf("creating an expiring key: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/accounts", temp.Secret, ""); r.status != http.StatusOK {
		t.Fatalf("the expiring key before its expiry: %d %s", r.status, r.body)
	}

	// A key made by an expiring key expires no later, and by default with it.
	wantProblem(t, "outliving the maker", h.do("POST", "/v1/api-keys", temp.Secret,
		`{"name":"forever","expires_at":"`+expiry.Add(time.Hour).Format(time.RFC3339)+`"}`),
		http.StatusUnprocessableEntity, "invalid_request", "calling key's own expiry")
	var child APIKeyCreated
	h.do("POST", "/v1/api-keys", temp.Secret, `{"name":"child"}`).decode(t, &child)
	if child.ExpiresAt == nil || !child.ExpiresAt.Equal(expiry) {
		t.Fatalf("a key made by an expiring key without expires_at: %+v, want it to expire at %v", child.APIKey, expiry)
	}

	// Past the expiry by the API's clock, the key is refused although the
	// store (on the real clock) and the authentication cache still hold it.
	h.advance(time.Hour + time.Second)
	wantProblem(t, "expired key", h.do("GET", "/v1/accounts", temp.Secret, ""), http.StatusUnauthorized, codeUnauthenticated, "unknown, revoked or expired")
	wantProblem(t, "expired child key", h.do("GET", "/v1/accounts", child.Secret, ""), http.StatusUnauthorized, codeUnauthenticated, "unknown, revoked or expired")

	// A key already expired by the store's clock is refused alike, and listed.
	old, oldSecret, err := h.st.CreateAPIKey(t.Context(), h.tenantA, "last year", true, store.WithExpiry(time.Now().Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	revoked := h.do("GET", "/v1/accounts", oldSecret, "")
	wantProblem(t, "key expired in the store", revoked, http.StatusUnauthorized, codeUnauthenticated, "unknown, revoked or expired")
	if revoked.header.Get("WWW-Authenticate") != `Bearer realm="hub", error="invalid_token"` {
		t.Fatalf("expired key's challenge: %q", revoked.header.Get("WWW-Authenticate"))
	}
	var list []store.APIKey
	h.do("GET", "/v1/api-keys", h.adminA, "").decode(t, &list)
	listed := map[string]store.APIKey{}
	for _, k := range list {
		listed[k.ID] = k
	}
	if k := listed[old.ID]; k.ExpiresAt == nil || k.RevokedAt != nil {
		t.Fatalf("the expired key as listed: %+v", k)
	}
	if k := listed[temp.ID]; k.ExpiresAt == nil || !k.ExpiresAt.Equal(expiry) {
		t.Fatalf("the expiring key as listed: %+v", k)
	}
	// An expired admin key does not count as an admin left.
	wantProblem(t, "revoking the last live admin key beside an expired one", h.do("DELETE", "/v1/api-keys/"+h.adminAID, h.adminA, ""),
		http.StatusConflict, "conflict", "last live admin key")

	// Operator keys expire too.
	_, opSecret, err := h.st.CreateOperatorKey(t.Context(), "old operator", store.WithExpiry(time.Now().Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, "expired operator key", h.do("GET", "/v1/tenants", opSecret, ""), http.StatusUnauthorized, codeUnauthenticated, "unknown, revoked or expired")
}

// TestKeyRoutesInOpenAPI checks the document says who may call the tenant and
// key routes and what they answer.
func TestKeyRoutesInOpenAPI(t *testing.T) {
	t.Parallel()
	h := newKeysHarness(t)
	var doc struct {
		Paths      map[string]map[string]struct{ Responses map[string]any }
		Components struct {
			Schemas map[string]struct{ Properties map[string]any }
		}
	}
	if err := json.Unmarshal(h.do("GET", "/openapi.json", "", "").body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, method string
		statuses     []string
	}{
		{"/v1/tenants/{id}", "get", []string{"200", "401", "404"}},
		{"/v1/tenants", "post", []string{"201", "403", "409"}},
		{"/v1/api-keys/{id}", "delete", []string{"204", "403", "404", "409"}},
		{"/v1/api-keys", "post", []string{"201", "403", "422"}},
		{"/v1/accounts", "get", []string{"200", "401", "403"}},
	} {
		op, ok := doc.Paths[c.path][c.method]
		if !ok {
			t.Fatalf("%s %s is not documented", c.method, c.path)
		}
		for _, st := range c.statuses {
			if _, ok := op.Responses[st]; !ok {
				t.Errorf("%s %s does not document %s", c.method, c.path, st)
			}
		}
	}
	for _, schema := range []string{"APIKey", "APIKeyInput"} {
		if _, ok := doc.Components.Schemas[schema].Properties["expires_at"]; !ok {
			t.Errorf("schema %s has no expires_at", schema)
		}
	}
}
