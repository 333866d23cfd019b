package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/store/storetest"
	"github.com/carrierhub/hub/engine/validate"
	"github.com/carrierhub/hub/engine/webhooks"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// FuzzHandler drives the whole API handler (real SQLite store, real router and
// request validator, fake connectors that always answer) with requests built
// from fuzzed parts: method, request target, one of eight Authorization
// choices, Content-Type, Idempotency-Key, Hub-Account, extra header lines and
// a body. Each request is written in HTTP/1.1 wire form and parsed with
// http.ReadRequest, so the handler sees only what net/http's server would hand
// it. The target, Hub-Account, extra headers and body may name the fixtures
// through placeholders ({account}, {push_account}, {other_account},
// {endpoint}, {key}, {admin_key}, {revoked_key}, {tenant}), whose ids are
// random per run.
//
// Every answer is checked: no panic and nothing logged at error level; no 5xx
// (the store is up, and the connectors never fail, so none is excused); every
// non-2xx answer with a body is a complete problem+json; redirects stay on
// this host; a 2xx on a route that needs a key came with a valid key (an admin
// one on admin routes); no answer carries a fixture's secret, and no 2xx
// carries another tenant's account or endpoint id that the request did not
// name itself.
//
// The fixtures are made once per process. A successful DELETE (or revocation)
// may remove one, so they are checked after each and remade when one is gone.
//
// In CI: go test -run '^$' -fuzz '^FuzzHandler$' -fuzztime 30s ./engine/api
func FuzzHandler(f *testing.F) {
	fz := newFuzzHub(f)
	for _, s := range fuzzSeeds() {
		f.Add(s.method, s.target, s.auth, s.contentType, s.idem, s.account, s.extra, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, target string, auth uint8, contentType, idem, hubAccount, extra string, body []byte) {
		fz.check(t, method, target, auth, contentType, idem, hubAccount, extra, body)
	})
}

// Authorization choices of FuzzHandler, by the fuzzed byte modulo authChoices.
const (
	authNone = iota
	authGarbage
	authAdmin
	authTenant // a plain key of tenant A, the admin key's tenant
	authRevoked
	authOther // a plain key of tenant B
	authBasic
	authEmptyBearer
	authChoices
)

// fuzzSeed is one seed request of FuzzHandler.
type fuzzSeed struct {
	method, target                          string
	auth                                    uint8
	contentType, idem, account, extra, body string
}

