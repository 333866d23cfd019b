// Package api is the hub's HTTP interface: the versioned /v1 API that TMS
// services call (connector operations, accounts, API keys, tenants), liveness and
// readiness probes, and the OpenAPI 3.1 document describing all of it.
//
// One route table registers the handlers on a net/http ServeMux and generates the
// OpenAPI document, so the two cannot drift. Every error is an RFC 9457
// problem+json body (see Problem and StatusFor); no input produces a 500 or a
// panic. Request logs carry method, route pattern, status, duration, tenant and
// request id, never headers or bodies.
//
// The package speaks HTTP only: routing and policy are engine/router's, processes
// engine/plugins', durable state engine/store's.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/inbound"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/telemetry"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// Router is the part of *router.Router the API calls.
type Router interface {
	// Invoke runs one connector operation for a tenant.
	Invoke(ctx context.Context, rt router.Route, body []byte) ([]byte, error)
	// Settle finds out how a create of unknown outcome turned out, where the
	// connector can look it up.
	Settle(ctx context.Context, rt router.Route, body []byte) (router.Settlement, []byte, error)
	// Account resolves the account a connector call would act for.
	Account(ctx context.Context, tenantID, connectorID, accountID string) (*sdk.Account, error)
	// Forget drops a tenant's cached accounts after they change.
	Forget(tenantID string)
	// Resilience returns a connector's call-policy state; ok is false before its first call.
	Resilience(connectorID string) (resilience.ConnectorHealth, bool)
	// Policy returns the call policy a connector's operation runs under (the
	// manifest's, with the operator's overrides); ok is false for an unknown
	// connector.
	Policy(connectorID string, op sdk.Operation) (resilience.Policy, bool)
}

// Connectors is the part of *plugins.Manager the API reads connector state from.
type Connectors interface {
	// Connectors lists every known connector with its process status.
	Connectors() []plugins.Info
	// Manifest returns one connector's manifest.
	Manifest(id string) (*sdk.Manifest, bool)
	// Health probes one connector, starting its process if needed.
	Health(ctx context.Context, id string, account *sdk.Account) (plugins.Health, error)
	// Exchanges returns an account's latest provider exchanges as the
	// connector keeps them, redacted (a JSON list, newest first); a connector
	// whose process is not running has none.
	Exchanges(ctx context.Context, id, accountID string, limit int) (json.RawMessage, error)
}

// Config configures the API handler.
type Config struct {
	// Store holds tenants, keys and accounts; required.
	Store store.Store
	// Router runs connector operations; required.
	Router Router
	// Connectors lists connectors and probes their health; required.
	Connectors Connectors
	// Logger receives request logs; slog.Default() when nil.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; 10 MiB when zero.
	MaxBodyBytes int64
	// Version is the hub's version, shown in the OpenAPI document.
	Version string
	// AuthCacheTTL is how long an authenticated API key is trusted without asking
	// the store again; 30s when zero, negative disables the cache. A key revoked
	// through this API stops working at once; one revoked elsewhere (the CLI,
	// another replica) within the TTL.
	AuthCacheTTL time.Duration
	// ObserveRequest, when set, is told about every answered request (route is
	// the matched pattern, or "unmatched"): for metrics.
	ObserveRequest func(route, method string, status int, d time.Duration)
	// ObserveReplay, when set, is told when a create is answered from its
	// Idempotency-Key (outcome replayed, in_progress or mismatch) or a retry
	// meets an unknown outcome (unsettled, settled_found, settled_not_found,
	// settled_confirmed, needs_confirmation): for metrics.
	ObserveReplay func(connector string, op sdk.Operation, outcome string)
	// Idempotency replays creates under their Idempotency-Key; built from Store
	// with the defaults (24 h replay) when nil.
	Idempotency *idempotency.Keeper
	// TracerProvider opens a server span per request; otel.GetTracerProvider()
	// when nil. An incoming W3C traceparent is honoured (with the global
	// propagator) and the response carries the server span's traceparent.
	TracerProvider trace.TracerProvider
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Egress is the egress guard's allow-list: an account whose base_url is a
	// literal address it does not admit is refused (422 at /base_url). Nil
	// admits only public addresses.
	Egress *egress.Policy
	// InboundRateLimit is how many pushes a second the inbound route takes
	// per account id (a token bucket; ids the hub does not know included);
	// inbound.DefaultPushRate when zero.
	InboundRateLimit float64
	// InboundBurst is how many pushes an account id may send at once above
	// InboundRateLimit; inbound.DefaultPushBurst when zero.
	InboundBurst int
	// Console, when set, is served at /console/ (engine/console's Handler):
	// the browser console, which signs in through /v1/console/sessions.
	Console http.Handler
	// ConsoleSessionTTL is how long a console sign-in lasts (unless its key
	// expires first); DefaultConsoleSessionTTL when zero.
	ConsoleSessionTTL time.Duration
	// OutboxSinks names the event relay's sinks, whose backlogs the overview
	// shows operators.
	OutboxSinks []string
	// Draining, when closed, says the hub is shutting down: /readyz answers
	// 503, every answer closes its connection (so a load balancer's pooled
	// connections go before the listener does), and the overview's event
	// streams end, so none holds the shutdown up.
	Draining <-chan struct{}
	// CallLatency, when set, gives a connector's P95 over its latest calls and
	// how many calls that is (metrics.RecentLatency), for the process summary
	// and the overview.
	CallLatency func(connector string) (time.Duration, int)
}

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 10 << 20

