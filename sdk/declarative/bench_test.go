package declarative

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/rest"
)

// The benchmarks compare one track call of three numbers served by the
// declarative runtime with the same call served by a connector written in Go
// the way the hub's Go connectors were (rest client, the same compiled
// mapping, decode into the model, assemble in request order, encode), against
// the same canned provider answer served in memory, so that the figures are
// the connector's own CPU and allocations, not the network's:
//
//	go test -run '^$' -bench Track -benchmem ./sdk/declarative

// benchAnswer is a three-shipment answer of the test carrier.
var benchAnswer = func() []byte {
	var items []string
	for _, n := range []string{"X1", "X2", "X3"} {
		items = append(items, `{"id":"`+n+`","state":"T","scans":[`+
			`{"at":"2026-01-01T10:00:00+05:30","code":"A"},{"at":"2026-01-02T11:30:00+05:30","code":"B"},`+
			`{"at":"2026-01-03T09:15:00+05:30","code":"C"},{"at":"2026-01-04T18:45:00+05:30","code":"D"}]}`)
	}
	return []byte(`{"items":[` + strings.Join(items, ",") + `]}`)
}()

// cannedTransport answers every request with benchAnswer (tokens too).
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	body := benchAnswer
	if strings.HasSuffix(r.URL.Path, "/oauth/token") {
		body = []byte(`{"access_token":"tok-abc","token_type":"bearer","expires_in":3600}`)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func benchClient(b *testing.B) *rest.Client {
	c, err := rest.New(rest.Config{Name: "Test Carrier", BaseURL: "http://carrier.invalid", HTTP: &http.Client{Transport: cannedTransport{}}})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var benchAccount = &sdk.Account{ID: "a1", BaseURL: "http://carrier.invalid",
	Credentials: map[string]string{"client_id": "id-1", "client_secret": "secret-1"}, Settings: map[string]string{"account_number": "ACC-9"}}

var benchPayload = []byte(`{"tracking_numbers":["X1","X2","X3"]}`)

// benchFiles is the test carrier with one batch for the three numbers, so
// that both connectors send one request.
var benchFiles = func() fstest.MapFS {
	fs := fstest.MapFS{}
	for k, v := range testFiles {
		fs[k] = v
	}
	fs["manifest.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(testManifest, "size: 2", "size: 50", 1))}
	return fs
}()

func BenchmarkTrackDeclarative(b *testing.B) {
	c, err := Load(benchFiles, Options{Rest: benchClient(b)})
	if err != nil {
		b.Fatal(err)
	}
	benchInvoke(b, c)
}

func BenchmarkTrackHandWritten(b *testing.B) {
	benchInvoke(b, newHandWritten(b))
}

func benchInvoke(b *testing.B, c sdk.Connector) {
	d, err := sdk.NewDispatcher(c)
	if err != nil {
		b.Fatal(err)
	}
	call := &sdk.Call{Operation: sdk.OpTrack, Account: benchAccount, Payload: benchPayload}
	ctx := context.Background()
	if out, err := d.Invoke(ctx, call); err != nil || !bytes.Contains(out, []byte(`"tracking_number":"X3"`)) {
		b.Fatalf("%s %v", out, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Invoke(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}

// handWritten is the test carrier's track written in Go, as an author would
// without bindings.
type handWritten struct {
	sdk.Unimplemented
	manifest *sdk.Manifest
	api      *rest.Client
	req      *mappings.Program
	resp     *mappings.Program
}

func newHandWritten(b *testing.B) *handWritten {
	m, err := LoadManifest(testFiles)
	if err != nil {
		b.Fatal(err)
	}
	m.Operations = m.Operations[:1]
	m.Operations[0].Binding = nil
	compile := func(name string) *mappings.Program {
		p, err := mappings.CompileFS(fstest.MapFS(testFiles), name, mappings.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	return &handWritten{manifest: m, api: benchClient(b), req: compile("mappings/track-request.mapping"), resp: compile("mappings/track.mapping")}
}

func (h *handWritten) Describe() *sdk.Manifest { return h.manifest }

func (h *handWritten) Track(ctx context.Context, req *sdk.Request[model.TrackRequest]) (*model.TrackResponse, error) {
	acct := req.Account
	auth := &rest.OAuth2{TokenURL: acct.BaseURL + "/oauth/token", ClientID: acct.Credentials["client_id"],
		ClientSecret: acct.Credentials["client_secret"], SecretInBody: true, HTTP: &http.Client{Transport: cannedTransport{}}}
	api, err := h.api.For(acct.BaseURL, auth)
	if err != nil {
		return nil, err
	}
	in, _ := json.Marshal(map[string]any{"tracking_numbers": req.Body.TrackingNumbers, "settings": acct.Settings})
	body, err := h.req.ApplyJSON(nil, in)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidRequest, "%v", err)
	}
	r, err := api.Do(ctx, &rest.Request{Method: http.MethodPost, Path: "/v1/track", ContentType: "application/json", Body: body,
		Header: http.Header{"X-Account": {acct.Settings["account_number"]}}})
	if err != nil {
		return nil, err
	}
	if f := gjson.GetBytes(r.Body, "fault"); f.Exists() {
		return nil, sdk.CarrierError(sdk.CodeNotFound, f.Get("code").String(), f.Get("text").String())
	}
	out, err := h.resp.ApplyJSON(nil, r.Body)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodePermanent, "%v", err)
	}
	var mapped model.TrackResponse
	if err := json.Unmarshal(out, &mapped); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "%v", err)
	}
	found := make(map[string]model.Tracking, len(mapped.Results))
	for _, t := range mapped.Results {
		found[t.TrackingNumber] = t
	}
	resp := &model.TrackResponse{Results: make([]model.Tracking, 0, len(req.Body.TrackingNumbers))}
	for _, n := range req.Body.TrackingNumbers {
		t, ok := found[strings.ToLower(n)]
		if !ok {
			t = model.Tracking{TrackingNumber: n, Status: model.StatusUnknown, SubStatus: "not_found",
				Error: &model.ItemError{Code: string(sdk.CodeNotFound), Message: "the provider returned no result for this number"}}
		}
		t.TrackingNumber = n
		resp.Results = append(resp.Results, t)
	}
	return resp, nil
}
