package delhivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

const pushToken = "push-secret-4f1c9a2b7d"

// push runs receive_push with the given body and Authorization header.
func (e *env) push(body []byte, authorization string, query map[string]string) (*model.PushResponse, *sdk.Error) {
	req := model.PushRequest{Headers: map[string]string{"content-type": "application/json"}, Query: query,
		ContentType: "application/json", Body: body}
	if authorization != "" {
		req.Headers["authorization"] = authorization
	}
	var out model.PushResponse
	if err := invoke(context.Background(), e.d, e.acct, sdk.OpReceivePush, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func TestReceivePushMapsTheSimulatorsScan(t *testing.T) {
	e := newEnv(t)
	wb := e.mustCreate("PUSH-1")
	at := time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)
	if err := e.sim.AddScan(wb, simulator.Scan{Type: "UD", Status: "Dispatched", Instructions: "Out for delivery",
		Location: "Bengaluru_Koramangala_DC (Karnataka)", Time: at}); err != nil {
		t.Fatal(err)
	}
	body, err := e.sim.PushBody(wb)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{pushToken, "Bearer " + pushToken, "token " + pushToken} {
		out, perr := e.push(body, auth, nil)
		if perr != nil {
			t.Fatalf("%q: %v", auth, perr)
		}
		if len(out.Results) != 1 {
			t.Fatalf("results: %+v", out.Results)
		}
		tr := out.Results[0]
		if tr.TrackingNumber != wb || tr.Status != model.StatusOutForDelivery || tr.RawCode != "UD/Dispatched" ||
			tr.RawText != "Out for delivery" || len(tr.Events) != 1 || !tr.Events[0].Time.Equal(at) {
			t.Errorf("tracking: %+v", tr)
		}
		if tr.Location == nil || tr.Location.City != "Bengaluru" || tr.Location.State != "Karnataka" {
			t.Errorf("location: %+v", tr.Location)
		}
	}
	if _, perr := e.push(body, "", map[string]string{"token": pushToken}); perr != nil {
		t.Errorf("token in the query: %v", perr)
	}
}

func TestReceivePushDocumentedSampleAndArrays(t *testing.T) {
	e := newEnv(t)
	// The sample on Delhivery's push page, with a waybill filled in.
	sample := []byte(`{"Shipment":{"Status":{"Status":"Manifested","StatusDateTime":"2019-01-09T17:10:42.767",
		"StatusType":"UD","StatusLocation":"Chandigarh_Raiprkln_C (Chandigarh)","Instructions":"Manifest uploaded"},
		"PickUpDate":"2019-01-09T17:10:42.543","NSLCode":"X-UCI","Sortcode":"IXC/MDP","ReferenceNo":"28","AWB":"1490000000001"}}`)
	out, perr := e.push(sample, pushToken, nil)
	if perr != nil {
		t.Fatal(perr)
	}
	tr := out.Results[0]
	want := time.Date(2019, 1, 9, 11, 40, 42, 767e6, time.UTC)
	if tr.Status != model.StatusPending || tr.RawCode != "UD/Manifested/X-UCI" || !tr.Events[0].Time.Equal(want) {
		t.Errorf("sample: %+v", tr)
	}
	arr := append(append([]byte("["), sample...), ',')
	arr = append(append(arr, sample...), ']')
	if out, perr := e.push(arr, pushToken, nil); perr != nil || len(out.Results) != 2 {
		t.Errorf("array: %+v %v", out, perr)
	}
	if out, perr := e.push([]byte(`[]`), pushToken, nil); perr != nil || len(out.Results) != 0 {
		t.Errorf("empty array: %+v %v", out, perr)
	}
}

// TestReceivePushRefusals: a push that does not read is refused as an invalid
// request. (Whether a push carries the account's push_token is the hub's to
// check, before the connector sees it, as the manifest's inbound section
// declares: engine/api's and cmd/hub's tests hold that behaviour.)
func TestReceivePushRefusals(t *testing.T) {
	e := newEnv(t)
	for name, body := range map[string]string{
		"not json":    `Shipment=1`,
		"empty":       ``,
		"no shipment": `{"foo":1}`,
		"no awb":      `{"Shipment":{"Status":{"Status":"In Transit","StatusType":"UD","StatusDateTime":"2026-01-02T10:00:00"}}}`,
		"no status":   `{"Shipment":{"AWB":"1"}}`,
		"bad time":    `{"Shipment":{"AWB":"1","Status":{"Status":"In Transit","StatusType":"UD","StatusDateTime":"yesterday"}}}`,
	} {
		if _, perr := e.push([]byte(body), pushToken, nil); perr == nil || perr.Code != sdk.CodeInvalidRequest {
			t.Errorf("%s: %v", name, perr)
		}
	}
}

// TestInboundDeclaration: the manifest declares the push's token as Delhivery
// sends it (the Authorization header, bare or after "Bearer " or "Token ", or
// the token query parameter), held in the push_token credential.
func TestInboundDeclaration(t *testing.T) {
	in := newEnv(t).d.Manifest().Inbound
	if in == nil || in.Type != sdk.InboundToken || in.Credential != "push_token" || in.Header != "Authorization" ||
		strings.Join(in.Schemes, ",") != "Bearer,Token" || in.Query != "token" {
		t.Errorf("inbound: %+v", in)
	}
}