// MaxHeaderBytes bounds a request's request line and header lines together, as
// the client sent them: the API answers a larger request with a 431 problem
// (request_header_fields_too_large). 64 KiB is many times what API keys, trace
// context and carriers' push signatures take.
const MaxHeaderBytes = 64 << 10

// ServerMaxHeaderBytes is the MaxHeaderBytes the http.Server serving the API
// must set. net/http answers a request beyond its own limit with a text/plain
// 431 before any handler runs, so its limit stays well above MaxHeaderBytes
// and callers see the API's problem+json instead; only a request of more than
// a mebibyte of headers still gets net/http's answer. It equals net/http's
// default (http.DefaultMaxHeaderBytes); a server that sets it explicitly keeps
// its limit tied to this package's rather than to net/http's.
const ServerMaxHeaderBytes = 1 << 20

type server struct {
	store   store.Store
	router  Router
	conns   Connectors
	log     *slog.Logger
	maxBody int64
	version string
	now     func() time.Time
	auth    *authCache
	idem    *idempotency.Keeper
	obsReq  func(route, method string, status int, d time.Duration)
	obsRep  func(connector string, op sdk.Operation, outcome string)
	tracer  trace.Tracer
	mux     *http.ServeMux
	openapi []byte
	egress  *egress.Policy
	// consoleTTL is how long a console sign-in lasts.
	consoleTTL time.Duration
	// outboxSinks and draining: see Config.
	outboxSinks []string
	draining    <-chan struct{}
	latency     func(connector string) (time.Duration, int)
	// pushLimit rate-limits the inbound route per account id.
	pushLimit *inbound.PushLimiter
}

