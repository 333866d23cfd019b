package odata_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The simulator is an OData service answering in the documented v2 (SAP Gateway)
// and v4 (OASIS JSON format) shapes: paged collections with __next/@odata.nextLink
// and counts, entities with ETags, MERGE/PATCH with If-Match, SAP's CSRF token
// bound to a session cookie, and OData error bodies.

const (
	v2Root   = "/sap/opu/odata/sap/API_TEST_SRV"
	v4Root   = "/odata/v4"
	pageSize = 3
)

type simOrder struct {
	ID       string `json:"ID"`
	Customer string `json:"Customer"`
	Amount   string `json:"Amount"`
	version  int
}

type sim struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	orders      []*simOrder
	sessions    map[string]string // session cookie -> CSRF token
	nextSession int
	fetches     int            // CSRF token fetches
	tunneled    int            // POSTs carrying X-HTTP-Method
	requests    map[string]int // "METHOD path" -> count
	rawQueries  []string       // raw query of every collection GET
	authHeaders []string       // Authorization of every request
	rejectAll   bool           // answer every modifying request with 403 Required
	csrfOn      bool
	nextHost    string // when set, v4 Evil collection links here
}

func newSim(t *testing.T) *sim {
	s := &sim{t: t, sessions: map[string]string{}, requests: map[string]int{}, csrfOn: true}
	for i := 1; i <= 7; i++ {
		s.orders = append(s.orders, &simOrder{ID: strconv.Itoa(i), Customer: fmt.Sprintf("C%d", i%3), Amount: fmt.Sprintf("%d.50", i*10), version: 1})
	}
	s.orders[6].Customer = "O'Neil & Sons"
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sim) stats() (fetches, tunneled, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.requests {
		total += n
	}
	return s.fetches, s.tunneled, total
}

func (s *sim) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

