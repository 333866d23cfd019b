package simulator

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/simulator/faultcarrier"
)

// A small REST carrier written as data, in the shape of sdk/declarative's
// tests: OAuth2 client credentials, a batch track, create, cancel, and a
// proof-of-delivery operation that has no recorded exchange.
const carrierManifest = `
id: simcarrier
name: Sim Carrier
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
    - {name: region, required: true}
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
  - name: create_shipment
    idempotent: false
    binding:
      request: {method: POST, path: /v1/shipments, body: {mapping: mappings/create-request.mapping}}
      response: {mapping: mappings/create.mapping}
  - name: cancel_shipment
    idempotent: true
    binding:
      request: {method: DELETE, path: "/v1/shipments/{input.tracking_number}"}
      response: {mapping: mappings/cancel.mapping}
  - name: get_pod
    idempotent: true
    binding:
      request: {method: GET, path: "/v1/shipments/{input.tracking_number}/pod"}
      response: {mapping: mappings/pod.mapping}
`

var carrierMappings = map[string]string{
	"mappings/track-request.mapping": `mapping t.req
from json
direction request
{ numbers: input.tracking_numbers, account: input.settings.account_number }
`,
	"mappings/track.mapping": `mapping t.resp
from json
direction response
{ results: input.items.map(i -> {
    tracking_number: i.id
    status: match i.state { "D" => "delivered", "T" => "in_transit", "P" => "pending", "C" => "cancelled", _ => "unknown" }
    raw_code: i.state
  }) }
`,
	"mappings/track-error.mapping": `mapping t.err
from json
direction response
{ error: if exists(input.fault) then { code: "not_found", carrier_code: input.fault.code, message: "unknown number", carrier_message: input.fault.text } else null }
`,
	"mappings/create-request.mapping": `mapping c.req
from json
direction request
{ ref: input.reference, to_pin: input.ship_to.postal_code, weight: input.parcels[0].weight.value }
`,
	"mappings/create.mapping": `mapping c.resp
from json
direction response
{ tracking_number: input.awb, reference: input.ref }
`,
	"mappings/cancel.mapping": `mapping x.resp
from json
direction response
{ tracking_number: input.id, cancelled: input.ok == true, message?: input.message }
`,
	"mappings/pod.mapping": `mapping p.resp
from json
direction response
{ tracking_number: input.id }
`,
}

// trackFile is a recorded track of one number answered with one state.
func trackFile(number, state, canonical string) string {
	return `operation: track
source: https://example.com/docs/track
account:
  settings: {account_number: ACC-9}
canonical:
  request: |
    {"tracking_numbers": ["` + number + `"]}
  response: |
    ` + canonical + `
exchanges:
  - request:
      method: POST
      path: /v1/track
      headers: {Content-Type: application/json, X-Account: ACC-9}
      body: |
        {"numbers": ["` + number + `"], "account": "ACC-9"}
    response:
      status: 200
      headers: {Content-Type: application/json}
      body: |
        {"items": [{"id": "` + number + `", "state": "` + state + `"}]}
`
}