// fuzzSeeds are one or more real requests per route, plus the usual ways to
// get a request wrong.
func fuzzSeeds() []fuzzSeed {
	const js = "application/json"
	// engine/validate/testdata/create_shipment.json, a request the validator accepts.
	ship := `{"reference":"SO-2026-004211","service":"surface","ship_from":{"name":"Dispatch Desk","company":"Acme Home Appliances Pvt Ltd","phone":"+912267001234","lines":["Plot 14, MIDC Industrial Area","Bhosari"],"city":"Pune","state":"Maharashtra","state_code":"27","postal_code":"411026","country_code":"IN","gstin":"27AAPFU0939F1ZV"},"ship_to":{"name":"Ravi Kumar","phone":"9845012345","lines":["No. 42, 3rd Cross, HSR Layout Sector 2"],"city":"Bengaluru","state":"Karnataka","state_code":"29","postal_code":"560102","country_code":"IN","residential":true},"parcels":[{"reference":"PKG-1","weight":{"value":4.2,"unit":"kg"},"dimensions":{"length":40,"width":30,"height":25,"unit":"cm"},"description":"Mixer grinder","items":[{"sku":"MG-750","description":"Mixer grinder 750 W","hsn_code":"85094010","quantity":1,"unit":"NOS","unit_value":{"amount":3499,"currency":"INR"}}]}],"payment_mode":"cod","cod_amount":{"amount":3499,"currency":"INR"},"invoice":{"number":"INV/26/0042","date":"2026-03-14","value":{"amount":3499,"currency":"INR"}},"ship_date":"2026-03-15","label_format":"PDF"}`
	return []fuzzSeed{
		{method: "GET", target: "/healthz"},
		{method: "GET", target: "/readyz"},
		{method: "HEAD", target: "/healthz/connectors"},
		{method: "GET", target: "/openapi.json"},
		{method: "GET", target: "/v1/connectors", auth: authTenant},
		{method: "GET", target: "/v1/connectors/acme", auth: authTenant},
		{method: "GET", target: "/v1/connectors/acme/health?account={account}", auth: authTenant},
		{method: "GET", target: "/v1/connectors/pushy/health", auth: authOther},
		{method: "POST", target: "/v1/connectors/acme/track", auth: authTenant, contentType: js, account: "{account}",
			body: `{"tracking_numbers":["X1"]}`},
		{method: "POST", target: "/v1/connectors/acme/track?account={account}", auth: authAdmin, contentType: "application/problem+json; charset=utf-8",
			body: `{"tracking_numbers":["X1","X2"]}`},
		{method: "POST", target: "/v1/connectors/acme/create_shipment", auth: authTenant, contentType: js, idem: "order-77", body: ship},
		{method: "POST", target: "/v1/connectors/acme/create_shipment?account={other_account}", auth: authTenant, contentType: js, idem: "order-78", body: ship},
		{method: "POST", target: "/v1/connectors/bolt/track", auth: authTenant, contentType: js, body: `{"tracking_numbers":[]}`},
		{method: "GET", target: "/v1/accounts?connector=acme", auth: authTenant},
		{method: "POST", target: "/v1/accounts", auth: authTenant, contentType: js,
			body: `{"connector_id":"acme","name":"fuzz","environment":"sandbox","base_url":"https://x.test","credentials":{"api_token":"t"},"settings":{"client_name":"C"}}`},
		{method: "POST", target: "/v1/accounts", auth: authTenant, contentType: js,
			body: `{"connector_id":"pushy","name":"inbox","environment":"sandbox","credentials":{"push_token":"t","sftp_password":"p"},"settings":{"sftp_inbox":"/in","sftp_host":"h.test","sftp_user":"u","sftp_port":"22","sftp_known_hosts":"h.test ssh-ed25519 AAAA"}}`},
		{method: "GET", target: "/v1/accounts/{account}", auth: authTenant},
		{method: "GET", target: "/v1/accounts/{account}", auth: authOther},
		{method: "DELETE", target: "/v1/accounts/{account}", auth: authTenant},
		{method: "GET", target: "/v1/api-keys", auth: authTenant},
		{method: "POST", target: "/v1/api-keys", auth: authAdmin, contentType: js, body: `{"name":"ops","admin":true}`},
		{method: "POST", target: "/v1/api-keys", auth: authTenant, contentType: js, body: `{"name":"ops","admin":true}`},
		{method: "DELETE", target: "/v1/api-keys/{revoked_key}", auth: authTenant},
		{method: "DELETE", target: "/v1/api-keys/{admin_key}", auth: authOther},
		{method: "GET", target: "/v1/tenants", auth: authAdmin},
		{method: "GET", target: "/v1/tenants", auth: authTenant},
		{method: "POST", target: "/v1/tenants", auth: authAdmin, contentType: js, body: `{"name":"acme-logistics"}`},
		{method: "GET", target: "/v1/webhooks/endpoints", auth: authTenant},
		{method: "POST", target: "/v1/webhooks/endpoints", auth: authTenant, contentType: js,
			body: `{"url":"https://erp.example.com/hooks","event_types":["shipment.*"],"filter":{"connector":"acme","/data/status":"delivered"},"rate_limit":10,"ordered":true}`},
		{method: "GET", target: "/v1/webhooks/endpoints/{endpoint}", auth: authTenant},
		{method: "PATCH", target: "/v1/webhooks/endpoints/{endpoint}", auth: authTenant, contentType: js,
			body: `{"enabled":false,"description":"paused","event_types":["*"],"rate_limit":0}`},
		{method: "DELETE", target: "/v1/webhooks/endpoints/{endpoint}", auth: authTenant},
		{method: "POST", target: "/v1/webhooks/endpoints/{endpoint}/rotate-secret", auth: authTenant, contentType: js, body: `{"overlap_seconds":3600}`},
		{method: "GET", target: "/v1/webhooks/endpoints/{endpoint}/attempts?limit=10", auth: authTenant},
		{method: "GET", target: "/v1/webhooks/events/evt_1/attempts", auth: authTenant},
		{method: "POST", target: "/v1/webhooks/endpoints/{endpoint}/replay", auth: authTenant, contentType: js,
			body: `{"since":"2026-05-01T00:00:00Z","until":"2026-05-02T00:00:00Z","limit":10}`},
		{method: "POST", target: "/v1/webhooks/endpoints/{endpoint}/test", auth: authTenant},
		{method: "GET", target: "/v1/overview", auth: authTenant},
		{method: "GET", target: "/v1/connectors/acme/exchanges?account={account}", auth: authTenant},
		{method: "GET", target: "/v1/connectors/acme/exchanges?account={other_account}", auth: authTenant},
		{method: "GET", target: "/v1/overview", auth: authAdmin},
		{method: "GET", target: "/v1/overview/stream", auth: authTenant},
		{method: "GET", target: "/v1/shipments?q=SO-2026-004211", auth: authTenant},
		{method: "GET", target: "/v1/shipments", auth: authOther},
		{method: "POST", target: "/v1/console/sessions", contentType: js, body: `{"api_key":"hub_sk_nope"}`},
		{method: "GET", target: "/v1/console/session", extra: "Cookie: hub_session=hub_cs_" + strings.Repeat("A", 43)},
		{method: "DELETE", target: "/v1/console/session", extra: "Cookie: hub_session=garbage\nX-CSRF-Token: x\nOrigin: https://evil.example"},
		{method: "POST", target: "/v1/inbound/pushy/{push_account}?src=pushy", contentType: js,
			extra: "X-Pushy-Token: " + pushyToken, body: `{"awb":"PX1","status":"in_transit"}`},
		{method: "POST", target: "/v1/inbound/pushy/{push_account}", contentType: "text/csv", body: "awb,status\nPX1,delivered\n"},
		{method: "POST", target: "/v1/inbound/acme/{account}", body: `{}`},
		// Ways to get it wrong.
		{method: "GET", target: "/v1/accounts", auth: authNone},
		{method: "GET", target: "/v1/accounts", auth: authGarbage},
		{method: "GET", target: "/v1/accounts", auth: authRevoked},
		{method: "GET", target: "/v1/accounts", auth: authBasic},
		{method: "GET", target: "/v1/accounts", auth: authEmptyBearer},
		{method: "PUT", target: "/v1/accounts", auth: authTenant},
		{method: "GET", target: "/v1//accounts/../api-keys", auth: authTenant},
		{method: "GET", target: "/nope"},
		{method: "POST", target: "/v1/accounts", auth: authTenant, contentType: "text/plain", body: `{}`},
		{method: "POST", target: "/v1/accounts", auth: authTenant, contentType: js, body: `{"connector_id":`},
		{method: "POST", target: "/v1/accounts", auth: authTenant, contentType: js, body: `{"connector_id":"acme","name":7}`},
		{method: "POST", target: "/v1/connectors/acme/track", auth: authTenant, contentType: js, idem: "k", account: "{account}",
			extra: "Idempotency-Key: k2", body: `{"tracking_numbers":["X1"]}`},
		{method: "POST", target: "/v1/connectors/acme/nope", auth: authTenant, contentType: js, body: `[]`},
		{method: "POST", target: "/v1/connectors/acme/track", auth: authTenant, contentType: js,
			extra: "Transfer-Encoding: chunked", body: "5\r\n{\"a\":\r\n0\r\n\r\n"},
		{method: "GET", target: "/v1/connectors", auth: authTenant,
			extra: "Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nX-Request-Id: fuzz-1"},
	}
}

