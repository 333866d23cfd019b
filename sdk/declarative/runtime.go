package declarative

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/mappings/formats"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/rest"
	"github.com/carrierhub/hub/sdk/transport/xmlhttp"
)

// invoke runs one call of a bound operation.
func (c *Connector) invoke(ctx context.Context, o *operation, call *sdk.Call) ([]byte, error) {
	if !gjson.ValidBytes(call.Payload) || !gjson.ParseBytes(call.Payload).IsObject() {
		return nil, unsent(&sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector,
			Message: fmt.Sprintf("the %s request must be a JSON object", o.name)})
	}
	if o.name == sdk.OpReceivePush {
		return c.readPush(o, call)
	}
	ex, err := c.exchanger(o, call)
	if err != nil {
		return nil, err
	}
	if o.fan != nil {
		return ex.track(ctx, o.fan)
	}
	return ex.run(ctx, call.Payload, "")
}

// readPush maps what a provider pushed (or dropped on SFTP) with the
// binding's response mapping, which reads the format its from line declares.
func (c *Connector) readPush(o *operation, call *sdk.Call) ([]byte, error) {
	var push model.PushRequest
	if err := json.Unmarshal(call.Payload, &push); err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Message: "reading the push: " + err.Error()}
	}
	out, err := o.steps[0].response.Apply(nil, push.Body)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("%s's push could not be read: %v", c.manifest.Name, err)}
	}
	return out, nil
}

// exchanger runs one call's exchanges for one account.
type exchanger struct {
	c    *Connector
	op   *operation
	call *sdk.Call
	api  *rest.Client
	// secrets are the account's credentials, redacted from every error.
	secrets []string
	// unitFields are the call's other members, which every fan-out unit
	// carries (an aggregator's courier_id); see otherFields.
	unitFields string
}

func (c *Connector) exchanger(o *operation, call *sdk.Call) (*exchanger, error) {
	acct := call.Account
	if acct == nil || acct.BaseURL == "" {
		return nil, unsent(&sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector,
			Message: fmt.Sprintf("connector %s needs an account with a base URL", o.connID)})
	}
	ex := &exchanger{c: c, op: o, call: call}
	for _, v := range acct.Credentials {
		if v != "" {
			ex.secrets = append(ex.secrets, v)
		}
	}
	auth, err := ex.buildAuth(o.auth)
	if err != nil {
		return nil, err
	}
	if ex.api, err = c.rest.For(acct.BaseURL, auth); err != nil {
		return nil, unsent(err)
	}
	return ex, nil
}

// lookup resolves one template placeholder for one request; requestID is
// that request's {request.id} (empty when its templates use none).
func (ex *exchanger) lookup(input []byte, item string, values map[string]string, requestID string) func(kind, name string) string {
	acct := ex.call.Account
	return func(kind, name string) string {
		switch kind {
		case "credential":
			return acct.Credentials[name]
		case "setting":
			return acct.Settings[name]
		case "input":
			return gjson.GetBytes(input, name).String()
		case "item":
			return item
		case "values":
			return values[name]
		case "account":
			switch name {
			case "id":
				return acct.ID
			case "tenant_id":
				return acct.TenantID
			case "environment":
				return acct.Environment
			}
		case "host":
			return ex.host(name)
		case "request":
			return requestID
		}
		return ""
	}
}

// host is the base URL of one of the provider's other hosts for the call's
// account: its host_NAME setting, else the manifest's URL for its environment.
func (ex *exchanger) host(name string) string {
	acct := ex.call.Account
	if u := acct.Settings[sdk.HostSetting(name)]; u != "" {
		return strings.TrimRight(u, "/")
	}
	return strings.TrimRight(ex.c.manifest.Account.Hosts[name][acct.Environment], "/")
}

