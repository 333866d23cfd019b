package nic_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/transport/nic"
)

// A GSP folder's binding sends NIC's request data as its body and nothing of
// the account's settings (which the runtime adds to a body mapping's input
// beside the data), hands NIC's answer data back, and a refusal carrying
// NIC's codes gets the class NIC's codes have, whatever the folder guessed.
func TestBindingsSendNICsDataAndClassNICsCodes(t *testing.T) {
	bodies := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		if r.Header.Get("gstin") != "29AKLPM8755F1ZJ" {
			w.WriteHeader(400)
			return
		}
		var in struct{ DocNo string }
		_ = json.Unmarshal(b, &in)
		if in.DocNo == "DUP" {
			io.WriteString(w, `{"success": false, "message": "604 : E-way bill(s) are already generated for the same document number"}`)
			return
		}
		io.WriteString(w, `{"success": true, "result": {"ewayBillNo": 201010077008}}`)
	}))
	defer srv.Close()
	folder := fstest.MapFS{
		"manifest.yaml": {Data: []byte(`
id: gsp
name: GSP
version: 0.1.0
category: government
protocols: [rest_json]
docs: https://example.com/docs
translation: nic_ewaybill
account:
  credentials: []
  settings: [{name: gstin, required: true}]
  environments: {sandbox: https://sandbox.example.com}
operations:
  - name: generate_eway_bill
    idempotent: false
    binding:
      request: {method: POST, path: /ewayapi, headers: {gstin: "{setting.gstin}"}, body: {mapping: mappings/request.mapping}}
      response: {mapping: mappings/answer.mapping, error: mappings/error.mapping}
`)},
		"mappings/request.mapping": {Data: []byte("mapping g.request\nfrom json\ndirection request\ninput.data\n")},
		"mappings/answer.mapping":  {Data: []byte("mapping g.answer\nfrom json\ndirection response\ninput.result\n")},
		"mappings/error.mapping": {Data: []byte("mapping g.error\nfrom json\ndirection response\n" +
			`{ error: if input.success == false then { code: "invalid_request", carrier_code: input.message.capture("^(\\d+) :"), carrier_message: input.message } else null }` + "\n")},
	}
	d, err := declarative.Load(folder, declarative.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := nic.NewBindings(d)
	acct := &sdk.Account{ID: "A", BaseURL: srv.URL, Settings: map[string]string{"gstin": "29AKLPM8755F1ZJ"}}
	call := &sdk.Call{Operation: sdk.OpGenerateEWayBill, Account: acct}

	var out struct{ EwayBillNo json.Number }
	if err := b.Exchange(context.Background(), call, map[string]any{"docNo": "7001-8", "totalValue": 56099}, &out); err != nil {
		t.Fatal(err)
	}
	if got := <-bodies; got != `{"docNo":"7001-8","totalValue":56099}` {
		t.Fatalf("sent %s, want NIC's data alone", got)
	}
	if out.EwayBillNo != "201010077008" {
		t.Fatalf("answer data %+v", out)
	}

	err = b.Exchange(context.Background(), call, map[string]any{"docNo": "DUP"}, &out)
	<-bodies
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeConflict || e.CarrierCode != "604" {
		t.Fatalf("a refusal with NIC's 604: %v, want conflict with the code kept", err)
	}
}