// fuzzHub is the API under FuzzHandler with its fixtures.
type fuzzHub struct {
	st      store.Store
	handler http.Handler
	logs    *fuzzLog
	// access is each route's rule, by its ServeMux pattern ("GET /v1/accounts").
	access map[string]access

	mu sync.Mutex
	// route is the pattern of the last answered request (ObserveRequest).
	route string
	fx    fuzzFixtures
	// generation numbers the fixture sets, for unique tenant names.
	generation int
}

// fuzzFixtures are the ids and secrets the fuzzed requests act on.
type fuzzFixtures struct {
	tenantA, tenantB                             string
	admin, tenantKey, revoked, other             string // secrets
	adminID, tenantKeyID, revokedID, otherID     string
	account, pushAccount, otherAccount, endpoint string
	accountToken, otherToken, endpointSecret     string
	placeholders                                 *strings.Replacer
}

func newFuzzHub(f *testing.F) *fuzzHub {
	f.Helper()
	fz := &fuzzHub{st: storetest.OpenSQLite(f), logs: &fuzzLog{}}
	log := slog.New(fz.logs)
	conns := &fakeConnectors{
		infos: []plugins.Info{
			{Manifest: acmeManifest, Builtin: true, Status: plugins.Status{State: plugins.StateRunning, PID: 4242, StartedAt: time.Unix(1700000000, 0).UTC()}},
			{Manifest: boltManifest, Status: plugins.Status{State: plugins.StateIdle}},
			{Manifest: pushyManifest, Status: plugins.Status{State: plugins.StateCrashed, Restarts: 3, LastError: "exit status 2"}},
		},
		invoke: fuzzConnector,
		health: func(context.Context, string, *sdk.Account) (plugins.Health, error) {
			return plugins.Health{Status: plugins.Status{State: plugins.StateRunning, PID: 4242}, CheckSupported: true}, nil
		},
	}
	v, err := validate.New()
	if err != nil {
		f.Fatal(err)
	}
	never := resilience.ConnectorOverrides{Policy: sdk.Policy{MaxAttempts: 1, BreakerFailures: 1 << 20, BreakerMinRequests: 1 << 20}}
	rt, err := router.New(router.Config{Connectors: conns, Accounts: fz.st, Logger: log, Validate: fuzzValidator(v),
		Overrides: &resilience.Overrides{Connectors: map[string]resilience.ConnectorOverrides{"acme": never, "bolt": never, "pushy": never}}})
	if err != nil {
		f.Fatal(err)
	}
	h := New(Config{Store: fz.st, Router: rt, Connectors: conns, Logger: log, Version: "fuzz",
		ObserveRequest: func(route, _ string, _ int, _ time.Duration) {
			fz.mu.Lock()
			fz.route = route
			fz.mu.Unlock()
		}})
	fz.handler = h
	fz.access = map[string]access{}
	for _, r := range h.(*server).routes() {
		fz.access[r.Method+" "+r.Pattern] = r.Auth
	}
	if err := fz.makeFixtures(f.Context()); err != nil {
		f.Fatal(err)
	}
	return fz
}

