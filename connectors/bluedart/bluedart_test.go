package bluedart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/bluedart"
	"github.com/carrierhub/hub/connectors/bluedart/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestMain admits loopback through the SDK's egress guard: the simulators the
// tests drive listen on 127.0.0.1. The variable is set before the tests run, so
// the connector processes conformance starts from this binary set it too.
func TestMain(m *testing.M) { egresstest.Main(m) }

// fixedNow keeps the default pickup date independent of the wall clock.
var fixedNow = func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, model.IST) }

type env struct {
	sim  *simulator.Simulator
	d    *sdk.Dispatcher
	acct *sdk.Account
}

func newEnv(t *testing.T, opts bluedart.Options) *env {
	t.Helper()
	sim := simulator.New()
	t.Cleanup(sim.Close)
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	d, err := sdk.NewDispatcher(bluedart.NewWithOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, d: d, acct: &sdk.Account{
		ID: "acct-1", TenantID: "tenant-1", Environment: "sandbox", BaseURL: sim.URL(),
		Credentials: map[string]string{"login_id": simulator.LoginID, "licence_key": simulator.LicenceKey},
		Settings:    map[string]string{"customer_code": simulator.CustomerCode, "origin_area": "BOM"},
	}}
}

func (e *env) call(t *testing.T, op sdk.Operation, body any) ([]byte, *sdk.Error) {
	t.Helper()
	return e.callAs(t, e.acct, op, body)
}

func (e *env) callAs(t *testing.T, acct *sdk.Account, op sdk.Operation, body any) ([]byte, *sdk.Error) {
	t.Helper()
	payload, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.d.Invoke(context.Background(), &sdk.Call{Operation: op, Account: acct, RequestID: "req-1", Payload: payload})
	if err != nil {
		var se *sdk.Error
		if !errors.As(err, &se) {
			t.Fatalf("Invoke returned %T, want *sdk.Error", err)
		}
		return nil, se
	}
	return out, nil
}

func shipment() model.ShipmentRequest {
	return model.ShipmentRequest{
		Reference: "ORD-1001",
		ShipFrom: model.Address{Company: "Acme Traders", Name: "Ravi Kumar", Phone: "+91 98200 11111",
			Lines: []string{"Unit 4, Marol Industrial Estate", "Andheri East"}, City: "Mumbai", PostalCode: "400059", CountryCode: "IN",
			GSTIN: "27AAPFU0939F1ZV"},
		ShipTo: model.Address{Name: "Meera Iyer", Phone: "09840012345", Email: "meera@example.com",
			Lines: []string{"12 Usman Road", "T Nagar"}, City: "Chennai", PostalCode: "600017", CountryCode: "IN"},
		Parcels: []model.Parcel{{Weight: model.Weight{Value: 1250, Unit: model.Gram},
			Dimensions: &model.Dimensions{Length: 30, Width: 20, Height: 10, Unit: model.Centimetre}, Description: "Cotton sarees"}},
		Invoice:  &model.InvoiceRef{Number: "INV-77", Value: model.Money{Amount: 4999.5, Currency: "INR"}},
		ShipDate: "2026-11-25",
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the outgoing request\n got: %s\nwant: %s", name, got, want)
	}
}

// sameInfoset checks that got is, as WCF reads it, the envelope in testdata/name
// that the generated gowsdl client sent before the bindings: the same elements
// in the same order, each in the same namespace, with the same attributes and
// text. Prefixes, namespace declarations and the XML declaration may differ.
func sameInfoset(t *testing.T, name string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	g, w := infoset(t, got), infoset(t, want)
	if !slices.Equal(g, w) {
		t.Errorf("the request is not the envelope of %s as XML names it\n got: %q\nwant: %q", name, g, w)
	}
}

