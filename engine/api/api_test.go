package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/internal/syncbuf"
	"github.com/carrierhub/hub/sdk"
)

var acmeManifest = &sdk.Manifest{
	ID: "acme", Name: "Acme Express", Version: "1.2.0", Category: "carrier_parcel", Docs: "https://example.test/docs",
	Operations: []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}, {Name: sdk.OpCreateShipment}},
	Account: sdk.AccountSchema{
		Credentials:  []sdk.Field{{Name: "api_token", Required: true}, {Name: "webhook_secret"}},
		Settings:     []sdk.Field{{Name: "client_name", Required: true}, {Name: "pickup_location"}},
		Environments: map[string]string{"sandbox": "https://staging.acme.test", "production": "https://api.acme.test"},
	},
}

var boltManifest = &sdk.Manifest{
	ID: "bolt", Name: "Bolt Freight", Version: "0.1.0", Category: "carrier_ltl_ftl", Docs: "https://example.test/bolt",
	Operations: []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}},
	Account:    sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://bolt.test"}},
}

type harness struct {
	t     *testing.T
	srv   *httptest.Server
	store *memStore
	conns *fakeConnectors
	logs  *syncbuf.Buffer
	// adminKey belongs to tenant A and is admin; keyA and keyB are plain keys of
	// tenants A and B; opKey is a hub-wide operator key.
	adminKey, keyA, keyB, opKey string
	tenantA, tenantB            string
	// lastCall is the last call the fake connectors received.
	mu       sync.Mutex
	lastCall *sdk.Call
}

type harnessOpt func(*Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, store: newMemStore(), logs: &syncbuf.Buffer{}}
	h.conns = &fakeConnectors{
		infos: []plugins.Info{
			{Manifest: boltManifest, Status: plugins.Status{State: plugins.StateIdle}},
			{Manifest: acmeManifest, Builtin: true, Status: plugins.Status{State: plugins.StateRunning, PID: 4242, StartedAt: time.Unix(1700000000, 0).UTC(), Restarts: 1, LastError: "exit status 2"}},
		},
		invoke: func(_ context.Context, _ string, call *sdk.Call) ([]byte, error) {
			h.mu.Lock()
			h.lastCall = call
			h.mu.Unlock()
			return []byte(`{"tracking":[]}`), nil
		},
		health: func(_ context.Context, id string, account *sdk.Account) (plugins.Health, error) {
			return plugins.Health{Status: plugins.Status{State: plugins.StateRunning, PID: 4242}, CheckSupported: true}, nil
		},
	}
	ctx := context.Background()
	ta, _ := h.store.CreateTenant(ctx, "tenant-a")
	tb, _ := h.store.CreateTenant(ctx, "tenant-b")
	h.tenantA, h.tenantB = ta.ID, tb.ID
	_, h.adminKey, _ = h.store.CreateAPIKey(ctx, ta.ID, "admin", true)
	_, h.keyA, _ = h.store.CreateAPIKey(ctx, ta.ID, "a", false)
	_, h.keyB, _ = h.store.CreateAPIKey(ctx, tb.ID, "b", false)
	_, h.opKey, _ = h.store.CreateOperatorKey(ctx, "ops")
	rt, err := router.New(router.Config{Overrides: oneAttempt, Connectors: h.conns, Accounts: h.store})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Store: h.store, Router: rt, Connectors: h.conns, Version: "test",
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.srv = httptest.NewServer(New(cfg))
	t.Cleanup(h.srv.Close)
	return h
}

type reply struct {
	status int
	header http.Header
	body   []byte
	// closed: the server closed the connection after this answer.
	closed bool
}

func (r reply) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d Content-Type %q, want application/problem+json; body %s", r.status, ct, r.body)
	}
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status || p.Type == "" || p.Title == "" || p.Code == "" || p.RequestID == "" || p.Instance == "" {
		t.Fatalf("incomplete problem %+v for status %d", p, r.status)
	}
	return p
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("status %d body %s: %v", r.status, r.body, err)
	}
}

