package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/internal/testclock"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// The inbound route authenticates every push against the connector's
// declared inbound authentication before the connector sees it. These tests
// give the harness one connector per kind of authentication, whose
// receive_push only counts the pushes that reach it.

// inboundEnv is a harness with push connectors and a counter of the pushes
// that reached them, per connector.
type inboundEnv struct {
	*harness
	clock *testclock.Clock
	mu    sync.Mutex
	seen  map[string]int
	n     int
}

// pushManifest is a receive_push connector whose pushes authenticate as in.
func pushManifest(id string, creds []string, in *sdk.InboundAuth) *sdk.Manifest {
	m := &sdk.Manifest{
		ID: id, Name: id, Version: "0.1.0", Category: "carrier_parcel", Docs: "https://example.test/" + id,
		Operations: []sdk.OperationInfo{{Name: sdk.OpReceivePush, Idempotent: true}},
		Account:    sdk.AccountSchema{Environments: map[string]string{"sandbox": "https://" + id + ".test"}},
		Inbound:    in,
	}
	for _, c := range creds {
		m.Account.Credentials = append(m.Account.Credentials, sdk.Field{Name: c})
	}
	return m
}

func newInboundEnv(t *testing.T, manifests []*sdk.Manifest, opts ...harnessOpt) *inboundEnv {
	t.Helper()
	clock := testclock.New(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	opts = append([]harnessOpt{func(c *Config) { c.Now = clock.Now }}, opts...)
	e := &inboundEnv{harness: newHarness(t, opts...), clock: clock, seen: map[string]int{}}
	for _, m := range manifests {
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		e.conns.infos = append(e.conns.infos, plugins.Info{Manifest: m})
	}
	e.conns.invoke = func(_ context.Context, id string, call *sdk.Call) ([]byte, error) {
		if call.Operation != sdk.OpReceivePush {
			return []byte(`{}`), nil
		}
		e.mu.Lock()
		e.seen[id]++
		e.mu.Unlock()
		var req model.PushRequest
		if err := json.Unmarshal(call.Payload, &req); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "decoding: %v", err)
		}
		return json.Marshal(model.PushResponse{Results: []model.Tracking{{TrackingNumber: string(req.Body), Status: model.StatusInTransit}}})
	}
	return e
}

func (e *inboundEnv) reached(connector string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen[connector]
}

// account creates an account of connector in tenant A with creds, through
// the API. Accounts are made before the first push: the inbound route's
// index of accounts is rebuilt at most every 5 seconds.
func (e *inboundEnv) account(connector string, creds map[string]string) string {
	e.t.Helper()
	e.n++
	b, _ := json.Marshal(map[string]any{"connector_id": connector, "name": connector + strconv.Itoa(e.n),
		"environment": "sandbox", "credentials": creds})
	return e.createAccount(e.keyA, string(b))
}

// rawAccount stores an account of connector in tenant A with creds as they
// are, without the API's checks (a required credential may be missing, as
// in an account made before the connector required it).
func (e *inboundEnv) rawAccount(connector string, creds map[string]string) string {
	e.t.Helper()
	e.n++
	a, err := e.store.CreateAccount(e.t.Context(), store.Account{TenantID: e.tenantA, ConnectorID: connector,
		Name: connector + strconv.Itoa(e.n), Environment: "sandbox", Credentials: creds})
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// push posts body to the inbound route of connector and account.
func (e *inboundEnv) push(connector, account, query, body string, headers ...string) reply {
	e.t.Helper()
	path := "/v1/inbound/" + connector + "/" + account
	if query != "" {
		path += "?" + query
	}
	return e.do("POST", path, "", body, headers...)
}

// refusal is what a refused push's answer shows, without what differs per
// request (its path and request id).
type refusal struct {
	Status      int
	ContentType string
	Headers     string
	Problem     Problem
}

func refusalOf(t *testing.T, r reply) refusal {
	t.Helper()
	p := r.problem(t)
	p.Instance, p.RequestID = "", ""
	var names []string
	for k := range r.header {
		if k != "Date" && k != "Content-Length" && k != "Traceparent" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return refusal{Status: r.status, ContentType: r.header.Get("Content-Type"), Headers: strings.Join(names, ","), Problem: p}
}

// expectRefused checks r is the inbound route's one refusal: 401
// unauthenticated, the same for every reason.
func expectRefused(t *testing.T, what string, r reply, secrets ...string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Errorf("%s: %d %s, want 401", what, r.status, r.body)
		return
	}
	got := refusalOf(t, r)
	want := refusal{Status: 401, ContentType: "application/problem+json", Problem: *pushRefused()}
	got.Headers = ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: answer %+v\nwant %+v", what, got, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(r.body), s) {
			t.Errorf("%s: the answer shows a secret", what)
		}
	}
}