// infoset lists a document's elements (namespace URI and local name), their
// attributes other than namespace declarations, and their non-blank text.
func infoset(t *testing.T, doc []byte) []string {
	t.Helper()
	var out []string
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading %s: %v", doc, err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			out = append(out, "<{"+x.Name.Space+"}"+x.Name.Local)
			for _, a := range x.Attr {
				if a.Name.Space != "xmlns" && !(a.Name.Space == "" && a.Name.Local == "xmlns") {
					out = append(out, "@{"+a.Name.Space+"}"+a.Name.Local+"="+a.Value)
				}
			}
		case xml.EndElement:
			out = append(out, ">")
		case xml.CharData:
			if s := strings.TrimSpace(string(x)); s != "" {
				out = append(out, s)
			}
		}
	}
}

func TestGenerateThenTrack(t *testing.T) {
	e := newEnv(t, bluedart.Options{})
	out, err := e.call(t, sdk.OpCreateShipment, shipment())
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	resp := decode[model.ShipmentResponse](t, out)
	if len(resp.TrackingNumber) != 11 || resp.Reference != "ORD-1001" || resp.Routing != "MAA/TNR" {
		t.Errorf("booking = %+v", resp)
	}
	if len(resp.Labels) != 1 || resp.Labels[0].Format != model.FormatPDF || !bytes.HasPrefix(resp.Labels[0].Data, []byte("%PDF")) {
		t.Errorf("labels = %+v", resp.Labels)
	}
	golden(t, "generate_request.golden.xml", e.sim.LastRequest(simulator.ActionGenerate))
	sameInfoset(t, "generate_request.gowsdl.xml", e.sim.LastRequest(simulator.ActionGenerate))

	track := func() model.Tracking {
		t.Helper()
		out, err := e.call(t, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{resp.TrackingNumber}})
		if err != nil {
			t.Fatalf("track: %v", err)
		}
		r := decode[model.TrackResponse](t, out)
		if len(r.Results) != 1 {
			t.Fatalf("results = %+v", r.Results)
		}
		return r.Results[0]
	}
	if got := track(); got.Status != model.StatusPending || got.SubStatus != "label_created" || got.EstimatedDelivery == nil {
		t.Errorf("after generation: %+v", got)
	}
	for _, s := range []struct{ typ, text, loc, by string }{
		{"PU", "SHIPMENT PICKED UP", "MUMBAI", ""},
		{"UD", "SHIPMENT OUTSCANNED TO NETWORK", "MUMBAI HUB", ""},
		{"UD", "Shipment Outscan", "T NAGAR", ""},
		{"DL", "SHIPMENT DELIVERED", "T NAGAR", "MEERA"},
	} {
		if err := e.sim.AddScan(resp.TrackingNumber, s.typ, s.text, s.loc, s.by); err != nil {
			t.Fatal(err)
		}
	}
	got := track()
	if got.Status != model.StatusDelivered || got.RawCode != "DL/SHIPMENT DELIVERED" || got.RawText != "SHIPMENT DELIVERED" || got.ReceivedBy != "MEERA" {
		t.Errorf("delivered: %+v", got)
	}
	if got.DeliveredAt == nil || got.DeliveredAt.Format(time.RFC3339) != "2026-11-20T14:00:00+05:30" {
		t.Errorf("delivered_at = %v", got.DeliveredAt)
	}
	wantSeq := []model.TrackingStatus{model.StatusPending, model.StatusInTransit, model.StatusInTransit, model.StatusOutForDelivery, model.StatusDelivered}
	if len(got.Events) != len(wantSeq) {
		t.Fatalf("events = %+v", got.Events)
	}
	for i, ev := range got.Events {
		if ev.Status != wantSeq[i] {
			t.Errorf("event %d status = %s, want %s (%s)", i, ev.Status, wantSeq[i], ev.RawText)
		}
		if i > 0 && ev.Time.Before(got.Events[i-1].Time) {
			t.Errorf("events not oldest first at %d", i)
		}
	}
	if got.Location == nil || got.Location.Facility != "T NAGAR" {
		t.Errorf("location = %+v", got.Location)
	}
	if q := string(e.sim.LastRequest("track")); !strings.Contains(q, "handler=tnt") || !strings.Contains(q, "action=custawbquery") {
		t.Errorf("tracking query = %s", q)
	}
}

