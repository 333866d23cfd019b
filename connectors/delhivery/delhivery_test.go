package delhivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/connectors/delhivery"
	"github.com/carrierhub/hub/connectors/delhivery/simulator"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/modelschema"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestManifest(t *testing.T) {
	m := delhivery.New().Describe()
	if m.ID != "delhivery_express" || m.Category != "carrier_parcel" || m.Region != "IN" {
		t.Fatalf("manifest identity: %+v", m)
	}
	want := map[sdk.Operation]bool{sdk.OpCreateShipment: false, sdk.OpTrack: true, sdk.OpFindShipment: true, sdk.OpCancelShipment: true, sdk.OpReceivePush: true,
		sdk.OpCheckServiceability: true, sdk.OpRate: true, sdk.OpSchedulePickup: false, sdk.OpNDRAction: true}
	for op, idem := range want {
		info, ok := m.Operation(op)
		if !ok || info.Idempotent != idem {
			t.Errorf("operation %s: declared=%v idempotent=%v, want idempotent=%v", op, ok, info.Idempotent, idem)
		}
	}
	if len(m.Operations) != len(want) {
		t.Errorf("operations: %v", m.Operations)
	}
	if m.Account.Environments["production"] != "https://track.delhivery.com" || m.Account.Environments["sandbox"] != "https://staging-express.delhivery.com" {
		t.Errorf("environments: %v", m.Account.Environments)
	}
	if len(m.Account.Credentials) != 2 || m.Account.Credentials[0].Name != "api_token" || !m.Account.Credentials[0].Required ||
		m.Account.Credentials[1].Name != "push_token" || m.Account.Credentials[1].Required {
		t.Errorf("credentials: %+v", m.Account.Credentials)
	}
	if len(m.Sources) == 0 || m.Resilience.Timeout == 0 {
		t.Errorf("sources or resilience missing")
	}
}

