package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk/telemetry"
)

// TracerScope is the instrumentation scope of the dispatcher's spans.
const TracerScope = "github.com/carrierhub/hub/engine/webhooks"

// SpanName names the client span of one delivery attempt.
const SpanName = "webhook delivery"

// DefaultSchedule is the delay before each attempt: immediately, then 5 s, 5 min,
// 30 min, 2 h, 5 h, 10 h and 10 h (about 27.6 hours in all); a delivery whose eighth
// attempt fails is dead.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// DefaultFailingPeriod is how long an endpoint may fail without a single success
// before it is disabled: five days, like Svix. It outlasts a whole retry schedule
// (27.6 h) plus a long weekend or festival closure of a customer's ERP, so only an
// endpoint that is really gone is switched off; its pending deliveries stay pending
// and go out when it is enabled again.
const DefaultFailingPeriod = 5 * 24 * time.Hour

// Limits on what a delivery reads and keeps of the receiver's answer.
const (
	// MaxResponseRead is the most of an answer's body read.
	MaxResponseRead = 64 << 10
)

// Config configures a Dispatcher. Zero fields take the defaults named.
type Config struct {
	// Store holds the deliveries; required.
	Store store.WebhookStore
	// Owner names this dispatcher in leases; hostname/pid and random when empty.
	Owner string
	// Loops is how many claim-send-complete loops run at once (4): while one loop
	// waits on the database the others send.
	Loops int
	// BatchSize is how many deliveries a loop claims at once (100), all sent
	// concurrently.
	BatchSize int
	// Lease is how long a claim holds its deliveries (60 s); it must exceed Timeout.
	Lease time.Duration
	// Idle is how long a loop sleeps when nothing is due (250 ms).
	Idle time.Duration
	// Schedule is the retry schedule (DefaultSchedule): Schedule[0] is the first
	// attempt, Schedule[k] the delay after the k-th failure; len(Schedule) attempts.
	Schedule []time.Duration
	// Jitter spreads each delay by up to ± this fraction (0.2); negative disables it.
	Jitter float64
	// SlowDownFloor is the least delay after 429, 502, 504 or a timeout (30 s).
	SlowDownFloor time.Duration
	// MaxRetryAfter caps how long a Retry-After answer can postpone a retry (1 h).
	MaxRetryAfter time.Duration
	// FailingPeriod disables an endpoint failing that long without a success
	// (DefaultFailingPeriod).
	FailingPeriod time.Duration
	// ConnectTimeout bounds connecting (5 s); Timeout the whole attempt, body
	// read included (15 s).
	ConnectTimeout time.Duration
	// Timeout bounds an attempt.
	Timeout time.Duration
	// AllowList names internal addresses deliveries may reach (see Guard).
	AllowList []string
	// Transport overrides the HTTP transport (tests); it must do its own SSRF check.
	Transport http.RoundTripper
	// MaxConnsPerHost bounds the connections open to one receiver host (64): a
	// backlog is drained at a pace the receiver can take, over kept-alive
	// connections rather than fresh ones.
	MaxConnsPerHost int
	// UserAgent is sent with each delivery ("carrierhub-webhooks/1").
	UserAgent string
	// EndpointTTL is how long an endpoint read from the store is reused (2 s);
	// negative reads it for every batch.
	EndpointTTL time.Duration
	// Observe, when set, is told about every delivery attempt made: the receiver's
	// status (0 when it did not answer), the outcome ("succeeded", "retry" or
	// "dead") and how long it took. For metrics; it must not block.
	Observe func(status int, outcome string, d time.Duration)
	// Emit appends an event to the outbox (webhook.endpoint_disabled); nil drops them.
	Emit func(ctx context.Context, e events.Event) error
	// Now is the clock (time.Now).
	Now func() time.Time
	// Rand returns a number in [0, 1) for jitter (math/rand/v2).
	Rand func() float64
	// Logger receives delivery problems (slog.Default()). Secrets and bodies are
	// never logged.
	Logger *slog.Logger
	// TracerProvider opens each attempt's client span (the global provider,
	// which engine/tracing.Setup installs, when nil). The span is a child of the
	// event's stored trace context, and its W3C traceparent (and tracestate) go
	// out as headers, so the receiver's work joins the trace of the call that
	// caused the event. Without a stored context and with nothing recording,
	// no traceparent is sent.
	TracerProvider trace.TracerProvider
}