func TestTrackRecordedPayloads(t *testing.T) {
	e := newEnv(t, bluedart.Options{})
	out, err := e.call(t, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"50912345679", "50912345678", "12345678901"}})
	if err != nil {
		t.Fatal(err)
	}
	r := decode[model.TrackResponse](t, out).Results
	if len(r) != 3 || r[0].TrackingNumber != "50912345679" || r[1].TrackingNumber != "50912345678" {
		t.Fatalf("results out of request order: %+v", r)
	}
	if r[0].Status != model.StatusReturning || r[0].SubStatus != "rto_in_transit" || r[0].RawCode != "RT/RTO SHIPMENT IN TRANSIT" {
		t.Errorf("rto: %+v", r[0])
	}
	if ev := r[0].Events[1]; ev.Status != model.StatusAttemptFailed || ev.SubStatus != "consignee_unavailable" {
		t.Errorf("failed attempt event: %+v", ev)
	}
	if r[1].Status != model.StatusDelivered || r[1].DeliveredAt == nil || r[1].DeliveredAt.Format(time.RFC3339) != "2026-11-20T14:20:00+05:30" {
		t.Errorf("delivered: %+v", r[1])
	}
	if first := r[1].Events[0]; first.SubStatus != "picked_up" || first.Time.Format(time.RFC3339) != "2026-11-18T18:05:00+05:30" {
		t.Errorf("first event: %+v", first)
	}
	if r[2].Error == nil || r[2].Error.Code != string(sdk.CodeNotFound) || r[2].Error.CarrierCode != "NF" || r[2].Status != model.StatusUnknown {
		t.Errorf("unknown number: %+v", r[2])
	}
}