func TestCreateTrackCancelTrack(t *testing.T) {
	e := newEnv(t)
	created, err := e.create(shipmentRequest("ORD-1001"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.TrackingNumber == "" || created.Reference != "ORD-1001" || created.CarrierReference == "" || created.Routing == "" {
		t.Fatalf("create response: %+v", created)
	}
	wb := created.TrackingNumber

	got := e.mustTrack(wb)
	if got.Status != model.StatusPending || got.SubStatus != "label_created" || got.RawCode != "UD/Manifested/X-UCI" || got.RawText != "Manifest uploaded" {
		t.Fatalf("after create: %+v", got)
	}
	if len(got.Events) != 1 || got.Location == nil || got.Location.State != "Haryana" {
		t.Fatalf("after create events/location: %+v", got)
	}

	res, err := e.cancel(wb)
	if err != nil || !res.Cancelled || res.TrackingNumber != wb || res.Message == "" {
		t.Fatalf("cancel: %+v %v", res, err)
	}
	got = e.mustTrack(wb)
	if got.Status != model.StatusCancelled || got.RawCode != "CN/Cancelled" || len(got.Events) != 2 {
		t.Fatalf("after cancel: %+v", got)
	}
	if !got.Events[0].Time.Before(got.Events[1].Time) && !got.Events[0].Time.Equal(got.Events[1].Time) {
		t.Fatalf("events not oldest first: %+v", got.Events)
	}

	// Cancel is idempotent: a second cancel of the same waybill succeeds.
	res, err = e.cancel(wb)
	if err != nil || !res.Cancelled {
		t.Fatalf("second cancel: %+v %v", res, err)
	}
}

func TestCancelInTransitBecomesReturn(t *testing.T) {
	e := newEnv(t)
	wb := e.mustCreate("ORD-RT")
	if err := e.sim.AddScan(wb, simulator.Scan{Type: "UD", Status: "In Transit", Code: "X-PPOM", Instructions: "Shipment picked up"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cancel(wb); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got := e.mustTrack(wb); got.Status != model.StatusReturning {
		t.Fatalf("cancelled in transit: %+v", got)
	}
	if res, err := e.cancel(wb); err != nil || !res.Cancelled {
		t.Fatalf("second cancel of a return: %+v %v", res, err)
	}
}

func TestCancelRefused(t *testing.T) {
	e := newEnv(t)
	wb := e.mustCreate("ORD-DL")
	e.sim.AddScan(wb, simulator.Scan{Type: "DL", Status: "Delivered", Code: "EOD-38", Instructions: "Delivered to consignee"})
	_, err := e.cancel(wb)
	wantErr(t, err, sdk.CodeConflict, sdk.SourceCarrier, "")
	if !strings.Contains(err.CarrierMessage, "cannot be cancelled") {
		t.Fatalf("carrier message: %q", err.CarrierMessage)
	}

	// An unknown waybill is the error mapping's not_found, with Delhivery's
	// words; a binding's refusal names no field.
	_, err = e.cancel("1499999999999")
	wantErr(t, err, sdk.CodeNotFound, sdk.SourceCarrier, "")
	if err.CarrierMessage != "Waybill 1499999999999 not found" {
		t.Fatalf("carrier message: %q", err.CarrierMessage)
	}
}

func TestCreateGolden(t *testing.T) {
	e := newEnv(t)
	req := shipmentRequest("ORD-GOLDEN-1")
	req.PaymentMode = model.CashOnDelivery
	req.CODAmount = &model.Money{Amount: 2999, Currency: "INR"}
	req.ReturnTo = &model.Address{Name: "Returns Desk", Company: "Acme Retail Pvt Ltd", Phone: "09810000002",
		Lines: []string{"Plot 12, Sector 37"}, City: "Gurugram", State: "Haryana", PostalCode: "122001", CountryCode: "IN"}
	if _, err := e.create(req); err != nil {
		t.Fatalf("create: %v", err)
	}
	got, ok := e.sim.LastRequest(simulator.PathCreate)
	if !ok {
		t.Fatal("no create request recorded")
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		got.Header.Get("Authorization") != "Token "+simulator.DefaultToken || got.Header.Get("Accept") != "application/json" {
		t.Fatalf("request line/headers: %s %v", got.Method, got.Header)
	}
	if !bytes.HasPrefix(got.Body, []byte("format=json&data=")) {
		t.Fatalf("body does not start with format=json&data=: %.60s", got.Body)
	}
	form, err := url.ParseQuery(string(got.Body))
	if err != nil {
		t.Fatal(err)
	}
	// The golden file holds the decoded data JSON on its own line after the raw
	// body, so a reviewer can read what is sent.
	content := append(append([]byte{}, got.Body...), '\n')
	content = append(content, form.Get("data")...)
	content = append(content, '\n')

	path := filepath.Join("testdata", "golden", "create_request.txt")
	if *update {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(content, want) {
		t.Fatalf("create request differs from %s (run with -update if intended)\n got: %s\nwant: %s", path, content, want)
	}
}

func TestStatusMapping(t *testing.T) {
	rows := []struct {
		typ, status, code, instr string
		want                     model.TrackingStatus
		sub                      string
	}{
		{"UD", "Manifested", "X-UCI", "Manifest uploaded", model.StatusPending, "label_created"},
		{"UD", "Not Picked", "", "Pickup not attempted", model.StatusPending, "pickup_failed"},
		{"UD", "In Transit", "X-PPOM", "Shipment picked up", model.StatusInTransit, "picked_up"},
		{"UD", "In Transit", "S-MAR", "Air-restricted product. Move by surface", model.StatusInTransit, ""},
		{"UD", "Pending", "X-DDD3FD", "Reached destination hub", model.StatusInTransit, "arrived_at_destination"},
		{"UD", "Pending", "EOD-74", "Consignee unavailable", model.StatusAttemptFailed, "rescheduled"},
		{"UD", "Pending", "ST-108", "Customer asked for a later date", model.StatusAttemptFailed, "rescheduled"},
		{"UD", "Dispatched", "X-DDO3F", "Out for delivery", model.StatusOutForDelivery, "out_for_delivery"},
		{"DL", "Delivered", "EOD-38", "Delivered to consignee", model.StatusDelivered, "delivered_to_consignee"},
		{"DL", "RTO", "RD-AC", "Returned to origin", model.StatusReturned, "rto_delivered"},
		{"DL", "DTO", "", "Pickup accepted by client", model.StatusDelivered, "delivered_to_consignee"},
		{"RT", "In Transit", "", "Converted to return", model.StatusReturning, "rto_in_transit"},
		{"RT", "Pending", "", "Reached origin DC", model.StatusReturning, "rto_in_transit"},
		{"RT", "Dispatched", "", "Out for return delivery", model.StatusReturning, "rto_out_for_delivery"},
		{"PP", "Open", "", "Pickup request created", model.StatusPending, "label_created"},
		{"PP", "Scheduled", "", "Pickup scheduled", model.StatusPending, "pickup_scheduled"},
		{"PP", "Dispatched", "", "Field executive out for pickup", model.StatusPending, "pickup_scheduled"},
		{"PU", "In Transit", "", "Picked up from customer", model.StatusInTransit, "picked_up"},
		{"PU", "Pending", "", "Reached return hub", model.StatusInTransit, "arrived_at_destination"},
		{"PU", "Dispatched", "", "Out for delivery to client", model.StatusOutForDelivery, "out_for_delivery"},
		{"CN", "Canceled", "", "Cancelled before pickup", model.StatusCancelled, ""},
		{"CN", "Cancelled", "", "", model.StatusCancelled, ""},
		{"CN", "Closed", "", "Request closed", model.StatusCancelled, ""},
	}
	booked := time.Date(2026, 11, 22, 8, 0, 0, 0, ist)
	e := newEnv(t, simulator.WithClock(func() time.Time { return booked }))
	// A pair that is not in the table is unknown/unmapped, never a guess: the
	// scan's event says so, and the shipment keeps its last mapped status.
	unmapped := []struct{ typ, status string }{
		{"UD", "Misrouted"}, {"UD", "Cancelled"}, {"DL", "Collected"}, {"RT", "Lost"}, {"XX", "Something New"}, {"", ""},
	}
	for i, u := range unmapped {
		wb := e.mustCreate(fmt.Sprintf("ORD-UNMAPPED-%d", i))
		if err := e.sim.AddScan(wb, simulator.Scan{Type: u.typ, Status: u.status}); err != nil {
			t.Fatal(err)
		}
		got := e.mustTrack(wb)
		last := got.Events[len(got.Events)-1]
		if last.Status != model.StatusUnknown || last.SubStatus != "unmapped" || got.Status != model.StatusPending {
			t.Errorf("%q/%q: event %s/%s, shipment %s; want an unknown/unmapped event on a pending shipment",
				u.typ, u.status, last.Status, last.SubStatus, got.Status)
		}
	}
	for i, r := range rows {
		t.Run(r.typ+"/"+r.status+"/"+r.code, func(t *testing.T) {
			wb := e.mustCreate(fmt.Sprintf("ORD-MAP-%d", i))
			at := time.Date(2026, 11, 22, 10, 30, 0, 0, ist)
			if err := e.sim.AddScan(wb, simulator.Scan{Type: r.typ, Status: r.status, Code: r.code, Instructions: r.instr,
				Location: "Bengaluru_Bomsndra_HB (Karnataka)", Time: at, ReceivedBy: "Priya"}); err != nil {
				t.Fatal(err)
			}
			got := e.mustTrack(wb)
			if got.Status != r.want || got.SubStatus != r.sub {
				t.Fatalf("tracked %s/%s, want %s/%s", got.Status, got.SubStatus, r.want, r.sub)
			}
			wantCode := r.typ + "/" + r.status
			if r.code != "" {
				wantCode += "/" + r.code
			}
			wantText := r.status
			if r.instr != "" {
				wantText = r.instr
			}
			if got.RawCode != wantCode || got.RawText != wantText {
				t.Fatalf("raw %q / %q, want %q / %q", got.RawCode, got.RawText, wantCode, wantText)
			}
			last := got.Events[len(got.Events)-1]
			if last.Status != r.want || last.RawCode != wantCode || last.RawText != wantText || !last.Time.Equal(at) {
				t.Fatalf("last event: %+v", last)
			}
			if got.Location == nil || got.Location.City != "Bengaluru" || got.Location.State != "Karnataka" || got.Location.Facility != "Bengaluru_Bomsndra_HB" {
				t.Fatalf("location: %+v", got.Location)
			}
			switch r.want {
			case model.StatusDelivered:
				if got.DeliveredAt == nil || !got.DeliveredAt.Equal(at) || got.ReceivedBy != "Priya" {
					t.Fatalf("delivered at/by: %v %q", got.DeliveredAt, got.ReceivedBy)
				}
			case model.StatusAttemptFailed:
				if got.Reason != r.instr {
					t.Fatalf("reason %q, want %q", got.Reason, r.instr)
				}
			}
		})
	}
}

func TestUnmappedCurrentStatusKeepsLastMapped(t *testing.T) {
	e := newEnv(t)
	wb := e.mustCreate("ORD-UNMAPPED")
	e.sim.AddScan(wb, simulator.Scan{Type: "UD", Status: "In Transit", Code: "X-PPOM", Instructions: "Shipment picked up"})
	e.sim.AddScan(wb, simulator.Scan{Type: "UD", Status: "Brand New State", Code: "Z-1", Instructions: "Something new"})
	got := e.mustTrack(wb)
	if got.Status != model.StatusInTransit || got.SubStatus != "picked_up" || got.RawCode != "UD/Brand New State/Z-1" || got.RawText != "Something new" {
		t.Fatalf("unmapped current state: %+v", got)
	}
	if last := got.Events[len(got.Events)-1]; last.Status != model.StatusUnknown || last.SubStatus != "unmapped" {
		t.Fatalf("unmapped event: %+v", last)
	}
}

func TestTimesAreIST(t *testing.T) {
	fixed := time.Date(2026, 11, 21, 4, 0, 0, 0, time.UTC) // 09:30 IST
	e := newEnv(t, simulator.WithClock(func() time.Time { return fixed }))
	wb := e.mustCreate("ORD-TIME")
	got := e.mustTrack(wb)
	ev := got.Events[0].Time
	if !ev.Equal(fixed) {
		t.Fatalf("event time %v, want %v", ev, fixed)
	}
	if _, off := ev.Zone(); off != 5*3600+1800 {
		t.Fatalf("event offset %d, want +05:30", off)
	}
	if req, _ := e.sim.LastRequest(simulator.PathTrack); req.Query != "waybill="+wb {
		t.Fatalf("track query %q", req.Query)
	}
}

func TestTrackUnknownAndMixedBatch(t *testing.T) {
	e := newEnv(t)
	a, b := e.mustCreate("ORD-A"), e.mustCreate("ORD-B")

	out, err := e.track("1499999999999")
	if err != nil {
		t.Fatalf("track unknown: %v", err)
	}
	r := out.Results[0]
	if r.TrackingNumber != "1499999999999" || r.Status != model.StatusUnknown || r.SubStatus != "not_found" ||
		r.Error == nil || r.Error.Code != "not_found" || r.Error.CarrierMessage != "No such waybill or Order Id found" {
		t.Fatalf("unknown: %+v", r)
	}

	out, err = e.track(a, "1499999999999", b, a)
	if err != nil {
		t.Fatalf("track mixed: %v", err)
	}
	if len(out.Results) != 4 {
		t.Fatalf("results: %+v", out.Results)
	}
	for i, want := range []string{a, "1499999999999", b, a} {
		if out.Results[i].TrackingNumber != want {
			t.Fatalf("result %d is %s, want %s", i, out.Results[i].TrackingNumber, want)
		}
	}
	if out.Results[0].Error != nil || out.Results[2].Error != nil || out.Results[1].Error == nil {
		t.Fatalf("mixed errors: %+v", out.Results)
	}
	// One batch refused, then one request per distinct waybill.
	if n := e.sim.Calls(simulator.PathTrack); n != 1+1+3 {
		t.Fatalf("track calls = %d, want 5", n)
	}
}

// TestTrackBatches: Delhivery takes 50 waybills a query, the canonical limit a
// call may carry (the engine's JSON Schema refuses more before the connector);
// a longer list reaching the connector is asked for in batches of 50.
func TestTrackBatches(t *testing.T) {
	schema, err := fs.ReadFile(modelschema.FS(), "track_request.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			TrackingNumbers struct {
				MaxItems int `json:"maxItems"`
			} `json:"tracking_numbers"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schema, &doc); err != nil || doc.Properties.TrackingNumbers.MaxItems != 50 {
		t.Fatalf("the canonical track request allows %d numbers (%v), want 50", doc.Properties.TrackingNumbers.MaxItems, err)
	}
	e := newEnv(t)
	numbers := make([]string, 51)
	for i := range numbers {
		numbers[i] = e.mustCreate(fmt.Sprintf("ORD-BATCH-%d", i))
	}
	out, terr := e.track(numbers...)
	if terr != nil {
		t.Fatalf("track 51: %v", terr)
	}
	for i, r := range out.Results {
		if r.TrackingNumber != numbers[i] || r.Status != model.StatusPending {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if n := e.sim.Calls(simulator.PathTrack); n != 2 {
		t.Fatalf("track calls = %d, want 2 (50 and 1)", n)
	}
}

func TestCreateRefusals(t *testing.T) {
	t.Run("duplicate order", func(t *testing.T) {
		e := newEnv(t)
		e.mustCreate("ORD-DUP")
		_, err := e.create(shipmentRequest("ORD-DUP"))
		wantErr(t, err, sdk.CodeConflict, sdk.SourceCarrier, "/reference")
		if err.CarrierMessage != "Duplicate order id" || err.CarrierCode != "Fail" {
			t.Fatalf("carrier words: %q %q", err.CarrierCode, err.CarrierMessage)
		}
	})
	t.Run("unknown pickup location", func(t *testing.T) {
		e := newEnv(t, simulator.WithPickupLocations("OTHER-WH"))
		_, err := e.create(shipmentRequest("ORD-WH"))
		wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceCarrier, "/pickup_location")
		if err.CarrierMessage != "ClientWarehouse matching query does not exist." {
			t.Fatalf("carrier message %q", err.CarrierMessage)
		}
	})
	t.Run("unserviceable pin", func(t *testing.T) {
		e := newEnv(t, simulator.WithUnserviceablePins("560001"))
		_, err := e.create(shipmentRequest("ORD-PIN"))
		wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceCarrier, "/ship_to/postal_code")
	})
}

func TestCarrierErrors(t *testing.T) {
	e := newEnv(t)

	t.Run("wrong token", func(t *testing.T) {
		acct := account(e.sim.URL(), "wrong-token")
		var out model.TrackResponse
		err := invoke(context.Background(), e.d, acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"1490000000001"}}, &out)
		wantErr(t, err, sdk.CodeAuthFailed, sdk.SourceCarrier, "")
		if err.CarrierCode != "401" || err.CarrierMessage != "Invalid token." {
			t.Fatalf("carrier words: %q %q", err.CarrierCode, err.CarrierMessage)
		}
	})
	t.Run("missing token", func(t *testing.T) {
		acct := account(e.sim.URL(), "")
		before := e.sim.Calls(simulator.PathTrack)
		var out model.TrackResponse
		err := invoke(context.Background(), e.d, acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"1490000000001"}}, &out)
		wantErr(t, err, sdk.CodeAuthFailed, sdk.SourceConnector, "")
		if !err.NotSent || e.sim.Calls(simulator.PathTrack) != before {
			t.Fatalf("a call without a token must not be sent: %+v", err)
		}
	})
	t.Run("403", func(t *testing.T) {
		e.sim.FailNext(1, http.StatusForbidden)
		_, err := e.track("1490000000001")
		wantErr(t, err, sdk.CodeAuthFailed, sdk.SourceCarrier, "")
	})
	t.Run("429", func(t *testing.T) {
		e.sim.FailNext(1, http.StatusTooManyRequests)
		_, err := e.track("1490000000001")
		wantErr(t, err, sdk.CodeRateLimited, sdk.SourceCarrier, "")
		if err.RetryAfter != 2*time.Second || !err.Code.Retryable() {
			t.Fatalf("retry after %v", err.RetryAfter)
		}
	})
	t.Run("503", func(t *testing.T) {
		e.sim.FailNext(1, http.StatusServiceUnavailable)
		_, err := e.create(shipmentRequest("ORD-503"))
		wantErr(t, err, sdk.CodeCarrierUnavailable, sdk.SourceCarrier, "")
		if err.CarrierCode != "503" || err.NotSent {
			t.Fatalf("503: %+v", err)
		}
	})
	t.Run("html 502", func(t *testing.T) {
		e.sim.FailNextHTML(1)
		_, err := e.track("1490000000001")
		wantErr(t, err, sdk.CodeCarrierUnavailable, sdk.SourceCarrier, "")
		// An HTML page skips the error body's reading, so it has no carrier
		// code (the Go connector used to put the status there); the page's
		// title is Delhivery's words.
		if err.CarrierMessage != "502 Bad Gateway" || !strings.Contains(err.Message, "HTTP 502") {
			t.Fatalf("html 502: %+v", err)
		}
	})
	t.Run("400", func(t *testing.T) {
		e.sim.FailNext(1, http.StatusBadRequest)
		_, err := e.cancel("1490000000001")
		wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceCarrier, "")
	})
	t.Run("dropped connection after sending", func(t *testing.T) {
		e.sim.DropNext(1)
		_, err := e.create(shipmentRequest("ORD-DROP"))
		wantErr(t, err, sdk.CodeCarrierUnavailable, sdk.SourceConnector, "")
		if err.NotSent {
			t.Fatal("a request that reached the server must not be marked NotSent")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		e.sim.SetLatency(time.Second)
		defer e.sim.SetLatency(0)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var out model.TrackResponse
		err := invoke(ctx, e.d, e.acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"1490000000001"}}, &out)
		wantErr(t, err, sdk.CodeTimeout, sdk.SourceConnector, "")
	})
}

func TestConnectionRefusedIsNotSent(t *testing.T) {
	sim := simulator.New()
	url := sim.URL()
	sim.Close()
	d, _ := sdk.NewDispatcher(delhivery.New())
	var out model.ShipmentResponse
	err := invoke(context.Background(), d, account(url, simulator.DefaultToken), sdk.OpCreateShipment, shipmentRequest("ORD-DOWN"), &out)
	wantErr(t, err, sdk.CodeCarrierUnavailable, sdk.SourceConnector, "")
	if !err.NotSent {
		t.Fatalf("connection refused must be NotSent: %+v", err)
	}
}

// badServer answers every request with the handler, for shapes the simulator does not produce.
func badServer(t *testing.T, h http.HandlerFunc) (*sdk.Dispatcher, *sdk.Account) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	d, _ := sdk.NewDispatcher(delhivery.New())
	return d, account(srv.URL, "tok")
}

func TestUnreadableResponses(t *testing.T) {
	t.Run("oversized", func(t *testing.T) {
		d, acct := badServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ShipmentData":[`))
			chunk := bytes.Repeat([]byte(" "), 1<<20)
			for range 11 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		var out model.TrackResponse
		err := invoke(context.Background(), d, acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"1"}}, &out)
		wantErr(t, err, sdk.CodePermanent, sdk.SourceConnector, "")
	})
	t.Run("html 200", func(t *testing.T) {
		d, acct := badServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><title>Scheduled maintenance</title></html>"))
		})
		var out model.TrackResponse
		err := invoke(context.Background(), d, acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"1"}}, &out)
		// A maintenance page under 200 is an outage, worth retrying, with the
		// page's title quoted.
		wantErr(t, err, sdk.CodeCarrierUnavailable, sdk.SourceCarrier, "")
		if err.CarrierMessage != "Scheduled maintenance" {
			t.Fatalf("carrier message %q", err.CarrierMessage)
		}
	})
	t.Run("garbage json", func(t *testing.T) {
		d, acct := badServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"success": tru`))
		})
		var out model.ShipmentResponse
		err := invoke(context.Background(), d, acct, sdk.OpCreateShipment, shipmentRequest("ORD-X"), &out)
		wantErr(t, err, sdk.CodePermanent, sdk.SourceConnector, "")
	})
	t.Run("remarks as a string and an internal error", func(t *testing.T) {
		d, acct := badServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"success":false,"rmk":"An internal Error has occurred, Please get in touch with client.support@delhivery.com","upload_wbn":"UPL1","packages":[{"waybill":"","status":"Fail","remarks":"Crashing while saving package due to exception 'Prepaid client manifest charge API failed due to insufficient balance'"}]}`))
		})
		var out model.ShipmentResponse
		err := invoke(context.Background(), d, acct, sdk.OpCreateShipment, shipmentRequest("ORD-Y"), &out)
		wantErr(t, err, sdk.CodePermanent, sdk.SourceCarrier, "")
		if !strings.Contains(err.CarrierMessage, "insufficient balance") || !strings.Contains(err.CarrierMessage, "internal Error") {
			t.Fatalf("carrier message %q", err.CarrierMessage)
		}
	})
	t.Run("bad base url", func(t *testing.T) {
		d, _ := sdk.NewDispatcher(delhivery.New())
		var out model.TrackResponse
		err := invoke(context.Background(), d, account("ftp://example", "tok"), sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{"1"}}, &out)
		wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceConnector, "")
		if !err.NotSent {
			t.Fatal("want NotSent")
		}
	})
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	edit := func(f func(*model.ShipmentRequest)) model.ShipmentRequest {
		r := shipmentRequest("ORD-BAD")
		f(&r)
		return r
	}
	cases := []struct {
		name  string
		req   model.ShipmentRequest
		field string
	}{
		{"no reference", edit(func(r *model.ShipmentRequest) { r.Reference = "" }), "/reference"},
		{"no consignee", edit(func(r *model.ShipmentRequest) { r.ShipTo.Name = " " }), "/ship_to/name"},
		{"no address", edit(func(r *model.ShipmentRequest) { r.ShipTo.Lines = nil }), "/ship_to/lines"},
		{"bad pin", edit(func(r *model.ShipmentRequest) { r.ShipTo.PostalCode = "56001" }), "/ship_to/postal_code"},
		{"no phone", edit(func(r *model.ShipmentRequest) { r.ShipTo.Phone = "" }), "/ship_to/phone"},
		{"short phone", edit(func(r *model.ShipmentRequest) { r.ShipTo.Phone = "98765" }), "/ship_to/phone"},
		{"abroad", edit(func(r *model.ShipmentRequest) { r.ShipTo.CountryCode = "AE" }), "/ship_to/country_code"},
		{"no parcels", edit(func(r *model.ShipmentRequest) { r.Parcels = nil }), "/parcels"},
		{"two parcels", edit(func(r *model.ShipmentRequest) { r.Parcels = append(r.Parcels, r.Parcels[0]) }), "/parcels"},
		{"zero weight", edit(func(r *model.ShipmentRequest) { r.Parcels[0].Weight.Value = 0 }), "/parcels/0/weight/value"},
		{"bad weight unit", edit(func(r *model.ShipmentRequest) { r.Parcels[0].Weight.Unit = "stone" }), "/parcels/0/weight/unit"},
		{"bad length unit", edit(func(r *model.ShipmentRequest) { r.Parcels[0].Dimensions.Unit = "mm" }), "/parcels/0/dimensions/unit"},
		{"cod without amount", edit(func(r *model.ShipmentRequest) { r.PaymentMode = model.CashOnDelivery }), "/cod_amount"},
		{"to pay", edit(func(r *model.ShipmentRequest) { r.PaymentMode = model.ToPay }), "/payment_mode"},
		{"unknown service", edit(func(r *model.ShipmentRequest) { r.Service = "drone" }), "/service"},
		{"dollars", edit(func(r *model.ShipmentRequest) { r.Invoice.Value.Currency = "USD" }), "/invoice/value/currency"},
		{"no e-way bill above 50000", edit(func(r *model.ShipmentRequest) { r.Invoice.Value.Amount = 64000 }), "/eway_bill_number"},
		{"bad e-way bill", edit(func(r *model.ShipmentRequest) { r.EWayBillNumber = "12345" }), "/eway_bill_number"},
		{"no pickup location", edit(func(r *model.ShipmentRequest) {}), "/pickup_location"},
		// A reverse pickup collects from ship_from: that is the consignee checked.
		{"reverse without customer", edit(func(r *model.ShipmentRequest) { r.Reverse = true; r.ShipFrom.Name = "" }), "/ship_from/name"},
		{"reverse customer phone", edit(func(r *model.ShipmentRequest) { r.Reverse = true; r.ShipFrom.Phone = "123" }), "/ship_from/phone"},
		{"reverse with cod", edit(func(r *model.ShipmentRequest) {
			r.Reverse = true
			r.PaymentMode = model.CashOnDelivery
			r.CODAmount = &model.Money{Amount: 100, Currency: "INR"}
		}), "/payment_mode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acct := e.acct
			if c.field == "/pickup_location" {
				copy := *e.acct
				copy.Settings = map[string]string{}
				acct = &copy
			}
			var out model.ShipmentResponse
			err := invoke(context.Background(), e.d, acct, sdk.OpCreateShipment, c.req, &out)
			wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceConnector, c.field)
			if !err.NotSent {
				t.Fatal("invalid input must be marked NotSent")
			}
		})
	}
	if n := e.sim.Calls(simulator.PathCreate); n != 0 {
		t.Fatalf("invalid requests reached the carrier %d times", n)
	}

	// The runtime checks the list and each number's presence, naming the field.
	for name, c := range map[string]struct {
		numbers []string
		field   string
	}{
		"none":  {nil, "/tracking_numbers"},
		"empty": {[]string{""}, "/tracking_numbers/0"},
	} {
		t.Run("track "+name, func(t *testing.T) {
			_, err := e.track(c.numbers...)
			wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceConnector, c.field)
			if !err.NotSent {
				t.Fatal("want NotSent")
			}
		})
	}
	// A number that is not a waybill (a comma would split the query) is the
	// request mapping's fail(): refused before sending, naming the number in
	// words (a mapping's failure carries no JSON pointer).
	t.Run("track bad", func(t *testing.T) {
		before := e.sim.Calls(simulator.PathTrack)
		_, err := e.track("1490000000001", "149,0")
		wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceConnector, "")
		if !err.NotSent || !strings.Contains(err.Message, `"149,0" is not a Delhivery waybill`) || e.sim.Calls(simulator.PathTrack) != before {
			t.Fatalf("bad number: %+v", err)
		}
	})
	t.Run("cancel without number", func(t *testing.T) {
		_, err := e.cancel("")
		wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceConnector, "")
		if !err.NotSent || !strings.Contains(err.Message, "tracking_number is required") {
			t.Fatalf("cancel without number: %+v", err)
		}
	})
	t.Run("cancel bad number", func(t *testing.T) {
		_, err := e.cancel("149 0")
		wantErr(t, err, sdk.CodeInvalidRequest, sdk.SourceConnector, "")
		if !err.NotSent || !strings.Contains(err.Message, `"149 0" is not a Delhivery waybill`) {
			t.Fatalf("cancel bad number: %+v", err)
		}
	})
	if n := e.sim.Calls(simulator.PathEdit); n != 0 {
		t.Fatalf("invalid cancels reached the carrier %d times", n)
	}
	t.Run("malformed payload", func(t *testing.T) {
		_, err := e.d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpTrack, Account: e.acct, Payload: []byte(`{"tracking_numbers":"x"`)})
		if sdk.AsError(err).Code != sdk.CodeInvalidRequest {
			t.Fatalf("malformed payload: %v", err)
		}
	})
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	if ok, err := e.d.CheckHealth(context.Background(), e.acct); !ok || err != nil {
		t.Fatalf("health: %v %v", ok, err)
	}
	if req, _ := e.sim.LastRequest(simulator.PathPinCode); req.Query != "filter_codes=110001" {
		t.Fatalf("health query %q", req.Query)
	}
	if ok, err := e.d.CheckHealth(context.Background(), nil); !ok || err != nil {
		t.Fatalf("health without account: %v %v", ok, err)
	}
	_, err := e.d.CheckHealth(context.Background(), account(e.sim.URL(), "wrong-token"))
	wantErr(t, sdk.AsError(err), sdk.CodeAuthFailed, sdk.SourceCarrier, "")
}

