// Package metrics is the hub's Prometheus instrumentation
// (github.com/prometheus/client_golang), served at GET /metrics.
//
// Names follow Prometheus conventions: a hub_ prefix, base units (seconds,
// bytes), _total counters and _seconds histograms. Label sets are bounded:
// connector (one per installed connector), operation (the canonical set), code
// (the sdk error codes, "ok" on success), route (the API's route table), state
// (a handful of values). Account ids and tenants never become labels: they are
// unbounded and tenant data; per-account state is in GET
// /v1/connectors/{id}/health instead.
//
// Instrumented parts call small methods (ObserveCall, ObserveRequest, ...) or
// take adapters (Resilience() is a resilience.Observer); state that exists
// anyway (processes, breakers) is read at scrape time by collectors, so the hot
// path pays for nothing it does not change.
package metrics

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// Metrics holds the hub's registry and its instruments. It is safe for
// concurrent use; a nil *Metrics ignores every observation, so callers need no
// checks when metrics are off.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	attempts     *prometheus.CounterVec

	retries        *prometheus.CounterVec
	retriesRefused *prometheus.CounterVec
	breakerChanges *prometheus.CounterVec
	rateWaits      *prometheus.CounterVec
	rateWaitTime   *prometheus.HistogramVec
	rateRejects    *prometheus.CounterVec
	bulkRejects    *prometheus.CounterVec

	idemReplays *prometheus.CounterVec

	whAttempts *prometheus.CounterVec
	whDuration prometheus.Histogram

	coldStarts     *prometheus.CounterVec
	coldStartTime  *prometheus.HistogramVec
	coldStartFails *prometheus.CounterVec
}

// latencyBuckets span a cached answer (a millisecond) to a slow carrier (30 s).
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// New returns the hub's metrics with the Go runtime and process collectors registered.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) prometheus.Collector { reg.MustRegister(c); return c }
	m := &Metrics{reg: reg}
	m.httpRequests = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_http_requests_total", Help: "API requests answered, by route, method and HTTP status code.",
	}, []string{"route", "method", "status"})).(*prometheus.CounterVec)
	m.httpDuration = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hub_http_request_duration_seconds", Help: "Time to answer an API request, by route.", Buckets: latencyBuckets,
	}, []string{"route"})).(*prometheus.HistogramVec)
	m.calls = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_connector_calls_total", Help: "Connector calls finished, by connector, operation and outcome code (ok or an sdk error code).",
	}, []string{"connector", "operation", "code"})).(*prometheus.CounterVec)
	m.callDuration = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hub_connector_call_duration_seconds", Help: "Time a connector call took end to end, retries, waits and queueing included.", Buckets: latencyBuckets,
	}, []string{"connector", "operation"})).(*prometheus.HistogramVec)
	m.attempts = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_connector_attempts_total", Help: "Attempts that reached a connector (first tries and retries).",
	}, []string{"connector", "operation"})).(*prometheus.CounterVec)
	m.retries = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_connector_retries_total", Help: "Retries made, by the failure code that caused them.",
	}, []string{"connector", "operation", "code"})).(*prometheus.CounterVec)
	m.retriesRefused = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_retry_budget_refused_total", Help: "Retries the connector's retry budget refused.",
	}, []string{"connector"})).(*prometheus.CounterVec)
	m.breakerChanges = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_circuit_breaker_transitions_total", Help: "Circuit breaker state changes of a connector's accounts.",
	}, []string{"connector", "from", "to"})).(*prometheus.CounterVec)
	m.rateWaits = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_rate_limit_waits_total", Help: "Calls that waited for a rate-limit token.",
	}, []string{"connector"})).(*prometheus.CounterVec)
	m.rateWaitTime = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hub_rate_limit_wait_seconds", Help: "Time calls waited for a rate-limit token.", Buckets: latencyBuckets,
	}, []string{"connector"})).(*prometheus.HistogramVec)
	m.rateRejects = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_rate_limit_rejections_total", Help: "Calls refused because no rate-limit token would come before their deadline.",
	}, []string{"connector"})).(*prometheus.CounterVec)
	m.bulkRejects = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_bulkhead_rejections_total", Help: "Calls refused because the connector's in-flight slots and queue were full.",
	}, []string{"connector"})).(*prometheus.CounterVec)
	m.idemReplays = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_idempotency_replays_total", Help: "Creates answered from a stored first answer (Idempotency-Key), by outcome: replayed, in_progress, mismatch; and retries of creates whose outcome was unknown: unsettled (told to wait), settled_found, settled_not_found, settled_confirmed, needs_confirmation.",
	}, []string{"connector", "operation", "outcome"})).(*prometheus.CounterVec)
	m.whAttempts = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_webhook_deliveries_total", Help: "Webhook delivery attempts, by outcome (succeeded, retry, dead) and the receiver's status class (2xx, 4xx, 5xx, none).",
	}, []string{"outcome", "status_class"})).(*prometheus.CounterVec)
	m.whDuration = f(prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hub_webhook_delivery_duration_seconds", Help: "Time a webhook delivery attempt took, until the receiver answered or failed.", Buckets: latencyBuckets,
	})).(prometheus.Histogram)
	m.coldStarts = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_connector_cold_starts_total", Help: "Connector processes started.",
	}, []string{"connector"})).(*prometheus.CounterVec)
	m.coldStartFails = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hub_connector_start_failures_total", Help: "Connector processes that failed to start.",
	}, []string{"connector"})).(*prometheus.CounterVec)
	m.coldStartTime = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hub_connector_cold_start_seconds", Help: "Time from launching a connector process to its answered handshake.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10},
	}, []string{"connector"})).(*prometheus.HistogramVec)
	return m
}

