package declarative

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/sdk"
)

// A small REST carrier written as data: OAuth2 client credentials, a batch
// track of up to 2 numbers that the provider refuses whole for one unknown
// number (so the runtime falls back to one number a request), and a status
// table in the response mapping.
const testManifest = `
id: testcarrier
name: Test Carrier
version: 0.1.0
category: carrier_parcel
protocols: [rest_json]
docs: https://example.com/docs
account:
  credentials:
    - {name: client_id, required: true}
    - {name: client_secret, required: true}
  settings:
    - {name: account_number}
  environments:
    sandbox: https://sandbox.example.com
auth:
  oauth:
    type: oauth2_client_credentials
    token_url: /oauth/token
    client_id: "{credential.client_id}"
    client_secret: "{credential.client_secret}"
    secret_in_body: true
operations:
  - name: track
    idempotent: true
    binding:
      fan_out: {mode: batch, size: 2, fallback: per_item}
      request:
        method: POST
        path: /v1/track
        headers: {X-Account: "{setting.account_number}"}
        body: {mapping: mappings/track-request.mapping}
      response:
        mapping: mappings/track.mapping
        error: mappings/track-error.mapping
        status: {"404": not_found}
  - name: cancel_shipment
    idempotent: true
    binding:
      request:
        method: DELETE
        path: /v1/shipments/{input.tracking_number}
        values: mappings/cancel-values.mapping
        query: {reason: "{values.why}"}
      response:
        mapping: mappings/cancel.mapping
`

var testFiles = fstest.MapFS{
	"manifest.yaml": {Data: []byte(testManifest)},
	"mappings/track-request.mapping": {Data: []byte(`mapping t.req
from json
direction request
{ numbers: input.tracking_numbers, account: input.settings.account_number }
`)},
	"mappings/track.mapping": {Data: []byte(`mapping t.resp
from json
direction response
{ results: input.items.map(i -> {
    tracking_number: i.id
    status: match i.state { "D" => "delivered", "T" => "in_transit", _ => "unknown" }
    raw_code: i.state
    events?: i.scans.map(s -> { time: s.at, status: "in_transit", raw_code: s.code })
  }) }
`)},
	"mappings/track-error.mapping": {Data: []byte(`mapping t.err
from json
direction response
{ error: if exists(input.fault) then { code: "not_found", carrier_code: input.fault.code, message: "unknown number", carrier_message: input.fault.text } else null }
`)},
	"mappings/cancel-values.mapping": {Data: []byte(`mapping t.cancel.values
from json
direction request
{ why: (input.reason ?? "none").upper() }
`)},
	"mappings/cancel.mapping": {Data: []byte(`mapping t.cancel
from json
direction response
{ tracking_number: input.id, cancelled: input.ok == true }
`)},
}

type testProvider struct {
	*httptest.Server
	tokens, calls atomic.Int32
	bodies        chan string
}

