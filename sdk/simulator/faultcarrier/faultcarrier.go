// Package faultcarrier is a fake carrier API that misbehaves on demand, for the
// hub's fault-injection tests and benchmarks. It serves two operations in a small
// JSON shape and can be told, at run time and from any goroutine (or over HTTP at
// /_fault), to answer with 5xx storms, 429s with Retry-After, hangs, byte-by-byte
// dribbles, connection resets, malformed JSON or HTML error pages. It counts the
// requests it receives per path so tests can measure retry amplification.
//
// It imports nothing from the hub and not package testing, so the bench module
// can use it too.
//
// The API:
//
//	GET  /track/{number}  200 {"tracking_number":"...","status":"in_transit","events":[{"time":"...","code":"IT","description":"..."}]}
//	POST /shipments       201 {"tracking_number":"FC000001","label_url":"http://.../labels/FC000001.pdf"}
//	any other path        404 {"error":{"code":"NOT_FOUND","message":"..."}}
//
// Errors it injects carry {"error":{"code":"...","message":"..."}} (HTML for ModeHTML).
//
// The control endpoint takes the Fault fields as query parameters, e.g.
// /_fault?mode=error&fraction=0.5&status=502, /_fault?mode=rate_limit&retry_after=2s,
// /_fault?mode=dribble&delay=10ms, /_fault?latency=50ms, /_fault?mode=ok,
// /_fault?reset_counts=1; GET /_fault with no parameters reports the current
// fault and counts as JSON. Control requests are not counted.
package faultcarrier

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what the carrier does with the next requests.
type Mode string

// The modes.
const (
	// ModeOK answers normally.
	ModeOK Mode = "ok"
	// ModeError answers Fault.Fraction of requests (all when zero) with Fault.Status (503 when zero).
	ModeError Mode = "error"
	// ModeRateLimit answers 429 with a Retry-After of Fault.RetryAfter (1s when zero), in whole seconds.
	ModeRateLimit Mode = "rate_limit"
	// ModeHang never answers: the handler waits until the client goes away or the server closes.
	ModeHang Mode = "hang"
	// ModeDribble answers 200 but writes the body one byte at a time, Fault.Delay apart (10ms when zero).
	ModeDribble Mode = "dribble"
	// ModeReset drops the connection with a TCP reset, without an answer.
	ModeReset Mode = "reset"
	// ModeMalformed answers 200 with a body that is not valid JSON.
	ModeMalformed Mode = "malformed"
	// ModeHTML answers Fault.Status (502 when zero) with an HTML error page, as a proxy in front of a carrier would.
	ModeHTML Mode = "html"
)

var modes = map[Mode]bool{ModeOK: true, ModeError: true, ModeRateLimit: true, ModeHang: true,
	ModeDribble: true, ModeReset: true, ModeMalformed: true, ModeHTML: true}

// Fault describes the misbehaviour in force.
type Fault struct {
	// Mode is what to do; "" is ModeOK.
	Mode Mode `json:"mode"`
	// Fraction is the share of requests ModeError fails, between 0 and 1; 0 means all.
	Fraction float64 `json:"fraction,omitempty"`
	// Status is the HTTP status for ModeError and ModeHTML.
	Status int `json:"status,omitempty"`
	// RetryAfter is the wait ModeRateLimit asks for.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Delay is the pause between bytes in ModeDribble.
	Delay time.Duration `json:"delay,omitempty"`
}

// Paths the carrier counts requests on (Count's argument).
const (
	PathTrack     = "/track"
	PathShipments = "/shipments"
	PathOther     = "other"
)

// Carrier is the fake carrier's http.Handler. Its setters are safe to call from
// any goroutine while it serves.
type Carrier struct {
	mu      sync.RWMutex
	fault   Fault
	latency atomic.Int64
	stop    chan struct{}
	once    sync.Once
	seq     atomic.Int64

	track, shipments, other, errors atomic.Int64

	// next, when set, answers every request no fault is injected into, so a
	// provider's own simulator (Delhivery's, Blue Dart's) can sit behind the
	// faults and a real connector can be driven through them.
	next http.Handler
}

