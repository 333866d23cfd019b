// Package simulator is a Delhivery Express API double for tests and benchmarks:
// an httptest server on loopback that answers the create, track, cancel and
// pin-code endpoints in Delhivery's documented shapes, built from the recorded
// payloads in connectors/delhivery/testdata.
//
// It keeps state (a created waybill is trackable, with a scan history; a cancel
// changes its status), checks the "Authorization: Token" header and the encodings
// Delhivery expects, and has fault knobs: the next N answers with a given status,
// an HTML 502 page, a dropped connection, or added latency. It is safe for
// concurrent use and cheap enough to serve thousands of requests per second.
//
// Cancellation follows Delhivery's cancel API page: shipments in Manifested, In
// Transit, Pending, Open or Scheduled may be cancelled; a forward shipment not yet
// picked up becomes CN/Cancelled, one already moving becomes a return (RT/In
// Transit), and a reverse pickup becomes CN/Canceled. The wording of refusals is
// the simulator's own; Delhivery does not document it.
//
// The package imports only the standard library.
package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultToken is the API token the simulator accepts unless WithToken says otherwise.
const DefaultToken = "sim-token-0123456789abcdef"

// Paths the simulator serves.
const (
	PathCreate  = "/api/cmu/create.json"
	PathTrack   = "/api/v1/packages/json/"
	PathEdit    = "/api/p/edit"
	PathPinCode = "/c/api/pin-codes/json/"
)

// maxBody bounds what the simulator reads of a request.
const maxBody = 1 << 20

// timeLayout is how Delhivery writes times: IST wall clock, no offset.
const timeLayout = "2006-01-02T15:04:05.000"

var ist = time.FixedZone("IST", 5*3600+30*60)

// Scan is one tracking event to add to a shipment with AddScan.
type Scan struct {
	// Type is the StatusType: UD, DL, RT, PP, PU or CN.
	Type string
	// Status is the status text (Manifested, In Transit, Delivered...).
	Status string
	// Code is Delhivery's StatusCode (X-UCI, EOD-74...), optional.
	Code string
	// Instructions is the scan's free text, optional.
	Instructions string
	// Location is the ScannedLocation; the origin hub when empty.
	Location string
	// Time is when it happened; the simulator's clock when zero.
	Time time.Time
	// ReceivedBy is who took a delivered shipment, optional.
	ReceivedBy string
}

// Request is a request the simulator recorded.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Query is the raw query string.
	Query string
	// Header is a copy of the request headers.
	Header http.Header
	// Body is the request body as sent.
	Body []byte
}

// Option configures a Simulator.
type Option func(*config)

type config struct {
	token        string
	clock        func() time.Time
	payloads     fs.FS
	pickups      []string
	unserviceabl []string
	arrivals     bool
}

// WithToken sets the API token the simulator accepts.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithClock sets the clock scan times are taken from.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithPayloads reads the recorded payloads from fsys instead of those compiled
// into the simulator (simulator/testdata).
func WithPayloads(fsys fs.FS) Option { return func(c *config) { c.payloads = fsys } }

// WithArrivals makes the simulator keep every request's arrival (Arrivals).
// It is off by default: a long benchmark would keep millions.
func WithArrivals() Option { return func(c *config) { c.arrivals = true } }

// WithPickupLocations restricts the registered pickup locations; any other name is
// refused the way Delhivery refuses an unknown warehouse. All names are accepted
// when none are given.
func WithPickupLocations(names ...string) Option {
	return func(c *config) { c.pickups = append(c.pickups, names...) }
}

// WithUnserviceablePins marks PIN codes Delhivery does not deliver to.
func WithUnserviceablePins(pins ...string) Option {
	return func(c *config) { c.unserviceabl = append(c.unserviceabl, pins...) }
}

// Simulator is a running Delhivery double. Create it with New and Close it when done.
type Simulator struct {
	srv      *httptest.Server
	token    string
	clock    func() time.Time
	p        *payloads
	pickups  map[string]bool
	unserved map[string]bool

	nextWaybill atomic.Int64
	latency     atomic.Int64 // nanoseconds
	answerDelay atomic.Int64 // nanoseconds
	keepArrived bool         // WithArrivals

	mu        sync.Mutex
	shipments map[string]*shipment
	orders    map[string]string
	faults    []fault
	last      map[string]Request
	calls     map[string]int
	arrivals  []Arrival
}