// Dispatcher sends due deliveries: loops claim batches with a lease, POST each
// event with Standard Webhooks headers, and record the outcomes in bulk.
type Dispatcher struct {
	cfg    Config
	st     store.WebhookStore
	client *http.Client
	log    *slog.Logger

	mu       sync.Mutex
	eps      map[string]cachedEndpoint
	limiters map[string]*limiter
}

type cachedEndpoint struct {
	ep  store.WebhookEndpoint
	at  time.Time
	err error
}

type limiter struct {
	perSecond int
	lim       *rate.Limiter
}

// New returns a Dispatcher; it fails on a bad allow-list or a missing store.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhooks: Config.Store is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if cfg.Loops <= 0 {
		cfg.Loops = 4
	}
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = 64
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	cfg.BatchSize = min(cfg.BatchSize, 1000)
	def(&cfg.Timeout, 15*time.Second)
	def(&cfg.ConnectTimeout, 5*time.Second)
	def(&cfg.Lease, 60*time.Second)
	if cfg.Lease <= cfg.Timeout {
		return nil, fmt.Errorf("webhooks: Lease %s must exceed Timeout %s", cfg.Lease, cfg.Timeout)
	}
	def(&cfg.Idle, 250*time.Millisecond)
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.2
	}
	def(&cfg.SlowDownFloor, 30*time.Second)
	def(&cfg.MaxRetryAfter, time.Hour)
	def(&cfg.FailingPeriod, DefaultFailingPeriod)
	def(&cfg.EndpointTTL, 2*time.Second)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "carrierhub-webhooks/1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = mrand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	tr := cfg.Transport
	if tr == nil {
		g, err := NewGuard(cfg.AllowList, cfg.ConnectTimeout)
		if err != nil {
			return nil, err
		}
		tr = &http.Transport{
			Proxy:                 nil, // a proxy would dial for us, past the guard
			DialContext:           g.DialContext,
			TLSHandshakeTimeout:   cfg.ConnectTimeout,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   cfg.MaxConnsPerHost,
			MaxConnsPerHost:       cfg.MaxConnsPerHost,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: cfg.Timeout,
			ForceAttemptHTTP2:     true,
		}
	}
	client := &http.Client{
		Transport: tr,
		// Redirects are failures: following one could lead past the receiver's
		// own check, and a moved endpoint should be updated, not guessed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Dispatcher{cfg: cfg, st: cfg.Store, client: client, log: cfg.Logger,
		eps: map[string]cachedEndpoint{}, limiters: map[string]*limiter{}}, nil
}

// Run runs the loops until ctx ends, then returns nil. Deliveries in flight when it
// ends are left leased; their leases expire and another dispatcher sends them.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range d.cfg.Loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n, err := d.RunOnce(ctx)
				if err != nil && ctx.Err() == nil {
					d.log.WarnContext(ctx, "webhook dispatch", "error", err)
				}
				if n == 0 || err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(d.cfg.Idle):
					}
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// RunOnce claims one batch, sends it and records the outcomes; it returns how
// many deliveries it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	now := d.cfg.Now()
	batch, err := d.st.ClaimWebhookDeliveries(ctx, d.cfg.Owner, d.cfg.BatchSize, now, now.Add(d.cfg.Lease))
	if err != nil {
		return 0, fmt.Errorf("claiming deliveries: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	outs := make([]store.DeliveryOutcome, len(batch))
	gone := make([]bool, len(batch)) // answered 410
	var wg sync.WaitGroup
	for i, del := range batch {
		ep, err := d.endpoint(ctx, del.EndpointID, now)
		if err != nil {
			// Unknown now (deleted, or the store failed): put it back for later.
			outs[i] = d.putBack(del, now.Add(d.cfg.Idle))
			continue
		}
		if !ep.Enabled {
			outs[i] = d.putBack(del, now.Add(time.Minute))
			continue
		}
		if wait := d.reserve(ep, now); wait > 0 {
			outs[i] = d.putBack(del, now.Add(wait))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], gone[i] = d.attempt(ctx, ep, del)
			if o := outs[i]; d.cfg.Observe != nil && o.Attempt != nil {
				outcome := "retry"
				switch o.State {
				case store.DeliverySucceeded:
					outcome = "succeeded"
				case store.DeliveryDead:
					outcome = "dead"
				}
				d.cfg.Observe(o.Attempt.Status, outcome, o.Attempt.Duration)
			}
		}()
	}
	wg.Wait()
	if err := d.st.CompleteWebhookDeliveries(context.WithoutCancel(ctx), outs, d.cfg.Now()); err != nil {
		return len(batch), fmt.Errorf("recording outcomes: %w", err)
	}
	d.checkHealth(ctx, outs, gone)
	return len(batch), nil
}