// TestTrackingServlet drives the tracking binding against a stand-in servlet
// on a host of its own (the tracking_url setting): the query the sources show,
// the tracking licence key (or the licence key when there is none), and a
// number the answer leaves out coming back as a per-number not_found.
func TestTrackingServlet(t *testing.T) {
	recorded, err := os.ReadFile("simulator/testdata/recorded_tracking.xml")
	if err != nil {
		t.Fatal(err)
	}
	queries := make(chan url.URL, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries <- *r.URL
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(recorded) // 50912345678 and 50912345679 only
	}))
	defer srv.Close()
	d, err := sdk.NewDispatcher(bluedart.NewWithOptions(bluedart.Options{Now: fixedNow}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, trackingURL, trackKey, wantKey string
	}{
		{"own licence key", srv.URL + bluedart.TrackingPath, "track-key-2", "track-key-2"},
		{"licence key", srv.URL + "/", "", "ship-key-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			acct := &sdk.Account{ID: "acct-1", BaseURL: "https://netconnect.bluedart.com/Ver1.10",
				Credentials: map[string]string{"login_id": "BOM00001", "licence_key": "ship-key-1"},
				Settings:    map[string]string{"customer_code": "099960", "origin_area": "BOM", "tracking_url": c.trackingURL}}
			if c.trackKey != "" {
				acct.Credentials["tracking_licence_key"] = c.trackKey
			}
			payload := []byte(`{"tracking_numbers": ["50912345678", "50912345699"]}`)
			out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: acct, Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			q := <-queries
			want := url.Values{"handler": {"tnt"}, "action": {"custawbquery"}, "loginid": {"BOM00001"}, "awb": {"awb"},
				"numbers": {"50912345678,50912345699"}, "format": {"xml"}, "lickey": {c.wantKey}, "verno": {"1.3"}, "scan": {"1"}}
			if q.Path != bluedart.TrackingPath || !reflect.DeepEqual(q.Query(), want) {
				t.Errorf("query %s?%s, want %s?%s", q.Path, q.RawQuery, bluedart.TrackingPath, want.Encode())
			}
			r := decode[model.TrackResponse](t, out).Results
			if len(r) != 2 || r[0].Status != model.StatusDelivered || r[1].TrackingNumber != "50912345699" ||
				r[1].Status != model.StatusUnknown || r[1].Error == nil || r[1].Error.Code != string(sdk.CodeNotFound) {
				t.Errorf("results = %s", out)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, bluedart.Options{})
	out, err := e.call(t, sdk.OpCreateShipment, shipment())
	if err != nil {
		t.Fatal(err)
	}
	awb := decode[model.ShipmentResponse](t, out).TrackingNumber
	out, err = e.call(t, sdk.OpCancelShipment, model.CancelRequest{TrackingNumber: awb})
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if c := decode[model.CancelResponse](t, out); !c.Cancelled || c.TrackingNumber != awb || c.Message != "Waybill cancelled successfully" {
		t.Errorf("cancel = %+v", c)
	}
	golden(t, "cancel_request.golden.xml", e.sim.LastRequest(simulator.ActionCancel))
	sameInfoset(t, "cancel_request.gowsdl.xml", e.sim.LastRequest(simulator.ActionCancel))
	_, err = e.call(t, sdk.OpCancelShipment, model.CancelRequest{TrackingNumber: awb})
	if err == nil || err.Code != sdk.CodeConflict || err.CarrierCode != "AWBAlreadyCancelled" || err.Source != sdk.SourceCarrier {
		t.Errorf("second cancel: %#v", err)
	}
	_, err = e.call(t, sdk.OpCancelShipment, model.CancelRequest{TrackingNumber: "69099999999"})
	if err == nil || err.Code != sdk.CodeNotFound {
		t.Errorf("unknown waybill: %#v", err)
	}
}

func TestCarrierErrors(t *testing.T) {
	e := newEnv(t, bluedart.Options{})
	cases := []struct {
		name    string
		mutate  func(a *sdk.Account, s *model.ShipmentRequest)
		code    sdk.Code
		carrier string
	}{
		{"wrong licence key", func(a *sdk.Account, _ *model.ShipmentRequest) { a.Credentials["licence_key"] = "wrong-key" }, sdk.CodeAuthFailed, "InvalidLicenseKey"},
		{"unknown login is a SOAP fault", func(a *sdk.Account, _ *model.ShipmentRequest) { a.Credentials["login_id"] = "NOBODY" }, sdk.CodeAuthFailed, "s:Client"},
		{"not serviceable", func(_ *sdk.Account, s *model.ShipmentRequest) { s.ShipTo.PostalCode = "990001" }, sdk.CodeInvalidRequest, "InvalidPincode"},
		{"wrong customer code", func(a *sdk.Account, _ *model.ShipmentRequest) { a.Settings["customer_code"] = "000001" }, sdk.CodeInvalidRequest, "InvalidCustomerCode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acct := *e.acct
			acct.Credentials = map[string]string{"login_id": simulator.LoginID, "licence_key": simulator.LicenceKey}
			acct.Settings = map[string]string{"customer_code": simulator.CustomerCode, "origin_area": "BOM"}
			s := shipment()
			c.mutate(&acct, &s)
			_, err := e.callAs(t, &acct, sdk.OpCreateShipment, s)
			if err == nil || err.Code != c.code || err.CarrierCode != c.carrier || err.Source != sdk.SourceCarrier || err.CarrierMessage == "" {
				t.Fatalf("got %#v, want %s with carrier code %s", err, c.code, c.carrier)
			}
			if strings.Contains(err.Error(), "wrong-key") || strings.Contains(err.Error(), simulator.LicenceKey) {
				t.Errorf("error leaks a licence key: %v", err)
			}
		})
	}
	t.Run("duplicate reference", func(t *testing.T) {
		s := shipment()
		s.Reference = "DUP-1"
		if _, err := e.call(t, sdk.OpCreateShipment, s); err != nil {
			t.Fatal(err)
		}
		_, err := e.call(t, sdk.OpCreateShipment, s)
		if err == nil || err.Code != sdk.CodeConflict || err.CarrierCode != "DuplicateCreditReferenceNo" {
			t.Fatalf("got %#v", err)
		}
	})
	t.Run("tracking with a bad licence", func(t *testing.T) {
		acct := *e.acct
		acct.Credentials = map[string]string{"login_id": simulator.LoginID, "licence_key": simulator.LicenceKey, "tracking_licence_key": "nope-key"}
		_, err := e.callAs(t, &acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"50912345678"}})
		if err == nil || err.Code != sdk.CodeAuthFailed || strings.Contains(err.Error(), "nope-key") {
			t.Fatalf("got %#v", err)
		}
	})
}