// fuzzConnector answers every call the way a healthy connector would: pushes
// are checked against pushyToken, everything else succeeds.
func fuzzConnector(_ context.Context, _ string, call *sdk.Call) ([]byte, error) {
	switch call.Operation {
	case sdk.OpReceivePush:
		var req model.PushRequest
		if err := json.Unmarshal(call.Payload, &req); err != nil {
			// The hub wrote this payload; failing here is the hub's bug.
			return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: "the hub sent a push that is not JSON: " + err.Error()}
		}
		if req.Headers["x-pushy-token"] != pushyToken {
			return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, Message: "the push's token does not match"}
		}
		return []byte(`{"results":[{"tracking_number":"PX1","status":"in_transit"}]}`), nil
	case sdk.OpCreateShipment:
		return []byte(`{"awb":"AWB-1","label_url":"https://labels.test/1.pdf"}`), nil
	}
	return []byte(`{"tracking":[]}`), nil
}

// fuzzValidator adapts engine/validate to the router as hub serve does.
func fuzzValidator(v *validate.Validator) router.ValidateFunc {
	return func(op sdk.Operation, body []byte) error {
		err := v.Request(op, body)
		var ve *validate.Error
		if errors.As(err, &ve) {

			return router.NewValidationError(ve.Fields)
		}
		return err
	}
}