// Arrival is one request as the simulator received it: when, on which path,
// and for a track, the waybills asked about.
type Arrival struct {
	// At is when the request arrived (the real clock, not WithClock's).
	At time.Time
	// Path is the request's path.
	Path string
	// Waybills are a track request's waybills (or order ids); nil otherwise.
	Waybills []string
}

// shipment is the simulator's state for one waybill.
type shipment struct {
	waybill, order, payment, destination string
	status                               currentStatus
	scans                                []scanEntry
}

// fault is one queued misbehaviour.
type fault struct {
	status     int
	html       bool
	drop       bool
	retryAfter string
}

// New starts a simulator on a free loopback port. It panics if the recorded
// payloads cannot be read, which is a defect in the test tree.
func New(opts ...Option) *Simulator {
	cfg := config{token: DefaultToken, clock: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	fsys := cfg.payloads
	if fsys == nil {
		fsys = embeddedPayloads()
	}
	p, err := loadPayloads(fsys)
	if err != nil {
		panic("delhivery simulator: " + err.Error())
	}
	s := &Simulator{
		token: cfg.token, clock: cfg.clock, p: p,
		pickups: map[string]bool{}, unserved: map[string]bool{},
		shipments: map[string]*shipment{}, orders: map[string]string{},
		last: map[string]Request{}, calls: map[string]int{}, keepArrived: cfg.arrivals,
	}
	for _, n := range cfg.pickups {
		s.pickups[n] = true
	}
	for _, n := range cfg.unserviceabl {
		s.unserved[n] = true
	}
	s.nextWaybill.Store(1490000000000)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the simulator's base URL, to be used as the account's BaseURL.
func (s *Simulator) URL() string { return s.srv.URL }

// Token is the API token the simulator accepts.
func (s *Simulator) Token() string { return s.token }

// Close shuts the simulator down, closing open connections.
func (s *Simulator) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// FailNext makes the next n requests answer with the HTTP status code and a JSON
// error body. For 429 the answer carries Retry-After: 2.
func (s *Simulator) FailNext(n, status int) {
	f := fault{status: status}
	if status == http.StatusTooManyRequests {
		f.retryAfter = "2"
	}
	s.queue(n, f)
}

// FailNextHTML makes the next n requests answer 502 with an nginx HTML page.
func (s *Simulator) FailNextHTML(n int) { s.queue(n, fault{status: http.StatusBadGateway, html: true}) }

// DropNext makes the next n requests lose their connection after the request was
// read and before any answer.
func (s *Simulator) DropNext(n int) { s.queue(n, fault{drop: true}) }

// SetLatency delays every answer by d (zero removes the delay). A delayed request
// whose client gives up is abandoned.
func (s *Simulator) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetAnswerDelay makes the simulator do what each request asks at once and
// hold its answer back for d (zero removes the delay): a create whose client
// gives up meanwhile is booked all the same, as a carrier that lost the
// connection after doing the work.
func (s *Simulator) SetAnswerDelay(d time.Duration) { s.answerDelay.Store(int64(d)) }

func (s *Simulator) queue(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// ClearFaults drops the queued faults: requests are answered normally again.
func (s *Simulator) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Arrivals returns every request received so far, in arrival order, when the
// simulator was made WithArrivals; nil otherwise.
func (s *Simulator) Arrivals() []Arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.arrivals)
}

// LastRequest returns the last request made to path, and whether there was one.
func (s *Simulator) LastRequest(path string) (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.last[path]
	return r, ok
}

// Calls returns how many requests path has received, faults included.
func (s *Simulator) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// Bookings returns how many orders the simulator booked (each order id books
// once: Delhivery refuses a duplicate order id).
func (s *Simulator) Bookings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.orders)
}

// OrderWaybill returns the waybill an order was booked under, and whether it was.
func (s *Simulator) OrderWaybill(order string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wb, ok := s.orders[order]
	return wb, ok
}

// AddScan appends a scan to a shipment and makes it the shipment's current status.
func (s *Simulator) AddScan(waybill string, sc Scan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[waybill]
	if !ok {
		return fmt.Errorf("simulator: no shipment with waybill %q", waybill)
	}
	s.addScan(sh, sc)
	return nil
}

// Status returns a shipment's current StatusType and Status text.
func (s *Simulator) Status(waybill string) (statusType, status string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[waybill]
	if !ok {
		return "", "", false
	}
	return sh.status.StatusType, sh.status.Status, true
}