func (d *Dispatcher) putBack(del store.WebhookDelivery, at time.Time) store.DeliveryOutcome {
	return store.DeliveryOutcome{EventID: del.EventID, EndpointID: del.EndpointID, LeaseOwner: del.LeaseOwner,
		State: store.DeliveryPending, NextAttemptAt: at}
}

// endpoint returns an endpoint from the cache or the store.
func (d *Dispatcher) endpoint(ctx context.Context, id string, now time.Time) (store.WebhookEndpoint, error) {
	d.mu.Lock()
	c, ok := d.eps[id]
	d.mu.Unlock()
	if ok && d.cfg.EndpointTTL > 0 && now.Sub(c.at) < d.cfg.EndpointTTL && now.Sub(c.at) >= 0 {
		return c.ep, c.err
	}
	ep, err := d.st.WebhookEndpointByID(ctx, id)
	d.mu.Lock()
	d.eps[id] = cachedEndpoint{ep: ep, at: now, err: err}
	d.mu.Unlock()
	return ep, err
}

func (d *Dispatcher) forget(id string) {
	d.mu.Lock()
	delete(d.eps, id)
	d.mu.Unlock()
}

// reserve takes a token of the endpoint's bucket, or returns how long until one
// is there (0: send now). The bucket holds one second's worth.
func (d *Dispatcher) reserve(ep store.WebhookEndpoint, now time.Time) time.Duration {
	if ep.RateLimit <= 0 {
		return 0
	}
	d.mu.Lock()
	l := d.limiters[ep.ID]
	if l == nil || l.perSecond != ep.RateLimit {
		l = &limiter{perSecond: ep.RateLimit, lim: rate.NewLimiter(rate.Limit(ep.RateLimit), ep.RateLimit)}
		l.lim.SetLimitAt(now, rate.Limit(ep.RateLimit)) // start the bucket on this clock
		d.limiters[ep.ID] = l
	}
	d.mu.Unlock()
	if l.lim.AllowN(now, 1) {
		return 0
	}
	// Not a reservation: a put-back delivery takes its token when it comes back,
	// so deliveries put back together do not hold tokens ahead of others.
	missing := 1 - l.lim.TokensAt(now)
	return max(time.Millisecond, time.Duration(missing/float64(ep.RateLimit)*float64(time.Second)))
}