// Registry returns the registry, for tests and for other packages' collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// ObserveRequest records one answered API request. route is the route's
// pattern ("POST /v1/connectors/{id}/{operation}") or "unmatched".
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, method, statusLabel(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// statusLabels are the HTTP status codes as label values, made once.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(s int) string {
	if s >= 0 && s < len(statusLabels) {
		return statusLabels[s]
	}
	return strconv.Itoa(s)
}

// ObserveCall records a finished connector call: err nil is success.
func (m *Metrics) ObserveCall(connector string, op sdk.Operation, err *sdk.Error, d time.Duration) {
	if m == nil {
		return
	}
	code := "ok"
	if err != nil {
		code = string(err.Code)
	}
	m.calls.WithLabelValues(connector, string(op), code).Inc()
	m.callDuration.WithLabelValues(connector, string(op)).Observe(d.Seconds())
}

// ObserveReplay records an Idempotency-Key outcome other than a fresh call.
func (m *Metrics) ObserveReplay(connector string, op sdk.Operation, outcome string) {
	if m == nil {
		return
	}
	m.idemReplays.WithLabelValues(connector, string(op), outcome).Inc()
}

// ObserveStart records a connector process start (err non-nil: it failed).
func (m *Metrics) ObserveStart(connector string, d time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.coldStartFails.WithLabelValues(connector).Inc()
		return
	}
	m.coldStarts.WithLabelValues(connector).Inc()
	m.coldStartTime.WithLabelValues(connector).Observe(d.Seconds())
}

// ObserveDelivery records one webhook delivery attempt (status 0: no answer).
func (m *Metrics) ObserveDelivery(status int, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	class := "none"
	if status >= 100 && status < 600 {
		class = strconv.Itoa(status/100) + "xx"
	}
	m.whAttempts.WithLabelValues(outcome, class).Inc()
	m.whDuration.Observe(d.Seconds())
}

// Resilience returns an observer for the resilience executor.
func (m *Metrics) Resilience() resilience.Observer {
	if m == nil {
		return resilience.NopObserver{}
	}
	return resilienceObserver{m}
}

type resilienceObserver struct{ m *Metrics }

func (o resilienceObserver) CallDone(connector, _ string, op sdk.Operation, _ *sdk.Error, attempts int) {
	if attempts > 0 {
		o.m.attempts.WithLabelValues(connector, string(op)).Add(float64(attempts))
	}
}

func (o resilienceObserver) Retry(connector, _ string, op sdk.Operation, _ int, code sdk.Code, _ time.Duration) {
	o.m.retries.WithLabelValues(connector, string(op), string(code)).Inc()
}

func (o resilienceObserver) RetryRefused(connector, _ string, _ sdk.Operation, _ sdk.Code) {
	o.m.retriesRefused.WithLabelValues(connector).Inc()
}

func (o resilienceObserver) BreakerChange(connector, _ string, from, to resilience.BreakerState) {
	o.m.breakerChanges.WithLabelValues(connector, string(from), string(to)).Inc()
}

func (o resilienceObserver) RateLimitWait(connector, _ string, wait time.Duration) {
	o.m.rateWaits.WithLabelValues(connector).Inc()
	o.m.rateWaitTime.WithLabelValues(connector).Observe(wait.Seconds())
}

func (o resilienceObserver) RateLimitReject(connector, _ string, _ time.Duration) {
	o.m.rateRejects.WithLabelValues(connector).Inc()
}

func (o resilienceObserver) BulkheadReject(connector string, _, _ int) {
	o.m.bulkRejects.WithLabelValues(connector).Inc()
}

