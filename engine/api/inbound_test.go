package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

var pushyManifest = &sdk.Manifest{
	ID: "pushy", Name: "Pushy Couriers", Version: "0.1.0", Category: "carrier_parcel", Docs: "https://example.test/pushy",
	Operations: []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}, {Name: sdk.OpReceivePush, Idempotent: true}},
	Account: sdk.AccountSchema{
		Credentials:  []sdk.Field{{Name: "push_token", Required: true}},
		Environments: map[string]string{"sandbox": "https://pushy.test"},
	},
	Inbound: &sdk.InboundAuth{Type: sdk.InboundToken, Credential: "push_token", Header: "X-Pushy-Token"},
}

const pushyToken = "push-TOKEN-93af1c"

// pushHarness is a harness whose pushy connector (the hub checks its
// X-Pushy-Token header against the account's push_token) checks the token
// again and reads {"awb":..,"status":..}.
func pushHarness(t *testing.T, opts ...harnessOpt) (*harness, *[]model.PushRequest) {
	h := newHarness(t, opts...)
	var got []model.PushRequest
	h.conns.infos = append(h.conns.infos, plugins.Info{Manifest: pushyManifest})
	h.conns.invoke = func(_ context.Context, id string, call *sdk.Call) ([]byte, error) {
		if id != "pushy" || call.Operation != sdk.OpReceivePush {
			return []byte(`{}`), nil
		}
		var req model.PushRequest
		if err := json.Unmarshal(call.Payload, &req); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "decoding: %v", err)
		}
		h.mu.Lock()
		got = append(got, req)
		h.mu.Unlock()
		want := call.Account.Credentials["push_token"]
		if subtle.ConstantTimeCompare([]byte(req.Headers["x-pushy-token"]), []byte(want)) != 1 {
			return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, Message: "the push's token does not match"}
		}
		var in struct{ AWB, Status string }
		if err := json.Unmarshal(req.Body, &in); err != nil || in.AWB == "" {
			return nil, sdk.InvalidField("/body", "not a Pushy scan")
		}
		return json.Marshal(model.PushResponse{Results: []model.Tracking{{TrackingNumber: in.AWB, Status: model.TrackingStatus(in.Status)}}})
	}
	return h, &got
}

func TestReceivePush(t *testing.T) {
	t.Parallel()
	h, got := pushHarness(t)
	id := h.createAccount(h.keyA, `{"connector_id":"pushy","name":"p","environment":"sandbox","credentials":{"push_token":"`+pushyToken+`"}}`)
	acme := h.createAccount(h.keyA, acmeAccount)
	scan := `{"awb":"PX1","status":"in_transit"}`

	r := h.do("POST", "/v1/inbound/pushy/"+id+"?src=pushy&src=2", "", scan, "X-Pushy-Token: "+pushyToken, "Content-Type: application/json; charset=utf-8")
	var ok PushReceived
	r.decode(t, &ok)
	if r.status != http.StatusOK || ok.Results != 1 || ok.PODs != 0 {
		t.Fatalf("good push: %d %s", r.status, r.body)
	}
	h.mu.Lock()
	req := (*got)[0]
	h.mu.Unlock()
	if !bytes.Equal(req.Body, []byte(scan)) || req.ContentType != "application/json; charset=utf-8" ||
		req.Headers["x-pushy-token"] != pushyToken || req.Query["src"] != "pushy,2" || req.Headers["connection"] != "" {
		t.Errorf("the connector got %+v", req)
	}

	// A retried push is answered the same way.
	if r := h.do("POST", "/v1/inbound/pushy/"+id, "", scan, "X-Pushy-Token: "+pushyToken); r.status != http.StatusOK {
		t.Errorf("retried push: %d %s", r.status, r.body)
	}
	cases := []struct {
		name, path, body string
		headers          []string
		status           int
		code             string
	}{
		{"wrong token", "/v1/inbound/pushy/" + id, scan, []string{"X-Pushy-Token: nope"}, 401, codeUnauthenticated},
		{"no token", "/v1/inbound/pushy/" + id, scan, nil, 401, codeUnauthenticated},
		{"an API key is no token", "/v1/inbound/pushy/" + id, scan, []string{"Authorization: Bearer " + h.keyA}, 401, codeUnauthenticated},
		{"malformed", "/v1/inbound/pushy/" + id, `{"nope":1}`, []string{"X-Pushy-Token: " + pushyToken}, 422, string(sdk.CodeInvalidRequest)},
		{"unknown account", "/v1/inbound/pushy/acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", scan, []string{"X-Pushy-Token: " + pushyToken}, 401, codeUnauthenticated},
		{"not an account id", "/v1/inbound/pushy/x..y", scan, nil, 401, codeUnauthenticated},
		{"another connector's account", "/v1/inbound/pushy/" + acme, scan, []string{"X-Pushy-Token: " + pushyToken}, 401, codeUnauthenticated},
		{"connector without pushes", "/v1/inbound/acme/" + acme, scan, nil, 404, string(sdk.CodeNotFound)},
		{"unknown connector", "/v1/inbound/nope/" + id, scan, []string{"X-Pushy-Token: " + pushyToken}, 404, string(sdk.CodeNotFound)},
		{"too large", "/v1/inbound/pushy/" + id, `{"awb":"` + strings.Repeat("x", MaxPushBytes) + `"}`, []string{"X-Pushy-Token: " + pushyToken}, 413, codeTooLarge},
	}
	for _, c := range cases {
		r := h.do("POST", c.path, "", c.body, c.headers...)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		if p := r.problem(t); p.Code != c.code {
			t.Errorf("%s: code %s, want %s", c.name, p.Code, c.code)
		}
		if bytes.Contains(r.body, []byte(pushyToken)) {
			t.Errorf("%s: the answer shows the token", c.name)
		}
	}
	if r := h.do("GET", "/v1/inbound/pushy/"+id, "", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", r.status)
	}
	// Logs name the route, tenant and connector, never the token or the body.
	logs := h.logs.String()
	for _, leak := range []string{pushyToken, "PX1"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("logs contain %q:\n%s", leak, logs)
		}
	}
	if !strings.Contains(logs, `"route":"POST /v1/inbound/{connector}/{account}"`) || !strings.Contains(logs, `"tenant":"`+h.tenantA+`"`) {
		t.Errorf("request log incomplete:\n%s", logs)
	}
}

func TestReceivePushInOpenAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/openapi.json", "", "")
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Security    []any  `json:"security"`
		} `json:"paths"`
	}
	r.decode(t, &doc)
	op := doc.Paths["/v1/inbound/{connector}/{account}"]["post"]
	if op.OperationID != "receivePush" || op.Security == nil || len(op.Security) != 0 {
		t.Errorf("openapi: %+v", op)
	}
}