// TestInboundTokenAsDelhiveryDeclaresIt runs Delhivery's own inbound
// declaration (its manifest, read from the connector's folder): the push's
// token in the Authorization header, bare or after "Bearer " or "Token " (any
// case), or in the token query parameter. What the connector's Go checked
// before the check moved into the engine: the same pushes pass and the same
// are refused, and a refused push never reaches the connector.
func TestInboundTokenAsDelhiveryDeclaresIt(t *testing.T) {
	t.Parallel()
	dlv, err := sdk.LoadManifest(os.DirFS("../../connectors/delhivery"), "manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const token = "push-secret-4f1c9a2b7d"
	e := newInboundEnv(t, []*sdk.Manifest{dlv})
	id := e.rawAccount(dlv.ID, map[string]string{"api_token": "api", "push_token": token})
	noToken := e.rawAccount(dlv.ID, map[string]string{"api_token": "api"})

	for _, auth := range []string{token, "Bearer " + token, "token " + token, "TOKEN  " + token, " " + token + " "} {
		if r := e.push(dlv.ID, id, "", "W1", "Authorization: "+auth); r.status != http.StatusOK {
			t.Errorf("Authorization %q: %d %s", auth, r.status, r.body)
		}
	}
	if r := e.push(dlv.ID, id, "token="+token, "W1"); r.status != http.StatusOK {
		t.Errorf("token in the query: %d %s", r.status, r.body)
	}
	if r := e.push(dlv.ID, id, "token="+token, "W1", "Authorization: Bearer wrong"); r.status != http.StatusOK {
		t.Errorf("a wrong header beside the right query token: %d %s", r.status, r.body)
	}
	passed := e.reached(dlv.ID)
	if passed != 7 {
		t.Fatalf("%d pushes reached the connector, want 7", passed)
	}
	for name, c := range map[string]struct{ query, auth string }{
		"no token":              {},
		"wrong bearer":          {auth: "Bearer wrong"},
		"longer token":          {auth: token + "x"},
		"prefix of the token":   {auth: token[:len(token)-1]},
		"unknown scheme":        {auth: "Basic " + token},
		"scheme without space":  {auth: "Bearer" + token},
		"empty bearer":          {auth: "Bearer "},
		"wrong query token":     {query: "token=wrong"},
		"empty query token":     {query: "token="},
		"token in another name": {query: "push_token=" + token},
	} {
		var headers []string
		if c.auth != "" {
			headers = append(headers, "Authorization: "+c.auth)
		}
		expectRefused(t, name, e.push(dlv.ID, id, c.query, "W1", headers...), token)
	}
	// An account without a push_token refuses every push, the right-looking ones too.
	expectRefused(t, "account without push_token", e.push(dlv.ID, noToken, "", "W1", "Authorization: Bearer "+token))
	expectRefused(t, "account without push_token, empty token", e.push(dlv.ID, noToken, "", "W1", "Authorization: Bearer "))
	if n := e.reached(dlv.ID); n != passed {
		t.Errorf("%d refused pushes reached the connector", n-passed)
	}
	if strings.Contains(e.logs.String(), token) {
		t.Errorf("the log shows the token:\n%s", e.logs.String())
	}
}

// signy authenticates pushes with an HMAC-SHA256 of "{timestamp}.{body}",
// hex, after "sha256=".
var signyManifest = pushManifest("signy", []string{"signing_secret"}, &sdk.InboundAuth{
	Type: sdk.InboundHMAC, Credential: "signing_secret", Header: "X-Signy-Signature", Prefix: "sha256=",
	TimestampHeader: "X-Signy-Timestamp"})

// hooky authenticates pushes the Standard Webhooks way: base64 signatures
// of "{id}.{timestamp}.{body}" after "v1,", several at once, a 2m window.
var hookyManifest = pushManifest("hooky", []string{"webhook_secret"}, &sdk.InboundAuth{
	Type: sdk.InboundHMAC, Credential: "webhook_secret", Header: "Webhook-Signature", Prefix: "v1,",
	TimestampHeader: "Webhook-Timestamp", Encoding: "base64", Message: "{header.webhook-id}.{timestamp}.{body}",
	Window: sdk.Duration(2 * time.Minute)})

// bodysign signs the body alone, base64, no time (Borzo's and Xpressbees'
// callbacks): no window to check, every other refusal as for signy.
var bodysignManifest = pushManifest("bodysign", []string{"callback_secret"}, &sdk.InboundAuth{
	Type: sdk.InboundHMAC, Credential: "callback_secret", Header: "X-Body-Signature", Encoding: "base64", Message: "{body}"})

func sign(key, msg string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// TestInboundHMAC: a push signed with the account's secret over the
// timestamp and the body, within the window, passes; a replayed push (an
// old timestamp, correctly signed), a future one, a changed body, a changed
// timestamp, another key, a missing timestamp or signature, and an account
// without the secret are refused alike.
func TestInboundHMAC(t *testing.T) {
	t.Parallel()
	const secret = "whsec-signy-91c2e7"
	const hookSecret = "hooky-secret-5d0a"
	e := newInboundEnv(t, []*sdk.Manifest{signyManifest, hookyManifest, bodysignManifest})
	id := e.account("signy", map[string]string{"signing_secret": secret})
	bare := e.account("signy", nil)
	hook := e.account("hooky", map[string]string{"webhook_secret": hookSecret})
	const cbSecret = "cb-secret-77a1"
	cb := e.account("bodysign", map[string]string{"callback_secret": cbSecret})
	now := e.clock.Now().Unix()
	body := `{"awb":"S1","status":"in_transit"}`
	signed := func(ts int64, key, body string) []string {
		t := strconv.FormatInt(ts, 10)
		return []string{"X-Signy-Timestamp: " + t, "X-Signy-Signature: sha256=" + hex.EncodeToString(sign(key, t+"."+body))}
	}
	if r := e.push("signy", id, "", body, signed(now, secret, body)...); r.status != http.StatusOK {
		t.Fatalf("signed push: %d %s", r.status, r.body)
	}
	if r := e.push("signy", id, "", body, signed(now-299, secret, body)...); r.status != http.StatusOK {
		t.Errorf("inside the window: %d %s", r.status, r.body)
	}
	passed := e.reached("signy")
	ts := strconv.FormatInt(now, 10)
	for name, headers := range map[string][]string{
		"replayed, 10 minutes old": signed(now-600, secret, body),
		"just outside the window":  signed(now-301, secret, body),
		"from the future":          signed(now+600, secret, body),
		"another body":             signed(now, secret, `{"awb":"S2"}`),
		"another key":              signed(now, "not-the-secret", body),
		"timestamp changed":        {"X-Signy-Timestamp: " + strconv.FormatInt(now+1, 10), signed(now, secret, body)[1]},
		"no timestamp":             {signed(now, secret, body)[1]},
		"no signature":             {"X-Signy-Timestamp: " + ts},
		"without the prefix":       {"X-Signy-Timestamp: " + ts, "X-Signy-Signature: " + hex.EncodeToString(sign(secret, ts+"."+body))},
		"not hex":                  {"X-Signy-Timestamp: " + ts, "X-Signy-Signature: sha256=zz"},
		"timestamp not a number":   {"X-Signy-Timestamp: soon", "X-Signy-Signature: sha256=" + hex.EncodeToString(sign(secret, "soon."+body))},
	} {
		expectRefused(t, name, e.push("signy", id, "", body, headers...), secret)
	}
	expectRefused(t, "account without the secret", e.push("signy", bare, "", body, signed(now, secret, body)...))
	// Signed with the empty key the account does not hold: still refused.
	expectRefused(t, "account without the secret, empty key", e.push("signy", bare, "", body, signed(now, "", body)...))
	if n := e.reached("signy"); n != passed {
		t.Errorf("%d refused pushes reached the connector", n-passed)
	}

	// The window follows the hub's clock: the first push, replayed later, is refused.
	e.clock.Add(6 * time.Minute)
	expectRefused(t, "the first push replayed 6 minutes later", e.push("signy", id, "", body, signed(now, secret, body)...))

	// Standard Webhooks: base64, a header in the message, several signatures.
	hts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	good := base64.StdEncoding.EncodeToString(sign(hookSecret, "msg_1."+hts+"."+body))
	old := base64.StdEncoding.EncodeToString(sign("rotated-out", "msg_1."+hts+"."+body))
	if r := e.push("hooky", hook, "", body, "Webhook-Id: msg_1", "Webhook-Timestamp: "+hts,
		"Webhook-Signature: v1,"+old+" v1,"+good); r.status != http.StatusOK {
		t.Errorf("standard webhooks push: %d %s", r.status, r.body)
	}
	expectRefused(t, "another webhook-id", e.push("hooky", hook, "", body, "Webhook-Id: msg_2", "Webhook-Timestamp: "+hts,
		"Webhook-Signature: v1,"+good))
	expectRefused(t, "hex where base64 is declared", e.push("hooky", hook, "", body, "Webhook-Id: msg_1", "Webhook-Timestamp: "+hts,
		"Webhook-Signature: v1,"+hex.EncodeToString(sign(hookSecret, "msg_1."+hts+"."+body))))

	// The body alone, no time: any time passes, any change or other key does not.
	bodySig := "X-Body-Signature: " + base64.StdEncoding.EncodeToString(sign(cbSecret, body))
	if r := e.push("bodysign", cb, "", body, bodySig); r.status != http.StatusOK {
		t.Errorf("body-signed push: %d %s", r.status, r.body)
	}
	expectRefused(t, "body-signed, another body", e.push("bodysign", cb, "", `{"awb":"S2"}`, bodySig))
	expectRefused(t, "body-signed, another key", e.push("bodysign", cb, "", body,
		"X-Body-Signature: "+base64.StdEncoding.EncodeToString(sign("other", body))))
	expectRefused(t, "body-signed, unsigned", e.push("bodysign", cb, "", body))
}

// basicyManifest authenticates pushes with HTTP basic auth.
var basicyManifest = pushManifest("basicy", []string{"push_user", "push_password"}, &sdk.InboundAuth{
	Type: sdk.InboundBasic, Username: "push_user", Password: "push_password"})

// TestInboundBasic: the account's user name and password pass; anything
// else, and an account missing either credential, is refused alike.
func TestInboundBasic(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, []*sdk.Manifest{basicyManifest})
	id := e.account("basicy", map[string]string{"push_user": "carrier", "push_password": "pw-7f3e"})
	noPassword := e.account("basicy", map[string]string{"push_user": "carrier"})
	basic := func(u, p string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
	}
	if r := e.push("basicy", id, "", "B1", basic("carrier", "pw-7f3e")); r.status != http.StatusOK {
		t.Fatalf("good credentials: %d %s", r.status, r.body)
	}
	for name, h := range map[string][]string{
		"wrong password": {basic("carrier", "pw-7f3")},
		"wrong user":     {basic("carrier2", "pw-7f3e")},
		"swapped":        {basic("pw-7f3e", "carrier")},
		"no credentials": nil,
		"bearer instead": {"Authorization: Bearer pw-7f3e"},
		"not base64":     {"Authorization: Basic !!!"},
		"empty":          {basic("", "")},
		"empty password": {basic("carrier", "")},
	} {
		expectRefused(t, name, e.push("basicy", id, "", "B1", h...), "pw-7f3e")
	}
	expectRefused(t, "account without a password", e.push("basicy", noPassword, "", "B1", basic("carrier", "")))
	if n := e.reached("basicy"); n != 1 {
		t.Errorf("%d pushes reached the connector, want 1", n)
	}
}

// TestInboundUniformAnswer: an unknown account, a made-up id, another
// connector's account, another tenant's... every push the hub refuses gets
// the same status, headers and body (apart from its path and request id),
// so the answer does not tell whether an account exists.
func TestInboundUniformAnswer(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, []*sdk.Manifest{pushyManifest, basicyManifest})
	id := e.account("pushy", map[string]string{"push_token": pushyToken})
	bare := e.rawAccount("pushy", nil)
	other := e.account("basicy", map[string]string{"push_user": "u", "push_password": "p"})
	acme := e.createAccount(e.keyA, acmeAccount)
	tokenB := "tenant-b-token"
	bBody, _ := json.Marshal(map[string]any{"connector_id": "pushy", "name": "b", "environment": "sandbox",
		"credentials": map[string]string{"push_token": tokenB}})
	inB := e.createAccount(e.keyB, string(bBody))

	cases := []struct {
		name, account string
		headers       []string
	}{
		{"wrong token", id, []string{"X-Pushy-Token: nope"}},
		{"no token", id, nil},
		{"API key instead", id, []string{"Authorization: Bearer " + e.keyA}},
		{"account without a token", bare, []string{"X-Pushy-Token: " + pushyToken}},
		{"unknown account", "acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", []string{"X-Pushy-Token: " + pushyToken}},
		{"made-up id", "not-an-account", []string{"X-Pushy-Token: " + pushyToken}},
		{"account of another push connector", other, []string{"X-Pushy-Token: " + pushyToken}},
		{"account of a connector without pushes", acme, []string{"X-Pushy-Token: " + pushyToken}},
		{"another tenant's account, this tenant's token", inB, []string{"X-Pushy-Token: " + pushyToken}},
	}
	var first refusal
	for i, c := range cases {
		r := e.push("pushy", c.account, "", `{"awb":"X"}`, c.headers...)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
			continue
		}
		got := refusalOf(t, r)
		if i == 0 {
			first = got
			continue
		}
		if !reflect.DeepEqual(got, first) {
			t.Errorf("%s: answer %+v\ndiffers from the first refusal's %+v", c.name, got, first)
		}
	}
	if n := e.reached("pushy"); n != 0 {
		t.Errorf("%d refused pushes reached the connector", n)
	}
	// The other tenant's account takes its own token.
	if r := e.push("pushy", inB, "", `{"awb":"X"}`, "X-Pushy-Token: "+tokenB); r.status != http.StatusOK {
		t.Errorf("tenant B's push: %d %s", r.status, r.body)
	}
}