// addScan appends a scan; the caller holds s.mu.
func (s *Simulator) addScan(sh *shipment, sc Scan) {
	at := sc.Time
	if at.IsZero() {
		at = s.clock()
	}
	when := at.In(ist).Format(timeLayout)
	loc := sc.Location
	if loc == "" {
		loc = s.p.tracked.Shipment.Origin
	}
	sh.scans = append(sh.scans, scanEntry{ScanDetail: scanDetail{
		ScanDateTime: when, ScanType: sc.Type, Scan: sc.Status, StatusDateTime: when,
		ScannedLocation: loc, StatusCode: sc.Code, Instructions: sc.Instructions,
	}})
	sh.status = currentStatus{
		Status: sc.Status, StatusType: sc.Type, StatusCode: sc.Code, StatusLocation: loc,
		StatusDateTime: when, Instructions: sc.Instructions, RecievedBy: sc.ReceivedBy,
	}
}

func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, "reading request", http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}

	var arrival Arrival
	if s.keepArrived {
		arrival = arrived(r)
	}
	s.mu.Lock()
	if s.keepArrived {
		s.arrivals = append(s.arrivals, arrival)
	}
	s.calls[r.URL.Path]++
	s.last[r.URL.Path] = Request{Method: r.Method, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	var f *fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()

	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f != nil {
		s.writeFault(w, *f)
		return
	}
	if d := time.Duration(s.answerDelay.Load()); d > 0 {
		rec := httptest.NewRecorder()
		s.answer(rec, r, body)
		time.Sleep(d)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	s.answer(w, r, body)
}

// answer answers a request that got past the queued faults.
func (s *Simulator) answer(w http.ResponseWriter, r *http.Request, body []byte) {
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, s.p.authFailed)
		return
	}
	switch r.URL.Path {
	case PathCreate:
		s.create(w, r, body)
	case PathTrack, strings.TrimSuffix(PathTrack, "/"):
		s.track(w, r)
	case PathEdit:
		s.edit(w, r, body)
	case PathPinCode, strings.TrimSuffix(PathPinCode, "/"):
		s.pinCode(w, r)
	default:
		http.NotFound(w, r)
	}
}

// arrived is r's Arrival, now.
func arrived(r *http.Request) Arrival {
	a := Arrival{At: time.Now(), Path: r.URL.Path}
	if strings.TrimSuffix(r.URL.Path, "/") == strings.TrimSuffix(PathTrack, "/") {
		q := r.URL.Query()
		if ids := q.Get("waybill") + q.Get("ref_ids"); ids != "" {
			a.Waybills = strings.Split(ids, ",")
		}
	}
	return a
}

func (s *Simulator) writeFault(w http.ResponseWriter, f fault) {
	switch {
	case f.drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case f.html:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.status)
		w.Write(s.p.badGateway)
	default:
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		writeJSON(w, f.status, map[string]string{"detail": http.StatusText(f.status)})
	}
}

func (s *Simulator) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Token ")
	return ok && tok == s.token
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func methodNotAllowed(w http.ResponseWriter) {
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method not allowed."})
}

// inShipment is what the simulator reads of one shipment in a create call.
type inShipment struct {
	Name        string   `json:"name"`
	Add         string   `json:"add"`
	Pin         any      `json:"pin"`
	City        string   `json:"city"`
	Phone       any      `json:"phone"`
	Order       string   `json:"order"`
	PaymentMode string   `json:"payment_mode"`
	CODAmount   *float64 `json:"cod_amount"`
	TotalAmount *float64 `json:"total_amount"`
	Weight      any      `json:"weight"`
	EWBN        string   `json:"ewbn"`
}

type inCreate struct {
	Shipments      []inShipment `json:"shipments"`
	PickupLocation struct {
		Name string `json:"name"`
	} `json:"pickup_location"`
}

var (
	pinRE   = regexp.MustCompile(`^[1-9][0-9]{5}$`)
	phoneRE = regexp.MustCompile(`^[0-9]{10}$`)
)

func (s *Simulator) reject(w http.ResponseWriter, rmk string) {
	a := s.p.createRejected
	a.RMK = rmk
	a.Packages = []createdPacket{}
	writeJSON(w, http.StatusOK, a)
}