// run sends the binding's steps for one canonical request (the whole call's,
// or one fan-out unit's) and returns the last answer through its response
// mapping. A refusal is returned as an *sdk.Error.
func (ex *exchanger) run(ctx context.Context, input []byte, item string) ([]byte, error) {
	values := map[string]string{}
	for i, st := range ex.op.steps {
		resp, err := ex.send(ctx, st, input, item, values)
		if err != nil {
			return nil, err
		}
		if st.resp == nil {
			continue
		}
		for name, p := range st.resp.Values {
			if h, ok := strings.CutPrefix(p, "header:"); ok {
				values[name] = resp.Header.Get(h)
				continue
			}
			values[name] = gjson.GetBytes(resp.Body, p).String()
		}
		if i < len(ex.op.steps)-1 {
			continue
		}
		body := resp.Body
		if len(bytes.TrimSpace(body)) == 0 && st.response.From() == "json" {
			body = []byte("null") // a 204, or a 200 with nothing to say
		}
		if st.resp.Envelope {
			if body, err = envelope(body, input, values); err != nil {
				return nil, ex.unreadable(st, resp, err)
			}
		}
		out, err := st.response.Apply(nil, body)
		if err != nil {
			return nil, ex.unreadable(st, resp, err)
		}
		return out, nil
	}
	return nil, sdk.Errorf(sdk.CodeInternal, "%s: binding has no response mapping", ex.op.name)
}

// envelope is what an envelope response mapping reads: the answer, the
// canonical request and the values named so far.
func envelope(answer, request []byte, values map[string]string) ([]byte, error) {
	answer = bytes.TrimSpace(answer)
	if !gjson.ValidBytes(answer) {
		return nil, fmt.Errorf("the answer is not JSON")
	}
	named, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(answer)+len(request)+len(named)+32)
	out = append(out, `{"answer":`...)
	out = append(out, answer...)
	out = append(out, `,"request":`...)
	out = append(out, request...)
	out = append(out, `,"values":`...)
	out = append(out, named...)
	return append(out, '}'), nil
}

// send builds, signs and sends one step's request; a non-2xx answer, or a 2xx
// the error mapping calls a refusal, is returned as an error.
func (ex *exchanger) send(ctx context.Context, st *step, input []byte, item string, values map[string]string) (*rest.Response, error) {
	if st.values != nil {
		if err := ex.requestValues(st.values, input, values); err != nil {
			return nil, err
		}
	}
	for renewed := false; ; renewed = true {
		var requestID string
		if st.requestID {
			requestID = newRequestID() // a new one for each request sent, a resend's too
		}
		look := ex.lookup(input, item, values, requestID)
		req, err := ex.request(st.req, st.body, input, values, look)
		if err != nil {
			return nil, err
		}
		resp, err := ex.api.Do(ctx, req)
		var e *sdk.Error
		switch {
		case err != nil:
			e = sdk.AsError(err)
			if resp != nil {
				ex.refine(st, resp, e)
			}
		case st.errorMap != nil:
			e = ex.refused(st, resp)
		}
		if e == nil {
			return resp, nil
		}
		// A refusal the binding calls auth_failed other than a 401 (an expired
		// session refused with a 403 or in a 2xx answer with a code) drops a
		// token login's token and goes once more with a new one, as a 401
		// does in the rest client.
		if renewed || e.Code != sdk.CodeAuthFailed || resp == nil || resp.Status == http.StatusUnauthorized || !resp.Renew() {
			return nil, e
		}
	}
}