// makeFixtures makes a fresh set of fixtures: tenant A with an admin key, a
// plain key, a revoked key, an acme and a pushy account and a webhook endpoint;
// tenant B with a plain key and an acme account.
func (fz *fuzzHub) makeFixtures(ctx context.Context) error {
	fz.generation++
	g := fz.generation
	var fx fuzzFixtures
	ta, err := fz.st.CreateTenant(ctx, fmt.Sprintf("fuzz-a-%d", g))
	if err != nil {
		return err
	}
	tb, err := fz.st.CreateTenant(ctx, fmt.Sprintf("fuzz-b-%d", g))
	if err != nil {
		return err
	}
	fx.tenantA, fx.tenantB = ta.ID, tb.ID
	key := func(tenantID, name string, admin bool, id, secret *string) {
		if err != nil {
			return
		}
		var k store.APIKey
		k, *secret, err = fz.st.CreateAPIKey(ctx, tenantID, name, admin)
		*id = k.ID
	}
	key(ta.ID, "admin", true, &fx.adminID, &fx.admin)
	key(ta.ID, "plain", false, &fx.tenantKeyID, &fx.tenantKey)
	key(ta.ID, "revoked", false, &fx.revokedID, &fx.revoked)
	key(tb.ID, "other", false, &fx.otherID, &fx.other)
	if err != nil {
		return err
	}
	if err := fz.st.RevokeAPIKey(ctx, ta.ID, fx.revokedID); err != nil {
		return err
	}
	fx.accountToken = fmt.Sprintf("tok-FUZZ-SECRET-A%d-8f2e41", g)
	fx.otherToken = fmt.Sprintf("tok-FUZZ-SECRET-B%d-77c0d3", g)
	account := func(tenantID, connector, name string, creds, settings map[string]string) string {
		if err != nil {
			return ""
		}
		var a store.Account
		a, err = fz.st.CreateAccount(ctx, store.Account{TenantID: tenantID, ConnectorID: connector, Name: name,
			Environment: "sandbox", Credentials: creds, Settings: settings})
		return a.ID
	}
	fx.account = account(ta.ID, "acme", "main", map[string]string{"api_token": fx.accountToken}, map[string]string{"client_name": "C1"})
	fx.pushAccount = account(ta.ID, "pushy", "push", map[string]string{"push_token": pushyToken}, nil)
	fx.otherAccount = account(tb.ID, "acme", "main", map[string]string{"api_token": fx.otherToken}, map[string]string{"client_name": "C2"})
	if err != nil {
		return err
	}
	ep, err := fz.st.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{TenantID: ta.ID, URL: "https://erp.example.com/hooks",
		Enabled: true, Secret: webhooks.NewSecret()})
	if err != nil {
		return err
	}
	fx.endpoint, fx.endpointSecret = ep.ID, ep.Secret
	fx.placeholders = strings.NewReplacer("{account}", fx.account, "{push_account}", fx.pushAccount,
		"{other_account}", fx.otherAccount, "{endpoint}", fx.endpoint, "{key}", fx.tenantKeyID,
		"{admin_key}", fx.adminID, "{revoked_key}", fx.revokedID, "{tenant}", fx.tenantA)
	fz.fx = fx
	return nil
}

