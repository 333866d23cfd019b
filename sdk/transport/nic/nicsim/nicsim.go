// Package nicsim is an in-process NIC simulator for tests: an httptest server that
// speaks the e-Way Bill v1.03 and e-Invoice (IRP) v1.04 session protocol with its own
// RSA key pair. It implements login for both systems, the e-Way Bill writes GENEWAYBILL,
// VEHEWB (Part-B), EXTENDVALIDITY and CANEWB on bills it keeps in memory, the
// GetEwayBill read (REK + HMAC), IRP Generate IRN (duplicates refused with 2150,
// answers signed with the simulator's key), and NIC's error shapes, and it counts
// logins so tests can prove caching and the login-rate guard. Script makes it
// answer e-Way Bill and IRP calls from recorded exchanges instead.
//
// It is test support: it keeps everything in memory, checks only what the tests
// need, and must never be used as a real endpoint.
package nicsim

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/sdk/transport/nic"
)

// Paths the simulator serves. EWB base URL: URL + EWBBase; IRP base URL: URL.
const (
	// EWBBase is the e-Way Bill API prefix; use URL+EWBBase as the Manager's BaseURL.
	EWBBase = "/ewaybillapi/v1.03"
	// IRPAuthPath is the IRP login path under URL.
	IRPAuthPath = "/eivital/v1.04/auth"
	// IRPInvoicePath is the IRP Generate IRN path under URL, as the kernel's
	// tests call it: every call is answered with the document's IRN, repeats
	// included.
	IRPInvoicePath = "/eicore/v1.04/Invoice"
	// IRPInvoiceV103Path is Generate IRN where NIC serves it (<URL>/eicore/v1.03/Invoice,
	// the path public clients call after a v1.04 login). Here a document already
	// registered is refused as NIC does: 2150 Duplicate IRN, with the IRN issued
	// in InfoDtls (DUPIRN).
	IRPInvoiceV103Path = "/eicore/v1.03/Invoice"
	// IRPCancelPath is Cancel IRN: an IRN of the caller's GSTIN, active and at
	// most 24 hours old, is cancelled; otherwise NIC's refusal (2143 not the
	// caller's, 9999 not active, 2270 past the 24 hours).
	IRPCancelPath = "/eicore/v1.03/Invoice/Cancel"
	// IRPIRNPath is Get IRN details, the IRN following it: the IRP's answer
	// for the IRN as it stands (Status CNL once cancelled), or 2148 for an
	// IRN the IRP does not hold.
	IRPIRNPath = "/eicore/v1.03/Invoice/irn/"
	// IRPFindPath is Get IRN by document details (doctype, docnum, docdate):
	// the caller's document's IRP answer, or 2148 for a document it did not
	// register.
	IRPFindPath = "/eicore/v1.03/Invoice/irnbydocdetails"
)

// User is one API user the simulator accepts.
type User struct {
	// ClientID and ClientSecret are the API client's credentials.
	ClientID, ClientSecret string
	// GSTIN is the taxpayer.
	GSTIN string
	// Username and Password are the API user's login.
	Username, Password string
}

// Options tune the simulator. Zero values take NIC's behaviour.
type Options struct {
	// Now is the clock (default time.Now); share a fake with the client under test.
	Now func() time.Time
	// EWBTokenTTL is the EWB token lifetime (default 360 minutes).
	EWBTokenTTL time.Duration
	// IRPTokenTTL is the IRP token lifetime reported in TokenExpiry (default 360 minutes).
	IRPTokenTTL time.Duration
	// OnLogin, if set, runs inside each login request before it is answered (after it
	// is counted); tests use it to hold logins open while concurrent callers pile up.
	OnLogin func(system, gstin string)
}

type session struct {
	system, gstin, username string
	token                   string
	sek                     []byte
	expiry                  time.Time
}

type ewb struct {
	gstin     string
	doc       map[string]any
	generated time.Time
	valid     time.Time // the end of its validity (started at generation here)
	distance  int
	status    string // ACT or CNL
	vehicle   string
	extended  int
	partB     []map[string]any // GetEwayBill's VehiclListDetails, newest first
}

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:port).
	URL string

	srv  *httptest.Server
	priv *rsa.PrivateKey
	opts Options

	mu       sync.Mutex
	users    map[string]User
	sessions map[string]*session // by token
	current  map[string]*session // by system|gstin|username
	logins   map[string]int      // by gstin
	ewbs     map[string]*ewb     // by ewayBillNo
	docs     map[string]string   // gstin|docType|docNo -> ewayBillNo
	nextEWB  int64
	irns     map[string]map[string]any // gstin|Typ|No -> the IRP answer
	nextAck  int64

	scriptOn   bool
	script     []Reply
	mismatches []string
}