// attempt sends one delivery and returns its outcome and whether the receiver
// answered 410 Gone.
func (d *Dispatcher) attempt(ctx context.Context, ep store.WebhookEndpoint, del store.WebhookDelivery) (store.DeliveryOutcome, bool) {
	at := d.cfg.Now()
	started := time.Now()
	a := &store.WebhookAttempt{TenantID: del.TenantID, Attempt: del.Attempts + 1, At: at}
	out := store.DeliveryOutcome{EventID: del.EventID, EndpointID: del.EndpointID, LeaseOwner: del.LeaseOwner, Attempt: a}
	status, retryAfter, body, err := d.post(ctx, ep, del, at)
	if err != nil && ctx.Err() != nil {
		// The dispatcher is stopping, not the receiver failing: hand the delivery
		// back, due now, without counting an attempt.
		return d.putBack(del, at), false
	}
	a.Duration = time.Since(started)
	a.Status, a.Response = status, body
	if len(a.Response) > store.MaxWebhookAttemptResponse {
		a.Response = a.Response[:store.MaxWebhookAttemptResponse]
	}
	slow := false
	switch {
	case err != nil:
		a.Error = err.Error()
		var ne net.Error
		slow = errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
	case status >= 200 && status < 300:
		out.State, out.NextAttemptAt = store.DeliverySucceeded, at
		return out, false
	case status >= 300 && status < 400:
		a.Error = fmt.Sprintf("answered %d, a redirect; redirects are not followed, update the endpoint URL", status)
	case status == http.StatusTooManyRequests || status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		a.Error = fmt.Sprintf("answered %d: slowing down", status)
		slow = true
	default:
		a.Error = fmt.Sprintf("answered %d", status)
	}
	out.State, out.NextAttemptAt = d.next(del.Attempts+1, at, slow, retryAfter)
	return out, status == http.StatusGone
}

// next returns the state and due time after the n-th attempt failed.
func (d *Dispatcher) next(n int, at time.Time, slow bool, retryAfter time.Duration) (store.DeliveryState, time.Time) {
	if n >= len(d.cfg.Schedule) {
		return store.DeliveryDead, at
	}
	delay := d.cfg.Schedule[n]
	if d.cfg.Jitter > 0 {
		delay += time.Duration(float64(delay) * d.cfg.Jitter * (2*d.cfg.Rand() - 1))
	}
	if slow {
		delay = max(delay, d.cfg.SlowDownFloor)
	}
	if retryAfter > 0 {
		delay = max(delay, min(retryAfter, d.cfg.MaxRetryAfter))
	}
	return store.DeliveryPending, at.Add(delay)
}

// post sends the request and reads the answer within Timeout, inside the
// attempt's span.
func (d *Dispatcher) post(ctx context.Context, ep store.WebhookEndpoint, del store.WebhookDelivery, at time.Time) (status int, wait time.Duration, body []byte, err error) {
	sig, err := Sign(ep.Secrets(at), del.EventID, at, del.Body)
	if err != nil {
		return 0, 0, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(del.Body))
	if err != nil {
		return 0, 0, nil, fmt.Errorf("building request: %w", err)
	}
	h := req.Header
	h[HeaderID] = []string{del.EventID}
	h[HeaderTimestamp] = []string{strconv.FormatInt(at.Unix(), 10)}
	h[HeaderSignature] = []string{sig}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{d.cfg.UserAgent}
	span := d.startSpan(req, del)
	defer func() { endSpan(span, status, err) }()
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, nil, sendError(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponseRead))
	if err != nil {
		return resp.StatusCode, 0, body, fmt.Errorf("reading the answer (status %d): %w", resp.StatusCode, sendError(err))
	}
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), at), body, nil
}

// startSpan opens the attempt's client span as a child of the event's stored
// trace context and writes its W3C traceparent and tracestate into req's
// headers (never baggage). The span records ids and the URL without its query
// or user info, never headers or bodies.
func (d *Dispatcher) startSpan(req *http.Request, del store.WebhookDelivery) trace.Span {
	tp := d.cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	ctx := telemetry.ContinueTrace(req.Context(), del.TraceParent, del.TraceState)
	ctx, span := tp.Tracer(TracerScope).Start(ctx, SpanName, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		u := *req.URL
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", req.Method),
			attribute.String("server.address", u.Hostname()),
			attribute.String("url.full", u.String()),
			attribute.String("hub.tenant.id", del.TenantID),
			attribute.String("hub.webhook.endpoint_id", del.EndpointID),
			attribute.String("hub.event.id", del.EventID),
			attribute.String("hub.event.type", del.EventType),
			attribute.Int("hub.attempt", del.Attempts+1),
		}
		if p, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, attribute.Int("server.port", p))
		}
		span.SetAttributes(attrs...)
	}
	if span.SpanContext().IsValid() {
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	return span
}