func newTestProvider(t *testing.T) *testProvider {
	p := &testProvider{bodies: make(chan string, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("client_id") != "id-1" || r.PostForm.Get("client_secret") != "secret-1" {
			w.WriteHeader(401)
			return
		}
		p.tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"tok-abc","token_type":"bearer","expires_in":3600}`)
	})
	mux.HandleFunc("POST /v1/track", func(w http.ResponseWriter, r *http.Request) {
		p.calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok-abc" {
			w.WriteHeader(401)
			return
		}
		b, _ := io.ReadAll(r.Body)
		p.bodies <- string(b)
		var req struct {
			Numbers []string `json:"numbers"`
			Account string   `json:"account"`
		}
		_ = json.Unmarshal(b, &req)
		var items []string
		for _, n := range req.Numbers {
			switch n {
			case "BAD":
				io.WriteString(w, `{"fault":{"code":"E404","text":"no such number BAD"}}`)
				return
			case "DUP":
				items = append(items, `{"id":"DUP","state":"T","scans":[{"at":"2026-01-01T10:00:00+05:30","code":"A"}]}`,
					`{"id":"DUP","state":"D","scans":[{"at":"2026-01-02T10:00:00+05:30","code":"B"}]}`)
			default:
				items = append(items, `{"id":"`+strings.ToLower(n)+`","state":"T"}`)
			}
		}
		io.WriteString(w, `{"items":[`+strings.Join(items, ",")+`]}`)
	})
	mux.HandleFunc("DELETE /v1/shipments/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "MAINT" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<!DOCTYPE html><html><head><title>Down for maintenance</title></head></html>")
			return
		}
		if r.PathValue("id") == "GONE" {
			w.WriteHeader(404)
			io.WriteString(w, `{"message":"no such shipment"}`)
			return
		}
		io.WriteString(w, `{"id":"`+r.PathValue("id")+`","ok":`+strconv.FormatBool(r.URL.Query().Get("reason") == "DUPLICATE")+`}`)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func load(t *testing.T) *sdk.Dispatcher { return loadFolder(t, testFiles) }

// loadFolder loads a connector folder and returns its dispatcher.
func loadFolder(t *testing.T, files fs.FS) *sdk.Dispatcher {
	t.Helper()
	c, err := Load(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := sdk.NewDispatcher(c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTrackBatchFallbackAndAssembly(t *testing.T) {
	p := newTestProvider(t)
	d := load(t)
	acct := &sdk.Account{ID: "a1", BaseURL: p.URL, Credentials: map[string]string{"client_id": "id-1", "client_secret": "secret-1"},
		Settings: map[string]string{"account_number": "ACC-9"}}
	out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: acct,
		Payload: []byte(`{"tracking_numbers":["X1","BAD","DUP","X1","x2"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []struct {
			TrackingNumber string `json:"tracking_number"`
			Status         string `json:"status"`
			SubStatus      string `json:"sub_status"`
			Events         []any  `json:"events"`
			Error          *struct {
				Code        string `json:"code"`
				CarrierCode string `json:"carrier_code"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := []string{}
	for _, r := range resp.Results {
		got = append(got, r.TrackingNumber+"="+r.Status)
	}
	want := []string{"X1=in_transit", "BAD=unknown", "DUP=delivered", "X1=in_transit", "x2=in_transit"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("results %v, want %v\n%s", got, want, out)
	}
	if r := resp.Results[1]; r.Error == nil || r.Error.Code != "not_found" || r.Error.CarrierCode != "E404" || r.SubStatus != "not_found" {
		t.Errorf("BAD: %+v, want a per-number not_found", r)
	}
	if n := len(resp.Results[2].Events); n != 2 {
		t.Errorf("DUP has %d events, want both records' scans merged", n)
	}
	if p.tokens.Load() != 1 {
		t.Errorf("%d token fetches, want 1 (cached)", p.tokens.Load())
	}
	if b := <-p.bodies; !strings.Contains(b, `"account":"ACC-9"`) {
		t.Errorf("request body %s lacks the account setting", b)
	}
}

func TestStatusTableAndPathTemplate(t *testing.T) {
	p := newTestProvider(t)
	d := load(t)
	acct := &sdk.Account{BaseURL: p.URL, Credentials: map[string]string{"client_id": "id-1", "client_secret": "secret-1"}}
	out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number":"A/B 1","reason":"duplicate"}`)})
	if err != nil || !strings.Contains(string(out), `"cancelled":true`) {
		t.Fatalf("cancel: %s %v", out, err)
	}
	_, err = d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number":"GONE"}`)})
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeNotFound || e.CarrierMessage != "no such shipment" {
		t.Fatalf("cancel of an unknown shipment: %#v, want not_found with the carrier's message", e)
	}
}

func TestHTMLPageUnder200IsCarrierUnavailable(t *testing.T) {
	p := newTestProvider(t)
	d := load(t)
	acct := &sdk.Account{BaseURL: p.URL, Credentials: map[string]string{"client_id": "id-1", "client_secret": "secret-1"}}
	_, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number":"MAINT"}`)})
	if e := sdk.AsError(err); e.Code != sdk.CodeCarrierUnavailable || e.CarrierMessage != "Down for maintenance" {
		t.Fatalf("got %#v, want carrier_unavailable with the page's title", e)
	}
}

func TestBadCredentialsAreAuthFailedWithoutSecrets(t *testing.T) {
	p := newTestProvider(t)
	d := load(t)
	acct := &sdk.Account{BaseURL: p.URL, Credentials: map[string]string{"client_id": "id-1", "client_secret": "wrong-secret-value"}}
	_, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: acct, Payload: []byte(`{"tracking_numbers":["X1"]}`)})
	e := sdk.AsError(err)
	if e.Code != sdk.CodeAuthFailed {
		t.Fatalf("got %v, want auth_failed", err)
	}
	if strings.Contains(e.Error(), "wrong-secret-value") {
		t.Fatalf("error %q carries the secret", e.Error())
	}
}