func (s *Simulator) create(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		s.reject(w, "format key missing in POST: send a form-encoded body format=json&data=<json>")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.reject(w, "could not read the form body: "+err.Error())
		return
	}
	if form.Get("format") != "json" {
		s.reject(w, "format key missing in POST: format must be json")
		return
	}
	var in inCreate
	if err := json.Unmarshal([]byte(form.Get("data")), &in); err != nil {
		s.reject(w, "Invalid data json: "+err.Error())
		return
	}
	if len(in.Shipments) == 0 {
		s.reject(w, "shipment list contains no data.")
		return
	}
	if in.PickupLocation.Name == "" || (len(s.pickups) > 0 && !s.pickups[in.PickupLocation.Name]) {
		s.reject(w, "ClientWarehouse matching query does not exist.")
		return
	}

	ans := s.p.createSuccess
	ans.Packages = nil
	ans.Success = true
	ans.PackageCount = len(in.Shipments)
	ans.PrepaidCount, ans.CODCount, ans.CODAmount = 0, 0, 0
	upl := fmt.Sprintf("UPL%019d", s.nextWaybill.Load())
	ans.UploadWBN = &upl
	for _, in := range in.Shipments {
		pkg := s.createOne(in)
		if pkg.Status != "Success" {
			ans.Success = false
			ans.RMK = s.p.createRefused.RMK
		} else if pkg.Payment == "COD" {
			ans.CODCount++
			ans.CODAmount += pkg.CODAmount
		} else {
			ans.PrepaidCount++
		}
		ans.Packages = append(ans.Packages, pkg)
	}
	writeJSON(w, http.StatusOK, ans)
}

// createOne books or refuses one shipment of a create call.
func (s *Simulator) createOne(in inShipment) createdPacket {
	ok := s.p.createSuccess.Packages[0]
	bad := s.p.createRefused.Packages[0]
	bad.RefNum, ok.RefNum = in.Order, in.Order
	fail := func(remarks ...string) createdPacket {
		bad.Remarks = remarks
		return bad
	}
	pin := scalar(in.Pin)
	var problems []string
	if strings.TrimSpace(in.Name) == "" {
		problems = append(problems, "name is missing")
	}
	if strings.TrimSpace(in.Add) == "" {
		problems = append(problems, "add (address) is missing")
	}
	if !pinRE.MatchString(pin) {
		problems = append(problems, "pin "+strconv.Quote(pin)+" is invalid")
	}
	if !phoneRE.MatchString(scalar(in.Phone)) {
		problems = append(problems, "phone is invalid")
	}
	if in.Order == "" {
		problems = append(problems, "order is missing")
	}
	if w, err := strconv.ParseFloat(scalar(in.Weight), 64); err != nil || w <= 0 {
		problems = append(problems, "weight is invalid")
	}
	payment := ""
	switch in.PaymentMode {
	case "Prepaid":
		payment = "Pre-paid"
	case "COD":
		payment = "COD"
		if in.CODAmount == nil || *in.CODAmount <= 0 {
			problems = append(problems, "cod_amount is required for COD")
		}
	case "Pickup", "REPL":
		payment = in.PaymentMode
	default:
		problems = append(problems, "payment_mode "+strconv.Quote(in.PaymentMode)+" is not one of Prepaid, COD, Pickup, REPL")
	}
	if in.TotalAmount != nil && *in.TotalAmount > 50000 && in.EWBN == "" {
		problems = append(problems, "ewbn is mandatory for shipments worth more than 50000")
	}
	if len(problems) > 0 {
		return fail(problems...)
	}
	if s.unserved[pin] {
		bad.Serviceable = false
		return fail("Non serviceable pincode " + pin)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.orders[in.Order]; dup {
		return fail("Duplicate order id")
	}
	wb := strconv.FormatInt(s.nextWaybill.Add(1), 10)
	sh := &shipment{waybill: wb, order: in.Order, payment: in.PaymentMode, destination: in.City}
	s.shipments[wb] = sh
	s.orders[in.Order] = wb
	if in.PaymentMode == "Pickup" {
		s.addScan(sh, Scan{Type: "PP", Status: "Open", Instructions: "Pickup request created"})
	} else {
		s.addScan(sh, Scan{Type: "UD", Status: "Manifested", Code: "X-UCI", Instructions: "Manifest uploaded"})
	}
	ok.Waybill = wb
	ok.Payment = payment
	if in.CODAmount != nil && in.PaymentMode == "COD" {
		ok.CODAmount = *in.CODAmount
	}
	return ok
}

// scalar renders a JSON string or number as text.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func (s *Simulator) track(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w)
		return
	}
	q := r.URL.Query()
	var ids []string
	byOrder := false
	if wb := q.Get("waybill"); wb != "" {
		ids = strings.Split(wb, ",")
	} else if ref := q.Get("ref_ids"); ref != "" {
		ids, byOrder = strings.Split(ref, ","), true
	}
	if len(ids) == 0 || len(ids) > 50 {
		writeJSON(w, http.StatusOK, s.p.trackMissing)
		return
	}
	ans := trackAnswer{ShipmentData: make([]trackedEntry, 0, len(ids))}
	s.mu.Lock()
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if byOrder {
			id = s.orders[id]
		}
		sh, ok := s.shipments[id]
		if !ok {
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, s.p.trackMissing)
			return
		}
		e := s.p.tracked
		e.Shipment.AWB = sh.waybill
		e.Shipment.ReferenceNo = sh.order
		e.Shipment.Destination = sh.destination
		e.Shipment.Status = sh.status
		e.Shipment.Scans = slices.Clone(sh.scans)
		if sh.payment == "COD" {
			e.Shipment.OrderType = "COD"
		}
		ans.ShipmentData = append(ans.ShipmentData, e)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, ans)
}