// request builds one provider request from a request binding.
func (ex *exchanger) request(rb *sdk.RequestBinding, body *mappings.Program, input []byte, values map[string]string, look func(kind, name string) string) (*rest.Request, error) {
	req := &rest.Request{Method: strings.ToUpper(rb.Method), Secrets: ex.secrets}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	req.Path = sdk.ExpandTemplate(rb.Path, look, url.PathEscape)
	if host, _ := sdk.PathHost(rb.Path); host != "" && !strings.HasPrefix(req.Path, "http") {
		return nil, unsent(&sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector,
			Message: fmt.Sprintf("the account's environment %q has no %s host (account.hosts in the manifest, or the account setting %s)",
				ex.call.Account.Environment, host, sdk.HostSetting(host))})
	}
	if len(rb.Query) > 0 {
		req.Query = url.Values{}
		for k, t := range rb.Query {
			if v := sdk.ExpandTemplate(t, look, nil); v != "" {
				req.Query.Set(k, v)
			}
		}
	}
	if len(rb.Headers) > 0 {
		req.Header = http.Header{}
		for k, t := range rb.Headers {
			if v := sdk.ExpandTemplate(t, look, nil); v != "" {
				req.Header.Set(k, v)
			}
		}
	}
	if body == nil {
		return req, nil
	}
	js, err := body.ApplyJSON(nil, ex.bodyInput(input, values))
	if err != nil {
		return nil, unsent(requestMappingError(err))
	}
	if a := ex.op.auth; a != nil && len(a.Fields) > 0 {
		if js, err = bodyFields(a, js, look); err != nil {
			return nil, err
		}
	}
	bb := rb.Body
	req.Body, err = formats.Write(bb.Format, js, formats.WriteOptions{JSONFields: bb.JSONFields, Declaration: true})
	if err != nil {
		return nil, unsent(sdk.Errorf(sdk.CodeInternal, "writing the %s body: %v", bb.Format, err))
	}
	if a := ex.op.auth; a != nil && a.Type == sdk.AuthWSSecurity {
		if req.Body, err = ex.wsse(a, look).Secure(req.Body); err != nil {
			return nil, unsent(err)
		}
	}
	req.ContentType = bb.ContentType
	if req.ContentType == "" {
		req.ContentType = formats.ContentType(bb.Format)
	}
	return req, nil
}

// bodyFields writes an auth's body fields (its credentials) into the body's
// JSON, each at its path, after the body mapping (which never reads
// credentials).
func bodyFields(a *sdk.AuthSpec, js []byte, look func(kind, name string) string) ([]byte, error) {
	for _, path := range slices.Sorted(maps.Keys(a.Fields)) {
		v := sdk.ExpandTemplate(a.Fields[path], look, nil)
		if v == "" {
			return nil, unsent(&sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("account has no value for the auth's body field %s (%s)", path, a.Fields[path])})
		}
		var err error
		if js, err = sjson.SetBytes(js, path, v); err != nil {
			return nil, unsent(sdk.Errorf(sdk.CodeInternal, "writing the auth's body field %s: %v", path, err))
		}
	}
	return js, nil
}

// requestValues runs a request's values mapping and adds its fields to values.
func (ex *exchanger) requestValues(p *mappings.Program, input []byte, values map[string]string) error {
	out, err := p.ApplyJSON(nil, ex.bodyInput(input, values))
	if err != nil {
		return unsent(requestMappingError(err))
	}
	res := gjson.ParseBytes(out)
	if !res.IsObject() {
		return unsent(sdk.Errorf(sdk.CodeInternal, "values mapping %s wrote %s, not an object", p.Name(), res.Type))
	}
	res.ForEach(func(k, v gjson.Result) bool {
		values[k.String()] = v.String()
		return true
	})
	return nil
}