func (s *sim) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	method := r.Method
	if o := r.Header.Get("X-HTTP-Method"); o != "" && method == http.MethodPost {
		method = o
		s.tunneled++
	}
	s.requests[method+" "+r.URL.Path]++
	s.authHeaders = append(s.authHeaders, r.Header.Get("Authorization"))
	_, _ = io.Copy(io.Discard, r.Body)

	var v4 bool
	var rest string
	switch {
	case strings.HasPrefix(r.URL.Path, v2Root):
		rest = strings.TrimPrefix(r.URL.Path, v2Root)
	case strings.HasPrefix(r.URL.Path, v4Root):
		rest, v4 = strings.TrimPrefix(r.URL.Path, v4Root), true
	default:
		http.NotFound(w, r)
		return
	}
	if strings.EqualFold(r.Header.Get("X-CSRF-Token"), "fetch") {
		s.fetches++
		s.nextSession++
		sess := fmt.Sprintf("sess%d", s.nextSession)
		tok := fmt.Sprintf("tok%d", s.nextSession)
		s.sessions[sess] = tok
		http.SetCookie(w, &http.Cookie{Name: "SAP_SESSIONID_TST_100", Value: sess, Path: "/"})
		w.Header().Set("X-CSRF-Token", tok)
	}
	if method != http.MethodGet && s.csrfOn {
		ck, err := r.Cookie("SAP_SESSIONID_TST_100")
		if s.rejectAll || err != nil || s.sessions[ck.Value] == "" || s.sessions[ck.Value] != r.Header.Get("X-CSRF-Token") {
			w.Header().Set("X-CSRF-Token", "Required")
			s.writeError(w, v4, http.StatusForbidden, "403", "CSRF token validation failed")
			return
		}
	}
	switch {
	case rest == "" || rest == "/":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"d":{"EntitySets":["Orders"]}}`)
	case rest == "/Orders" && method == http.MethodGet:
		s.list(w, r, v4)
	case rest == "/Orders" && method == http.MethodPost:
		s.create(w, r, v4)
	case strings.HasPrefix(rest, "/Orders("):
		s.entity(w, r, method, v4, strings.TrimSuffix(strings.TrimPrefix(rest, "/Orders("), ")"))
	case rest == "/Errors":
		s.errorAnswer(w, r)
	case rest == "/Big":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"value":[{"Pad":"`+strings.Repeat("x", 4096)+`"}]}`)
	case rest == "/Slow":
		s.mu.Unlock()
		<-r.Context().Done() // hang until the client gives up
		s.mu.Lock()
	case rest == "/Evil":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"value": []any{map[string]string{"ID": "1"}}, "@odata.nextLink": s.nextHost + v4Root + "/Evil?$skiptoken=1"})
	case rest == "/Loop":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"value":[{"ID":"1"}],"@odata.nextLink":"Loop"}`)
	default:
		s.writeError(w, v4, http.StatusNotFound, "/IWBEP/CM_MGW_RT/020", "Resource not found for segment '"+rest+"'")
	}
}

// list answers a collection GET, honouring $filter "Customer eq '...'", $top,
// $skiptoken (server-driven paging) and the count options.
func (s *sim) list(w http.ResponseWriter, r *http.Request, v4 bool) {
	s.rawQueries = append(s.rawQueries, r.URL.RawQuery)
	q := r.URL.Query()
	var match []*simOrder
	for _, o := range s.orders {
		if f := q.Get("$filter"); f != "" {
			want, ok := parseEqFilter(f)
			if !ok {
				s.writeError(w, v4, http.StatusBadRequest, "BadFilter", "Invalid filter expression: '"+f+"'")
				return
			}
			if o.Customer != want {
				continue
			}
		}
		match = append(match, o)
	}
	total := len(match)
	if top := q.Get("$top"); top != "" {
		n, _ := strconv.Atoi(top)
		if n < len(match) {
			match = match[:n]
		}
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	if skip > len(match) {
		skip = len(match)
	}
	end := min(skip+pageSize, len(match))
	page := match[skip:end]
	next := ""
	if end < len(match) {
		nq := url.Values{}
		for k, v := range q {
			if k != "$skiptoken" {
				nq[k] = v
			}
		}
		nq.Set("$skiptoken", strconv.Itoa(end))
		if v4 {
			next = "Orders?" + nq.Encode() // relative, as v4 allows
		} else {
			next = s.srv.URL + v2Root + "/Orders?" + nq.Encode() // absolute, as SAP sends
		}
	}
	items := make([]map[string]any, 0, len(page))
	for _, o := range page {
		items = append(items, s.render(o, v4))
	}
	var body map[string]any
	if v4 {
		body = map[string]any{"@odata.context": "$metadata#Orders", "value": items}
		if next != "" {
			body["@odata.nextLink"] = next
		}
		if q.Get("$count") == "true" {
			body["@odata.count"] = total
		}
	} else {
		d := map[string]any{"results": items}
		if next != "" {
			d["__next"] = next
		}
		if q.Get("$inlinecount") == "allpages" {
			d["__count"] = strconv.Itoa(total)
		}
		body = map[string]any{"d": d}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// parseEqFilter reads "Customer eq 'text'" with ” as an escaped quote.
func parseEqFilter(f string) (string, bool) {
	const prefix = "Customer eq '"
	if !strings.HasPrefix(f, prefix) || !strings.HasSuffix(f, "'") || len(f) < len(prefix)+1 {
		return "", false
	}
	lit := f[len(prefix) : len(f)-1]
	var b strings.Builder
	for i := 0; i < len(lit); i++ {
		if lit[i] == '\'' {
			if i+1 >= len(lit) || lit[i+1] != '\'' {
				return "", false // an unpaired quote would end the literal: injection
			}
			i++
		}
		b.WriteByte(lit[i])
	}
	return b.String(), true
}

func (s *sim) etag(o *simOrder) string { return fmt.Sprintf(`W/"%d"`, o.version) }

func (s *sim) render(o *simOrder, v4 bool) map[string]any {
	m := map[string]any{"ID": o.ID, "Customer": o.Customer, "Amount": o.Amount}
	if v4 {
		m["@odata.etag"] = s.etag(o)
	} else {
		m["__metadata"] = map[string]any{"uri": s.srv.URL + v2Root + "/Orders('" + o.ID + "')", "type": "API_TEST_SRV.Order", "etag": s.etag(o)}
	}
	return m
}

func (s *sim) find(key string) *simOrder {
	id := strings.Trim(key, "'")
	for _, o := range s.orders {
		if o.ID == id {
			return o
		}
	}
	return nil
}

func (s *sim) writeEntity(w http.ResponseWriter, status int, o *simOrder, v4 bool, header bool) {
	w.Header().Set("Content-Type", "application/json")
	if header {
		w.Header().Set("ETag", s.etag(o))
	}
	w.WriteHeader(status)
	var body any = s.render(o, v4)
	if !v4 {
		body = map[string]any{"d": body}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *sim) entity(w http.ResponseWriter, r *http.Request, method string, v4 bool, key string) {
	o := s.find(key)
	if o == nil {
		s.writeError(w, v4, http.StatusNotFound, "/IWBEP/CM_MGW_RT/020", "Resource not found for segment 'Order'")
		return
	}
	switch method {
	case http.MethodGet:
		s.writeEntity(w, http.StatusOK, o, v4, r.URL.Query().Get("noheader") == "")
	case "MERGE", http.MethodPatch:
		if (method == "MERGE") == v4 {
			s.writeError(w, v4, http.StatusMethodNotAllowed, "405", "method not allowed")
			return
		}
		if im := r.Header.Get("If-Match"); im == "" {
			s.writeError(w, v4, http.StatusPreconditionRequired, "/IWBEP/CM_MGW_RT/098", "Operation requires an If-Match header")
			return
		} else if im != "*" && im != s.etag(o) {
			s.writeError(w, v4, http.StatusPreconditionFailed, "/IWBEP/CM_MGW_RT/022", "The Data Services Request could not be understood due to malformed syntax (ETag mismatch)")
			return
		}
		o.version++
		w.Header().Set("ETag", s.etag(o))
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		s.writeError(w, v4, http.StatusMethodNotAllowed, "405", "method not allowed")
	}
}

func (s *sim) create(w http.ResponseWriter, r *http.Request, v4 bool) {
	o := &simOrder{ID: strconv.Itoa(len(s.orders) + 1), Customer: "NEW", Amount: "0.00", version: 1}
	s.orders = append(s.orders, o)
	s.writeEntity(w, http.StatusCreated, o, v4, true)
}

func (s *sim) writeError(w http.ResponseWriter, v4 bool, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v4 {
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": map[string]string{"lang": "en", "value": msg}}})
}

// errorAnswer returns the status and body shape the query asks for.
func (s *sim) errorAnswer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, _ := strconv.Atoi(q.Get("status"))
	if ra := q.Get("retry"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	switch q.Get("shape") {
	case "v2":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"code":"SY/530","message":{"lang":"en","value":"Sales order 999 does not exist"},`+
			`"innererror":{"transactionid":"ABC","errordetails":[{"code":"V1/302","message":"Sales document 999 is not in the database or has been archived","severity":"error"}]}}}`)
	case "v4":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"code":"ValidationError","message":"One or more fields contain incorrect values","target":"CustomerAccount",`+
			`"details":[{"code":"MissingField","message":"CustomerAccount is required","target":"CustomerAccount"}]}}`)
	case "html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
	default:
		w.WriteHeader(status)
	}
}