// fixturesIntact reports whether every fixture a request may have removed is
// still there.
func (fz *fuzzHub) fixturesIntact(ctx context.Context) bool {
	fx := fz.fx
	for _, secret := range []string{fx.admin, fx.tenantKey, fx.other} {
		if _, err := fz.st.Authenticate(ctx, secret); err != nil {
			return false
		}
	}
	for _, a := range [][2]string{{fx.tenantA, fx.account}, {fx.tenantA, fx.pushAccount}, {fx.tenantB, fx.otherAccount}} {
		if _, err := fz.st.GetAccount(ctx, a[0], a[1]); err != nil {
			return false
		}
	}
	_, err := fz.st.GetWebhookEndpoint(ctx, fx.tenantA, fx.endpoint)
	return err == nil
}

// authorization is the Authorization header value of a choice; "" sends none.
func (fx *fuzzFixtures) authorization(choice uint8) string {
	switch choice % authChoices {
	case authGarbage:
		return "Bearer hub_sk_0000000000000000garbage"
	case authAdmin:
		return "Bearer " + fx.admin
	case authTenant:
		return "Bearer " + fx.tenantKey
	case authRevoked:
		return "Bearer " + fx.revoked
	case authOther:
		return "Bearer " + fx.other
	case authBasic:
		return "Basic dXNlcjpwYXNzd29yZA=="
	case authEmptyBearer:
		return "Bearer "
	}
	return ""
}