func TestConcurrentCalls(t *testing.T) {
	e := newEnv(t)
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ref := fmt.Sprintf("ORD-C-%d-%d", w, i)
				created, err := e.create(shipmentRequest(ref))
				if err != nil {
					errs <- fmt.Errorf("create %s: %v", ref, err)
					continue
				}
				out, err := e.track(created.TrackingNumber)
				if err != nil || out.Results[0].Status != model.StatusPending {
					errs <- fmt.Errorf("track %s: %v %+v", ref, err, out)
					continue
				}
				if i%2 == 0 {
					if res, err := e.cancel(created.TrackingNumber); err != nil || !res.Cancelled {
						errs <- fmt.Errorf("cancel %s: %v", ref, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.sim.Calls(simulator.PathCreate); n != workers*each {
		t.Fatalf("create calls = %d", n)
	}
}

func BenchmarkCreateAndTrack(b *testing.B) {
	sim := simulator.New()
	defer sim.Close()
	d, err := sdk.NewDispatcher(delhivery.New())
	if err != nil {
		b.Fatal(err)
	}
	acct := account(sim.URL(), sim.Token())
	ctx := context.Background()
	b.ReportAllocs()
	var n int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			ref := fmt.Sprintf("ORD-B-%d", n)
			mu.Unlock()
			var created model.ShipmentResponse
			if err := invoke(ctx, d, acct, sdk.OpCreateShipment, shipmentRequest(ref), &created); err != nil {
				b.Fatal(err)
			}
			var tracked model.TrackResponse
			if err := invoke(ctx, d, acct, sdk.OpTrack, model.TrackRequest{TrackingNumbers: []string{created.TrackingNumber}}, &tracked); err != nil {
				b.Fatal(err)
			}
		}
	})
}
