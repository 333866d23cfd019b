// Package nicsim is an in-process NIC simulator for tests: an httptest server that
// speaks the e-Way Bill v1.03 and e-Invoice (IRP) v1.04 session protocol with its own
// RSA key pair. It implements login for both systems, the GENEWAYBILL write, the
// GetEwayBill read (REK + HMAC), a minimal IRP Generate IRN, and NIC's error shapes,
// and it counts logins so tests can prove caching and the login-rate guard.
//
// It is test support: it keeps everything in memory, checks only what the tests
// need, and must never be used as a real endpoint.
package nicsim

import (
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
	// IRPInvoicePath is the IRP Generate IRN path under URL.
	IRPInvoicePath = "/eicore/v1.04/Invoice"
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
	gstin string
	doc   map[string]any
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
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+EWBBase+"/auth/", s.ewbAuth)
	mux.HandleFunc("POST "+EWBBase+"/ewayapi/", s.ewbWrite)
	mux.HandleFunc("GET "+EWBBase+"/ewayapi/GetEwayBill", s.ewbGet)
	mux.HandleFunc("POST "+IRPAuthPath, s.irpAuth)
	mux.HandleFunc("POST "+IRPInvoicePath, s.irpInvoice)
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
	ist := time.FixedZone("IST", 5*3600+1800)
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

const nicTime = "02/01/2006 03:04:05 PM"

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
	if body.Action != "GENEWAYBILL" {
		ewbError(w, "239")
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		ewbError(w, "100")
		return
	}
	str := func(k string) string { v, _ := doc[k].(string); return v }
	docNo := str("docNo")
	switch {
	case !docNoRE.MatchString(docNo):
		ewbError(w, "206")
		return
	case str("fromGstin") == "":
		ewbError(w, "208")
		return
	}
	if items, _ := doc["itemList"].([]any); len(items) == 0 {
		ewbError(w, "233")
		return
	}
	now := s.opts.Now()
	s.mu.Lock()
	dk := ss.gstin + "|" + str("docType") + "|" + docNo
	if _, dup := s.docs[dk]; dup {
		s.mu.Unlock()
		ewbError(w, "604")
		return
	}
	s.nextEWB++
	no := fmt.Sprintf("%d", s.nextEWB)
	s.docs[dk] = no
	valid := now.Add(24 * time.Hour)
	doc["ewbNo"] = s.nextEWB
	doc["ewayBillDate"] = now.Format(nicTime)
	doc["validUpto"] = valid.Format(nicTime)
	doc["status"] = "ACT"
	doc["genMode"] = "API"
	doc["userGstin"] = ss.gstin
	s.ewbs[no] = &ewb{gstin: ss.gstin, doc: doc}
	s.mu.Unlock()
	resp, _ := json.Marshal(map[string]any{"ewayBillNo": json.Number(no), "ewayBillDate": now.Format(nicTime), "validUpto": valid.Format(nicTime), "alert": ""})
	data, err := nic.Seal(ss.sek, resp, nic.LayerBase64JSON)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"status": "1", "data": data})
}

func (s *Server) ewbGet(w http.ResponseWriter, r *http.Request) {
	ss := s.session(w, "ewb", r.Header.Get("authtoken"), r.Header.Get("gstin"))
	if ss == nil {
		return
	}
	no := r.URL.Query().Get("ewbNo")
	if len(no) != 12 || strings.Trim(no, "0123456789") != "" {
		ewbError(w, "301")
		return
	}
	s.mu.Lock()
	e := s.ewbs[no]
	var js []byte
	if e != nil {
		js, _ = json.Marshal(e.doc)
	}
	s.mu.Unlock()
	if e == nil || e.gstin != ss.gstin {
		ewbError(w, "325")
		return
	}
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

// --- e-Invoice ---

func (s *Server) irpInvoice(w http.ResponseWriter, r *http.Request) {
	ss := s.session(w, "irp", r.Header.Get("AuthToken"), r.Header.Get("Gstin"))
	if ss == nil {
		return
	}
	var body struct {
		Data string `json:"Data"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&body); err != nil {
		irpError(w, "2000", "Invalid JSON")
		return
	}
	js, err := nic.Open(ss.sek, body.Data)
	if err != nil {
		irpError(w, "2000", "Decryption of data failed")
		return
	}
	var inv struct {
		SellerDtls struct{ Gstin string }       `json:"SellerDtls"`
		DocDtls    struct{ Typ, No, Dt string } `json:"DocDtls"`
	}
	if err := json.Unmarshal(js, &inv); err != nil || inv.DocDtls.No == "" {
		irpError(w, "2000", "Invalid invoice JSON")
		return
	}
	sum := sha256.Sum256([]byte(inv.SellerDtls.Gstin + inv.DocDtls.No + inv.DocDtls.Typ))
	now := s.opts.Now()
	resp, _ := json.Marshal(map[string]any{"AckNo": now.UnixNano() % 1e15, "AckDt": now.Format("2006-01-02 15:04:05"),
		"Irn": hex.EncodeToString(sum[:]), "Status": "ACT", "SignedInvoice": "", "SignedQRCode": ""})
	data, err := nic.Seal(ss.sek, resp, nic.LayerJSON)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"Status": 1, "Data": data})
}