// Wrap returns a carrier that injects faults in front of next: requests that get
// no fault are answered by next. Counting, latency and the control endpoint work
// as for New.
func Wrap(next http.Handler) *Carrier {
	c := New()
	c.next = next
	return c
}

// New returns a carrier that answers normally with no latency.
func New() *Carrier { return &Carrier{stop: make(chan struct{})} }

// SetFault puts f in force for the following requests.
func (c *Carrier) SetFault(f Fault) {
	c.mu.Lock()
	c.fault = f
	c.mu.Unlock()
}

// Fault returns the fault in force.
func (c *Carrier) Fault() Fault {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.fault
}

// SetLatency makes every counted request wait d before it is handled (0 by default).
func (c *Carrier) SetLatency(d time.Duration) { c.latency.Store(int64(d)) }

// Count returns how many requests arrived on path (PathTrack, PathShipments or PathOther).
func (c *Carrier) Count(path string) int64 {
	switch path {
	case PathTrack:
		return c.track.Load()
	case PathShipments:
		return c.shipments.Load()
	}
	return c.other.Load()
}

// Total returns how many requests arrived on any path but the control endpoint.
func (c *Carrier) Total() int64 { return c.track.Load() + c.shipments.Load() + c.other.Load() }

// Injected returns how many requests were answered with an injected fault.
func (c *Carrier) Injected() int64 { return c.errors.Load() }

// ResetCounts sets every counter to zero.
func (c *Carrier) ResetCounts() {
	c.track.Store(0)
	c.shipments.Store(0)
	c.other.Store(0)
	c.errors.Store(0)
}

// Shutdown releases handlers that hang, dribble or wait out latency, dropping their
// connections without an answer, so the server can close.
// Server.Close calls it.
func (c *Carrier) Shutdown() { c.once.Do(func() { close(c.stop) }) }

// ServeHTTP answers one request.
func (c *Carrier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_fault" {
		c.control(w, r)
		return
	}
	route := c.count(r)
	if d := time.Duration(c.latency.Load()); d > 0 && !c.wait(r, d) {
		return
	}
	if c.inject(w, r, c.Fault()) {
		return
	}
	if c.next != nil {
		c.next.ServeHTTP(w, r)
		return
	}
	switch {
	case route == PathTrack && r.Method == http.MethodGet:
		number := strings.TrimPrefix(r.URL.Path, "/track/")
		writeJSON(w, http.StatusOK, trackBody(number))
	case route == PathShipments && r.Method == http.MethodPost:
		id := fmt.Sprintf("FC%06d", c.seq.Add(1))
		writeJSON(w, http.StatusCreated, map[string]string{
			"tracking_number": id, "label_url": "http://" + r.Host + "/labels/" + id + ".pdf",
		})
	default:
		writeJSON(w, http.StatusNotFound, errorBody("NOT_FOUND", "no such resource: "+r.Method+" "+r.URL.Path))
	}
}

func (c *Carrier) count(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.URL.Path, PathTrack+"/"):
		c.track.Add(1)
		return PathTrack
	case r.URL.Path == PathShipments:
		c.shipments.Add(1)
		return PathShipments
	}
	c.other.Add(1)
	return PathOther
}

// wait sleeps d unless the client leaves or the carrier shuts down first.
func (c *Carrier) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-c.stop:
		panic(http.ErrAbortHandler)
	}
	return false
}

