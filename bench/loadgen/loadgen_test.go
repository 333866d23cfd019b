package loadgen

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server is an httptest server that counts connections and requests.
type server struct {
	*httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	bodies   []string
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			s.mu.Lock()
			s.bodies = append(s.bodies, string(b))
			s.mu.Unlock()
		}
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) addr() string { return strings.TrimPrefix(s.URL, "http://") }

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"ok":true}`) }

func get(kind, target string) Workload {
	return func(int) Request { return Request{Kind: kind, Method: http.MethodGet, Target: target} }
}

func TestUsersHoldOneConnectionEach(t *testing.T) {
	t.Parallel()
	s := newServer(t, ok)
	const users = 25
	res, err := RunUsers(t.Context(), UsersConfig{Addr: s.addr(), Users: users, Period: 40 * time.Millisecond,
		Duration: 200 * time.Millisecond, Workload: get("track", "/track?x=1")})
	if err != nil {
		t.Fatal(err)
	}
	if res.PeakConns != users || res.Dials != users || s.conns.Load() != users {
		t.Errorf("peak conns %d, dials %d, server saw %d connections: want %d of each", res.PeakConns, res.Dials, s.conns.Load(), users)
	}
	if res.Requests == 0 || res.OK != res.Requests || res.ErrorCount() != 0 {
		t.Errorf("requests %d, ok %d, errors %v: want all of them answered", res.Requests, res.OK, res.Errors)
	}
	// Requests before the window (the ramp) are sent but not measured.
	if got := s.requests.Load(); got <= res.Requests {
		t.Errorf("the server saw %d requests, the report %d: the ramp-up was measured", got, res.Requests)
	}
	if res.ByKind["track"].Count != res.Requests || res.Mode != "users" || res.Users != users {
		t.Errorf("result %+v", res)
	}
}

func TestUsersSendMethodHeadersAndBody(t *testing.T) {
	t.Parallel()
	var seen atomic.Value
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Method + " " + r.URL.String() + " " + r.Header.Get("Authorization") + " " + r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusCreated)
	})
	var n atomic.Int64
	wl := func(int) Request {
		return Request{Kind: "create", Method: http.MethodPost, Target: "/shipments?v=2",
			Header: http.Header{"Authorization": {"Bearer k"}, "Content-Type": {"application/json"}},
			Body:   []byte(`{"n":` + strconv.FormatInt(n.Add(1), 10) + `}`)}
	}
	res, err := RunUsers(t.Context(), UsersConfig{Addr: s.addr(), Users: 2, Period: 20 * time.Millisecond,
		Duration: 60 * time.Millisecond, Workload: wl})
	if err != nil {
		t.Fatal(err)
	}
	if got := seen.Load(); got != "POST /shipments?v=2 Bearer k application/json" {
		t.Errorf("server saw %q", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if int64(len(s.bodies)) != n.Load() || !strings.HasPrefix(s.bodies[0], `{"n":`) {
		t.Errorf("bodies %q for %d requests made", s.bodies, n.Load())
	}
	if res.OK != res.Requests {
		t.Errorf("201 answers counted as errors: %v", res.Errors)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/drop":
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			ok(w, r)
		}
	})
	defer close(release)
	var seq atomic.Int64
	paths := []string{"/ok", "/fail", "/drop", "/hang"}
	wl := func(int) Request {
		p := paths[seq.Add(1)%int64(len(paths))]
		return Request{Kind: p[1:], Target: p}
	}
	res, err := RunUsers(t.Context(), UsersConfig{Addr: s.addr(), Users: 4, Period: 30 * time.Millisecond, Jitter: -1,
		Duration: 300 * time.Millisecond, Timeout: 50 * time.Millisecond, Workload: wl})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"status 503", ErrIO, ErrTimeout} {
		if res.Errors[kind] == 0 {
			t.Errorf("no %q error counted: %v", kind, res.Errors)
		}
	}
	if res.ErrorCount() != res.Requests-res.OK || res.OK == 0 {
		t.Errorf("ok %d + errors %v != requests %d", res.OK, res.Errors, res.Requests)
	}
	if res.ByKind["fail"].Count != res.Errors["status 503"] {
		t.Errorf("by kind %+v, errors %v", res.ByKind, res.Errors)
	}
	// Broken connections were reopened.
	if res.Dials <= 4 {
		t.Errorf("%d dials: dropped connections were not reopened", res.Dials)
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res, err := RunUsers(t.Context(), UsersConfig{Addr: addr, Users: 3, Period: 20 * time.Millisecond,
		Duration: 100 * time.Millisecond, Workload: get("x", "/")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors[ErrConnect] != res.Requests || res.ErrorRate() != 1 {
		t.Errorf("requests %d, errors %v: want every one a connect error", res.Requests, res.Errors)
	}
}

func TestLateRequestsAreCounted(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(60 * time.Millisecond) // three periods: every next request is due before this one ends
		ok(w, r)
	})
	res, err := RunUsers(t.Context(), UsersConfig{Addr: s.addr(), Users: 3, Period: 20 * time.Millisecond, Jitter: -1,
		Duration: 400 * time.Millisecond, Workload: get("slow", "/")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Late == 0 {
		t.Errorf("no late request counted: %s", res)
	}
	if res.Latency.P50 < 60 {
		t.Errorf("p50 %.1f ms below the server's 60 ms", res.Latency.P50)
	}
}

func TestUsersConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []UsersConfig{
		{Users: 1, Period: time.Second, Duration: time.Second, Workload: get("x", "/")},
		{Addr: "x:1", Users: 0, Period: time.Second, Duration: time.Second, Workload: get("x", "/")},
		{Addr: "x:1", Users: 1, Period: 0, Duration: time.Second, Workload: get("x", "/")},
		{Addr: "x:1", Users: 1, Period: time.Second, Duration: time.Second, Jitter: 1, Workload: get("x", "/")},
		{Addr: "x:1", Users: 1, Period: time.Second, Duration: time.Second},
	} {
		if _, err := RunUsers(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "users mode: ") {
			t.Errorf("%+v: error %v", cfg, err)
		}
	}
	if _, err := RunRate(context.Background(), RateConfig{Addr: "x:1", Rate: -1, Duration: time.Second, Workload: get("x", "/")}); err == nil {
		t.Error("a negative rate was accepted")
	}
}

func TestRateSendsExactlyTheScheduledRequests(t *testing.T) {
	t.Parallel()
	s := newServer(t, ok)
	var mu sync.Mutex
	seqs := map[int]bool{}
	wl := func(seq int) Request {
		mu.Lock()
		seqs[seq] = true
		mu.Unlock()
		return Request{Kind: "track", Target: "/"}
	}
	res, err := RunRate(t.Context(), RateConfig{Addr: s.addr(), Rate: 400, Warmup: 250 * time.Millisecond,
		Duration: 500 * time.Millisecond, Pool: 8, Workload: wl})
	if err != nil {
		t.Fatal(err)
	}
	// 400/s over 0.25 s + 0.5 s is 300 requests due, 200 of them in the window.
	if res.Requests != 200 || res.OK != 200 || s.requests.Load() != 300 || len(seqs) != 300 || !seqs[0] || !seqs[299] {
		t.Errorf("requests %d (ok %d), server saw %d, workload called for %d: want 200, 200, 300, 300", res.Requests, res.OK, s.requests.Load(), len(seqs))
	}
	if res.Throughput != 400 || res.TargetRate != 400 || res.Pool != 8 || res.PeakConns > 8 {
		t.Errorf("rate %g (target %g), pool %d, peak %d", res.Throughput, res.TargetRate, res.Pool, res.PeakConns)
	}
}

func TestRateMeasuresFromTheDueTime(t *testing.T) {
	t.Parallel()
	var first atomic.Bool
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			time.Sleep(150 * time.Millisecond) // the only connection is held: the requests due meanwhile queue
		}
		ok(w, r)
	})
	res, err := RunRate(t.Context(), RateConfig{Addr: s.addr(), Rate: 100, Duration: 500 * time.Millisecond,
		Pool: 1, Workload: get("track", "/")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 50 || res.OK != 50 {
		t.Fatalf("requests %d ok %d, want 50", res.Requests, res.OK)
	}
	if res.PoolWaits == 0 {
		t.Error("no pool wait counted although the only connection was held")
	}
	// The request due 10 ms in waited for the first one (150 ms): measured from
	// its due time, it took over 100 ms, so at least 2 % of requests did.
	if res.Latency.P95 < 100 || res.Latency.Max < 150 {
		t.Errorf("p95 %.1f ms, max %.1f ms: the stall was not charged to the requests due during it", res.Latency.P95, res.Latency.Max)
	}
}

func TestRateCancel(t *testing.T) {
	t.Parallel()
	s := newServer(t, ok)
	ctx, cancel := context.WithCancel(t.Context())
	var n atomic.Int64
	wl := func(int) Request {
		if n.Add(1) == 20 {
			cancel()
		}
		return Request{Kind: "x", Target: "/"}
	}
	res, err := RunRate(ctx, RateConfig{Addr: s.addr(), Rate: 200, Duration: time.Hour, Workload: wl})
	if err == nil || res == nil || res.Requests < 20 || res.Requests > 30 {
		t.Errorf("err %v, result %v: want the run stopped after about 20 requests", err, res)
	}
}

func TestRatePoolOpensOnlyWhatConcurrencyNeeds(t *testing.T) {
	t.Parallel()
	s := newServer(t, ok)
	res, err := RunRate(t.Context(), RateConfig{Addr: s.addr(), Rate: 50, Duration: 400 * time.Millisecond, Pool: 50, Workload: get("x", "/")})
	if err != nil {
		t.Fatal(err)
	}
	// One request every 20 ms to a server that answers at once: a connection or
	// two serve them all, reused; a FIFO pool would have opened all 50.
	if res.OK != 20 || res.Dials >= 10 || s.conns.Load() != res.Dials {
		t.Errorf("ok %d, dials %d, server saw %d connections: want 20 answers over a few reused connections", res.OK, res.Dials, s.conns.Load())
	}
}