// New generates a 2048-bit RSA key pair and starts a simulator on 127.0.0.1.
// Close it when done.
func New(opts Options) (*Server, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating simulator key: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.EWBTokenTTL == 0 {
		opts.EWBTokenTTL = 360 * time.Minute
	}
	if opts.IRPTokenTTL == 0 {
		opts.IRPTokenTTL = 360 * time.Minute
	}
	s := &Server{
		priv: priv, opts: opts,
		users: map[string]User{}, sessions: map[string]*session{}, current: map[string]*session{},
		logins: map[string]int{}, ewbs: map[string]*ewb{}, docs: map[string]string{}, nextEWB: 321000000000,
		irns: map[string]map[string]any{}, nextAck: 172610000000000,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+EWBBase+"/auth/", s.ewbAuth)
	mux.HandleFunc("POST "+EWBBase+"/ewayapi/", s.ewbWrite)
	mux.HandleFunc("GET "+EWBBase+"/ewayapi/GetEwayBill", s.ewbRead("GetEwayBill", s.ewbGet))
	mux.HandleFunc("GET "+EWBBase+"/Master/GetGSTINDetails", s.ewbRead("GetGSTINDetails", s.ewbGSTIN))
	mux.HandleFunc("POST "+IRPAuthPath, s.irpAuth)
	mux.HandleFunc("POST "+IRPInvoicePath, s.irpInvoice)
	mux.HandleFunc("POST "+IRPInvoiceV103Path, s.irpInvoice)
	mux.HandleFunc("POST "+IRPCancelPath, s.irpCancel)
	mux.HandleFunc("GET "+IRPIRNPath+"{irn}", s.irpGetIRN)
	mux.HandleFunc("GET "+IRPFindPath, s.irpFind)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// PublicKeyPEM returns the simulator's public key as NIC publishes its own: a PEM
// "PUBLIC KEY" block.
func (s *Server) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&s.priv.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// AddUser registers an API user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.GSTIN+"|"+u.Username] = u
}

// Logins returns how many login requests (successful or not) arrived for a GSTIN, both systems together.
func (s *Server) Logins(gstin string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins[gstin]
}

// RevokeTokens invalidates every issued token, as NIC does when a session is
// dropped on its side; the next call with an old token gets "invalid auth token".
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*session{}
	s.current = map[string]*session{}
}

// --- responses ---

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ewbError answers NIC's EWB error shape: {"status":"0","error":Base64({"errorCodes":"..."})}.
func ewbError(w http.ResponseWriter, codes string) {
	inner, _ := json.Marshal(map[string]string{"errorCodes": codes})
	writeJSON(w, map[string]any{"status": "0", "error": base64.StdEncoding.EncodeToString(inner)})
}

func irpError(w http.ResponseWriter, code, msg string) {
	writeJSON(w, map[string]any{"Status": 0, "ErrorDetails": []map[string]string{{"ErrorCode": code, "ErrorMessage": msg}}, "Data": nil})
}

// irpErrors answers IRP's error shape with one ErrorDetails entry per code
// (codes comma-separated, messages by index) and, when given, InfoDtls.
func irpErrors(w http.ResponseWriter, codes string, msgs []string, info json.RawMessage) {
	var details []map[string]string
	for i, c := range strings.Split(codes, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		d := map[string]string{"ErrorCode": c, "ErrorMessage": ""}
		if i < len(msgs) {
			d["ErrorMessage"] = msgs[i]
		}
		details = append(details, d)
	}
	out := map[string]any{"Status": 0, "ErrorDetails": details, "Data": nil}
	if len(info) > 0 {
		out["InfoDtls"] = info
	}
	writeJSON(w, out)
}

// --- login ---