// endSpan records an attempt's outcome (its status, or the kind of failure,
// never its text, which may quote the URL) and ends its span.
func endSpan(span trace.Span, status int, err error) {
	if span.IsRecording() {
		if status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		switch {
		case err != nil && status == 0:
			kind := "transport"
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				kind = "timeout"
			} else if errors.Is(err, ErrBlockedAddress) {
				kind = "blocked_address"
			}
			span.SetAttributes(attribute.String("error.type", kind))
			span.SetStatus(codes.Error, "no answer")
		case err != nil || status < 200 || status >= 300:
			span.SetAttributes(attribute.String("error.type", strconv.Itoa(status)))
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
}

// sendError strips the URL net/http puts in its errors (it may carry a token in
// its query) and keeps the cause.
func sendError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			if errors.Is(inner, ErrBlockedAddress) {
				return inner
			}
			var ne net.Error
			if errors.As(inner, &ne) && ne.Timeout() {
				return fmt.Errorf("timed out: %w", inner)
			}
			return inner
		}
	}
	return err
}

// retryAfter parses a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, math.MaxInt64/int64(time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// checkHealth disables endpoints that answered 410 or have failed for the whole
// FailingPeriod, and emits webhook.endpoint_disabled for each.
func (d *Dispatcher) checkHealth(ctx context.Context, outs []store.DeliveryOutcome, gone []bool) {
	type state struct {
		ok, failed, gone bool
		lastErr          string
	}
	seen := map[string]*state{}
	var order []string
	for i, o := range outs {
		if o.Attempt == nil {
			continue
		}
		s := seen[o.EndpointID]
		if s == nil {
			s = &state{}
			seen[o.EndpointID] = s
			order = append(order, o.EndpointID)
		}
		if o.Attempt.Error == "" {
			s.ok = true
		} else {
			s.failed, s.lastErr = true, o.Attempt.Error
		}
		s.gone = s.gone || gone[i]
	}
	now := d.cfg.Now()
	cutoff := now.Add(-d.cfg.FailingPeriod)
	for _, id := range order {
		s := seen[id]
		var reason string
		var before *time.Time
		switch {
		case s.gone:
			reason = "the receiver answered 410 Gone"
		case s.failed && !s.ok:
			reason = fmt.Sprintf("failing without a success for %s", d.cfg.FailingPeriod)
			before = &cutoff
		default:
			continue
		}
		ep, off, err := d.st.DisableWebhookEndpoint(context.WithoutCancel(ctx), id, reason, before, now)
		if err != nil {
			d.log.WarnContext(ctx, "webhook endpoint health", "endpoint", id, "error", err)
			continue
		}
		if !off {
			continue
		}
		d.forget(id)
		d.log.WarnContext(ctx, "webhook endpoint disabled", "endpoint", id, "tenant", ep.TenantID, "reason", reason)
		d.emitDisabled(ctx, ep, s.lastErr, now)
	}
}

func (d *Dispatcher) emitDisabled(ctx context.Context, ep store.WebhookEndpoint, lastErr string, now time.Time) {
	if d.cfg.Emit == nil {
		return
	}
	since := now
	if ep.FailingSince != nil {
		since = *ep.FailingSince
	}
	data, err := json.Marshal(events.EndpointDisabled{EndpointID: ep.ID, URL: ep.URL, FailingSince: since, LastError: lastErr})
	if err != nil {
		return
	}
	ev := events.Event{ID: NewEventID(now), Type: events.WebhookEndpointDisabled, TenantID: ep.TenantID,
		Time: now.UTC().Truncate(time.Millisecond), Subject: ep.ID, Data: data}
	if err := d.cfg.Emit(context.WithoutCancel(ctx), ev); err != nil {
		d.log.ErrorContext(ctx, "emitting webhook.endpoint_disabled", "endpoint", ep.ID, "error", err)
	}
}

// NewEventID returns "evt_", the time in milliseconds as 12 hex digits and 8
// random bytes in hex: unique, and ordered by time.
func NewEventID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("evt_%012x%s", now.UnixMilli(), hex.EncodeToString(b[:]))
}