// cancellable are the statuses Delhivery's cancel API accepts.
var cancellable = map[string]bool{"Manifested": true, "In Transit": true, "Pending": true, "Open": true, "Scheduled": true}

func (s *Simulator) edit(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w)
		return
	}
	refused := s.p.cancelRefused
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		refused.Remark = "Content-Type must be application/json"
		writeJSON(w, http.StatusBadRequest, refused)
		return
	}
	var in struct {
		Waybill      string `json:"waybill"`
		Cancellation any    `json:"cancellation"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Waybill == "" {
		refused.Remark = "Invalid request: a JSON object with waybill is required"
		writeJSON(w, http.StatusBadRequest, refused)
		return
	}
	refused.Waybill = in.Waybill
	if c := strings.ToLower(scalar(in.Cancellation)); c != "true" {
		refused.Remark = "Only cancellation edits are simulated"
		writeJSON(w, http.StatusOK, refused)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[in.Waybill]
	switch {
	case !ok:
		refused.Remark = "Waybill " + in.Waybill + " not found"
		writeJSON(w, http.StatusOK, refused)
		return
	case sh.status.StatusType == "CN" || (sh.status.StatusType == "RT" && sh.status.Instructions == cancelledInTransit):
		refused.Remark = "Shipment already cancelled"
		writeJSON(w, http.StatusOK, refused)
		return
	case !cancellable[sh.status.Status] || sh.status.StatusType == "RT" || sh.status.StatusType == "DL":
		refused.Remark = "Shipment cannot be cancelled in status " + sh.status.StatusType + "/" + sh.status.Status
		writeJSON(w, http.StatusOK, refused)
		return
	}
	switch {
	case sh.status.StatusType == "PP":
		s.addScan(sh, Scan{Type: "CN", Status: "Canceled", Instructions: "Pickup cancelled by client"})
	case sh.status.Status == "Manifested":
		s.addScan(sh, Scan{Type: "CN", Status: "Cancelled", Instructions: "Shipment cancelled by client"})
	default:
		s.addScan(sh, Scan{Type: "RT", Status: "In Transit", Instructions: cancelledInTransit})
	}
	ans := s.p.cancelSuccess
	ans.Waybill = in.Waybill
	writeJSON(w, http.StatusOK, ans)
}

// cancelledInTransit marks the return a cancelled moving shipment turns into.
const cancelledInTransit = "Cancelled by client; returning to origin"

func (s *Simulator) pinCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w)
		return
	}
	pin := r.URL.Query().Get("filter_codes")
	ans := pinAnswer{DeliveryCodes: []pinEntry{}}
	if pinRE.MatchString(pin) && !s.unserved[pin] {
		e := s.p.pin.DeliveryCodes[0]
		e.PostalCode.Pin, _ = strconv.Atoi(pin)
		ans.DeliveryCodes = append(ans.DeliveryCodes, e)
	}
	writeJSON(w, http.StatusOK, ans)
}