// openLogin reverses the client's envelope: RSA-PKCS#1-v1.5 then Base64 then JSON.
func (s *Server) openLogin(r *http.Request, into any) bool {
	var body struct {
		Data string `json:"Data"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		return false
	}
	ct, err := base64.StdEncoding.DecodeString(body.Data)
	if err != nil {
		return false
	}
	pt, err := rsa.DecryptPKCS1v15(nil, s.priv, ct)
	if err != nil {
		return false
	}
	js, err := base64.StdEncoding.DecodeString(string(pt))
	if err != nil {
		return false
	}
	return json.Unmarshal(js, into) == nil
}

// issue returns the user's current session if still valid (NIC hands back the same
// token and SEK inside the window) or a new one; force renews one close to expiry
// like IRP's ForceRefreshAccessToken.
func (s *Server) issue(system, gstin, username string, ttl time.Duration, force bool) (*session, error) {
	now := s.opts.Now()
	key := system + "|" + gstin + "|" + username
	if cur := s.current[key]; cur != nil && now.Before(cur.expiry) && !(force && cur.expiry.Sub(now) <= 10*time.Minute) {
		return cur, nil
	}
	sek := make([]byte, nic.KeySize)
	tok := make([]byte, 16)
	if _, err := rand.Read(sek); err != nil {
		return nil, err
	}
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	ss := &session{system: system, gstin: gstin, username: username, token: hex.EncodeToString(tok), sek: sek, expiry: now.Add(ttl)}
	s.current[key] = ss
	s.sessions[ss.token] = ss
	return ss, nil
}

func (s *Server) countLogin(system, gstin string) {
	s.mu.Lock()
	s.logins[gstin]++
	s.mu.Unlock()
	if s.opts.OnLogin != nil {
		s.opts.OnLogin(system, gstin)
	}
}

func (s *Server) ewbAuth(w http.ResponseWriter, r *http.Request) {
	gstin := r.Header.Get("gstin")
	s.countLogin("ewb", gstin)
	var req struct {
		Action   string `json:"action"`
		Username string `json:"username"`
		Password string `json:"password"`
		AppKey   string `json:"app_key"`
	}
	if !s.openLogin(r, &req) {
		ewbError(w, "109")
		return
	}
	if req.Action != "ACCESSTOKEN" {
		ewbError(w, "239")
		return
	}
	appKey, err := base64.StdEncoding.DecodeString(req.AppKey)
	if err != nil || len(appKey) != nic.KeySize {
		ewbError(w, "109")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[gstin+"|"+req.Username]
	switch {
	case !ok || u.ClientID != r.Header.Get("client-id") || u.ClientSecret != r.Header.Get("client-secret"):
		if ok {
			ewbError(w, "110")
		} else {
			ewbError(w, "108")
		}
		return
	case u.Password != req.Password:
		ewbError(w, "108")
		return
	}
	ss, err := s.issue("ewb", gstin, req.Username, s.opts.EWBTokenTTL, false)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	encSEK, _ := nic.EncryptECB(appKey, ss.sek)
	writeJSON(w, map[string]any{"status": "1", "authtoken": ss.token, "sek": base64.StdEncoding.EncodeToString(encSEK)})
}

func (s *Server) irpAuth(w http.ResponseWriter, r *http.Request) {
	gstin := r.Header.Get("Gstin")
	s.countLogin("irp", gstin)
	var req struct {
		UserName                string `json:"UserName"`
		Password                string `json:"Password"`
		AppKey                  string `json:"AppKey"`
		ForceRefreshAccessToken bool   `json:"ForceRefreshAccessToken"`
	}
	if !s.openLogin(r, &req) {
		irpError(w, "1009", "Decryption of request failed") // simulator-chosen code
		return
	}
	appKey, err := base64.StdEncoding.DecodeString(req.AppKey)
	if err != nil || len(appKey) != nic.KeySize {
		irpError(w, "1009", "Invalid AppKey")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[gstin+"|"+req.UserName]
	if !ok || u.Password != req.Password || u.ClientID != r.Header.Get("client_id") || u.ClientSecret != r.Header.Get("client_secret") {
		irpError(w, "1010", "Invalid user name or password") // simulator-chosen code
		return
	}
	ss, err := s.issue("irp", gstin, req.UserName, s.opts.IRPTokenTTL, req.ForceRefreshAccessToken)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	encSEK, _ := nic.EncryptECB(appKey, ss.sek)
	writeJSON(w, map[string]any{"Status": 1, "Data": map[string]any{
		"ClientId": u.ClientID, "UserName": u.Username, "AuthToken": ss.token,
		"Sek": base64.StdEncoding.EncodeToString(encSEK), "TokenExpiry": ss.expiry.In(ist).Format("2006-01-02 15:04:05"),
	}})
}

// session finds the caller's live session, or answers NIC's invalid-token error.
func (s *Server) session(w http.ResponseWriter, system, token, gstin string) *session {
	s.mu.Lock()
	ss := s.sessions[token]
	s.mu.Unlock()
	if ss == nil || ss.system != system || ss.gstin != gstin {
		if system == "ewb" {
			ewbError(w, "238")
		} else {
			irpError(w, "1005", "Invalid Token")
		}
		return nil
	}
	if !s.opts.Now().Before(ss.expiry) {
		if system == "ewb" {
			ewbError(w, "106")
		} else {
			irpError(w, "1005", "Invalid Token")
		}
		return nil
	}
	return ss
}

// --- e-Way Bill ---

var docNoRE = regexp.MustCompile(`^[A-Za-z0-9/-]{1,16}$`)

// nicTime is how NIC writes times in e-Way Bill answers: India time, dd/MM/yyyy
// hh:mm:ss AM/PM.
const nicTime = "02/01/2006 03:04:05 PM"

// ist is India Standard Time, the zone of NIC's times.
var ist = time.FixedZone("IST", 5*3600+1800)

func fmtNIC(t time.Time) string { return t.In(ist).Format(nicTime) }

// Reply is one scripted e-Way Bill or IRP answer, for replaying recorded
// exchanges (see Script): the call it answers and what NIC said.
type Reply struct {
	// Method is POST for a write (POST <base>/ewayapi/, or an IRP POST) or GET
	// for a read.
	Method string
	// Action is a write's action (GENEWAYBILL, VEHEWB, ...), a read's method
	// (GetEwayBill), or an IRP call's path (IRPInvoiceV103Path).
	Action string
	// Request is the decrypted JSON the write must carry, compared as JSON;
	// empty accepts any. For a read, Query holds the query it must carry.
	Request []byte
	// Query is a read's expected query parameters; nil accepts any.
	Query map[string]string
	// Data is the decrypted JSON answer, sealed with the session key (a write)
	// or a fresh REK (a read) before it is sent.
	Data []byte
	// ErrorCodes, when set, makes the answer NIC's refusal with these codes.
	ErrorCodes string
	// ErrorMessages are an IRP refusal's ErrorMessage texts, one per code.
	ErrorMessages []string
	// Info is an IRP refusal's InfoDtls (for 2150, the IRN already issued).
	Info json.RawMessage
}

// Script makes the simulator answer e-Way Bill and IRP calls from replies, in
// order, instead of from its own state; logins are still its own. A call that
// does not match the next reply (or comes when none is left) is answered with
// NIC's error 100 (IRP: the simulator's 2000) and noted for Mismatches. Script(nil) restores the simulator's own
// behaviour and clears the notes.
func (s *Server) Script(replies []Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append([]Reply(nil), replies...)
	s.scriptOn = replies != nil
	if replies == nil {
		s.mismatches = nil
	}
}

// Mismatches lists the calls the script did not expect (ScriptLeft counts the
// replies no call has asked for).
func (s *Server) Mismatches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mismatches...)
}

// ScriptLeft reports how many scripted replies no call has asked for yet.
func (s *Server) ScriptLeft() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
}

// scripted answers a call from the script; ok is false when no script is set.
func (s *Server) scripted(method, action string, js []byte, query map[string][]string) (reply Reply, ok bool, mismatch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.scriptOn {
		return Reply{}, false, ""
	}
	if len(s.script) == 0 {
		m := fmt.Sprintf("%s %s: no recorded exchange left", method, action)
		s.mismatches = append(s.mismatches, m)
		return Reply{}, true, m
	}
	r := s.script[0]
	s.script = s.script[1:]
	switch {
	case r.Method != method || r.Action != action:
		mismatch = fmt.Sprintf("%s %s: the recording expects %s %s", method, action, r.Method, r.Action)
	case len(r.Request) > 0 && !sameJSON(r.Request, js):
		mismatch = fmt.Sprintf("%s %s: the payload %s differs from the recorded %s", method, action, js, r.Request)
	}
	for k, v := range r.Query {
		if got := query[k]; len(got) != 1 || got[0] != v {
			mismatch = fmt.Sprintf("%s %s: query %s=%q, the recording has %q", method, action, k, got, v)
		}
	}
	if mismatch != "" {
		s.mismatches = append(s.mismatches, mismatch)
	}
	return r, true, mismatch
}

func sameJSON(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(normNumbers(x), normNumbers(y))
}

// normNumbers makes 1 and 1.0 equal.
func normNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return f
		}
		return string(t)
	case map[string]any:
		for k, e := range t {
			t[k] = normNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normNumbers(e)
		}
	}
	return v
}

func (s *Server) ewbWrite(w http.ResponseWriter, r *http.Request) {
	ss := s.session(w, "ewb", r.Header.Get("authtoken"), r.Header.Get("gstin"))
	if ss == nil {
		return
	}
	var body struct {
		Action string `json:"action"`
		Data   string `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&body); err != nil {
		ewbError(w, "100")
		return
	}
	js, err := nic.Open(ss.sek, body.Data)
	if err != nil {
		ewbError(w, "109")
		return
	}
	if reply, ok, mismatch := s.scripted(http.MethodPost, body.Action, js, nil); ok {
		switch {
		case mismatch != "":
			ewbError(w, "100")
		case reply.ErrorCodes != "":
			ewbError(w, reply.ErrorCodes)
		default:
			s.sealed(w, ss, reply.Data)
		}
		return
	}
	var resp any
	var codes string
	switch body.Action {
	case "GENEWAYBILL":
		resp, codes = s.generate(ss, js)
	case "VEHEWB":
		resp, codes = s.updateVehicle(ss, js)
	case "EXTENDVALIDITY":
		resp, codes = s.extend(ss, js)
	case "CANEWB":
		resp, codes = s.cancel(ss, js)
	default:
		codes = "239"
	}
	if codes != "" {
		ewbError(w, codes)
		return
	}
	out, _ := json.Marshal(resp)
	s.sealed(w, ss, out)
}