// inject applies f and reports whether it answered the request. It counts the
// injection before answering, so a client that has its answer sees the count.
func (c *Carrier) inject(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f.Mode {
	case "", ModeOK:
		return false
	case ModeError:
		if f.Fraction > 0 && f.Fraction < 1 && rand.Float64() >= f.Fraction {
			return false
		}
	}
	c.errors.Add(1)
	switch f.Mode {
	case ModeError:
		writeJSON(w, statusOr(f.Status, http.StatusServiceUnavailable), errorBody("SERVICE_UNAVAILABLE", "injected server error"))
	case ModeRateLimit:
		ra := f.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		secs := int((ra + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, errorBody("RATE_LIMITED", "too many requests"))
	case ModeHang:
		select {
		case <-r.Context().Done():
		case <-c.stop:
			panic(http.ErrAbortHandler) // drop the connection rather than answer
		}
	case ModeDribble:
		delay := f.Delay
		if delay <= 0 {
			delay = 10 * time.Millisecond
		}
		body, _ := json.Marshal(trackBody("DRIBBLE"))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for i := range body {
			if _, err := w.Write(body[i : i+1]); err != nil {
				return true
			}
			_ = rc.Flush()
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return true
			case <-c.stop:
				t.Stop()
				panic(http.ErrAbortHandler)
			}
		}
	case ModeReset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody("NO_HIJACK", err.Error()))
			return true
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	case ModeMalformed:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"tracking_number": "FC0000`))
	case ModeHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(statusOr(f.Status, http.StatusBadGateway))
		_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>" +
			"<body><h1>Bad Gateway</h1><p>The upstream server returned an invalid response.</p></body></html>\n"))
	}
	return true
}

func (c *Carrier) control(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if len(q) > 0 {
		f := c.Fault()
		if q.Has("mode") {
			f = Fault{Mode: Mode(q.Get("mode"))}
			if !modes[f.Mode] {
				writeJSON(w, http.StatusBadRequest, errorBody("BAD_MODE", fmt.Sprintf("unknown mode %q", f.Mode)))
				return
			}
		}
		var err error
		if v := q.Get("fraction"); v != "" && err == nil {
			f.Fraction, err = strconv.ParseFloat(v, 64)
		}
		if v := q.Get("status"); v != "" && err == nil {
			f.Status, err = strconv.Atoi(v)
		}
		if v := q.Get("retry_after"); v != "" && err == nil {
			f.RetryAfter, err = time.ParseDuration(v)
		}
		if v := q.Get("delay"); v != "" && err == nil {
			f.Delay, err = time.ParseDuration(v)
		}
		var latency time.Duration
		if v := q.Get("latency"); v != "" && err == nil {
			latency, err = time.ParseDuration(v)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody("BAD_PARAMETER", err.Error()))
			return
		}
		if q.Has("latency") {
			c.SetLatency(latency)
		}
		if q.Has("reset_counts") {
			c.ResetCounts()
		}
		c.SetFault(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"fault":    c.Fault(),
		"latency":  time.Duration(c.latency.Load()).String(),
		"counts":   map[string]int64{PathTrack: c.track.Load(), PathShipments: c.shipments.Load(), PathOther: c.other.Load()},
		"injected": c.errors.Load(),
	})
}

func statusOr(s, def int) int {
	if s < 100 || s > 599 {
		return def
	}
	return s
}

func trackBody(number string) map[string]any {
	return map[string]any{
		"tracking_number": number,
		"status":          "in_transit",
		"events": []map[string]string{
			{"time": "2026-11-20T09:15:00+05:30", "code": "PU", "description": "Picked up"},
			{"time": "2026-11-21T18:40:00+05:30", "code": "IT", "description": "In transit to destination hub"},
		},
	}
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Server is a running fake carrier on a loopback port.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	// Addr is the listening host:port.
	Addr string
	// Carrier is the handler, for setting faults and reading counts.
	Carrier *Carrier
	srv     *httptest.Server
}

// Start runs a new Carrier on 127.0.0.1 on a free port. Close it when done.
func Start() *Server { return Serve(New()) }

// Serve runs c on 127.0.0.1 on a free port; use it with Wrap. Close it when done.
func Serve(c *Carrier) *Server {
	srv := httptest.NewServer(c)
	return &Server{URL: srv.URL, Addr: srv.Listener.Addr().String(), Carrier: c, srv: srv}
}

// Close releases hanging handlers, drops client connections and stops the server.
func (s *Server) Close() {
	s.Carrier.Shutdown()
	s.srv.CloseClientConnections()
	s.srv.Close()
}