// Processes is what the process collector reads: the plugin manager.
type Processes interface {
	// Connectors lists every connector with its process status.
	Connectors() []plugins.Info
}

// Snapshots is what the resilience collector reads: the router.
type Snapshots interface {
	// Resilience returns a connector's state; ok is false before its first call.
	Resilience(connector string) (resilience.ConnectorHealth, bool)
}

// Watch registers collectors that read connector processes and resilience
// state at scrape time.
func (m *Metrics) Watch(procs Processes, snaps Snapshots) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&stateCollector{procs: procs, snaps: snaps})
}

// Pipeline is what the event-pipeline collector reads: the store.
type Pipeline interface {
	// OutboxBacklog returns a sink's backlog.
	OutboxBacklog(ctx context.Context, sink string) (store.Backlog, error)
	// WebhookBacklog returns the dispatcher's queue and endpoints by state.
	WebhookBacklog(ctx context.Context) (store.DeliveryBacklog, error)
}

// WatchPipeline registers a collector reading the outbox backlog of each sink
// (busSink is the bus relay's, also reported as hub_kafka_relay_lag) and the
// webhook queue at scrape time, each scrape bounded to two seconds.
func (m *Metrics) WatchPipeline(p Pipeline, sinks []string, busSink string) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&pipelineCollector{p: p, sinks: sinks, busSink: busSink, now: time.Now})
}

var (
	outboxDepthDesc = prometheus.NewDesc("hub_outbox_depth", "Events in the outbox a sink has not delivered yet.", []string{"sink"}, nil)
	outboxAgeDesc   = prometheus.NewDesc("hub_outbox_oldest_age_seconds", "Age of the oldest event a sink has not delivered yet; 0 when none.", []string{"sink"}, nil)
	kafkaLagDesc    = prometheus.NewDesc("hub_kafka_relay_lag", "Events in the outbox not yet published to the bus (Kafka, or the in-process bus).", nil, nil)
	whPendingDesc   = prometheus.NewDesc("hub_webhook_deliveries_pending", "Webhook deliveries waiting for an attempt or a retry.", nil, nil)
	whOverdueDesc   = prometheus.NewDesc("hub_webhook_oldest_overdue_seconds", "How long the most overdue pending delivery has been due; 0 when none is overdue.", nil, nil)
	whEndpointsDesc = prometheus.NewDesc("hub_webhook_endpoints", "Webhook endpoints by state (enabled, disabled).", []string{"state"}, nil)
	scrapeErrDesc   = prometheus.NewDesc("hub_pipeline_scrape_errors", "1 when the last scrape could not read the event pipeline's backlog from the store.", nil, nil)
)

type pipelineCollector struct {
	p       Pipeline
	sinks   []string
	busSink string
	now     func() time.Time
}

func (c *pipelineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{outboxDepthDesc, outboxAgeDesc, kafkaLagDesc, whPendingDesc, whOverdueDesc, whEndpointsDesc, scrapeErrDesc} {
		ch <- d
	}
}

