// Package simulator is an in-process Blue Dart for tests: an httptest server that
// speaks the SOAP WayBillGeneration service (GenerateWayBill, CancelWaybill) and the
// tnt tracking servlet, keeps state (generated waybills become trackable), answers
// with envelopes built from the payloads in testdata/ (html/template escapes every
// value), returns real SOAP faults for
// malformed envelopes, unknown actions and unknown logins, and has fault knobs.
//
// It binds 127.0.0.1 on a free port and never reaches the network. Its clock is
// simulated (it starts at 2026-11-20 09:00 IST and moves one hour per event), so
// answers do not depend on the wall clock.
package simulator

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Credentials the simulator accepts.
const (
	// LoginID is the accepted Profile/LoginID and tracking loginid.
	LoginID = "SIMBOM01"
	// LicenceKey is the accepted Profile/LicenceKey and tracking lickey.
	LicenceKey = "sim-licence-7f3a9c"
	// CustomerCode is the accepted Shipper/CustomerCode.
	CustomerCode = "099960"
)

// Paths the simulator serves, relative to URL().
const (
	WayBillPath  = "/ShippingAPI/WayBill/WayBillGeneration.svc/Basic"
	TrackingPath = "/servlet/RoutingServlet"
)

// SOAP actions of WayBillGeneration.svc.
const (
	ActionGenerate = "http://tempuri.org/IWayBillGeneration/GenerateWayBill"
	ActionCancel   = "http://tempuri.org/IWayBillGeneration/CancelWaybill"
)

// maxBody bounds a request body the simulator reads.
const maxBody = 1 << 20

//go:embed testdata/*.xml
var payloads embed.FS

var templates = template.Must(template.ParseFS(payloads,
	"testdata/generate_response.xml", "testdata/cancel_response.xml", "testdata/fault.xml", "testdata/tracking_response.xml"))

var ist = time.FixedZone("IST", 5*3600+30*60)

// Scan is one tracking event the simulator reports.
type Scan struct {
	Type, Code, Text, Location string
	At                         time.Time
}

type shipment struct {
	awb, ref, consignee, pincode, origin, dest string
	weight                                     float64
	cancelled                                  bool
	receivedBy                                 string
	scans                                      []Scan // oldest first
}

// Simulator is a running fake Blue Dart. Its methods are safe for concurrent use.
type Simulator struct {
	srv *httptest.Server

	mu        sync.Mutex
	clock     time.Time
	nextAWB   int
	shipments map[string]*shipment
	refs      map[string]string
	failN     int
	failCode  int
	latency   time.Duration
	last      map[string][]byte
	calls     int
}

// New starts a simulator; Close stops it.
func New() *Simulator {
	s := &Simulator{
		clock:     time.Date(2026, 11, 20, 9, 0, 0, 0, ist),
		nextAWB:   1,
		shipments: map[string]*shipment{},
		refs:      map[string]string{},
		last:      map[string][]byte{},
	}
	if err := s.loadRecorded(); err != nil {
		panic(fmt.Sprintf("simulator: loading recorded payloads: %v", err))
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL to give an account (its BaseURL).
func (s *Simulator) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Simulator) Close() { s.srv.Close() }

// FailNext makes the next n requests answer HTTP status with an HTML error page.
func (s *Simulator) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, status
}

// SetLatency delays every answer by d (or until the client gives up).
func (s *Simulator) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// LastRequest returns the body of the last request for a SOAP action, or for
// "track" the last tracking query string.
func (s *Simulator) LastRequest(action string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.last[action])
}

// Calls counts the requests served, faults and failures included.
func (s *Simulator) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// AddScan records a scan on a waybill at the simulated clock's next hour, and sets
// receivedBy when the scan is a delivery (type DL).
func (s *Simulator) AddScan(awb, scanType, text, location, receivedBy string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[awb]
	if !ok {
		return fmt.Errorf("simulator: no waybill %s", awb)
	}
	sh.scans = append(sh.scans, Scan{Type: scanType, Code: fmt.Sprintf("%03d", len(sh.scans)), Text: text, Location: location, At: s.tick()})
	if scanType == "DL" {
		sh.receivedBy = receivedBy
	}
	return nil
}