// bodyInput is what a request mapping reads: the canonical request with the
// account's settings added as "settings" and the values named so far (by a
// values mapping or earlier steps) as "values"; never its credentials.
func (ex *exchanger) bodyInput(input []byte, values map[string]string) []byte {
	s := ex.call.Account.Settings
	if len(s) == 0 && len(values) == 0 {
		return input
	}
	rest := bytes.TrimSpace(input)[1:] // after the object's opening brace
	out := make([]byte, 0, len(input)+256)
	out = append(out, '{')
	for _, add := range []struct {
		key string
		m   map[string]string
	}{{"settings", s}, {"values", values}} {
		if len(add.m) == 0 {
			continue
		}
		b, err := json.Marshal(add.m)
		if err != nil {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, add.key...)
		out = append(out, `":`...)
		out = append(out, b...)
	}
	if r := bytes.TrimSpace(rest); len(r) > 0 && r[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// refine corrects a non-2xx answer's classification with the binding's status
// table and error mapping.
func (ex *exchanger) refine(st *step, resp *rest.Response, e *sdk.Error) {
	if st.resp == nil {
		return
	}
	if code, ok := statusCode(st.resp.Status, resp.Status); ok {
		e.Code = code
	}
	if st.errorMap == nil {
		return
	}
	if r := ex.refused(st, resp); r != nil {
		e.Message, e.Source, e.Field = r.Message, sdk.SourceCarrier, r.Field
		if r.CarrierCode != "" {
			e.CarrierCode = r.CarrierCode
		}
		if r.CarrierMessage != "" {
			e.CarrierMessage = r.CarrierMessage
		}
		if _, tabled := statusCode(st.resp.Status, resp.Status); !tabled && r.Code != "" {
			e.Code = r.Code
		}
	}
}

// statusCode looks status up in a binding's table: the exact status, then its class.
func statusCode(table map[string]sdk.Code, status int) (sdk.Code, bool) {
	if len(table) == 0 {
		return "", false
	}
	if c, ok := table[strconv.Itoa(status)]; ok {
		return c, true
	}
	c, ok := table[strconv.Itoa(status/100)+"xx"]
	return c, ok
}

// refused runs the error mapping on an answer and returns its refusal, if it
// says the answer is one.
func (ex *exchanger) refused(st *step, resp *rest.Response) *sdk.Error {
	out, err := st.errorMap.Apply(nil, resp.Body)
	if err != nil {
		// An answer the error mapping cannot read is not a refusal it knows.
		return nil
	}
	e := gjson.GetBytes(out, "error")
	if !e.IsObject() {
		return nil
	}
	code := sdk.Code(e.Get("code").String())
	if code == "" || !code.Valid() {
		code = rest.CodeForStatus(resp.Status)
		if resp.Status < 300 {
			code = sdk.CodeInvalidRequest
		}
	}
	msg := e.Get("message").String()
	cm := e.Get("carrier_message").String()
	if msg == "" {
		msg = fmt.Sprintf("%s refused the %s request", ex.c.manifest.Name, ex.op.name)
	}
	return &sdk.Error{Code: code, Source: sdk.SourceCarrier, Message: redact(msg, ex.secrets), Field: e.Get("field").String(),
		CarrierCode: redact(e.Get("carrier_code").String(), ex.secrets), CarrierMessage: redact(cm, ex.secrets)}
}

// unreadable is the error for an answer the response mapping cannot translate.
// An HTML page under a 2xx is a proxy or maintenance page standing in for the
// provider: carrier_unavailable, worth retrying, with the page's title.
func (ex *exchanger) unreadable(st *step, resp *rest.Response, err error) error {
	if title, ok := resp.HTMLPage(); ok && st.response.From() != "xml" {
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message:        fmt.Sprintf("%s answered the %s request with an HTML page instead of its API's answer", ex.c.manifest.Name, ex.op.name),
			CarrierMessage: redact(title, ex.secrets)}
	}
	return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
		Message:        fmt.Sprintf("reading %s's %s answer: %v", ex.c.manifest.Name, ex.op.name, err),
		CarrierMessage: redact(snippet(resp.Body), ex.secrets)}
}

// requestMappingError classifies a request mapping's failure: the canonical
// request does not fit (a fail("...") or a required field missing).
func requestMappingError(err error) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Message: err.Error()}
}

// redact removes every secret from s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// snippet quotes the start of a body for an error, cut on a rune boundary.
func snippet(b []byte) string { return xmlhttp.Truncate(string(b), 300) }

// unsent marks an error raised before anything was sent.
func unsent(err error) error {
	e := sdk.AsError(err)
	e.NotSent = true
	return e
}

// newRequestID is a random identifier for one request ({request.id}): 32
// hexadecimal digits, for providers that want each request to carry a new
// one (Adaequare's requestid header).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