// check serves one fuzzed request and checks the answer.
func (fz *fuzzHub) check(t *testing.T, method, target string, auth uint8, contentType, idem, hubAccount, extra string, body []byte) {
	fz.mu.Lock()
	fx := fz.fx
	fz.mu.Unlock()
	ph := fx.placeholders
	body = []byte(ph.Replace(string(body)))
	var wire strings.Builder
	wire.WriteString(method + " " + ph.Replace(target) + " HTTP/1.1\r\nHost: hub.test\r\n")
	header := func(name, value string) {
		if value != "" {
			wire.WriteString(name + ": " + value + "\r\n")
		}
	}
	header("Authorization", fx.authorization(auth))
	header("Content-Type", contentType)
	header("Idempotency-Key", idem)
	header("Hub-Account", ph.Replace(hubAccount))
	for line := range strings.SplitSeq(ph.Replace(extra), "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			wire.WriteString(line + "\r\n")
		}
	}
	fmt.Fprintf(&wire, "Content-Length: %d\r\n\r\n", len(body))
	wire.Write(body)
	raw := wire.String()

	// What net/http's server refuses or answers itself never reaches the handler.
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil || req.ProtoMajor != 1 || (req.Method == "OPTIONS" && req.RequestURI == "*") {
		return
	}
	req.RemoteAddr = "192.0.2.10:40000"
	// A stream (GET /v1/overview/stream) answers until its client leaves:
	// this client leaves a stream after its first event.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if strings.HasSuffix(req.URL.Path, "/stream") {
		stop := time.AfterFunc(200*time.Millisecond, cancel)
		defer stop.Stop()
	}
	req = req.WithContext(ctx)
	credentials := strings.Join(req.Header.Values("Authorization"), "\n")

	fz.logs.reset()
	rec := httptest.NewRecorder()
	fz.handler.ServeHTTP(rec, req)
	res := rec.Result()
	got := rec.Body.Bytes()
	fz.mu.Lock()
	route := fz.route
	fz.mu.Unlock()

	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nrequest (route %s):\n%s\nanswer %d %v\n%s\nlogged:\n%s", fmt.Sprintf(format, args...),
			route, clip(raw), res.StatusCode, res.Header, clip(string(got)), fz.logs.String())
	}
	status := res.StatusCode
	if fz.logs.panicked() {
		fail("the handler panicked")
	}
	if status >= 500 {
		fail("a %d with the store up and the connectors healthy", status)
	}
	if fz.logs.errors() {
		fail("an error was logged with the store up and the connectors healthy")
	}
	if status >= 300 && status < 400 {
		if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			fail("a redirect off this host: Location %q", loc)
		}
	}
	if (status < 200 || status >= 300) && len(got) > 0 {
		var p Problem
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			fail("a %d answered with Content-Type %q, not application/problem+json", status, ct)
		}
		if err := json.Unmarshal(got, &p); err != nil {
			fail("the problem is not JSON: %v", err)
		}
		if p.Status != status || p.Code == "" || p.Title == "" || p.Type != "urn:carrierhub:problem:"+p.Code {
			fail("an incomplete problem: %+v", p)
		}
	}
	for _, secret := range []string{fx.admin, fx.tenantKey, fx.revoked, fx.other, fx.accountToken, fx.otherToken, fx.endpointSecret} {
		if strings.Contains(string(got), secret) {
			fail("the answer carries the secret %q", secret)
		}
	}
	if status >= 200 && status < 300 {
		// Which key the request carries, however its Authorization header reads.
		has := func(secret string) bool { return strings.Contains(credentials, secret) }
		anyKey := has(fx.admin) || has(fx.tenantKey) || has(fx.other)
		rule, known := fz.access[route]
		switch {
		case !known:
			fail("a %d from no route", status)
		case rule == tenant:
			if !anyKey {
				fail("a %d on %s without a valid API key", status, route)
			}
		case rule == tenantOrOperator:
			if !anyKey {
				fail("a %d on %s without a valid API key", status, route)
			}
		case rule == operator:
			// The fixtures hold no operator key: tenants' keys never pass.
			fail("a %d on operator route %s without an operator key", status, route)
		}
		foreign := []string{fx.otherAccount, fx.tenantB}
		if has(fx.other) && !has(fx.admin) && !has(fx.tenantKey) {
			foreign = []string{fx.account, fx.pushAccount, fx.endpoint, fx.tenantA}
		}
		for _, id := range foreign {
			if strings.Contains(string(got), id) && !strings.Contains(raw, id) {
				fail("a %d shows another tenant's %s", status, id)
			}
		}
		if req.Method != "GET" && req.Method != "HEAD" && !fz.fixturesIntact(t.Context()) {
			fz.mu.Lock()
			err := fz.makeFixtures(t.Context())
			fz.mu.Unlock()
			if err != nil {
				t.Fatalf("remaking the fixtures: %v", err)
			}
		}
	}
}

// clip shortens s for a failure message.
func clip(s string) string {
	if len(s) > 4096 {
		return fmt.Sprintf("%q... (%d bytes)", s[:4096], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// fuzzLog is a slog.Handler that keeps the warnings and errors of the current
// request, for FuzzHandler's failure messages and its no-error check. It drops
// attributes added with With.
type fuzzLog struct {
	mu     sync.Mutex
	lines  []string
	errs   bool
	panics bool
}

func (l *fuzzLog) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelWarn }

func (l *fuzzLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < 50 {
		l.lines = append(l.lines, b.String())
	}
	l.errs = l.errs || r.Level >= slog.LevelError
	l.panics = l.panics || r.Message == "panic serving request"
	return nil
}

func (l *fuzzLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *fuzzLog) WithGroup(string) slog.Handler      { return l }

func (l *fuzzLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines, l.errs, l.panics = nil, false, false
}

func (l *fuzzLog) errors() bool   { l.mu.Lock(); defer l.mu.Unlock(); return l.errs }
func (l *fuzzLog) panicked() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.panics }

func (l *fuzzLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