func (s *Simulator) tick() time.Time {
	s.clock = s.clock.Add(time.Hour)
	return s.clock
}

func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	latency := s.latency
	fail := 0
	if s.failN > 0 {
		s.failN--
		fail = s.failCode
	}
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		w.Header().Set("Content-Type", "text/html")
		if fail == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(fail)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", fail, http.StatusText(fail))
		return
	}
	switch r.URL.Path {
	case WayBillPath:
		s.serveSOAP(w, r)
	case TrackingPath:
		s.serveTracking(w, r)
	default:
		http.NotFound(w, r)
	}
}

type profile struct {
	LoginID    string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.Admin LoginID"`
	LicenceKey string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.Admin LicenceKey"`
	Customer   string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.Admin Customercode"`
	APIType    string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.Admin Api_type"`
}

type genRequest struct {
	Consignee struct {
		Name    string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration ConsigneeName"`
		Pincode string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration ConsigneePincode"`
	} `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration Consignee"`
	Services struct {
		Weight  float64 `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration ActualWeight"`
		Ref     string  `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration CreditReferenceNo"`
		Product string  `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration ProductCode"`
		Pieces  int     `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration PieceCount"`
		PDFOff  bool    `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration PDFOutputNotRequired"`
	} `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration Services"`
	Shipper struct {
		Code    string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration CustomerCode"`
		Origin  string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration OriginArea"`
		Pincode string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration CustomerPincode"`
	} `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration Shipper"`
}

type envelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Generate *struct {
			Request *genRequest `xml:"http://tempuri.org/ Request"`
			Profile *profile    `xml:"http://tempuri.org/ Profile"`
		} `xml:"http://tempuri.org/ GenerateWayBill"`
		Cancel *struct {
			Request *struct {
				AWBNo string `xml:"http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration AWBNo"`
			} `xml:"http://tempuri.org/ Request"`
			Profile *profile `xml:"http://tempuri.org/ Profile"`
		} `xml:"http://tempuri.org/ CancelWaybill"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type status struct{ Code, Info string }

func (s *Simulator) serveSOAP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		fault(w, "s:Client", "The request body could not be read or is too large.")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
		// WCF's BasicHttpBinding answers a wrong content type with 415 and no envelope.
		http.Error(w, "Cannot process the message because the content type was not the expected type 'text/xml; charset=utf-8'.", http.StatusUnsupportedMediaType)
		return
	}
	action := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	s.mu.Lock()
	s.last[action] = body
	s.mu.Unlock()
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		fault(w, "a:DeserializationFailed", "The formatter threw an exception while trying to deserialize the message: "+err.Error())
		return
	}
	switch {
	case action == ActionGenerate && env.Body.Generate != nil:
		if !s.authorised(w, env.Body.Generate.Profile) {
			return
		}
		if env.Body.Generate.Request == nil {
			fault(w, "a:DeserializationFailed", "The formatter could not find the Request parameter of GenerateWayBill.")
			return
		}
		s.generate(w, env.Body.Generate.Request, env.Body.Generate.Profile)
	case action == ActionCancel && env.Body.Cancel != nil:
		if !s.authorised(w, env.Body.Cancel.Profile) {
			return
		}
		awb := ""
		if env.Body.Cancel.Request != nil {
			awb = env.Body.Cancel.Request.AWBNo
		}
		s.cancel(w, awb)
	default:
		fault(w, "a:ActionNotSupported", fmt.Sprintf("The message with Action '%s' cannot be processed at the receiver, due to a ContractFilter mismatch at the EndpointDispatcher.", action))
	}
}

// authorised faults a missing profile or unknown login; a known login with the wrong
// licence key is answered by the operation as IsError (see generate and cancel).
func (s *Simulator) authorised(w http.ResponseWriter, p *profile) bool {
	if p == nil || p.LoginID == "" {
		fault(w, "s:Client", "Profile is missing: LoginID and LicenceKey are required.")
		return false
	}
	if p.LoginID != LoginID {
		fault(w, "s:Client", "Invalid LoginID: the login is not registered for the Shipping API.")
		return false
	}
	return true
}

func (s *Simulator) generate(w http.ResponseWriter, req *genRequest, p *profile) {
	reply := map[string]any{"IsError": true, "AWBNo": "", "Ref": req.Services.Ref}
	switch {
	case p.LicenceKey != LicenceKey:
		reply["Status"] = []status{{"InvalidLicenseKey", "Invalid Licence Key for the LoginID"}}
	case req.Shipper.Code != CustomerCode:
		reply["Status"] = []status{{"InvalidCustomerCode", "Customer code is not valid"}}
	case strings.HasPrefix(req.Consignee.Pincode, "99") || len(req.Consignee.Pincode) != 6:
		reply["Status"] = []status{{"InvalidPincode", "Destination pincode " + req.Consignee.Pincode + " is not serviceable"}}
	case req.Services.Weight <= 0:
		reply["Status"] = []status{{"InvalidActualWeight", "Actual weight is mandatory"}}
	default:
		s.mu.Lock()
		if awb, dup := s.refs[req.Services.Ref]; dup && req.Services.Ref != "" {
			s.mu.Unlock()
			reply["Status"] = []status{{"DuplicateCreditReferenceNo", "Duplicate CreditReferenceNo; waybill " + awb + " already generated"}}
			break
		}
		awb := fmt.Sprintf("690%08d", s.nextAWB)
		s.nextAWB++
		sh := &shipment{awb: awb, ref: req.Services.Ref, consignee: req.Consignee.Name, pincode: req.Consignee.Pincode,
			origin: req.Shipper.Origin, dest: "DESTINATION " + req.Consignee.Pincode[:3], weight: req.Services.Weight}
		sh.scans = append(sh.scans, Scan{Type: "UD", Code: "000", Text: "Shipment data received", Location: req.Shipper.Origin, At: s.tick()})
		s.shipments[awb] = sh
		if req.Services.Ref != "" {
			s.refs[req.Services.Ref] = awb
		}
		s.mu.Unlock()
		reply["IsError"] = false
		reply["AWBNo"] = awb
		reply["DestArea"] = "MAA"
		reply["DestLocation"] = "TNR"
		reply["Token"] = ""
		if !req.Services.PDFOff {
			reply["Label"] = base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n% simulated Blue Dart label for " + awb + "\n%%EOF\n"))
		}
		reply["Status"] = []status{{"Valid", "Waybill Generation Sucessful"}}
	}
	render(w, http.StatusOK, "generate_response.xml", reply)
}

func (s *Simulator) cancel(w http.ResponseWriter, awb string) {
	st := status{"Valid", "Waybill cancelled successfully"}
	isErr := false
	s.mu.Lock()
	sh, ok := s.shipments[awb]
	switch {
	case !ok:
		st, isErr = status{"InvalidAWBNo", "Waybill number not found"}, true
	case sh.cancelled:
		st, isErr = status{"AWBAlreadyCancelled", "Waybill already cancelled"}, true
	case len(sh.scans) > 1:
		st, isErr = status{"AWBInProcess", "Waybill cannot be cancelled after pickup"}, true
	default:
		sh.cancelled = true
	}
	s.mu.Unlock()
	render(w, http.StatusOK, "cancel_response.xml", map[string]any{"AWBNo": awb, "IsError": isErr, "Status": []status{st}})
}

type trackShipment struct {
	AWB, Ref, Service, PickUpDate, Origin, Destination, Consignee, Pincode, Weight string
	Status, StatusType, Expected, StatusDate, StatusTime, ReceivedBy               string
	Scans                                                                          []trackScan
}

type trackScan struct{ Text, Code, Type, Date, Time, Location string }

func (s *Simulator) serveTracking(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.last["track"] = []byte(r.URL.RawQuery)
	s.mu.Unlock()
	if r.Method != http.MethodGet || q.Get("handler") != "tnt" || q.Get("action") != "custawbquery" {
		http.Error(w, "<html><body>Bad request</body></html>", http.StatusBadRequest)
		return
	}
	data := map[string]any{}
	if q.Get("loginid") != LoginID || q.Get("lickey") != LicenceKey {
		data["Error"] = "Invalid Login ID or Licence Key"
		render(w, http.StatusOK, "tracking_response.xml", data)
		return
	}
	var out []trackShipment
	s.mu.Lock()
	for _, n := range strings.Split(q.Get("numbers"), ",") {
		n = strings.TrimSpace(n)
		sh, ok := s.shipments[n]
		if !ok {
			out = append(out, trackShipment{AWB: n, StatusType: "NF", Status: "No Information Found"})
			continue
		}
		out = append(out, sh.view())
	}
	s.mu.Unlock()
	data["Shipments"] = out
	render(w, http.StatusOK, "tracking_response.xml", data)
}

func (sh *shipment) view() trackShipment {
	t := trackShipment{AWB: sh.awb, Ref: sh.ref, Service: "Domestic Priority", Origin: sh.origin, Destination: sh.dest,
		Consignee: sh.consignee, Pincode: sh.pincode, Weight: fmt.Sprintf("%.1f", sh.weight), ReceivedBy: sh.receivedBy}
	if len(sh.scans) > 0 {
		t.PickUpDate = sh.scans[0].At.Format("02 January 2006")
		cur := sh.scans[len(sh.scans)-1]
		t.Status, t.StatusType = cur.Text, cur.Type
		t.StatusDate, t.StatusTime = cur.At.Format("02 January 2006"), cur.At.Format("15:04")
		if cur.Type != "DL" && cur.Type != "RT" {
			t.Expected = cur.At.AddDate(0, 0, 2).Format("02 January 2006")
		}
	}
	for i := len(sh.scans) - 1; i >= 0; i-- {
		sc := sh.scans[i]
		t.Scans = append(t.Scans, trackScan{Text: sc.Text, Code: sc.Code, Type: sc.Type,
			Date: sc.At.Format("02-Jan-2006"), Time: sc.At.Format("15:04"), Location: sc.Location})
	}
	return t
}

// loadRecorded makes the waybills in testdata/recorded_tracking.xml trackable.
func (s *Simulator) loadRecorded() error {
	b, err := payloads.ReadFile("testdata/recorded_tracking.xml")
	if err != nil {
		return err
	}
	var d struct {
		Shipments []struct {
			AWB        string `xml:"WaybillNo,attr"`
			Ref        string `xml:"RefNo,attr"`
			Origin     string `xml:"Origin"`
			Dest       string `xml:"Destination"`
			Consignee  string `xml:"Consignee"`
			Pincode    string `xml:"ConsigneePincode"`
			ReceivedBy string `xml:"ReceivedBy"`
			Scans      []struct {
				Text     string `xml:"Scan"`
				Code     string `xml:"ScanCode"`
				Type     string `xml:"ScanType"`
				Date     string `xml:"ScanDate"`
				Time     string `xml:"ScanTime"`
				Location string `xml:"ScannedLocation"`
			} `xml:"Scans>ScanDetail"`
		} `xml:"Shipment"`
	}
	if err := xml.Unmarshal(b, &d); err != nil {
		return err
	}
	for _, r := range d.Shipments {
		sh := &shipment{awb: r.AWB, ref: r.Ref, origin: r.Origin, dest: r.Dest, consignee: r.Consignee, pincode: r.Pincode, receivedBy: r.ReceivedBy, weight: 1}
		for i := len(r.Scans) - 1; i >= 0; i-- {
			sc := r.Scans[i]
			at, err := time.ParseInLocation("02-Jan-2006 15:04", sc.Date+" "+sc.Time, ist)
			if err != nil {
				return fmt.Errorf("waybill %s: %w", r.AWB, err)
			}
			sh.scans = append(sh.scans, Scan{Type: sc.Type, Code: sc.Code, Text: sc.Text, Location: sc.Location, At: at})
		}
		s.shipments[r.AWB] = sh
	}
	return nil
}

func fault(w http.ResponseWriter, code, text string) {
	render(w, http.StatusInternalServerError, "fault.xml", map[string]string{"Code": code, "String": text})
}

func render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header) // html/template would escape a declaration written in the template
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "simulator template "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	ct := "text/xml; charset=utf-8"
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