func TestTransportErrors(t *testing.T) {
	t.Run("5xx is carrier_unavailable", func(t *testing.T) {
		e := newEnv(t, bluedart.Options{})
		e.sim.FailNext(1, http.StatusServiceUnavailable)
		_, err := e.call(t, sdk.OpCreateShipment, shipment())
		if err == nil || err.Code != sdk.CodeCarrierUnavailable || err.NotSent || !err.Code.Retryable() {
			t.Fatalf("got %#v", err)
		}
		if _, err := e.call(t, sdk.OpCreateShipment, shipment()); err != nil {
			t.Fatalf("after the failure: %v", err)
		}
	})
	t.Run("429 on tracking is rate_limited with Retry-After", func(t *testing.T) {
		e := newEnv(t, bluedart.Options{})
		e.sim.FailNext(1, http.StatusTooManyRequests)
		_, err := e.call(t, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"50912345678"}})
		if err == nil || err.Code != sdk.CodeRateLimited || err.RetryAfter != 7*time.Second {
			t.Fatalf("got %#v", err)
		}
	})
	t.Run("connection refused is not sent", func(t *testing.T) {
		e := newEnv(t, bluedart.Options{})
		e.sim.Close()
		_, err := e.call(t, sdk.OpCreateShipment, shipment())
		if err == nil || err.Code != sdk.CodeCarrierUnavailable || !err.NotSent {
			t.Fatalf("got %#v", err)
		}
		_, err = e.call(t, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"50912345678"}})
		if err == nil || !err.NotSent || strings.Contains(err.Error(), simulator.LicenceKey) {
			t.Fatalf("tracking: %#v", err)
		}
	})
	t.Run("deadline is timeout", func(t *testing.T) {
		e := newEnv(t, bluedart.Options{})
		e.sim.SetLatency(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		payload, _ := json.Marshal(model.TrackRequest{TrackingNumbers: []string{"50912345678"}})
		_, err := e.d.Invoke(ctx, &sdk.Call{Operation: sdk.OpTrack, Account: e.acct, Payload: payload})
		var se *sdk.Error
		if !errors.As(err, &se) || se.Code != sdk.CodeTimeout {
			t.Fatalf("got %#v", err)
		}
	})
	t.Run("oversized response", func(t *testing.T) {
		e := newEnv(t, bluedart.Options{MaxResponseBytes: 256})
		_, err := e.call(t, sdk.OpCreateShipment, shipment())
		if err == nil || err.Code != sdk.CodePermanent || !strings.Contains(err.Message, "256-byte response limit") {
			t.Fatalf("got %#v", err)
		}
	})
}