// sealed answers a write's success: data sealed with the session key.
func (s *Server) sealed(w http.ResponseWriter, ss *session, js []byte) {
	data, err := nic.Seal(ss.sek, js, nic.LayerBase64JSON)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"status": "1", "data": data})
}

// validity is the simulator's rule for how long a bill with Part-B lives: a
// day per started 200 km (at least one), ending at 23:59:00 India time, as
// NIC's answers show validUpto.
func validity(from time.Time, km int) time.Time {
	days := (km + 199) / 200
	if days < 1 {
		days = 1
	}
	d := from.In(ist).AddDate(0, 0, days)
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 0, 0, ist)
}

func (s *Server) generate(ss *session, js []byte) (any, string) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, "100"
	}
	str := func(k string) string { v, _ := doc[k].(string); return v }
	docNo := str("docNo")
	switch {
	case !docNoRE.MatchString(docNo):
		return nil, "206"
	case str("fromGstin") == "":
		return nil, "208"
	}
	if items, _ := doc["itemList"].([]any); len(items) == 0 {
		return nil, "233"
	}
	var dist nic.Digits
	if raw, err := json.Marshal(doc["transDistance"]); err == nil {
		_ = json.Unmarshal(raw, &dist)
	}
	km, _ := dist.Int()
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	dk := ss.gstin + "|" + str("docType") + "|" + docNo
	if _, dup := s.docs[dk]; dup {
		return nil, "604"
	}
	s.nextEWB++
	no := fmt.Sprintf("%d", s.nextEWB)
	s.docs[dk] = no
	// NIC starts the validity with Part-B; the simulator starts it at once, so a
	// bill generated without a vehicle can be extended in tests too.
	e := &ewb{gstin: ss.gstin, doc: doc, generated: now, distance: km, status: "ACT", vehicle: str("vehicleNo"), valid: validity(now, km)}
	if str("vehicleNo") != "" || str("transDocNo") != "" {
		e.addPartB(now, ss.gstin, str("fromPlace"), doc["fromStateCode"], str("transMode"), str("vehicleNo"), str("transDocNo"), str("transDocDate"), str("vehicleType"))
	}
	doc["ewbNo"] = s.nextEWB
	doc["ewayBillDate"] = fmtNIC(now)
	doc["genMode"] = "API"
	doc["userGstin"] = ss.gstin
	s.ewbs[no] = e
	e.sync()
	return map[string]any{"ewayBillNo": json.Number(no), "ewayBillDate": fmtNIC(now), "validUpto": fmtNIC(e.valid), "alert": ""}, ""
}