// TestInboundRateLimit: pushes are limited per account id with a token
// bucket, made-up ids the same as real ones (a 429 does not tell which
// exist), with Retry-After; another account is not affected, and the bucket
// refills with the clock.
func TestInboundRateLimit(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, []*sdk.Manifest{pushyManifest}, func(c *Config) {
		c.InboundRateLimit, c.InboundBurst = 0.5, 3
	})
	id := e.account("pushy", map[string]string{"push_token": pushyToken})
	other := e.account("pushy", map[string]string{"push_token": pushyToken})
	good := "X-Pushy-Token: " + pushyToken
	for i := range 3 {
		if r := e.push("pushy", id, "", "P", good); r.status != http.StatusOK {
			t.Fatalf("push %d: %d %s", i, r.status, r.body)
		}
	}
	limited := func(what string, r reply) {
		t.Helper()
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("%s: %d %s, want 429", what, r.status, r.body)
		}
		p := r.problem(t)
		if p.Code != string(sdk.CodeRateLimited) || p.RetryAfter != 2 || r.header.Get("Retry-After") != "2" {
			t.Errorf("%s: %+v, Retry-After %q", what, p, r.header.Get("Retry-After"))
		}
	}
	limited("the fourth push", e.push("pushy", id, "", "P", good))
	// A refused push spends a token too: guessing is limited.
	limited("a wrong token", e.push("pushy", id, "", "P", "X-Pushy-Token: nope"))
	if r := e.push("pushy", other, "", "P", good); r.status != http.StatusOK {
		t.Errorf("another account: %d %s", r.status, r.body)
	}
	const unknown = "acc_bbbbbbbbbbbbbbbbbbbbbbbbbb"
	for range 3 {
		expectRefused(t, "unknown account", e.push("pushy", unknown, "", "P", good))
	}
	limited("an unknown account's fourth push", e.push("pushy", unknown, "", "P", good))
	e.clock.Add(2 * time.Second)
	if r := e.push("pushy", id, "", "P", good); r.status != http.StatusOK {
		t.Errorf("after the refill: %d %s", r.status, r.body)
	}
	limited("at once again", e.push("pushy", id, "", "P", good))
	if n := e.reached("pushy"); n != 5 {
		t.Errorf("%d pushes reached the connector, want 5", n)
	}
}