// do sends a request; key "" sends no Authorization; headers are "Name: value" pairs.
func (h *harness) do(method, path, key, body string, headers ...string) reply {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for _, hv := range headers {
		name, value, _ := strings.Cut(hv, ": ")
		if value == "" {
			req.Header.Del(name)
		} else {
			req.Header.Set(name, value)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b, closed: resp.Close}
}

func (h *harness) createAccount(key, body string) string {
	h.t.Helper()
	r := h.do("POST", "/v1/accounts", key, body)
	if r.status != http.StatusCreated {
		h.t.Fatalf("creating account: %d %s", r.status, r.body)
	}
	var a struct{ ID string }
	r.decode(h.t, &a)
	return a.ID
}

const acmeAccount = `{"connector_id":"acme","name":"main","environment":"sandbox","credentials":{"api_token":"tok-SECRET-1"},"settings":{"client_name":"C1"}}`

func TestProbes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.do("GET", "/healthz", "", ""); r.status != 200 || string(r.body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/readyz", "", ""); r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	h.store.mu.Lock()
	h.store.pingErr = errors.New("database is locked")
	h.store.mu.Unlock()
	r := h.do("GET", "/readyz", "", "")
	if r.status != 503 || r.problem(t).Code != codeUnavailable {
		t.Fatalf("readyz with a dead store: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "locked") {
		t.Fatalf("store error text leaked: %s", r.body)
	}
}

// TestDraining checks what a shutting-down hub answers while its load balancer
// catches up: not ready, but still serving, each answer closing its connection.
func TestDraining(t *testing.T) {
	t.Parallel()
	draining := make(chan struct{})
	h := newHarness(t, func(c *Config) { c.Draining = draining })
	if r := h.do("GET", "/readyz", "", ""); r.status != 200 || r.closed {
		t.Fatalf("readyz before draining: %d %v", r.status, r.header)
	}
	close(draining)
	r := h.do("GET", "/readyz", "", "")
	if r.status != 503 || r.problem(t).Code != codeUnavailable || !r.closed {
		t.Fatalf("readyz while draining: %d %v %s", r.status, r.header, r.body)
	}
	if r := h.do("GET", "/healthz", "", ""); r.status != 200 || !r.closed {
		t.Fatalf("healthz while draining: %d %v", r.status, r.header)
	}
	if r := h.do("GET", "/v1/connectors", h.keyA, ""); r.status != 200 || !r.closed {
		t.Fatalf("a request while draining: %d %v", r.status, r.header)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/v1/connectors", "", "")
	if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") || r.problem(t).Code != codeUnauthenticated {
		t.Fatalf("missing key: %d %v %s", r.status, r.header, r.body)
	}
	r = h.do("GET", "/v1/connectors", "hub_sk_wrong", "")
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("wrong key: %d %v %s", r.status, r.header, r.body)
	}
	r = h.do("GET", "/v1/connectors", "", "", "Authorization: Basic dXNlcjpwYXNz")
	if r.status != 401 {
		t.Fatalf("basic auth: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/tenants", h.adminKey, `{"name":"c"}`)
	if r.status != 403 || r.problem(t).Code != codeForbidden {
		t.Fatalf("tenant admin key on an operator route: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/v1/accounts", h.opKey, "")
	if r.status != 403 || r.problem(t).Code != codeForbidden {
		t.Fatalf("operator key on a tenant route: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/tenants", h.opKey, ""); r.status != 200 {
		t.Fatalf("operator: %d %s", r.status, r.body)
	}
	// Public routes need no key.
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json", "/healthz/connectors"} {
		if r := h.do("GET", p, "", ""); r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
	}
	// A store outage while authenticating is a 503, not a 500 and not a 401.
	h.store.mu.Lock()
	h.store.authErr = errors.New("connection refused")
	h.store.mu.Unlock()
	if r := h.do("GET", "/v1/accounts", "never-cached", ""); r.status != 503 {
		t.Fatalf("store down: %d %s", r.status, r.body)
	}
}

func TestAuthCacheAndRevocation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for range 3 {
		if r := h.do("GET", "/v1/accounts", h.keyA, ""); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	h.store.mu.Lock()
	n := h.store.authN
	h.store.mu.Unlock()
	if n != 1 {
		t.Fatalf("store asked %d times for one key within the cache TTL", n)
	}
	r := h.do("POST", "/v1/api-keys", h.keyA, `{"name":"ci"}`)
	var created APIKeyCreated
	r.decode(t, &created)
	if r.status != 201 || created.Secret == "" || created.ID == "" || created.Admin {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/accounts", created.Secret, ""); r.status != 200 {
		t.Fatalf("new key: %d", r.status)
	}
	if r := h.do("DELETE", "/v1/api-keys/"+created.ID, h.keyB, ""); r.status != 404 {
		t.Fatalf("another tenant revoking: %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/v1/api-keys/"+created.ID, h.keyA, ""); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/accounts", created.Secret, ""); r.status != 401 {
		t.Fatalf("revoked key still works: %d", r.status)
	}
	r = h.do("GET", "/v1/api-keys", h.keyA, "")
	if r.status != 200 || strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), `"secret"`) {
		t.Fatalf("listing keys: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/api-keys", h.keyA, `{"name":"root","admin":true}`); r.status != 403 {
		t.Fatalf("non-admin minting an admin key: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/api-keys", h.adminKey, `{"name":"root","admin":true}`); r.status != 201 {
		t.Fatalf("admin minting an admin key: %d %s", r.status, r.body)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/v2/nothing", h.keyA, "")
	if r.status != 404 || r.problem(t).Code != string(sdk.CodeNotFound) {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
	r = h.do("PUT", "/v1/accounts", h.keyA, `{}`)
	if r.status != 405 || r.problem(t).Code != codeMethodNotAllowed || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Fatalf("wrong method: %d %v %s", r.status, r.header, r.body)
	}
	r = h.do("DELETE", "/healthz", "", "")
	if r.status != 405 {
		t.Fatalf("wrong method on a public route: %d", r.status)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/healthz", "", "", "X-Request-Id: trace-abc-123")
	if got := r.header.Get("X-Request-Id"); got != "trace-abc-123" {
		t.Fatalf("request id not echoed: %q", got)
	}
	r = h.do("GET", "/healthz", "", "")
	if got := r.header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
		t.Fatalf("request id not generated: %q", got)
	}
	r = h.do("GET", "/v1/nope", "", "", "X-Request-Id: "+strings.Repeat("x", 200))
	if got := r.header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") || r.problem(t).RequestID != got {
		t.Fatalf("oversized request id kept: %q", got)
	}
}

func TestConnectorsListing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/v1/connectors", h.keyA, "")
	var list []ConnectorView
	r.decode(t, &list)
	if len(list) != 2 || list[0].ID != "acme" || list[1].ID != "bolt" {
		t.Fatalf("listing: %s", r.body)
	}
	a := list[0]
	if a.Name != "Acme Express" || a.State != plugins.StateRunning || a.PID != 4242 || a.Restarts != 1 || a.LastError != "exit status 2" || a.StartedAt == nil || !a.Builtin {
		t.Fatalf("acme: %+v", a)
	}
	if len(a.Operations) != 2 || a.Operations[0] != (OperationView{Name: sdk.OpTrack, Idempotent: true}) || !a.Operations[1].Creates {
		t.Fatalf("operations: %+v", a.Operations)
	}
	if r := h.do("GET", "/v1/connectors/bolt", h.keyA, ""); r.status != 200 || !strings.Contains(string(r.body), `"state":"idle"`) {
		t.Fatalf("one: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/connectors/nope", h.keyA, ""); r.status != 404 {
		t.Fatalf("unknown: %d", r.status)
	}
	r = h.do("GET", "/healthz/connectors", "", "")
	var procs []ProcessView
	r.decode(t, &procs)
	if len(procs) != 2 || procs[0].ID != "acme" || procs[0].UptimeSeconds <= 0 || procs[1].UptimeSeconds != 0 {
		t.Fatalf("process summary: %s", r.body)
	}
}

func TestConnectorHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var gotAccount *sdk.Account
	h.conns.health = func(_ context.Context, id string, account *sdk.Account) (plugins.Health, error) {
		gotAccount = account
		if account != nil {
			return plugins.Health{Status: plugins.Status{State: plugins.StateRunning}, CheckSupported: true,
				CheckError: &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceCarrier, Message: "token refused", CarrierCode: "401"}}, nil
		}
		return plugins.Health{Status: plugins.Status{State: plugins.StateRunning, PID: 9}, CheckSupported: true}, nil
	}
	r := h.do("GET", "/v1/connectors/acme/health", h.keyA, "")
	var v HealthView
	r.decode(t, &v)
	if r.status != 200 || !v.Healthy || v.PID != 9 || gotAccount != nil {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
	id := h.createAccount(h.keyA, acmeAccount)
	r = h.do("GET", "/v1/connectors/acme/health?account="+id, h.keyA, "")
	v = HealthView{}
	r.decode(t, &v)
	if r.status != 200 || v.Healthy || v.CheckError == nil || v.CheckError.Code != "auth_failed" || v.CheckError.CarrierCode != "401" || gotAccount.BaseURL != "https://staging.acme.test" {
		t.Fatalf("health with account: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/connectors/acme/health?account="+id, h.keyB, ""); r.status != 404 {
		t.Fatalf("another tenant's account: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/connectors/zzz/health", h.keyA, ""); r.status != 404 {
		t.Fatalf("unknown connector: %d", r.status)
	}
	h.conns.health = func(context.Context, string, *sdk.Account) (plugins.Health, error) {
		return plugins.Health{}, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceHub, Message: "process failed to start"}
	}
	if r := h.do("GET", "/v1/connectors/acme/health", h.keyA, ""); r.status != 503 {
		t.Fatalf("start failure: %d %s", r.status, r.body)
	}
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.createAccount(h.keyA, acmeAccount)
	r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{"tracking_numbers":["X1"]}`, "X-Request-Id: rid-7")
	if r.status != 200 || string(r.body) != `{"tracking":[]}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("invoke: %d %v %s", r.status, r.header, r.body)
	}
	h.mu.Lock()
	call := h.lastCall
	h.mu.Unlock()
	if call.Account.ID != id || call.Account.Credentials["api_token"] != "tok-SECRET-1" || call.RequestID != "rid-7" || call.Operation != sdk.OpTrack {
		t.Fatalf("call: %+v", call)
	}
	r = h.do("POST", "/v1/connectors/acme/create_shipment?account="+id, h.keyA, `{"reference":"R1"}`, "Idempotency-Key: order-77")
	if r.status != 200 {
		t.Fatalf("create with key: %d %s", r.status, r.body)
	}
	h.mu.Lock()
	call = h.lastCall
	h.mu.Unlock()
	if call.IdempotencyKey != "order-77" {
		t.Fatalf("idempotency key lost: %+v", call)
	}
	if r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{}`, "Hub-Account: "+id); r.status != 200 {
		t.Fatalf("Hub-Account header: %d %s", r.status, r.body)
	}
	// Logs carry the route and tenant, never the secret, the credentials or the body.
	logs := h.logs.String()
	for _, leak := range []string{h.keyA, "tok-SECRET-1", "tracking_numbers", "Bearer"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("logs contain %q:\n%s", leak, logs)
		}
	}
	if !strings.Contains(logs, `"route":"POST /v1/connectors/{id}/{operation}"`) || !strings.Contains(logs, `"tenant":"`+h.tenantA+`"`) || !strings.Contains(logs, `"request_id":"rid-7"`) {
		t.Fatalf("request log incomplete:\n%s", logs)
	}
}

func TestInvokeBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	id := h.createAccount(h.keyA, acmeAccount)
	idB := h.createAccount(h.keyB, acmeAccount)
	cases := []struct {
		name    string
		path    string
		body    string
		headers []string
		status  int
		code    string
		param   string
	}{
		{"unknown connector", "/v1/connectors/nope/track", `{}`, nil, 404, "not_found", ""},
		{"unknown operation", "/v1/connectors/acme/teleport", `{}`, nil, 404, "not_found", ""},
		{"undeclared operation", "/v1/connectors/acme/rate", `{}`, nil, 404, "not_found", ""},
		{"health is not an operation", "/v1/connectors/acme/health", `{}`, nil, 404, "not_found", ""},
		{"no content type", "/v1/connectors/acme/track", `{}`, []string{"Content-Type: "}, 415, codeMediaType, ""},
		{"wrong content type", "/v1/connectors/acme/track", `{}`, []string{"Content-Type: text/plain"}, 415, codeMediaType, ""},
		{"garbage content type", "/v1/connectors/acme/track", `{}`, []string{"Content-Type: ;;;"}, 415, codeMediaType, ""},
		{"too large", "/v1/connectors/acme/track", `{"x":"` + strings.Repeat("a", 2000) + `"}`, nil, 413, codeTooLarge, ""},
		{"malformed JSON", "/v1/connectors/acme/track", `{"tracking_numbers":[`, nil, 400, "invalid_request", ""},
		{"not JSON", "/v1/connectors/acme/track", `hello`, nil, 400, "invalid_request", ""},
		{"idempotency key on a read", "/v1/connectors/acme/track", `{}`, []string{"Idempotency-Key: k1"}, 422, "invalid_request", "Idempotency-Key"},
		{"idempotency key too long", "/v1/connectors/acme/create_shipment", `{}`, []string{"Idempotency-Key: " + strings.Repeat("k", 300)}, 400, "invalid_request", "Idempotency-Key"},
		{"another tenant's account", "/v1/connectors/acme/track?account=" + idB, `{}`, nil, 404, "not_found", "account"},
		{"account query and header disagree", "/v1/connectors/acme/track?account=" + id, `{}`, []string{"Hub-Account: other"}, 422, "invalid_request", "account"},
		{"no account for connector", "/v1/connectors/bolt/track", `{}`, nil, 422, "invalid_request", "account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", c.path, h.keyA, c.body, c.headers...)
			p := r.problem(t)
			if r.status != c.status || p.Code != c.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.status, p.Code, c.status, c.code, r.body)
			}
			if c.param != "" && (len(p.Errors) != 1 || p.Errors[0].Parameter != c.param) {
				t.Fatalf("errors %+v, want parameter %s", p.Errors, c.param)
			}
		})
	}
}

func TestInvokeValidationFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	store, conns := h.store, h.conns
	rt, err := router.New(router.Config{Overrides: oneAttempt, Connectors: conns, Accounts: store, Validate: func(op sdk.Operation, body []byte) error {
		return router.NewValidationError([]router.FieldError{{Pointer: "/ship_to/postal_code", Message: "must be 6 digits"}, {Pointer: "/reference", Message: "is required"}})
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Store: store, Router: rt, Connectors: conns, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	h.srv = srv
	h.createAccount(h.keyA, acmeAccount)
	r := h.do("POST", "/v1/connectors/acme/create_shipment", h.keyA, `{"ship_to":{"postal_code":"12"}}`)
	p := r.problem(t)
	if r.status != 422 || len(p.Errors) != 2 || *p.Errors[0].Pointer != "/ship_to/postal_code" || *p.Errors[1].Pointer != "/reference" || p.Source != "hub" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createAccount(h.keyA, acmeAccount)
	cases := []struct {
		err    error
		status int
	}{
		{&sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceCarrier, Field: "/ship_to/phone", CarrierCode: "E12", CarrierMessage: "bad phone"}, 422},
		{&sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceCarrier, CarrierMessage: "invalid token"}, 424},
		{&sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceCarrier}, 404},
		{&sdk.Error{Code: sdk.CodeConflict, Source: sdk.SourceCarrier}, 409},
		{&sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceCarrier, RetryAfter: 1500 * time.Millisecond}, 429},
		{&sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier}, 503},
		{&sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector}, 504},
		{&sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier}, 422},
		{&sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: "mapping broke"}, 502},
		{&sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub, Message: "plugin protocol mismatch"}, 500},
		{context.DeadlineExceeded, 504},
	}
	for _, c := range cases {
		h.conns.invoke = func(context.Context, string, *sdk.Call) ([]byte, error) { return nil, c.err }
		r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{}`)
		p := r.problem(t)
		want := sdk.AsError(c.err)
		if r.status != c.status || p.Code != string(want.Code) || p.Source != string(want.Source) || p.CarrierCode != want.CarrierCode || p.CarrierMessage != want.CarrierMessage {
			t.Fatalf("%v: got %d %s", c.err, r.status, r.body)
		}
		if want.Code == sdk.CodeRateLimited && (r.header.Get("Retry-After") != "2" || p.RetryAfter != 2) {
			t.Fatalf("rate limited: Retry-After %q, retry_after %d", r.header.Get("Retry-After"), p.RetryAfter)
		}
		if want.Field != "" && (len(p.Errors) != 1 || *p.Errors[0].Pointer != want.Field) {
			t.Fatalf("field lost: %s", r.body)
		}
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createAccount(h.keyA, acmeAccount)
	h.conns.invoke = func(context.Context, string, *sdk.Call) ([]byte, error) { panic("nil map write") }
	r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{}`)
	if r.status != 500 || r.problem(t).Code != "internal" || strings.Contains(string(r.body), "nil map") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if !strings.Contains(h.logs.String(), "nil map write") {
		t.Fatal("panic not logged")
	}
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		name, body, pointer string
		status              int
	}{
		{"unknown connector", `{"connector_id":"nope","name":"x","environment":"sandbox"}`, "/connector_id", 422},
		{"unknown credential", `{"connector_id":"acme","name":"x","environment":"sandbox","credentials":{"api_token":"t","password":"p"},"settings":{"client_name":"c"}}`, "/credentials/password", 422},
		{"missing required credential", `{"connector_id":"acme","name":"x","environment":"sandbox","settings":{"client_name":"c"}}`, "/credentials/api_token", 422},
		{"missing required setting", `{"connector_id":"acme","name":"x","environment":"sandbox","credentials":{"api_token":"t"}}`, "/settings/client_name", 422},
		{"unknown setting", `{"connector_id":"acme","name":"x","environment":"sandbox","credentials":{"api_token":"t"},"settings":{"client_name":"c","a/b":"1"}}`, "/settings/a~1b", 422},
		{"bad environment", `{"connector_id":"acme","name":"x","environment":"staging","credentials":{"api_token":"t"},"settings":{"client_name":"c"}}`, "/environment", 422},
		{"environment without URL", `{"connector_id":"bolt","name":"x","environment":"production"}`, "/environment", 422},
		{"bad base URL", `{"connector_id":"bolt","name":"x","environment":"sandbox","base_url":"ftp://x"}`, "/base_url", 422},
		{"no name", `{"connector_id":"bolt","environment":"sandbox"}`, "/name", 422},
		{"unknown field", `{"connector_id":"bolt","name":"x","environment":"sandbox","colour":"red"}`, "/colour", 422},
		{"wrong type", `{"connector_id":"bolt","name":"x","environment":"sandbox","credentials":{"k":1}}`, "/credentials", 422},
		{"array body", `[]`, "", 422},
		{"malformed", `{"connector_id":`, "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/v1/accounts", h.keyA, c.body)
			p := r.problem(t)
			if r.status != c.status {
				t.Fatalf("got %d: %s", r.status, r.body)
			}
			found := false
			for _, e := range p.Errors {
				found = found || (e.Pointer != nil && *e.Pointer == c.pointer)
			}
			if !found {
				t.Fatalf("no error at %q: %s", c.pointer, r.body)
			}
		})
	}

	r := h.do("POST", "/v1/accounts", h.keyA, acmeAccount)
	if r.status != 201 || strings.Contains(string(r.body), "tok-SECRET-1") || !strings.HasPrefix(r.header.Get("Location"), "/v1/accounts/") {
		t.Fatalf("create: %d %v %s", r.status, r.header, r.body)
	}
	var a struct {
		ID       string `json:"id"`
		TenantID string `json:"tenant_id"`
	}
	r.decode(t, &a)
	if a.TenantID != h.tenantA {
		t.Fatalf("tenant %s", a.TenantID)
	}
	if r := h.do("POST", "/v1/accounts", h.keyA, acmeAccount); r.status != 409 {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	// Tenant isolation: B sees none of A's accounts.
	for _, req := range [][2]string{{"GET", "/v1/accounts/" + a.ID}, {"DELETE", "/v1/accounts/" + a.ID}} {
		if r := h.do(req[0], req[1], h.keyB, ""); r.status != 404 {
			t.Fatalf("tenant B %s %s: %d %s", req[0], req[1], r.status, r.body)
		}
	}
	if r := h.do("GET", "/v1/accounts", h.keyB, ""); r.status != 200 || string(r.body) != "[]" {
		t.Fatalf("tenant B list: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/v1/accounts?connector=acme", h.keyA, "")
	if r.status != 200 || !strings.Contains(string(r.body), a.ID) || strings.Contains(string(r.body), "tok-SECRET-1") {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/accounts/"+a.ID, h.keyA, ""); r.status != 200 || strings.Contains(string(r.body), "tok-SECRET-1") {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{}`); r.status != 200 {
		t.Fatalf("invoke before delete: %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/v1/accounts/"+a.ID, h.keyA, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	// The router's account cache is dropped on delete: the account is gone at once.
	if r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{}`); r.status != 422 {
		t.Fatalf("invoke after delete: %d %s", r.status, r.body)
	}
}

func TestTenants(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, key := range []string{h.keyA, h.adminKey} {
		if r := h.do("POST", "/v1/tenants", key, `{"name":"c"}`); r.status != 403 || r.problem(t).Code != codeForbidden {
			t.Fatalf("tenant key creating a tenant: %d %s", r.status, r.body)
		}
	}
	if r := h.do("POST", "/v1/tenants", h.opKey, `{"name":""}`); r.status != 422 {
		t.Fatalf("empty name: %d", r.status)
	}
	r := h.do("POST", "/v1/tenants", h.opKey, `{"name":"tenant-c"}`)
	var tc TenantCreated
	r.decode(t, &tc)
	if r.status != 201 || tc.Tenant.ID == "" || tc.APIKey.Secret == "" || !tc.APIKey.Admin || tc.APIKey.TenantID != tc.Tenant.ID {
		t.Fatalf("create: %d %s; want the tenant and its first key, an admin key", r.status, r.body)
	}
	if r := h.do("POST", "/v1/tenants", h.opKey, `{"name":"tenant-c"}`); r.status != 409 {
		t.Fatalf("duplicate: %d", r.status)
	}
	if r := h.do("GET", "/v1/accounts", tc.APIKey.Secret, ""); r.status != 200 || string(r.body) != "[]" {
		t.Fatalf("new tenant's key: %d %s", r.status, r.body)
	}
	var seen []store.Tenant
	h.do("GET", "/v1/tenants", tc.APIKey.Secret, "").decode(t, &seen)
	if len(seen) != 1 || seen[0].ID != tc.Tenant.ID {
		t.Fatalf("new tenant's key lists %+v, want only its own tenant", seen)
	}
	h.do("GET", "/v1/tenants", h.opKey, "").decode(t, &seen)
	if len(seen) != 3 {
		t.Fatalf("operator lists %d tenants, want 3", len(seen))
	}
}

// TestNoInputGives500 throws odd requests at every route; none may answer 500.
func TestNoInputGives500(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 4096 })
	h.createAccount(h.keyA, acmeAccount)
	bodies := []string{"", "{}", "null", "[]", `"x"`, "0", `{"name":null}`, `{"name":123}`, "{\"name\":\"\x00\"}", `{{{`, strings.Repeat("[", 5000), `{"credentials":{"":""}}`}
	paths := []string{"/v1/accounts", "/v1/api-keys", "/v1/tenants", "/v1/connectors/acme/track", "/v1/connectors/acme/create_shipment",
		"/v1/connectors/%2e%2e/track", "/v1/accounts/%00", "/v1/connectors/acme/health?account=%ff", "/openapi.json", "/v1/api-keys/x"}
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "DELETE", "PATCH"} {
			for _, b := range bodies {
				r := h.do(m, p, h.adminKey, b)
				if r.status >= 500 {
					t.Fatalf("%s %s %q: %d %s", m, p, b, r.status, r.body)
				}
				if r.status >= 400 {
					r.problem(t)
				}
			}
		}
	}
}

// TestHealthShowsBreakers runs calls through the default resilience policy until
// the account's circuit breaker opens, then reads the state where operators look:
// the tenant's health view (per account, unhealthy) and the unauthenticated
// process summary (counts only, no account ids).
func TestHealthShowsBreakers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rt, err := router.New(router.Config{Connectors: h.conns, Accounts: h.store,
		Resilience: resilience.NewExecutor(resilience.Options{Sleep: func(context.Context, time.Duration) error { return nil }, Logger: slog.New(slog.DiscardHandler)})})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	h.srv = httptest.NewServer(New(Config{Store: h.store, Router: rt, Connectors: h.conns, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(h.srv.Close)
	var calls atomic.Int32
	h.conns.invoke = func(context.Context, string, *sdk.Call) ([]byte, error) {
		calls.Add(1)
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, Message: "503 from the carrier"}
	}
	id := h.createAccount(h.keyA, acmeAccount)
	for i := 0; i < 4; i++ {
		if r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{"tracking_numbers":["X1"]}`); r.status != 503 {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	if calls.Load() < 5 {
		t.Fatalf("%d attempts reached the connector; the breaker needs 5 failures", calls.Load())
	}
	before := calls.Load()
	r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{"tracking_numbers":["X1"]}`)
	if p := r.problem(t); r.status != 503 || p.Source != "hub" || !strings.Contains(p.Detail, "circuit breaker is open") || p.RetryAfter <= 0 || calls.Load() != before {
		t.Fatalf("open breaker: %d %s after %d calls", r.status, r.body, calls.Load()-before)
	}

	r = h.do("GET", "/v1/connectors/acme/health", h.keyA, "")
	var v HealthView
	r.decode(t, &v)
	if r.status != 200 || v.Healthy || v.Resilience == nil || len(v.Resilience.Accounts) != 1 {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
	if a := v.Resilience.Accounts[0]; a.Account != id || a.Breaker != resilience.BreakerOpen || a.ErrorRate != 1 || a.Rejected < 1 || a.OpenRemaining <= 0 {
		t.Fatalf("account state: %+v", a)
	}
	r = h.do("GET", "/v1/connectors/acme/health", h.keyB, "")
	v = HealthView{}
	r.decode(t, &v)
	if r.status != 200 || v.Resilience == nil || len(v.Resilience.Accounts) != 0 || !v.Healthy {
		t.Fatalf("another tenant sees: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/healthz/connectors", "", "")
	var procs []ProcessView
	r.decode(t, &procs)
	if r.status != 200 || len(procs) == 0 || procs[0].Calls == nil || procs[0].Calls.BreakersOpen != 1 || procs[0].Calls.Rejected < 1 {
		t.Fatalf("process summary: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), id) {
		t.Fatalf("the unauthenticated summary names an account: %s", r.body)
	}
}

// TestRequestLogNamesTheCall: the one log line per request names the tenant,
// connector, operation and the account the router resolved, even when the
// caller left the account out.
func TestRequestLogNamesTheCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.createAccount(h.keyA, acmeAccount)
	if r := h.do("POST", "/v1/connectors/acme/track", h.keyA, `{"tracking_numbers":["X1"]}`, "X-Request-Id: rid-log-1"); r.status != 200 {
		t.Fatalf("track: %d %s", r.status, r.body)
	}
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if !strings.Contains(line, `"request_id":"rid-log-1"`) || !strings.Contains(line, `"msg":"request"`) {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatal(err)
		}
		if entry["tenant"] != h.tenantA || entry["connector"] != "acme" || entry["operation"] != "track" || entry["account"] != id {
			t.Fatalf("request log line: %s", line)
		}
		return
	}
	t.Fatalf("no request log line for rid-log-1:\n%s", h.logs.String())
}