// addPartB records a Part-B entry as GetEwayBill lists it in VehiclListDetails
// (field names as public clients read them), newest first.
func (e *ewb) addPartB(at time.Time, gstin, fromPlace string, fromState any, mode, vehicle, docNo, docDate, vehicleType string) {
	entry := map[string]any{"updMode": "API", "vehicleNo": vehicle, "fromPlace": fromPlace, "fromState": fromState,
		"tripshtNo": 0, "userGSTINTransin": gstin, "enteredDate": fmtNIC(at), "transMode": mode,
		"transDocNo": docNo, "transDocDate": docDate, "vehicleType": vehicleType, "groupNo": "0"}
	e.partB = append([]map[string]any{entry}, e.partB...)
}

// sync writes the bill's state into its GetEwayBill document.
func (e *ewb) sync() {
	if len(e.partB) > 0 {
		e.doc["VehiclListDetails"] = e.partB
	}
	e.doc["status"] = e.status
	if !e.valid.IsZero() {
		e.doc["validUpto"] = fmtNIC(e.valid)
	}
	if e.vehicle != "" {
		e.doc["vehicleNo"] = e.vehicle
	}
	e.doc["extendedTimes"] = e.extended
}

// ownBill finds a bill the caller may change, or NIC's code for why not:
// 301 not a 12-digit number, 312 not the caller's or cancelled.
func (s *Server) ownBill(ss *session, no nic.Digits) (*ewb, string) {
	if len(no) != 12 || strings.Trim(string(no), "0123456789") != "" {
		return nil, "301"
	}
	e := s.ewbs[string(no)]
	if e == nil || e.gstin != ss.gstin || e.status != "ACT" {
		return nil, "312"
	}
	return e, ""
}