// New returns the hub's HTTP handler. It panics only on a nil required field,
// which is a wiring bug.
func New(cfg Config) http.Handler {
	if cfg.Store == nil || cfg.Router == nil || cfg.Connectors == nil {
		panic("api.New: Store, Router and Connectors are required")
	}
	s := &server{
		store: cfg.Store, router: cfg.Router, conns: cfg.Connectors, log: cfg.Logger,
		maxBody: cfg.MaxBodyBytes, version: cfg.Version, now: cfg.Now,
		obsReq: cfg.ObserveRequest, obsRep: cfg.ObserveReplay, egress: cfg.Egress,
		pushLimit: inbound.NewPushLimiter(cfg.InboundRateLimit, cfg.InboundBurst),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.now == nil {
		s.now = time.Now
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	s.tracer = tp.Tracer("github.com/carrierhub/hub/engine/api")
	ttl := cfg.AuthCacheTTL
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	s.auth = newAuthCache(ttl)
	s.idem = cfg.Idempotency
	if s.idem == nil {
		k, err := idempotency.New(idempotency.Config{Store: cfg.Store, Now: s.now, Logger: s.log})
		if err != nil {
			panic("api: " + err.Error())
		}
		s.idem = k
	}
	s.outboxSinks, s.draining, s.latency = cfg.OutboxSinks, cfg.Draining, cfg.CallLatency
	s.consoleTTL = cfg.ConsoleSessionTTL
	if s.consoleTTL <= 0 {
		s.consoleTTL = DefaultConsoleSessionTTL
	}
	s.mux = http.NewServeMux()
	routes := s.routes()
	for _, rt := range routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	if cfg.Console != nil {
		// The console's files are public: what they show comes from /v1.
		s.mux.Handle("GET /console/", routeHandler(cfg.Console.ServeHTTP))
	}
	doc, err := buildOpenAPI(routes, s.version)
	if err != nil {
		panic("api.New: building the OpenAPI document: " + err.Error())
	}
	s.openapi = doc
	return s
}

// reqState is what the middleware learns about a request as it runs.
type reqState struct {
	requestID string
	tenant    string
	// connector, operation and account are set by the invoke handler (account
	// once the router has resolved it) for the request log line.
	connector, operation string
	account              atomic.Value // string
}

type stateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// statusWriter records the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// accountID is the account the request acts for, once the invoke handler has
// resolved it; "" before.
func (st *reqState) accountID() string {
	id, _ := st.account.Load().(string)
	return id
}

// isDraining reports whether the hub has started shutting down (Config.Draining).
func (s *server) isDraining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serverSpan are the options of a request's span, made once: an option built per
// call costs allocations even when tracing is off.
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// ServeHTTP assigns the request id, opens the request's server span (named
// after the route pattern, a child of the caller's traceparent), logs the
// request, turns panics into 500 problems and unknown routes or methods into 404
// and 405 problems.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	if s.isDraining() {
		w.Header().Set("Connection", "close")
	}
	st := &reqState{requestID: requestID(r.Header.Get("X-Request-Id"))}
	h, pattern := s.mux.Handler(r)
	// The mux answers a path that is not clean with a redirect of its own (an
	// HTML body) while naming the route the clean path would match.
	if _, ours := h.(routeHandler); !ours {
		pattern = ""
	}
	spanName := pattern
	if spanName == "" {
		spanName = r.Method + " unmatched"
	}
	// The hub's propagators are W3C TraceContext and Baggage (engine/tracing);
	// without their headers there is nothing to extract, and skipping saves the
	// header-name canonicalisation http.Header.Get does per lookup.
	ctx := r.Context()
	if len(r.Header["Traceparent"]) > 0 || len(r.Header["Baggage"]) > 0 {
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := s.tracer.Start(ctx, spanName, serverSpan...)
	defer span.End()
	r = r.WithContext(context.WithValue(ctx, stateKey{}, st))
	w.Header().Set("X-Request-Id", st.requestID)
	if tp := telemetry.TraceParent(ctx); tp != "" {
		w.Header().Set("Traceparent", tp)
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "route", r.Pattern,
				"request_id", st.requestID, "panic", v, "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeProblem(sw, r, newProblem(http.StatusInternalServerError, string(sdk.CodeInternal), "the hub hit an unexpected error; it has been logged with the request id"))
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if s.obsReq != nil {
			s.obsReq(route, r.Method, status, s.now().Sub(start))
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
			slog.Duration("duration", s.now().Sub(start)), slog.String("tenant", st.tenant),
			slog.String("request_id", st.requestID),
		}
		if st.connector != "" {
			attrs = append(attrs, slog.String("connector", st.connector), slog.String("operation", st.operation),
				slog.String("account", st.accountID()))
		}
		if span.IsRecording() {
			sc := span.SpanContext()
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
			span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
				attribute.Int("http.response.status_code", status), telemetry.AttrTenant.String(st.tenant),
				telemetry.AttrRequestID.String(st.requestID))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()
	if n := headerBytes(r); n > MaxHeaderBytes {
		writeProblem(sw, r, newProblem(http.StatusRequestHeaderFieldsTooLarge, codeHeaderTooLarge,
			"the request line and headers are "+strconv.Itoa(n)+" bytes; the limit is "+strconv.Itoa(MaxHeaderBytes)))
		return
	}
	if pattern == "" {
		s.unmatched(sw, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// headerBytes is the size of r's request line and header lines as the client
// sent them (optional whitespace aside): what net/http's MaxHeaderBytes bounds.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 // two spaces, CRLF
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4 // ": ", CRLF
		}
	}
	return n
}

// unmatched answers a request no route took: the mux decides between 404, 405
// and a redirect to the clean path, and the answer is rewritten as a problem.
func (s *server) unmatched(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeProblem(w, r, newProblem(http.StatusMethodNotAllowed, codeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+probe.header.Get("Allow")))
	case http.StatusMovedPermanently, http.StatusPermanentRedirect, http.StatusTemporaryRedirect, http.StatusFound:
		w.Header().Set("Location", probe.header.Get("Location"))
		w.WriteHeader(probe.status)
	default:
		writeProblem(w, r, newProblem(http.StatusNotFound, string(sdk.CodeNotFound), "no route "+r.Method+" "+r.URL.Path+" (see GET /openapi.json)"))
	}
}

// headerRecorder captures what the mux's own 404/405/redirect handler would send.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}

// requestID keeps a caller's id when it is short and printable, else makes one.
func requestID(given string) string {
	if given != "" && len(given) <= 128 {
		ok := true
		for i := 0; i < len(given); i++ {
			if c := given[i]; c < 0x21 || c > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return given
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}