func TestManifestErrorsNameTheLine(t *testing.T) {
	bad := strings.Replace(testManifest, "size: 2", "size: 99", 1)
	_, err := Load(fstest.MapFS{"manifest.yaml": {Data: []byte(bad)}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "manifest.yaml:") || !strings.Contains(err.Error(), "fan_out.size") {
		t.Fatalf("got %v", err)
	}
	line := strings.Count(bad[:strings.Index(bad, "fan_out")], "\n") + 1
	if !strings.Contains(err.Error(), "manifest.yaml:"+itoa(line)+":") {
		t.Errorf("error %q does not name line %d", err, line)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSchemaProblemsNameTheLine(t *testing.T) {
	bad := strings.Replace(testManifest, "    idempotent: true\n    binding:\n      fan_out", "    idempotent: true\n    bindng: {}\n    binding:\n      fan_out", 1)
	_, err := Load(fstest.MapFS{"manifest.yaml": {Data: []byte(bad)}}, Options{})
	line := strings.Count(bad[:strings.Index(bad, "bindng")], "\n") + 1
	if err == nil || !strings.Contains(err.Error(), "manifest.yaml:"+itoa(line-2)+":") && !strings.Contains(err.Error(), "manifest.yaml:"+itoa(line)+":") {
		t.Fatalf("got %v, want an error at line %d", err, line)
	}
	if !strings.Contains(err.Error(), "bindng") {
		t.Errorf("error %q does not name the unknown key", err)
	}
}

// Body auth needs a json or form body on every step it signs: a GET without
// one is refused when the folder loads, not when a call finds nowhere to
// put the credentials.
func TestBodyAuthNeedsABody(t *testing.T) {
	bad := strings.Replace(testManifest, `auth:
  oauth:
    type: oauth2_client_credentials
    token_url: /oauth/token
    client_id: "{credential.client_id}"
    client_secret: "{credential.client_secret}"
    secret_in_body: true`, `auth:
  keys:
    type: body
    fields: {secret: "{credential.client_secret}"}`, 1)
	_, err := Load(fstest.MapFS{"manifest.yaml": {Data: []byte(bad)}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "cancel_shipment") || !strings.Contains(err.Error(), "no body for its auth's fields") {
		t.Fatalf("got %v, want cancel_shipment refused for its missing body", err)
	}
}

// A later step's body mapping reads what earlier steps named (input.values),
// and an envelope response mapping reads the answer beside the canonical
// request and those values: an order, then its AWB, answered with the AWB
// alone.
func TestStepsValuesAndEnvelope(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data": {"id": "O-7"}}`)
	})
	mux.HandleFunc("POST /awb", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Order, Ref string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Order != "O-7" || body.Ref != "ORD-1" {
			w.WriteHeader(400)
			io.WriteString(w, `{"message": "no such order"}`)
			return
		}
		io.WriteString(w, `{"awb": "AWB1"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	files := fstest.MapFS{
		"manifest.yaml": {Data: folderManifest("steps", "aggregator", `
account:
  credentials: []
  environments: {sandbox: https://sandbox.example.com}
operations:
  - name: create_shipment
    idempotent: false
    binding:
      steps:
        - name: order
          request: {method: POST, path: /orders, body: {mapping: mappings/order.mapping}}
          response: {values: {order_id: data.id}}
        - name: awb
          request: {method: POST, path: /awb, body: {mapping: mappings/awb.mapping}}
          response: {mapping: mappings/create.mapping, envelope: true}
`)},
		"mappings/order.mapping": {Data: []byte("mapping s.order\nfrom json\ndirection request\n{ ref: input.reference }\n")},
		"mappings/awb.mapping":   {Data: []byte("mapping s.awb\nfrom json\ndirection request\n{ order: input.values.order_id, ref: input.reference }\n")},
		"mappings/create.mapping": {Data: []byte("mapping s.create\nfrom json\ndirection response\n" +
			"{ tracking_number: input.answer.awb, reference: input.request.reference, carrier_reference: input.values.order_id }\n")},
	}
	d := loadFolder(t, files)
	out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCreateShipment, Account: &sdk.Account{BaseURL: srv.URL},
		Payload: []byte(`{"reference": "ORD-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil || got["tracking_number"] != "AWB1" || got["reference"] != "ORD-1" || got["carrier_reference"] != "O-7" {
		t.Fatalf("got %s (%v), want AWB1 for ORD-1 under order O-7", out, err)
	}

	files["mappings/create.mapping"] = &fstest.MapFile{Data: []byte("mapping s.create\nfrom xml\ndirection response\n{ tracking_number: input.awb }\n")}
	if _, err := Load(files, Options{}); err == nil || !strings.Contains(err.Error(), "envelope") {
		t.Fatalf("an envelope read by an xml mapping: %v, want it refused", err)
	}
}

// An empty 2xx answer (a 204) reads as null in a JSON response mapping, and
// as a null answer in an envelope, so the mapping can still say what
// happened to the shipment the request named.
func TestEmptyAnswerReadsAsNull(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	files := fstest.MapFS{
		"manifest.yaml": {Data: folderManifest("empty", "carrier_parcel", `
account:
  credentials: []
  environments: {sandbox: https://sandbox.example.com}
operations:
  - name: cancel_shipment
    idempotent: true
    binding:
      request: {method: PUT, path: "/shipments/{input.tracking_number}/cancel"}
      response: {mapping: mappings/cancel.mapping, envelope: true}
`)},
		"mappings/cancel.mapping": {Data: []byte("mapping e.cancel\nfrom json\ndirection response\n" +
			"{ tracking_number: input.request.tracking_number, cancelled: input.answer == null }\n")},
	}
	d := loadFolder(t, files)
	out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: &sdk.Account{BaseURL: srv.URL},
		Payload: []byte(`{"tracking_number": "AWB1"}`)})
	if err != nil || string(out) != `{"tracking_number":"AWB1","cancelled":true}` {
		t.Fatalf("got %s, %v", out, err)
	}
}

// Every fan-out unit carries the call's other fields: an aggregator's
// courier_id reaches each batch and each single-number request.
func TestFanOutUnitsCarryTheCallsFields(t *testing.T) {
	payload := []byte(`{"tracking_numbers": ["A", "B"], "courier_id": "6"}`)
	ex := &exchanger{call: &sdk.Call{Payload: payload}, unitFields: otherFields(payload)}
	for field, v := range map[string]any{"tracking_numbers": []string{"A"}, "tracking_number": "B"} {
		got := ex.unitRequest(field, v)
		if gjson.GetBytes(got, "courier_id").String() != "6" || !gjson.GetBytes(got, field).Exists() ||
			(field == "tracking_number" && gjson.GetBytes(got, "tracking_numbers").Exists()) {
			t.Errorf("%s unit: %s", field, got)
		}
	}
}

// {request.id} is a new random id for each request a call sends (Adaequare
// wants a unique requestid header on every one), the same wherever one
// request's templates use it.
func TestRequestIDIsNewForEachRequest(t *testing.T) {
	ids := make(chan [2]string, 2)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		ids <- [2]string{r.Header.Get("requestid"), r.URL.Query().Get("rid")}
		io.WriteString(w, `{"data": {"id": "O-7"}}`)
	})
	mux.HandleFunc("POST /awb", func(w http.ResponseWriter, r *http.Request) {
		ids <- [2]string{r.Header.Get("requestid"), r.URL.Query().Get("rid")}
		io.WriteString(w, `{"awb": "AWB1"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	files := fstest.MapFS{
		"manifest.yaml": {Data: folderManifest("ids", "aggregator", `
account:
  credentials: []
  environments: {sandbox: https://sandbox.example.com}
operations:
  - name: create_shipment
    idempotent: false
    binding:
      steps:
        - name: order
          request: {method: POST, path: /orders, query: {rid: "{request.id}"}, headers: {requestid: "{request.id}"}}
          response: {values: {order_id: data.id}}
        - name: awb
          request: {method: POST, path: /awb, query: {rid: "{request.id}"}, headers: {requestid: "{request.id}"}}
          response: {mapping: mappings/create.mapping}
`)},
		"mappings/create.mapping": {Data: []byte("mapping s.create\nfrom json\ndirection response\n{ tracking_number: input.awb }\n")},
	}
	d := loadFolder(t, files)
	if _, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCreateShipment, Account: &sdk.Account{BaseURL: srv.URL},
		Payload: []byte(`{"reference": "ORD-1"}`)}); err != nil {
		t.Fatal(err)
	}
	first, second := <-ids, <-ids
	for _, got := range [][2]string{first, second} {
		if len(got[0]) != 32 || got[0] != got[1] {
			t.Fatalf("request carried requestid %q and rid %q, want one 32-digit id in both", got[0], got[1])
		}
	}
	if first[0] == second[0] {
		t.Fatalf("both requests carried id %s, want a new one for each", first[0])
	}

	manifest := string(files["manifest.yaml"].Data)
	files["manifest.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "{request.id}", "{request.uuid}", 1))}
	if _, err := Load(files, Options{}); err == nil || !strings.Contains(err.Error(), "{request.uuid} is not id") {
		t.Fatalf("{request.uuid}: %v, want it refused", err)
	}
	// An auth entry is built once per call, not per request: no {request.id} there.
	files["manifest.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "operations:",
		"auth:\n  key: {type: api_key, header: X-Key, value: \"{request.id}\"}\noperations:", 1))}
	if _, err := Load(files, Options{}); err == nil || !strings.Contains(err.Error(), "not an auth entry's") {
		t.Fatalf("{request.id} in an auth entry: %v, want it refused", err)
	}
}

// A token_login whose login_auth names another entry asks for its session
// with that entry's token: an account login first (cached), then the
// session, whose token signs the calls; the two tokens are cached apart.
func TestLoginSignedByAnotherLogin(t *testing.T) {
	var platformLogins, sessionLogins atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /authenticate", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != "key-1" || r.Header.Get("x-api-secret") != "secret-1" {
			w.WriteHeader(401)
			return
		}
		platformLogins.Add(1)
		io.WriteString(w, `{"data": {"access_token": "platform-tok"}}`)
	})
	mux.HandleFunc("POST /tax-payer/authenticate", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if r.Header.Get("Authorization") != "platform-tok" || body.Username != "ewb-user" || body.Password != "ewb-pass" {
			w.WriteHeader(403)
			return
		}
		sessionLogins.Add(1)
		io.WriteString(w, `{"data": {"access_token": "session-tok"}}`)
	})
	mux.HandleFunc("DELETE /bills/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "session-tok" || r.Header.Get("x-api-key") != "key-1" {
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, `{"id": "`+r.PathValue("id")+`", "ok": true}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	files := fstest.MapFS{
		"manifest.yaml": {Data: folderManifest("chained", "government", `
account:
  credentials: [{name: api_key}, {name: api_secret}, {name: username}, {name: password}]
  environments: {sandbox: https://sandbox.example.com}
auth:
  platform:
    type: token_login
    login: {method: POST, path: /authenticate, headers: {x-api-key: "{credential.api_key}", x-api-secret: "{credential.api_secret}"}}
    token: data.access_token
    ttl: 24h
    header: Authorization
  session:
    type: token_login
    login_auth: platform
    login: {method: POST, path: /tax-payer/authenticate, headers: {x-api-key: "{credential.api_key}"}, body: {mapping: mappings/login.mapping}}
    token: data.access_token
    ttl: 1h
    header: Authorization
operations:
  - name: cancel_shipment
    idempotent: true
    binding:
      auth: session
      request: {method: DELETE, path: "/bills/{input.tracking_number}", headers: {x-api-key: "{credential.api_key}"}}
      response: {mapping: mappings/cancel.mapping}
`)},
		"mappings/login.mapping":  {Data: []byte("mapping c.login\nfrom json\ndirection request\n{ username: input.credentials.username, password: input.credentials.password }\n")},
		"mappings/cancel.mapping": {Data: []byte("mapping c.cancel\nfrom json\ndirection response\n{ tracking_number: input.id, cancelled: input.ok }\n")},
	}
	d := loadFolder(t, files)
	acct := &sdk.Account{ID: "A", BaseURL: srv.URL, Credentials: map[string]string{"api_key": "key-1", "api_secret": "secret-1", "username": "ewb-user", "password": "ewb-pass"}}
	for _, n := range []string{"B1", "B2"} {
		out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number": "` + n + `"}`)})
		if err != nil || string(out) != `{"tracking_number":"`+n+`","cancelled":true}` {
			t.Fatalf("cancel %s: %s, %v", n, out, err)
		}
	}
	if platformLogins.Load() != 1 || sessionLogins.Load() != 1 {
		t.Fatalf("%d platform and %d session logins for two calls, want one of each", platformLogins.Load(), sessionLogins.Load())
	}

	for _, bad := range []struct{ from, to, want string }{
		{"login_auth: platform", "login_auth: session", "cannot sign its own login"},
		{"login_auth: platform", "login_auth: nothing", `no auth entry "nothing"`},
	} {
		m := strings.Replace(string(files["manifest.yaml"].Data), bad.from, bad.to, 1)
		if _, err := Load(fstest.MapFS{"manifest.yaml": {Data: []byte(m)}, "mappings/login.mapping": files["mappings/login.mapping"],
			"mappings/cancel.mapping": files["mappings/cancel.mapping"]}, Options{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.to, err, bad.want)
		}
	}
}

// A provider that refuses an expired session in a 200 answer (a GSP passing
// NIC's 1005 "invalid token" on) or with a 403 (Vayana) gets one new login
// when the error mapping calls the refusal auth_failed; a refusal that
// persists is returned.
func TestAuthFailedIn200RenewsTheToken(t *testing.T) {
	var logins atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		n := logins.Add(1)
		io.WriteString(w, `{"token": "tok-`+strconv.Itoa(int(n))+`"}`)
	})
	mux.HandleFunc("DELETE /bills/{id}", func(w http.ResponseWriter, r *http.Request) {
		// The first token has expired at the provider; "NEVER" is refused whatever the token;
		// the third token is refused with a 403, as Vayana refuses an expired one.
		switch {
		case r.Header.Get("auth-token") == "tok-1" || r.PathValue("id") == "NEVER":
			io.WriteString(w, `{"status_cd": "0", "error": {"code": "1005"}}`)
			return
		case r.Header.Get("auth-token") == "tok-3":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"status_cd": "0", "error": {"code": "err-expired-token"}}`)
			return
		}
		io.WriteString(w, `{"status_cd": "1", "id": "`+r.PathValue("id")+`"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	files := fstest.MapFS{
		"manifest.yaml": {Data: folderManifest("stale", "government", passwordLoginCancel(`
    token: token
    ttl: 6h
    header: auth-token`, ", error: mappings/error.mapping"))},
		"mappings/cancel.mapping": {Data: []byte("mapping s.cancel\nfrom json\ndirection response\n{ tracking_number: input.id, cancelled: true }\n")},
		"mappings/error.mapping": {Data: []byte("mapping s.error\nfrom json\ndirection response\n" +
			"{ error: if input.status_cd == \"0\" then { code: if input.error.code == \"1005\" || input.error.code == \"err-expired-token\" then \"auth_failed\" else \"invalid_request\", carrier_code: input.error.code } else null }\n")},
	}
	d := loadFolder(t, files)
	acct := &sdk.Account{ID: "A", BaseURL: srv.URL, Credentials: map[string]string{"password": "p"}}
	out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number": "B1"}`)})
	if err != nil || string(out) != `{"tracking_number":"B1","cancelled":true}` || logins.Load() != 2 {
		t.Fatalf("got %s, %v after %d logins; want B1 cancelled after a second login", out, err, logins.Load())
	}
	_, err = d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number": "NEVER"}`)})
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeAuthFailed || e.CarrierCode != "1005" || logins.Load() != 3 {
		t.Fatalf("a refusal that persists: %v after %d logins; want auth_failed 1005 after one more login", err, logins.Load())
	}
	// The session holds the third token now, which the provider refuses with a 403.
	out, err = d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number": "B2"}`)})
	if err != nil || string(out) != `{"tracking_number":"B2","cancelled":true}` || logins.Load() != 4 {
		t.Fatalf("after a 403 the binding calls auth_failed: %s, %v after %d logins; want B2 cancelled after a fourth login", out, err, logins.Load())
	}
}

// A login answered in 2xx without a token (a GSP passing NIC's 108 "invalid
// login" on) is auth_failed, quoting the provider's words without a secret.
func TestLoginWithoutTokenIsAuthFailed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"code": 200, "data": {"error": {"errorCodes": "108"}, "info": "", "status": "0"}, "user": "`+r.Header.Get("password")+`"}`)
	}))
	defer srv.Close()
	files := fstest.MapFS{
		"manifest.yaml": {Data: folderManifest("refused", "government", passwordLoginCancel(`
    token: data.access_token
    ttl: 1h
    header: Authorization`, ""))},
		"mappings/cancel.mapping": {Data: []byte("mapping r.cancel\nfrom json\ndirection response\n{ tracking_number: input.id, cancelled: true }\n")},
	}
	d := loadFolder(t, files)
	acct := &sdk.Account{ID: "A", BaseURL: srv.URL, Credentials: map[string]string{"password": "wrong-secret"}}
	_, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpCancelShipment, Account: acct, Payload: []byte(`{"tracking_number": "B1"}`)})
	e := sdk.AsError(err)
	if e == nil || e.Code != sdk.CodeAuthFailed || !strings.Contains(e.Message, `"errorCodes": "108"`) || strings.Contains(e.Error(), "wrong-secret") {
		t.Fatalf("a login answered without a token: %v; want auth_failed quoting the answer, the password redacted", err)
	}
}

// passwordLoginCancel is the rest of a manifest whose session is a token
// login sending the password credential, with session (the token's path, ttl
// and header, indented under session) and cancel_shipment over DELETE
// /bills/{number}, answered by mappings/cancel.mapping and whatever response
// adds (", error: ...").
func passwordLoginCancel(session, response string) string {
	return `
account:
  credentials: [{name: password}]
  environments: {sandbox: https://sandbox.example.com}
auth:
  session:
    type: token_login
    login: {method: POST, path: /login, headers: {password: "{credential.password}"}}` + session + `
operations:
  - name: cancel_shipment
    idempotent: true
    binding:
      request: {method: DELETE, path: "/bills/{input.tracking_number}"}
      response: {mapping: mappings/cancel.mapping` + response + `}
`
}

// folderManifest is a test folder's manifest: the header every one carries
// (id, its name capitalised, version, category, REST, docs) and the rest.
func folderManifest(id, category, rest string) []byte {
	return []byte("id: " + id + "\nname: " + strings.ToUpper(id[:1]) + id[1:] + "\nversion: 0.1.0\ncategory: " + category +
		"\nprotocols: [rest_json]\ndocs: https://example.com/docs\n" + strings.TrimPrefix(rest, "\n"))
}