func (s *Server) updateVehicle(ss *session, js []byte) (any, string) {
	var req struct {
		EwbNo        nic.Digits `json:"ewbNo"`
		VehicleNo    string     `json:"vehicleNo"`
		FromPlace    string     `json:"fromPlace"`
		FromState    nic.Digits `json:"fromState"`
		ReasonCode   nic.Digits `json:"reasonCode"`
		TransDocNo   string     `json:"transDocNo"`
		TransDocDate string     `json:"transDocDate"`
		TransMode    nic.Digits `json:"transMode"`
		VehicleType  string     `json:"vehicleType"`
	}
	if err := json.Unmarshal(js, &req); err != nil {
		return nil, "100"
	}
	mode, _ := req.TransMode.Int()
	rc, _ := req.ReasonCode.Int()
	switch {
	case mode < 1 || mode > 4:
		return nil, "302"
	case mode == 1 && req.VehicleNo == "":
		return nil, "303"
	case mode != 1 && req.TransDocNo == "":
		return nil, "394"
	case req.FromPlace == "":
		return nil, "305"
	case rc < 1 || rc > 4:
		return nil, "307"
	}
	st, ok := req.FromState.Int()
	if !ok || st < 1 || st > 99 {
		return nil, "306"
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, code := s.ownBill(ss, req.EwbNo)
	if code != "" {
		return nil, code
	}
	if !e.valid.IsZero() && !now.Before(e.valid) {
		return nil, "311"
	}
	e.vehicle = req.VehicleNo
	e.addPartB(now, ss.gstin, req.FromPlace, st, string(req.TransMode), req.VehicleNo, req.TransDocNo, req.TransDocDate, req.VehicleType)
	e.sync()
	return map[string]any{"vehUpdDate": fmtNIC(now), "validUpto": fmtNIC(e.valid)}, ""
}

func (s *Server) extend(ss *session, js []byte) (any, string) {
	var req struct {
		EwbNo             nic.Digits `json:"ewbNo"`
		VehicleNo         string     `json:"vehicleNo"`
		FromPlace         string     `json:"fromPlace"`
		FromState         nic.Digits `json:"fromState"`
		RemainingDistance nic.Digits `json:"remainingDistance"`
		TransDocNo        string     `json:"transDocNo"`
		TransDocDate      string     `json:"transDocDate"`
		TransMode         nic.Digits `json:"transMode"`
		ExtnRsnCode       nic.Digits `json:"extnRsnCode"`
		ExtnRemarks       string     `json:"extnRemarks"`
		ConsignmentStatus string     `json:"consignmentStatus"`
		TransitType       string     `json:"transitType"`
	}
	if err := json.Unmarshal(js, &req); err != nil {
		return nil, "100"
	}
	mode, _ := req.TransMode.Int()
	remaining, ok := req.RemainingDistance.Int()
	switch {
	case !ok:
		return nil, "389"
	case req.ExtnRsnCode == "" || req.ExtnRemarks == "":
		return nil, "386"
	case req.FromPlace == "":
		return nil, "305"
	case mode < 1 || mode > 5:
		return nil, "302"
	case mode == 1 && req.VehicleNo == "":
		return nil, "303"
	case mode >= 2 && mode <= 4 && req.TransDocNo == "":
		return nil, "394"
	case (mode == 5) != (req.ConsignmentStatus == "T"), mode != 5 && req.TransitType != "":
		return nil, "100" // the simulator's choice: NIC's code for a bad consignment status is not public
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(req.EwbNo) != 12 || strings.Trim(string(req.EwbNo), "0123456789") != "" {
		return nil, "301"
	}
	e := s.ewbs[string(req.EwbNo)]
	switch {
	case e == nil || e.gstin != ss.gstin:
		return nil, "384"
	case e.status == "CNL":
		return nil, "379"
	case e.valid.IsZero():
		return nil, "381"
	case now.Before(e.valid.Add(-8*time.Hour)) || now.After(e.valid.Add(8*time.Hour)):
		return nil, "382"
	case remaining > e.distance:
		return nil, "390"
	}
	from := e.valid
	if now.After(from) {
		from = now
	}
	e.valid = validity(from, remaining)
	e.extended++
	if req.VehicleNo != "" {
		e.vehicle = req.VehicleNo
	}
	if req.VehicleNo != "" || req.TransDocNo != "" {
		st, _ := req.FromState.Int()
		e.addPartB(now, ss.gstin, req.FromPlace, st, string(req.TransMode), req.VehicleNo, req.TransDocNo, req.TransDocDate, "")
	}
	e.sync()
	return map[string]any{"ewayBillNo": string(req.EwbNo), "updatedDate": fmtNIC(now), "validUpto": fmtNIC(e.valid)}, ""
}

func (s *Server) cancel(ss *session, js []byte) (any, string) {
	var req struct {
		EwbNo         nic.Digits `json:"ewbNo"`
		CancelRsnCode nic.Digits `json:"cancelRsnCode"`
		CancelRmrk    string     `json:"cancelRmrk"`
	}
	if err := json.Unmarshal(js, &req); err != nil {
		return nil, "100"
	}
	if rc, ok := req.CancelRsnCode.Int(); !ok || rc < 1 || rc > 4 {
		return nil, "307"
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, code := s.ownBill(ss, req.EwbNo)
	if code != "" {
		return nil, code
	}
	if now.Sub(e.generated) > 24*time.Hour {
		return nil, "315"
	}
	e.status = "CNL"
	e.sync()
	return map[string]any{"ewayBillNo": json.Number(req.EwbNo), "cancelDate": fmtNIC(now)}, ""
}

// ewbGSTIN answers GetGSTINDetails: the caller's own GSTIN, and the parties
// of the bills generated here, as NIC's v1.03 page shapes the answer (status
// ACT, not blocked); a GSTIN the simulator has not met is 325 (could not
// retrieve data: the simulator's choice, NIC documents no code for it).
func (s *Server) ewbGSTIN(w http.ResponseWriter, r *http.Request, ss *session) []byte {
	gstin := r.URL.Query().Get("GSTIN")
	found := map[string]any(nil)
	if gstin == ss.gstin {
		found = map[string]any{"legalName": ss.username, "stateCode": gstin[:2]}
	}
	s.mu.Lock()
	for _, e := range s.ewbs {
		for _, side := range []string{"from", "to"} {
			if e.doc[side+"Gstin"] == gstin {
				found = map[string]any{"legalName": e.doc[side+"TrdName"], "tradeName": e.doc[side+"TrdName"],
					"address1": e.doc[side+"Addr1"], "address2": e.doc[side+"Addr2"],
					"stateCode": e.doc[side+"StateCode"], "pinCode": e.doc[side+"Pincode"]}
			}
		}
	}
	s.mu.Unlock()
	if found == nil {
		ewbError(w, "325")
		return nil
	}
	found["gstin"], found["txpType"], found["status"], found["blkStatus"] = gstin, "REG", "ACT", ""
	js, _ := json.Marshal(found)
	return js
}

// ewbRead serves an e-Way Bill read (GET) named method: from the script when
// one is set, else from own, the simulator's state, which returns the data to
// seal or writes NIC's refusal and returns nil. The data goes sealed under a
// fresh REK, as NIC answers reads.
func (s *Server) ewbRead(method string, own func(w http.ResponseWriter, r *http.Request, ss *session) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := s.session(w, "ewb", r.Header.Get("authtoken"), r.Header.Get("gstin"))
		if ss == nil {
			return
		}
		var js []byte
		if reply, ok, mismatch := s.scripted(http.MethodGet, method, nil, r.URL.Query()); ok {
			switch {
			case mismatch != "":
				ewbError(w, "100")
				return
			case reply.ErrorCodes != "":
				ewbError(w, reply.ErrorCodes)
				return
			}
			js = reply.Data
		} else if js = own(w, r, ss); js == nil {
			return
		}
		s.sealedREK(w, ss, js)
	}
}

// sealedREK answers a read: its data sealed under a fresh REK, itself sealed
// with the session key, and the data's HMAC.
func (s *Server) sealedREK(w http.ResponseWriter, ss *session, js []byte) {
	rek := make([]byte, nic.KeySize)
	if _, err := rand.Read(rek); err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	enc, err := nic.SealREK(ss.sek, rek, js)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"status": "1", "data": enc.Data, "rek": enc.Rek, "hmac": enc.HMAC})
}