var carrierExchanges = map[string]string{
	"track-delivered.yaml": trackFile("794843185271", "D",
		`{"results": [{"tracking_number": "794843185271", "status": "delivered", "raw_code": "D"}]}`),
	"track-in-transit.yaml": trackFile("794843185282", "T",
		`{"results": [{"tracking_number": "794843185282", "status": "in_transit", "raw_code": "T"}]}`),
	"track-pending.yaml": trackFile("794843185293", "P",
		`{"results": [{"tracking_number": "794843185293", "status": "pending", "raw_code": "P"}]}`),
	"track-cancelled.yaml": trackFile("794843185304", "C",
		`{"results": [{"tracking_number": "794843185304", "status": "cancelled", "raw_code": "C"}]}`),
	"track-not-found.yaml": `operation: track
source: https://example.com/docs/track
canonical:
  request: |
    {"tracking_numbers": ["000000000000"]}
  response: |
    {"results": [{"tracking_number": "000000000000", "status": "unknown", "sub_status": "not_found",
      "error": {"code": "not_found", "message": "unknown number", "carrier_code": "E404", "carrier_message": "no such number 000000000000"}}]}
exchanges:
  - request:
      method: POST
      path: /v1/track
      headers: {Content-Type: application/json}
      body: |
        {"numbers": ["000000000000"], "account": "ACC-9"}
    response:
      status: 200
      headers: {Content-Type: application/json}
      body: |
        {"fault": {"code": "E404", "text": "no such number 000000000000"}}
`,
	// Two error files recorded for one request: conditions, not answers.
	"track-unauthorized.yaml": `operation: track
source: https://example.com/docs/errors
canonical:
  request: |
    {"tracking_numbers": ["794843185999"]}
  error: {code: auth_failed}
exchanges:
  - request:
      method: POST
      path: /v1/track
      body: |
        {"numbers": ["794843185999"], "account": "ACC-9"}
    response:
      status: 401
      headers: {Content-Type: application/json}
      body: |
        {"error": "invalid_token", "error_description": "The access token is invalid"}
`,
	"track-resource-gone.yaml": `operation: track
source: https://example.com/docs/errors
canonical:
  request: |
    {"tracking_numbers": ["794843185999"]}
  error: {code: permanent}
exchanges:
  - request:
      method: POST
      path: /v1/track
      body: |
        {"numbers": ["794843185999"], "account": "ACC-9"}
    response:
      status: 501
      headers: {Content-Type: application/json}
      body: |
        {"message": "this API version is not implemented"}
`,
	// A batch with a number the provider leaves out: not a not-found file.
	"track-batch-mixed.yaml": `operation: track
source: https://example.com/docs/track
canonical:
  request: |
    {"tracking_numbers": ["794843185315", "000000000001"]}
  response: |
    {"results": [{"tracking_number": "794843185315", "status": "in_transit", "raw_code": "T"},
      {"tracking_number": "000000000001", "status": "unknown", "sub_status": "not_found",
       "error": {"code": "not_found", "message": "the provider returned no result for this number"}}]}
exchanges:
  - request:
      method: POST
      path: /v1/track
      headers: {Content-Type: application/json}
      body: |
        {"numbers": ["794843185315", "000000000001"], "account": "ACC-9"}
    response:
      status: 200
      headers: {Content-Type: application/json}
      body: |
        {"items": [{"id": "794843185315", "state": "T"}]}
`,
	"create.yaml": `operation: create_shipment
source: https://example.com/docs/ship
canonical:
  request: |
    {"reference": "ORD-1001", "ship_from": {"postal_code": "110001"}, "ship_to": {"postal_code": "400001"},
     "parcels": [{"weight": {"value": 1.2, "unit": "kg"}}]}
  response: |
    {"tracking_number": "794843185000", "reference": "ORD-1001"}
exchanges:
  - request:
      method: POST
      path: /v1/shipments
      headers: {Content-Type: application/json}
      body: |
        {"ref": "ORD-1001", "to_pin": "400001", "weight": 1.2}
    response:
      status: 201
      headers: {Content-Type: application/json, Location: /v1/shipments/794843185000}
      body: |
        {"awb": "794843185000", "ref": "ORD-1001", "label": "https://labels.example.com/794843185000.pdf"}
`,
	"cancel.yaml": `operation: cancel_shipment
source: https://example.com/docs/cancel
canonical:
  request: |
    {"tracking_number": "794843185271"}
  response: |
    {"tracking_number": "794843185271", "cancelled": true, "message": "Shipment 794843185271 cancelled"}
exchanges:
  - request: {method: DELETE, path: /v1/shipments/794843185271}
    response:
      status: 200
      headers: {Content-Type: application/json}
      body: |
        {"id": "794843185271", "ok": true, "message": "Shipment 794843185271 cancelled"}
`,
	"cancel-not-found.yaml": `operation: cancel_shipment
source: https://example.com/docs/cancel
canonical:
  request: |
    {"tracking_number": "999999999999"}
  error: {code: not_found, carrier_message: no such shipment 999999999999}
exchanges:
  - request: {method: DELETE, path: /v1/shipments/999999999999}
    response:
      status: 404
      headers: {Content-Type: application/json}
      body: |
        {"message": "no such shipment 999999999999"}
`,
}