func (c *pipelineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := c.now()
	failed := 0.0
	for _, sink := range c.sinks {
		b, err := c.p.OutboxBacklog(ctx, sink)
		if err != nil {
			failed = 1
			continue
		}
		age := 0.0
		if !b.OutboxOldest.IsZero() {
			age = max(0, now.Sub(b.OutboxOldest).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(b.OutboxDepth), sink)
		ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age, sink)
		if sink == c.busSink {
			ch <- prometheus.MustNewConstMetric(kafkaLagDesc, prometheus.GaugeValue, float64(b.OutboxDepth))
		}
	}
	if w, err := c.p.WebhookBacklog(ctx); err != nil {
		failed = 1
	} else {
		overdue := 0.0
		if !w.OldestDue.IsZero() && w.OldestDue.Before(now) {
			overdue = now.Sub(w.OldestDue).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(whPendingDesc, prometheus.GaugeValue, float64(w.Pending))
		ch <- prometheus.MustNewConstMetric(whOverdueDesc, prometheus.GaugeValue, overdue)
		ch <- prometheus.MustNewConstMetric(whEndpointsDesc, prometheus.GaugeValue, float64(w.EndpointsEnabled), "enabled")
		ch <- prometheus.MustNewConstMetric(whEndpointsDesc, prometheus.GaugeValue, float64(w.EndpointsDisabled), "disabled")
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, failed)
}

var (
	procStateDesc = prometheus.NewDesc("hub_connector_process_state",
		"1 for the state a connector's process is in (idle, starting, running, crashed, stopped, gave_up), 0 for the others.",
		[]string{"connector", "state"}, nil)
	procRestartsDesc = prometheus.NewDesc("hub_connector_process_restarts_total",
		"Unexpected exits of a connector's process since the hub started.", []string{"connector"}, nil)
	procRSSDesc = prometheus.NewDesc("hub_connector_process_resident_memory_bytes",
		"Resident memory of a running connector process.", []string{"connector"}, nil)
	procInFlightDesc = prometheus.NewDesc("hub_connector_process_in_flight_calls",
		"Calls a connector's process is serving now.", []string{"connector"}, nil)
	breakersDesc = prometheus.NewDesc("hub_circuit_breakers",
		"Accounts of a connector whose circuit breaker is in each state (closed, open, half_open).",
		[]string{"connector", "state"}, nil)
	bulkInFlightDesc = prometheus.NewDesc("hub_bulkhead_in_flight_calls",
		"Calls holding one of a connector's in-flight slots.", []string{"connector"}, nil)
	bulkQueuedDesc = prometheus.NewDesc("hub_bulkhead_queued_calls",
		"Calls waiting for one of a connector's in-flight slots.", []string{"connector"}, nil)
	rateHeadroomDesc = prometheus.NewDesc("hub_rate_limit_headroom_ratio",
		"The lowest share of rate-limit tokens left among a connector's rate-limited accounts (1 full, 0 empty).",
		[]string{"connector"}, nil)
	errorRateDesc = prometheus.NewDesc("hub_connector_error_ratio",
		"Share of a connector's attempts in the breaker window that failed on the provider's side.",
		[]string{"connector"}, nil)
)

var procStates = []plugins.State{plugins.StateIdle, plugins.StateStarting, plugins.StateRunning, plugins.StateCrashed, plugins.StateStopped, plugins.StateGaveUp}

// stateCollector reports processes and resilience state as they are at scrape time.
type stateCollector struct {
	procs Processes
	snaps Snapshots
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{procStateDesc, procRestartsDesc, procRSSDesc, procInFlightDesc,
		breakersDesc, bulkInFlightDesc, bulkQueuedDesc, rateHeadroomDesc, errorRateDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, info := range c.procs.Connectors() {
		id := info.Manifest.ID
		for _, s := range procStates {
			v := 0.0
			if info.Status.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(procStateDesc, prometheus.GaugeValue, v, id, string(s))
		}
		ch <- prometheus.MustNewConstMetric(procRestartsDesc, prometheus.CounterValue, float64(info.Status.Restarts), id)
		ch <- prometheus.MustNewConstMetric(procInFlightDesc, prometheus.GaugeValue, float64(info.Status.InFlight), id)
		if info.Status.PID > 0 {
			if rss, ok := residentBytes(info.Status.PID); ok {
				ch <- prometheus.MustNewConstMetric(procRSSDesc, prometheus.GaugeValue, rss, id)
			}
		}
		if c.snaps == nil {
			continue
		}
		h, ok := c.snaps.Resilience(id)
		if !ok {
			continue
		}
		counts := map[resilience.BreakerState]int{}
		headroom, limited := 1.0, false
		requests, failures := 0, 0
		for _, a := range h.Accounts {
			counts[a.Breaker]++
			requests += a.Requests
			failures += a.Failures
			if a.RateLimit > 0 && a.RateBurst > 0 {
				limited = true
				headroom = min(headroom, a.TokensAvailable/float64(a.RateBurst))
			}
		}
		for _, s := range []resilience.BreakerState{resilience.BreakerClosed, resilience.BreakerOpen, resilience.BreakerHalfOpen} {
			ch <- prometheus.MustNewConstMetric(breakersDesc, prometheus.GaugeValue, float64(counts[s]), id, string(s))
		}
		ch <- prometheus.MustNewConstMetric(bulkInFlightDesc, prometheus.GaugeValue, float64(h.InFlight), id)
		ch <- prometheus.MustNewConstMetric(bulkQueuedDesc, prometheus.GaugeValue, float64(h.Queued), id)
		if limited {
			ch <- prometheus.MustNewConstMetric(rateHeadroomDesc, prometheus.GaugeValue, max(0, headroom), id)
		}
		ratio := 0.0
		if requests > 0 {
			ratio = float64(failures) / float64(requests)
		}
		ch <- prometheus.MustNewConstMetric(errorRateDesc, prometheus.GaugeValue, ratio, id)
	}
}

// residentBytes reads a process's resident set size from /proc (Linux); ok is
// false elsewhere or when the process is gone.
func residentBytes(pid int) (float64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return 0, false
	}
	return pages * float64(os.Getpagesize()), true
}