// ewbGet answers GetEwayBill from the simulator's bills: 301 for a number
// that is not 12 digits, 325 for a bill it does not hold for the caller.
func (s *Server) ewbGet(w http.ResponseWriter, r *http.Request, ss *session) []byte {
	no := r.URL.Query().Get("ewbNo")
	if len(no) != 12 || strings.Trim(no, "0123456789") != "" {
		ewbError(w, "301")
		return nil
	}
	s.mu.Lock()
	var js []byte
	e := s.ewbs[no]
	if e != nil {
		js, _ = json.Marshal(e.doc)
	}
	s.mu.Unlock()
	if e == nil || e.gstin != ss.gstin {
		ewbError(w, "325")
		return nil
	}
	return js
}

// --- e-Invoice ---

// irpSession finds an IRP call's session, or answers NIC's refusal.
func (s *Server) irpSession(w http.ResponseWriter, r *http.Request) *session {
	ss := s.session(w, "irp", r.Header.Get("AuthToken"), r.Header.Get("Gstin"))
	if ss == nil {
		return nil
	}
	if r.Header.Get("user_name") != ss.username {
		irpError(w, "1005", "Invalid Token") // NIC ties the token to the user_name header
		return nil
	}
	return ss
}

// irpOpen reads an IRP write's {"Data": ...} and opens it with the session key.
func (s *Server) irpOpen(w http.ResponseWriter, r *http.Request, ss *session) ([]byte, bool) {
	var body struct {
		Data string `json:"Data"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&body); err != nil {
		irpError(w, "2000", "Invalid JSON")
		return nil, false
	}
	js, err := nic.Open(ss.sek, body.Data)
	if err != nil {
		irpError(w, "2000", "Decryption of data failed")
		return nil, false
	}
	return js, true
}

// irpScripted answers an IRP call from the script, when one is set.
func (s *Server) irpScripted(w http.ResponseWriter, r *http.Request, ss *session, js []byte) bool {
	reply, ok, mismatch := s.scripted(r.Method, r.URL.Path, js, r.URL.Query())
	if !ok {
		return false
	}
	switch {
	case mismatch != "":
		irpError(w, "2000", "simulator: the request differs from the recorded exchange")
	case reply.ErrorCodes != "":
		irpErrors(w, reply.ErrorCodes, reply.ErrorMessages, reply.Info)
	default:
		s.irpSealed(w, ss, reply.Data)
	}
	return true
}

// irnOf finds a registered invoice by its IRN, with the GSTIN it was
// registered for. The caller holds s.mu.
func (s *Server) irnOf(irn string) (map[string]any, string) {
	for key, inv := range s.irns {
		if inv["Irn"] == irn {
			gstin, _, _ := strings.Cut(key, "|")
			return inv, gstin
		}
	}
	return nil, ""
}

func (s *Server) irpCancel(w http.ResponseWriter, r *http.Request) {
	ss := s.irpSession(w, r)
	if ss == nil {
		return
	}
	js, ok := s.irpOpen(w, r, ss)
	if !ok || s.irpScripted(w, r, ss, js) {
		return
	}
	var req struct{ Irn, CnlRsn, CnlRem string }
	if err := json.Unmarshal(js, &req); err != nil || len(req.Irn) != 64 {
		irpError(w, "2000", "Invalid cancel JSON")
		return
	}
	now := s.opts.Now().In(ist)
	s.mu.Lock()
	inv, gstin := s.irnOf(req.Irn)
	var code, msg string
	switch {
	case inv == nil || gstin != ss.gstin:
		code, msg = "2143", "Invoice does not belongs to the user GSTIN"
	case inv["Status"] != "ACT":
		code, msg = "9999", "Invoice is not active"
	default:
		if at, err := time.ParseInLocation("2006-01-02 15:04:05", inv["AckDt"].(string), ist); err == nil && now.Sub(at) > 24*time.Hour {
			code, msg = "2270", "The allowed cancellation time limit is crossed, you cannot cancel the IRN"
		}
	}
	if code == "" {
		inv["Status"] = "CNL"
	}
	s.mu.Unlock()
	if code != "" {
		irpError(w, code, msg)
		return
	}
	out, _ := json.Marshal(map[string]any{"Irn": req.Irn, "CancelDate": now.Format("2006-01-02 15:04:05")})
	s.irpSealed(w, ss, out)
}

func (s *Server) irpGetIRN(w http.ResponseWriter, r *http.Request) {
	s.irpRead(w, r, func(ss *session) map[string]any {
		if inv, gstin := s.irnOf(r.PathValue("irn")); gstin == ss.gstin {
			return inv
		}
		return nil
	})
}

func (s *Server) irpFind(w http.ResponseWriter, r *http.Request) {
	s.irpRead(w, r, func(ss *session) map[string]any {
		q := r.URL.Query()
		return s.irns[ss.gstin+"|"+strings.ToUpper(q.Get("doctype"))+"|"+strings.ToUpper(q.Get("docnum"))]
	})
}

// irpRead answers an IRP read with the invoice find returns (called under
// s.mu; nil for none, which is NIC's 2148), sealed for the caller's session.
func (s *Server) irpRead(w http.ResponseWriter, r *http.Request, find func(ss *session) map[string]any) {
	ss := s.irpSession(w, r)
	if ss == nil || s.irpScripted(w, r, ss, nil) {
		return
	}
	s.mu.Lock()
	var out []byte
	if inv := find(ss); inv != nil {
		out, _ = json.Marshal(inv)
	}
	s.mu.Unlock()
	if out == nil {
		irpError(w, "2148", "Requested IRN data is not available")
		return
	}
	s.irpSealed(w, ss, out)
}

func (s *Server) irpInvoice(w http.ResponseWriter, r *http.Request) {
	ss := s.irpSession(w, r)
	if ss == nil {
		return
	}
	js, ok := s.irpOpen(w, r, ss)
	if !ok || s.irpScripted(w, r, ss, js) {
		return
	}
	var inv struct {
		SellerDtls struct{ Gstin string }       `json:"SellerDtls"`
		BuyerDtls  struct{ Gstin string }       `json:"BuyerDtls"`
		DocDtls    struct{ Typ, No, Dt string } `json:"DocDtls"`
		ItemList   []struct {
			HsnCd string `json:"HsnCd"`
		} `json:"ItemList"`
		ValDtls struct {
			TotInvVal float64 `json:"TotInvVal"`
		} `json:"ValDtls"`
	}
	if err := json.Unmarshal(js, &inv); err != nil || inv.DocDtls.No == "" {
		irpError(w, "2000", "Invalid invoice JSON")
		return
	}
	if inv.SellerDtls.Gstin == "" {
		irpError(w, "2155", "Supplier GSTIN is required")
		return
	}
	now := s.opts.Now().In(ist)
	key := ss.gstin + "|" + strings.ToUpper(inv.DocDtls.Typ) + "|" + strings.ToUpper(inv.DocDtls.No)
	s.mu.Lock()
	if prev := s.irns[key]; prev != nil && r.URL.Path == IRPInvoiceV103Path {
		s.mu.Unlock()
		info, _ := json.Marshal([]map[string]any{{"InfCd": "DUPIRN", "Desc": map[string]any{
			"AckNo": prev["AckNo"], "AckDt": prev["AckDt"], "Irn": prev["Irn"]}}})
		irpErrors(w, "2150", []string{"Duplicate IRN"}, info)
		return
	}
	s.nextAck++
	ack := s.nextAck
	sum := sha256.Sum256([]byte(inv.SellerDtls.Gstin + inv.DocDtls.No + inv.DocDtls.Typ))
	irn := hex.EncodeToString(sum[:])
	ackDt := now.Format("2006-01-02 15:04:05")
	hsn := ""
	if len(inv.ItemList) > 0 {
		hsn = inv.ItemList[0].HsnCd
	}
	qr, _ := json.Marshal(map[string]any{"SellerGstin": inv.SellerDtls.Gstin, "BuyerGstin": inv.BuyerDtls.Gstin,
		"DocNo": inv.DocDtls.No, "DocTyp": inv.DocDtls.Typ, "DocDt": inv.DocDtls.Dt, "TotInvVal": inv.ValDtls.TotInvVal,
		"ItemCnt": len(inv.ItemList), "MainHsnCode": hsn, "Irn": irn, "IrnDt": ackDt})
	signedInv, _ := json.Marshal(map[string]any{"AckNo": ack, "AckDt": ackDt, "Irn": irn, "Invoice": json.RawMessage(js)})
	resp := map[string]any{"AckNo": ack, "AckDt": ackDt, "Irn": irn,
		"SignedInvoice": s.jws(map[string]any{"data": string(signedInv), "iss": "NIC"}),
		"SignedQRCode":  s.jws(map[string]any{"data": string(qr), "iss": "NIC"}),
		"Status":        "ACT", "EwbNo": nil, "EwbDt": nil, "EwbValidTill": nil, "Remarks": nil}
	s.irns[key] = resp
	s.mu.Unlock()
	out, _ := json.Marshal(resp)
	s.irpSealed(w, ss, out)
}

// irpSealed answers an IRP call's success: Data sealed with the session key.
func (s *Server) irpSealed(w http.ResponseWriter, ss *session, js []byte) {
	data, err := nic.Seal(ss.sek, js, nic.LayerJSON)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"Status": 1, "Data": data, "ErrorDetails": nil, "InfoDtls": nil})
}

// jws signs claims as a compact RS256 JWS with the simulator's key, the shape
// of the IRP's SignedInvoice and SignedQRCode (NIC signs with its own key).
func (s *Server) jws(claims map[string]any) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, s.priv, crypto.SHA256, sum[:])
	if err != nil {
		return signing + "."
	}
	return signing + "." + enc.EncodeToString(sig)
}