// folder builds a connector folder from a manifest, mappings and exchange files.
func folder(manifest string, mappings, files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{"manifest.yaml": {Data: []byte(manifest)}}
	for name, src := range mappings {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	for name, src := range files {
		fsys[exchanges.Dir+"/"+name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

// env is a simulator and the real declarative runtime pointed at it.
type env struct {
	sim  *Simulator
	d    *sdk.Dispatcher
	acct *sdk.Account
}

func start(t *testing.T, fsys fstest.MapFS) *env {
	t.Helper()
	sim, err := New(fsys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	c, err := declarative.Load(fsys, declarative.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := sdk.NewDispatcher(c)
	if err != nil {
		t.Fatal(err)
	}
	creds, settings := sim.Account()
	return &env{sim: sim, d: d, acct: &sdk.Account{ID: "sim", BaseURL: sim.URL(), Credentials: creds, Settings: settings}}
}

// forcing returns an env whose simulator answers from file only.
func (e *env) forcing(t *testing.T, _ fstest.MapFS, file string) *env {
	t.Helper()
	e.sim.Select(file)
	t.Cleanup(func() { e.sim.Select("") })
	return e
}

func (e *env) call(t *testing.T, op sdk.Operation, payload string) ([]byte, *sdk.Error) {
	t.Helper()
	out, err := e.d.Invoke(t.Context(), &sdk.Call{Operation: op, Account: e.acct, Payload: []byte(payload)})
	if err != nil {
		return nil, sdk.AsError(err)
	}
	return out, nil
}

func (e *env) mustCall(t *testing.T, op sdk.Operation, payload string) []byte {
	t.Helper()
	out, err := e.call(t, op, payload)
	if err != nil {
		t.Fatalf("%s %s: %v", op, payload, err)
	}
	return out
}

// sameJSON compares two JSON documents semantically.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func carrier() fstest.MapFS { return folder(carrierManifest, carrierMappings, carrierExchanges) }

// Every recorded file replayed through the runtime ends as its canonical
// answer or error; condition files (auth_failed) are refusals only.
func TestRecordedExchangesAnswerTheirCanonicalCalls(t *testing.T) {
	t.Parallel()
	fsys := carrier()
	e := start(t, fsys)
	m, err := declarative.LoadManifest(fsys)
	if err != nil {
		t.Fatal(err)
	}
	files, err := exchanges.Load(fsys, m)
	if err != nil {
		t.Fatal(err)
	}
	condition := map[string]bool{}
	for _, tm := range e.sim.tmpls {
		condition[tm.file.Name] = condition[tm.file.Name] || tm.condition
	}
	if want := []string{"track-resource-gone", "track-unauthorized"}; !reflect.DeepEqual(sortedKeys(trueOnly(condition)), want) {
		t.Errorf("condition files %v, want %v", sortedKeys(trueOnly(condition)), want)
	}
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			call := e.call
			if condition[f.Name] {
				// Matching never chooses a condition file: name it.
				call = e.forcing(t, fsys, f.Name).call
			}
			out, cerr := call(t, f.Operation, f.Canonical.Request)
			if want := f.Canonical.Error; want != nil {
				if cerr == nil || cerr.Code != want.Code {
					t.Fatalf("got %s, %v; want error %s", out, cerr, want.Code)
				}
				if want.CarrierMessage != "" && cerr.CarrierMessage != want.CarrierMessage {
					t.Errorf("carrier message %q, want %q", cerr.CarrierMessage, want.CarrierMessage)
				}
				return
			}
			if cerr != nil {
				t.Fatal(cerr)
			}
			want := f.Canonical.Response
			if f.Operation == sdk.OpCreateShipment {
				// A create answers a fresh number of the recorded one's shape.
				recorded := gjson.Get(want, "tracking_number").String()
				got := gjson.GetBytes(out, "tracking_number").String()
				if got == recorded || shape(got) != shape(recorded) {
					t.Errorf("created number %q, want a fresh one shaped like %q", got, recorded)
				}
				want = strings.ReplaceAll(want, recorded, got)
			}
			sameJSON(t, out, want)
		})
	}
	if u := e.sim.Unmatched(); len(u) > 0 {
		t.Errorf("unmatched requests: %q", u)
	}
}

func trueOnly(m map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, v := range m {
		if v {
			out[k] = true
		}
	}
	return out
}

// shape replaces every digit by 9.
func shape(s string) string { return regexp.MustCompile(`[0-9]`).ReplaceAllString(s, "9") }

func TestUnknownNumberGetsTheNotFoundTemplate(t *testing.T) {
	t.Parallel()
	e := start(t, carrier())
	for _, n := range []string{
		"123456789012", // in no file
		"794843185999", // only in condition files
	} {
		out := e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["`+n+`"]}`)
		sameJSON(t, out, `{"results": [{"tracking_number": "`+n+`", "status": "unknown", "sub_status": "not_found",
			"error": {"code": "not_found", "message": "unknown number", "carrier_code": "E404", "carrier_message": "no such number `+n+`"}}]}`)
	}

	_, err := e.call(t, sdk.OpCancelShipment, `{"tracking_number": "555555555555"}`)
	if err == nil || err.Code != sdk.CodeNotFound || err.CarrierMessage != "no such shipment 555555555555" {
		t.Fatalf("cancel of an unknown number: %v, want not_found with the number substituted", err)
	}
}

func TestWrongSecretIsAuthFailed(t *testing.T) {
	t.Parallel()
	e := start(t, carrier())
	e.acct.Credentials = maps.Clone(e.acct.Credentials)
	e.acct.Credentials["client_secret"] = "not-the-secret"
	_, err := e.call(t, sdk.OpTrack, `{"tracking_numbers": ["794843185271"]}`)
	if err == nil || err.Code != sdk.CodeAuthFailed {
		t.Fatalf("got %v, want auth_failed", err)
	}
	if err.CarrierCode != "invalid_token" {
		t.Errorf("carrier code %q, want the recorded 401's invalid_token", err.CarrierCode)
	}

	// A request with a token the simulator never issued is refused with the
	// recorded 401 of its path.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.sim.URL()+"/v1/track",
		strings.NewReader(`{"numbers": ["794843185271"], "account": "ACC-9"}`))
	req.Header.Set("Authorization", "Bearer forged")
	req.Header.Set("Content-Type", "application/json")
	resp, herr := http.DefaultClient.Do(req)
	if herr != nil {
		t.Fatal(herr)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_token") {
		t.Errorf("forged token: %d %s, want 401 with the recorded body", resp.StatusCode, body)
	}
}

func TestCreatedShipmentCanBeTrackedAndCancelled(t *testing.T) {
	t.Parallel()
	e := start(t, carrier())
	out := e.mustCall(t, sdk.OpCreateShipment, `{"reference": "ORD-2002", "ship_from": {"postal_code": "110001"},
		"ship_to": {"postal_code": "560001"}, "parcels": [{"weight": {"value": 2.5, "unit": "kg"}}]}`)
	n := gjson.GetBytes(out, "tracking_number").String()
	if n == "794843185000" || shape(n) != shape("794843185000") {
		t.Fatalf("created %q, want a fresh number shaped like the recorded one", n)
	}
	if ref := gjson.GetBytes(out, "reference").String(); ref != "ORD-2002" {
		t.Errorf("reference %q, want the request's ORD-2002 substituted", ref)
	}

	out = e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["`+n+`"]}`)
	sameJSON(t, out, `{"results": [{"tracking_number": "`+n+`", "status": "pending", "raw_code": "P"}]}`)

	out = e.mustCall(t, sdk.OpCancelShipment, `{"tracking_number": "`+n+`"}`)
	sameJSON(t, out, `{"tracking_number": "`+n+`", "cancelled": true, "message": "Shipment `+n+` cancelled"}`)

	out = e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["`+n+`"]}`)
	if s := gjson.GetBytes(out, "results.0.status").String(); s != "cancelled" {
		t.Errorf("after cancel, status %q, want cancelled: %s", s, out)
	}
	// Two creates never share a number.
	out = e.mustCall(t, sdk.OpCreateShipment, `{"reference": "ORD-2003", "ship_to": {"postal_code": "560001"}, "parcels": [{"weight": {"value": 1}}]}`)
	if n2 := gjson.GetBytes(out, "tracking_number").String(); n2 == n {
		t.Errorf("second create reused %s", n)
	}
}

func TestFaultMakesTheCallCarrierUnavailable(t *testing.T) {
	t.Parallel()
	e := start(t, carrier())
	e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["794843185271"]}`)
	e.sim.Faults().SetFault(faultcarrier.Fault{Mode: faultcarrier.ModeError, Status: http.StatusServiceUnavailable})
	_, err := e.call(t, sdk.OpTrack, `{"tracking_numbers": ["794843185271"]}`)
	if err == nil || err.Code != sdk.CodeCarrierUnavailable {
		t.Fatalf("got %v, want carrier_unavailable", err)
	}
	if e.sim.Faults().Injected() == 0 {
		t.Error("the fault injector counted no injection")
	}
	// The control endpoint is served on the simulator's URL.
	resp, herr := http.Get(e.sim.URL() + "/_fault?mode=ok")
	if herr != nil {
		t.Fatal(herr)
	}
	resp.Body.Close()
	e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["794843185271"]}`)
}

func TestUnmatchedRequestIsRecorded(t *testing.T) {
	t.Parallel()
	e := start(t, carrier())
	_, err := e.call(t, sdk.OpGetPOD, `{"tracking_number": "794843185271"}`)
	if err == nil || err.Code != sdk.CodeNotFound {
		t.Fatalf("got %v, want the empty 404's not_found", err)
	}
	want := []string{"GET /v1/shipments/794843185271/pod"}
	if got := e.sim.Unmatched(); !reflect.DeepEqual(got, want) {
		t.Errorf("unmatched %q, want %q", got, want)
	}
}

func TestAccount(t *testing.T) {
	t.Parallel()
	sim, err := New(carrier(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	creds, settings := sim.Account()
	for _, name := range []string{"client_id", "client_secret"} {
		if !regexp.MustCompile(`^sim-` + name + `-[0-9a-f]{16}$`).MatchString(creds[name]) {
			t.Errorf("credential %s = %q, want sim-%s-<hex>", name, creds[name], name)
		}
	}
	want := map[string]string{"account_number": "ACC-9", "region": "SIM-REGION"}
	if !reflect.DeepEqual(settings, want) {
		t.Errorf("settings %v, want %v", settings, want)
	}
	other, err := New(carrier(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if c2, _ := other.Account(); c2["client_secret"] == creds["client_secret"] {
		t.Error("two simulators share a secret")
	}
}

// authManifest is a one-operation connector signed by auth (YAML of one
// auth entry named "a"); soap makes it a SOAP service.
func authManifest(auth string, creds []string, soap bool) string {
	var cs strings.Builder
	for _, c := range creds {
		cs.WriteString("    - {name: " + c + ", required: true}\n")
	}
	binding := `      fan_out: {mode: per_item}
      request: {method: GET, path: "/v1/track/{item}"}
      response: {mapping: mappings/track.mapping}`
	if soap {
		binding = `      fan_out: {mode: per_item}
      request: {method: POST, path: /soap, body: {mapping: mappings/track-request.mapping, format: soap11}}
      response: {mapping: mappings/track.mapping}`
	}
	return manifestHead("authcarrier", "Auth Carrier") + `account:
  credentials:
` + cs.String() + `  environments:
    sandbox: https://sandbox.example.com
auth:
  a:
` + auth + `
operations:
  - name: track
    idempotent: true
    binding:
` + binding + "\n"
}

var restTrack = map[string]string{
	"mappings/track.mapping": `mapping a.track
from json
direction response
{ results: [{ tracking_number: input.id, status: match input.state { "T" => "in_transit", _ => "unknown" } }] }
`,
	"mappings/login.mapping": `mapping a.login
from json
direction request
{ user: input.credentials.username, pass: input.credentials.password }
`,
}

const restTrackFile = `operation: track
source: https://example.com/docs/track
canonical:
  request: |
    {"tracking_numbers": ["111122223333"]}
  response: |
    {"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}
exchanges:
  - request: {method: GET, path: /v1/track/111122223333}
    response:
      status: 200
      headers: {Content-Type: application/json}
      body: |
        {"id": "111122223333", "state": "T"}
`

var soapTrack = map[string]string{
	"mappings/track-request.mapping": `mapping s.req
from json
direction request
{ Body: { TrackRequest: { Number: input.tracking_number } } }
`,
	"mappings/track.mapping": `mapping s.track
from xml
direction response
{ results: [{ tracking_number: input.Envelope.Body.TrackResponse.Number,
    status: match input.Envelope.Body.TrackResponse.State { "T" => "in_transit", _ => "unknown" } }] }
`,
}

const soapTrackFile = `operation: track
source: https://example.com/docs/track
canonical:
  request: |
    {"tracking_numbers": ["111122223333"]}
  response: |
    {"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}
exchanges:
  - request:
      method: POST
      path: /soap
      headers: {Content-Type: text/xml; charset=utf-8}
      body: |
        <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
          <TrackRequest><Number>111122223333</Number></TrackRequest>
        </soap:Body></soap:Envelope>
    response:
      status: 200
      headers: {Content-Type: text/xml; charset=utf-8}
      body: |
        <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
          <TrackResponse><Number>111122223333</Number><State>T</State></TrackResponse>
        </soap:Body></soap:Envelope>
`

// Every auth type, driven through the runtime: the simulator's account is
// let in and answered, a wrong credential is auth_failed.
func TestAuthEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		auth  string
		creds []string
		soap  bool
	}{
		{"api_key_header", "    type: api_key\n    header: X-Api-Key\n    value: \"{credential.api_key}\"", []string{"api_key"}, false},
		{"api_key_header_prefix", "    type: api_key\n    header: Authorization\n    prefix: \"Token \"\n    value: \"{credential.api_key}\"", []string{"api_key"}, false},
		{"api_key_query", "    type: api_key\n    query: key\n    value: \"{credential.api_key}\"", []string{"api_key"}, false},
		{"bearer", "    type: bearer\n    value: \"{credential.token}\"", []string{"token"}, false},
		{"basic", "    type: basic\n    username: \"{credential.user}\"\n    password: \"{credential.password}\"", []string{"user", "password"}, false},
		{"oauth2_basic_header", "    type: oauth2_client_credentials\n    token_url: /oauth2/v1/token\n    client_id: \"{credential.id}\"\n    client_secret: \"{credential.secret}\"",
			[]string{"id", "secret"}, false},
		{"token_login_body", "    type: token_login\n    login: {method: POST, path: /auth/login, body: {mapping: mappings/login.mapping}}\n" +
			"    token: data.token\n    ttl_path: data.expires_in\n    header: X-Auth-Token", []string{"username", "password"}, false},
		{"token_login_plain_text", "    type: token_login\n    login: {method: GET, path: /authenticate, query: {username: \"{credential.username}\", password: \"{credential.password}\"}}\n" +
			"    token: \"@body\"\n    header: X-Access-Token", []string{"username", "password"}, false},
		{"token_login_headers_query", "    type: token_login\n    login: {method: GET, path: /auth/token, headers: {X-User: \"{credential.username}\", X-Pass: \"{credential.password}\"}}\n" +
			"    token: token\n    query: session", []string{"username", "password"}, false},
		{"hmac", "    type: hmac\n    secret: \"{credential.secret}\"\n    header: X-Signature\n    prefix: \"v1=\"", []string{"secret"}, false},
		{"wsse_digest", "    type: wsse\n    username: \"{credential.user}\"\n    password: \"{credential.password}\"\n    digest: true", []string{"user", "password"}, true},
		{"wsse_text", "    type: wsse\n    username: \"{credential.user}\"\n    password: \"{credential.password}\"", []string{"user", "password"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mappings, file := restTrack, restTrackFile
			if tt.soap {
				mappings, file = soapTrack, soapTrackFile
			}
			e := start(t, folder(authManifest(tt.auth, tt.creds, tt.soap), mappings, map[string]string{"track.yaml": file}))
			out := e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`)
			sameJSON(t, out, `{"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}`)

			wrong := map[string]string{}
			for k, v := range e.acct.Credentials {
				wrong[k] = "wrong-" + v
			}
			e.acct = &sdk.Account{ID: "other", BaseURL: e.acct.BaseURL, Credentials: wrong}
			if _, err := e.call(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`); err == nil || err.Code != sdk.CodeAuthFailed {
				t.Fatalf("wrong credentials: %v, want auth_failed", err)
			}
			if u := e.sim.Unmatched(); len(u) > 0 {
				t.Errorf("unmatched: %q", u)
			}
		})
	}
}

func TestFlattenBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body string
		want                    map[string]string
	}{
		{"json", "application/json", `{"a": {"b": [1, "x"]}, "c.d": true, "e": null}`,
			map[string]string{"a.b.0": "1", "a.b.1": "x", `c\.d`: "true", "e": "null"}},
		{"form with a json field", "application/x-www-form-urlencoded", `format=json&data=` + urlEscape(`{"shipments":[{"waybill":"W1"}]}`),
			map[string]string{"format": "json", "data.shipments.0.waybill": "W1"}},
		{"soap", "text/xml", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><wsse:Security xmlns:wsse="x"><wsse:Username>u</wsse:Username></wsse:Security></s:Header>` +
			`<s:Body><Track id="7"><N>A1</N><N>A2</N></Track></s:Body></s:Envelope>`,
			map[string]string{"/Envelope/Body/Track/@id": "7", "/Envelope/Body/Track/N/0": "A1", "/Envelope/Body/Track/N/1": "A2"}},
		{"sniffed json", "", `{"n": "1"}`, map[string]string{"n": "1"}},
		{"other", "text/csv", "a,b\n1,2", map[string]string{"": "a,b\n1,2"}},
		{"empty", "application/json", "", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flattenBody(tt.contentType, []byte(tt.body)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("{", "%7B", "}", "%7D", "[", "%5B", "]", "%5D", `"`, "%22", ":", "%3A", ",", "%2C")
	return r.Replace(s)
}

// Body auth writes credentials into a JSON or form body after the body
// mapping; the simulator checks them there and leaves them out of matching,
// so recorded exchanges need not hold them.
func TestBodyAuth(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "form", "bearer+json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			auth := "type: body"
			if format == "bearer+json" {
				// A token in a header and credentials in the body at once
				// (Blue Dart's JWT beside its Profile).
				format, auth = "json", "type: bearer\n    value: \"{credential.secret_key}\""
			}
			field := "data.access_token"
			body := `{"data": {"awb": "111122223333"}}`
			contentType := "application/json"
			if format == "form" {
				field = "access_token"
				body = "awb=111122223333"
				contentType = "application/x-www-form-urlencoded"
			}
			manifest := manifestHead("bodycarrier", "Body Carrier") + `account:
  credentials:
    - {name: access_token, required: true}
    - {name: secret_key, required: true}
  environments:
    sandbox: https://sandbox.example.com
auth:
  keys:
    ` + auth + `
    fields:
      ` + field + `: "{credential.access_token}"
      secret_key: "{credential.secret_key}"
operations:
  - name: track
    idempotent: true
    binding:
      fan_out: {mode: per_item}
      request: {method: POST, path: /v1/track, body: {mapping: mappings/track-request.mapping, format: ` + format + `}}
      response: {mapping: mappings/track.mapping}
`
			req := `{ awb: input.tracking_numbers[0] }`
			if format == "json" {
				req = `{ data: { awb: input.tracking_numbers[0] } }`
			}
			mappings := map[string]string{
				"mappings/track.mapping":         restTrack["mappings/track.mapping"],
				"mappings/track-request.mapping": "mapping b.req\nfrom json\ndirection request\n" + req + "\n",
			}
			file := `operation: track
source: https://example.com/docs/track
canonical:
  request: |
    {"tracking_numbers": ["111122223333"]}
  response: |
    {"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}
exchanges:
  - request:
      method: POST
      path: /v1/track
      headers: {Content-Type: ` + contentType + `}
      body: '` + body + `'
    response:
      status: 200
      headers: {Content-Type: application/json}
      body: |
        {"id": "111122223333", "state": "T"}
`
			e := start(t, folder(manifest, mappings, map[string]string{"track.yaml": file}))
			out := e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`)
			sameJSON(t, out, `{"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}`)

			creds := map[string]string{"access_token": e.acct.Credentials["access_token"], "secret_key": "wrong"}
			e.acct = &sdk.Account{ID: "other", BaseURL: e.acct.BaseURL, Credentials: creds}
			if _, err := e.call(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`); err == nil || err.Code != sdk.CodeAuthFailed {
				t.Fatalf("wrong secret_key: %v, want auth_failed", err)
			}
			e.acct = &sdk.Account{ID: "third", BaseURL: e.acct.BaseURL, Credentials: map[string]string{"access_token": "x"}}
			if _, err := e.call(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`); err == nil || err.Code != sdk.CodeAuthFailed || !err.NotSent {
				t.Fatalf("missing secret_key: %v, want auth_failed before sending", err)
			}
		})
	}
}