func TestSimulatorFaults(t *testing.T) {
	sim := simulator.New()
	defer sim.Close()
	post := func(action, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, sim.URL()+simulator.WayBillPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"`+action+`"`)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	if code, body := post(simulator.ActionGenerate, "<not-xml"); code != 500 || !strings.Contains(body, "a:DeserializationFailed") {
		t.Errorf("malformed: %d %s", code, body)
	}
	env := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><CancelWaybill xmlns="http://tempuri.org/"/></s:Body></s:Envelope>`
	if code, body := post("http://tempuri.org/IWayBillGeneration/Nope", env); code != 500 || !strings.Contains(body, "a:ActionNotSupported") {
		t.Errorf("unknown action: %d %s", code, body)
	}
	if code, body := post(simulator.ActionCancel, env); code != 500 || !strings.Contains(body, "Profile is missing") {
		t.Errorf("no profile: %d %s", code, body)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, bluedart.Options{})
	cases := []struct {
		name  string
		op    sdk.Operation
		body  any
		field string
	}{
		{"no reference", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.Reference = ""; return s }(), "/reference"},
		{"bad pin", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.ShipTo.PostalCode = "6000"; return s }(), "/ship_to/postal_code"},
		{"bad phone", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.ShipFrom.Phone = "12345"; return s }(), "/ship_from/phone"},
		{"zero weight", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.Parcels[0].Weight.Value = 0; return s }(), "/parcels/0/weight/value"},
		{"no parcels", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.Parcels = nil; return s }(), "/parcels"},
		{"cod without amount", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.PaymentMode = model.CashOnDelivery; return s }(), "/cod_amount"},
		{"unsupported payment", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.PaymentMode = model.PaymentReplace; return s }(), "/payment_mode"},
		{"bad service", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.Service = "express!"; return s }(), "/service"},
		{"address too long", sdk.OpCreateShipment, func() model.ShipmentRequest {
			s := shipment()
			s.ShipTo.Lines = []string{strings.Repeat("Longword ", 12)}
			return s
		}(), "/ship_to/lines"},
		{"foreign address", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.ShipTo.CountryCode = "US"; return s }(), "/ship_to/country_code"},
		{"bad ship date", sdk.OpCreateShipment, func() model.ShipmentRequest { s := shipment(); s.ShipDate = "25/11/2026"; return s }(), "/ship_date"},
		{"bad awb to cancel", sdk.OpCancelShipment, model.CancelRequest{TrackingNumber: "AB12"}, "/tracking_number"},
		{"bad awb to track", sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"50912345678", "x"}}, "/tracking_numbers/1"},
		{"nothing to track", sdk.OpTrack, model.TrackRequest{}, "/tracking_numbers"},
		{"pickup without date", sdk.OpSchedulePickup, model.PickupRequest{Address: shipment().ShipFrom}, "/date"},
		{"pickup bad pin", sdk.OpSchedulePickup, func() model.PickupRequest {
			a := shipment().ShipFrom
			a.PostalCode = "40005"
			return model.PickupRequest{Address: a, Date: "2026-11-25"}
		}(), "/address/postal_code"},
		{"pickup bad time", sdk.OpSchedulePickup, model.PickupRequest{Address: shipment().ShipFrom, Date: "2026-11-25", ReadyTime: "4pm"}, "/ready_time"},
		{"serviceability bad destination", sdk.OpCheckServiceability, model.ServiceabilityRequest{DestinationPostalCode: "ABC"}, "/destination_postal_code"},
		{"serviceability bad origin", sdk.OpCheckServiceability, model.ServiceabilityRequest{OriginPostalCode: "012345", DestinationPostalCode: "500062"}, "/origin_postal_code"},
	}
	before := e.sim.Calls()
	for _, c := range cases {
		_, err := e.call(t, c.op, c.body)
		if err == nil || err.Code != sdk.CodeInvalidRequest || err.Field != c.field {
			t.Errorf("%s: got %#v, want invalid_request at %s", c.name, err, c.field)
		}
	}
	if e.sim.Calls() != before {
		t.Errorf("bad input reached the carrier")
	}
	acct := *e.acct
	acct.Credentials = map[string]string{"login_id": simulator.LoginID}
	if _, err := e.callAs(t, &acct, sdk.OpCreateShipment, shipment()); err == nil || err.Code != sdk.CodeAuthFailed {
		t.Errorf("missing licence key: %#v", err)
	}
	acct = *e.acct
	acct.Settings = map[string]string{"customer_code": simulator.CustomerCode}
	if _, err := e.callAs(t, &acct, sdk.OpCreateShipment, shipment()); err == nil || err.Field != "/account/settings/origin_area" {
		t.Errorf("missing origin area: %#v", err)
	}
	if _, err := e.d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: e.acct, Payload: []byte("{")}); err == nil {
		t.Error("malformed JSON accepted")
	}
}

func TestManifest(t *testing.T) {
	m := bluedart.New().Describe()
	if m.ID != "bluedart_soap" || m.Category != "carrier_parcel" || m.Region != "IN" || !strings.Contains(m.Description, "deprecated") {
		t.Errorf("manifest = %+v", m)
	}
	for op, idem := range map[sdk.Operation]bool{sdk.OpCreateShipment: false, sdk.OpTrack: true, sdk.OpCancelShipment: true,
		sdk.OpSchedulePickup: false, sdk.OpCheckServiceability: true} {
		if info, ok := m.Operation(op); !ok || info.Idempotent != idem {
			t.Errorf("%s: %+v %v", op, info, ok)
		}
	}
}