// A binding with auth: none sends no credentials, though the manifest's only
// auth entry would otherwise sign it, and the simulator asks for none.
func TestBindingWithoutAuth(t *testing.T) {
	t.Parallel()
	m := authManifest("    type: api_key\n    header: X-Api-Key\n    value: \"{credential.api_key}\"", []string{"api_key"}, false)
	m = strings.Replace(m, "    binding:\n", "    binding:\n      auth: none\n", 1)
	e := start(t, folder(m, restTrack, map[string]string{"track.yaml": restTrackFile}))
	e.acct = &sdk.Account{ID: "keyless", BaseURL: e.acct.BaseURL}
	out := e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`)
	sameJSON(t, out, `{"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}`)
}

// A provider that logs in on another host ({host.auth}) and tracks on a
// third ({host.tracking}): the simulator serves them all and its account
// points every host at it; a manifest that names a host it does not declare
// is refused.
func TestOtherHosts(t *testing.T) {
	t.Parallel()
	manifest := manifestHead("hostcarrier", "Host Carrier") + `account:
  credentials:
    - {name: username, required: true}
    - {name: password, required: true}
  environments:
    sandbox: https://api-sandbox.example.com
  hosts:
    auth: {sandbox: https://oauth-sandbox.example.com}
    tracking: {sandbox: https://track-sandbox.example.com/api}
auth:
  a:
    type: token_login
    login: {method: POST, path: "{host.auth}/auth/login", body: {mapping: mappings/login.mapping}}
    token: data.token
    header: X-Auth-Token
operations:
  - name: track
    idempotent: true
    binding:
      fan_out: {mode: per_item}
      request: {method: GET, path: "{host.tracking}/v1/track/{item}"}
      response: {mapping: mappings/track.mapping}
`
	e := start(t, folder(manifest, restTrack, map[string]string{"track.yaml": restTrackFile}))
	e.acct.Environment = "sandbox"
	if e.acct.Settings["host_auth"] != e.sim.URL() || e.acct.Settings["host_tracking"] != e.sim.URL() {
		t.Fatalf("the simulator's account does not point the hosts at it: %v", e.acct.Settings)
	}
	out := e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`)
	sameJSON(t, out, `{"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}`)
	if u := e.sim.Unmatched(); len(u) > 0 {
		t.Errorf("unmatched: %q", u)
	}

	// Without the settings, the manifest's URL for the environment is used;
	// an environment the host lacks is refused before anything is sent.
	bad := strings.Replace(manifest, "    tracking: {sandbox: https://track-sandbox.example.com/api}\n", "", 1)
	if _, err := declarative.Load(folder(bad, restTrack, nil), declarative.Options{}); err == nil || !strings.Contains(err.Error(), "{host.tracking}") {
		t.Fatalf("an undeclared host: %v", err)
	}
	e.acct = &sdk.Account{ID: "prod", BaseURL: e.acct.BaseURL, Environment: "production", Credentials: e.acct.Credentials}
	if _, err := e.call(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`); err == nil || !err.NotSent || !strings.Contains(err.Message, `environment "production" has no tracking host`) {
		t.Fatalf("an environment without the host: %v", err)
	}
}

// A substitution changes whole values, never part of a longer word: the
// recorded user name "test" does not turn the key "latest_status" into
// "lauser_status".
func TestReplaceWords(t *testing.T) {
	pairs := [][2]string{{"AWB123", "AWB999"}, {"test", "user"}}
	got := replaceWords(`{"latest_status": "ok", "user": "test", "note": "AWB123 at test-hub", "ref": "XAWB123"}`, pairs)
	want := `{"latest_status": "ok", "user": "user", "note": "AWB999 at user-hub", "ref": "XAWB123"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Two token_login entries that log in the same way share their tokens: one
// sends the token alone (a GET), the other beside profile fields in a body.
func TestTokenLoginsShareALogin(t *testing.T) {
	t.Parallel()
	manifest := manifestHead("twologins", "Two Logins") + `account:
  credentials:
    - {name: username, required: true}
    - {name: password, required: true}
  environments:
    sandbox: https://sandbox.example.com
auth:
  plain:
    type: token_login
    login: {method: POST, path: /auth/login, body: {mapping: mappings/login.mapping}}
    token: data.token
    header: X-Auth-Token
  profile:
    type: token_login
    login: {method: POST, path: /auth/login, body: {mapping: mappings/login.mapping}}
    token: data.token
    header: X-Auth-Token
    fields: {profile.user: "{credential.username}"}
operations:
  - name: track
    idempotent: true
    binding:
      auth: plain
      fan_out: {mode: per_item}
      request: {method: GET, path: "/v1/track/{item}"}
      response: {mapping: mappings/track.mapping}
  - name: cancel_shipment
    idempotent: true
    binding:
      auth: profile
      request: {method: POST, path: /v1/cancel, body: {mapping: mappings/cancel-request.mapping}}
      response: {mapping: mappings/cancel.mapping}
`
	mappings := map[string]string{
		"mappings/track.mapping":          restTrack["mappings/track.mapping"],
		"mappings/login.mapping":          restTrack["mappings/login.mapping"],
		"mappings/cancel-request.mapping": "mapping c.req\nfrom json\ndirection request\n{ awb: input.tracking_number }\n",
		"mappings/cancel.mapping":         "mapping c.resp\nfrom json\ndirection response\n{ tracking_number: input.awb, cancelled: input.ok }\n",
	}
	cancelFile := `operation: cancel_shipment
source: https://example.com/docs/cancel
canonical:
  request: |
    {"tracking_number": "111122223333"}
  response: |
    {"tracking_number": "111122223333", "cancelled": true}
exchanges:
  - request:
      method: POST
      path: /v1/cancel
      headers: {Content-Type: application/json}
      body: '{"awb": "111122223333"}'
    response:
      status: 200
      headers: {Content-Type: application/json}
      body: '{"awb": "111122223333", "ok": true}'
`
	e := start(t, folder(manifest, mappings, map[string]string{"track.yaml": restTrackFile, "cancel.yaml": cancelFile}))
	sameJSON(t, e.mustCall(t, sdk.OpTrack, `{"tracking_numbers": ["111122223333"]}`),
		`{"results": [{"tracking_number": "111122223333", "status": "in_transit"}]}`)
	sameJSON(t, e.mustCall(t, sdk.OpCancelShipment, `{"tracking_number": "111122223333"}`),
		`{"tracking_number": "111122223333", "cancelled": true}`)
	if u := e.sim.Unmatched(); len(u) > 0 {
		t.Errorf("unmatched: %q", u)
	}
}

// manifestHead is the first lines of a test connector's manifest: who it is.
func manifestHead(id, name string) string {
	return "\nid: " + id + "\nname: " + name + "\nversion: 0.1.0\ncategory: carrier_parcel\nprotocols: [rest_json]\ndocs: https://example.com/docs\n"
}
