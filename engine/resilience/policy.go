package resilience

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// The engine's defaults, used for every knob that neither the hub configuration nor
// the connector's manifest sets.
const (
	DefaultTimeout                 = sdk.DefaultTimeout
	DefaultMaxAttempts             = 3
	DefaultBackoffBase             = 100 * time.Millisecond
	DefaultBackoffCap              = 2 * time.Second
	DefaultRetryAfterCap           = 10 * time.Second
	DefaultRetryBudgetRatio        = 0.2
	DefaultRetryBudgetFloor        = 10
	DefaultRetryBudgetWindow       = 10 * time.Second
	DefaultBreakerFailures         = 5
	DefaultBreakerFailureRatio     = 0.5
	DefaultBreakerMinRequests      = 20
	DefaultBreakerWindow           = 10 * time.Second
	DefaultBreakerOpenFor          = 30 * time.Second
	DefaultBreakerHalfOpenRequests = 1
	DefaultMaxInFlight             = 64
	DefaultMaxQueued               = 256
)

// Policy is the resolved call policy of one (connector, operation): every knob has
// its final value. Resolve builds it; the router resolves once per call (or caches
// the result per connector and operation) and hands it to Executor.Do in a Call.
type Policy struct {
	// Timeout is the one deadline of a whole call: queueing, rate-limit waits, every
	// attempt and every backoff share it.
	Timeout time.Duration `json:"timeout"`
	// MaxAttempts bounds the attempts of a retryable call, the first included.
	MaxAttempts int `json:"max_attempts"`
	// BackoffBase is the backoff ceiling before the first retry; it doubles per retry.
	BackoffBase time.Duration `json:"backoff_base"`
	// BackoffCap caps the backoff ceiling.
	BackoffCap time.Duration `json:"backoff_cap"`
	// RetryAfterCap is the longest provider Retry-After the executor waits out.
	RetryAfterCap time.Duration `json:"retry_after_cap"`
	// RetryBudgetRatio is the fraction of a connector's calls that may be retried.
	RetryBudgetRatio float64 `json:"retry_budget_ratio"`
	// RetryBudgetFloor is how many retries a connector may always make per window.
	RetryBudgetFloor int `json:"retry_budget_floor"`
	// RetryBudgetWindow is the sliding window of the retry budget.
	RetryBudgetWindow time.Duration `json:"retry_budget_window"`
	// BreakerFailures opens the breaker after this many consecutive failures.
	BreakerFailures int `json:"breaker_failures"`
	// BreakerFailureRatio opens the breaker when this fraction of the window's calls failed.
	BreakerFailureRatio float64 `json:"breaker_failure_ratio"`
	// BreakerMinRequests is how many calls the window needs before the ratio counts.
	BreakerMinRequests int `json:"breaker_min_requests"`
	// BreakerWindow is the rolling window the breaker counts calls in.
	BreakerWindow time.Duration `json:"breaker_window"`
	// BreakerOpenFor is how long an open breaker fails calls fast.
	BreakerOpenFor time.Duration `json:"breaker_open_for"`
	// BreakerHalfOpenRequests is how many probes a half-open breaker lets through.
	BreakerHalfOpenRequests int `json:"breaker_half_open_requests"`
	// RateLimit is the requests per second allowed per account; 0 means unlimited.
	RateLimit float64 `json:"rate_limit"`
	// RateBurst is the token bucket's size.
	RateBurst int `json:"rate_burst"`
	// MaxInFlight caps the connector's concurrent calls.
	MaxInFlight int `json:"max_in_flight"`
	// MaxQueued caps the calls waiting for an in-flight slot.
	MaxQueued int `json:"max_queued"`
}

// DefaultPolicy returns the engine's defaults.
func DefaultPolicy() Policy {
	return Policy{
		Timeout:                 DefaultTimeout,
		MaxAttempts:             DefaultMaxAttempts,
		BackoffBase:             DefaultBackoffBase,
		BackoffCap:              DefaultBackoffCap,
		RetryAfterCap:           DefaultRetryAfterCap,
		RetryBudgetRatio:        DefaultRetryBudgetRatio,
		RetryBudgetFloor:        DefaultRetryBudgetFloor,
		RetryBudgetWindow:       DefaultRetryBudgetWindow,
		BreakerFailures:         DefaultBreakerFailures,
		BreakerFailureRatio:     DefaultBreakerFailureRatio,
		BreakerMinRequests:      DefaultBreakerMinRequests,
		BreakerWindow:           DefaultBreakerWindow,
		BreakerOpenFor:          DefaultBreakerOpenFor,
		BreakerHalfOpenRequests: DefaultBreakerHalfOpenRequests,
		MaxInFlight:             DefaultMaxInFlight,
		MaxQueued:               DefaultMaxQueued,
	}
}

// Overrides is the hub configuration's say over connector policies: per connector,
// and within a connector per operation. Zero fields inherit. The hub configuration
// loads it from YAML (or JSON) like:
//
//	connectors:
//	  delhivery:
//	    timeout: 20s
//	    operations:
//	      create_shipment:
//	        max_attempts: 1
type Overrides struct {
	// Connectors maps a connector ID to its overrides.
	Connectors map[string]ConnectorOverrides `yaml:"connectors,omitempty" json:"connectors,omitempty"`
}

// ConnectorOverrides overrides one connector's policy, and per operation.
type ConnectorOverrides struct {
	// Policy holds the connector-wide overrides, written inline.
	sdk.Policy `yaml:",inline"`
	// Operations maps an operation to overrides that win over the connector-wide ones.
	Operations map[sdk.Operation]sdk.Policy `yaml:"operations,omitempty" json:"operations,omitempty"`
}

// Validate checks every override is in range and names only known operations.
func (o *Overrides) Validate() error {
	if o == nil {
		return nil
	}
	ids := make([]string, 0, len(o.Connectors))
	for id := range o.Connectors {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := o.Connectors[id]
		if err := c.Policy.Validate(); err != nil {
			return fmt.Errorf("connectors.%s.%w", id, err)
		}
		ops := make([]string, 0, len(c.Operations))
		for op := range c.Operations {
			ops = append(ops, string(op))
		}
		sort.Strings(ops)
		for _, op := range ops {
			if _, ok := sdk.LookupOperation(sdk.Operation(op)); !ok {
				return fmt.Errorf("connectors.%s.operations: unknown operation %q", id, op)
			}
			p := c.Operations[sdk.Operation(op)]
			if err := p.Validate(); err != nil {
				return fmt.Errorf("connectors.%s.operations.%s.%w", id, op, err)
			}
			if knob := connectorWideKnob(&p); knob != "" {
				return fmt.Errorf("connectors.%s.operations.%s.%s: is kept per connector (breakers per account, bulkhead and retry budget per connector), not per operation; set it on the connector", id, op, knob)
			}
		}
	}
	return nil
}

// connectorWideKnob names the first knob set in an operation's override that only
// makes sense for the whole connector: one breaker per account, one bulkhead and
// one retry budget per connector serve all of its operations.
func connectorWideKnob(p *sdk.Policy) string {
	switch {
	case p.BreakerFailures != 0:
		return "breaker_failures"
	case p.BreakerFailureRatio != 0:
		return "breaker_failure_ratio"
	case p.BreakerMinRequests != 0:
		return "breaker_min_requests"
	case p.BreakerWindow != 0:
		return "breaker_window"
	case p.BreakerOpenFor != 0:
		return "breaker_open_for"
	case p.BreakerHalfOpenRequests != 0:
		return "breaker_half_open_requests"
	case p.MaxInFlight != 0:
		return "max_in_flight"
	case p.MaxQueued != 0:
		return "max_queued"
	case p.RetryBudgetRatio != 0:
		return "retry_budget_ratio"
	case p.RetryBudgetFloor != 0:
		return "retry_budget_floor"
	case p.RetryBudgetWindow != 0:
		return "retry_budget_window"
	}
	return ""
}

// Resolve returns the policy of operation op of the connector m describes. Each knob
// takes the first value set in: the operation's override, the connector's override
// (both from ov, which may be nil), the manifest's operation (only its timeout), the
// manifest's connector-wide policy, the engine's default.
func Resolve(m *sdk.Manifest, op sdk.Operation, ov *Overrides) Policy {
	p := DefaultPolicy()
	if m == nil {
		return p
	}
	p.apply(&m.Resilience)
	if info, ok := m.Operation(op); ok && info.Timeout > 0 {
		p.Timeout = time.Duration(info.Timeout)
	}
	if ov != nil {
		if c, ok := ov.Connectors[m.ID]; ok {
			p.apply(&c.Policy)
			if o, ok := c.Operations[op]; ok {
				p.apply(&o)
			}
		}
	}
	p.normalize()
	return p
}

// RetrySafe reports whether a call of op may be repeated without risking a
// duplicate effect at the provider: the manifest marks op idempotent, or the call
// carries an Idempotency-Key.
func RetrySafe(m *sdk.Manifest, op sdk.Operation, idempotencyKey string) bool {
	if idempotencyKey != "" {
		return true
	}
	if m == nil {
		return false
	}
	info, ok := m.Operation(op)
	return ok && info.Idempotent
}

// apply overwrites p's knobs with the non-zero fields of s.
func (p *Policy) apply(s *sdk.Policy) {
	setDur(&p.Timeout, s.Timeout)
	setInt(&p.MaxAttempts, s.MaxAttempts)
	setDur(&p.BackoffBase, s.BackoffBase)
	setDur(&p.BackoffCap, s.BackoffCap)
	setDur(&p.RetryAfterCap, s.RetryAfterCap)
	setFloat(&p.RetryBudgetRatio, s.RetryBudgetRatio)
	setInt(&p.RetryBudgetFloor, s.RetryBudgetFloor)
	setDur(&p.RetryBudgetWindow, s.RetryBudgetWindow)
	setInt(&p.BreakerFailures, s.BreakerFailures)
	setFloat(&p.BreakerFailureRatio, s.BreakerFailureRatio)
	setInt(&p.BreakerMinRequests, s.BreakerMinRequests)
	setDur(&p.BreakerWindow, s.BreakerWindow)
	setDur(&p.BreakerOpenFor, s.BreakerOpenFor)
	setInt(&p.BreakerHalfOpenRequests, s.BreakerHalfOpenRequests)
	setFloat(&p.RateLimit, s.RateLimit)
	setInt(&p.RateBurst, s.RateBurst)
	setInt(&p.MaxInFlight, s.MaxInFlight)
	setInt(&p.MaxQueued, s.MaxQueued)
}

// normalize gives every zero knob but RateLimit (zero: no limit) its default and
// fills RateBurst from RateLimit, so a hand-built or zero Policy behaves like the
// defaults.
func (p *Policy) normalize() {
	d := DefaultPolicy()
	if p.Timeout <= 0 {
		p.Timeout = d.Timeout
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BackoffBase <= 0 {
		p.BackoffBase = d.BackoffBase
	}
	if p.BackoffCap < p.BackoffBase {
		p.BackoffCap = p.BackoffBase
	}
	if p.RetryAfterCap <= 0 {
		p.RetryAfterCap = d.RetryAfterCap
	}
	if p.RetryBudgetRatio <= 0 {
		p.RetryBudgetRatio = d.RetryBudgetRatio
	}
	if p.RetryBudgetFloor <= 0 {
		p.RetryBudgetFloor = d.RetryBudgetFloor
	}
	if p.RetryBudgetWindow <= 0 {
		p.RetryBudgetWindow = d.RetryBudgetWindow
	}
	if p.BreakerFailures <= 0 {
		p.BreakerFailures = d.BreakerFailures
	}
	if p.BreakerFailureRatio <= 0 {
		p.BreakerFailureRatio = d.BreakerFailureRatio
	}
	if p.BreakerMinRequests <= 0 {
		p.BreakerMinRequests = d.BreakerMinRequests
	}
	if p.BreakerWindow <= 0 {
		p.BreakerWindow = d.BreakerWindow
	}
	if p.BreakerOpenFor <= 0 {
		p.BreakerOpenFor = d.BreakerOpenFor
	}
	if p.BreakerHalfOpenRequests <= 0 {
		p.BreakerHalfOpenRequests = d.BreakerHalfOpenRequests
	}
	if p.RateLimit > 0 && p.RateBurst <= 0 {
		p.RateBurst = max(1, int(math.Ceil(p.RateLimit)))
	}
	if p.MaxInFlight <= 0 {
		p.MaxInFlight = d.MaxInFlight
	}
	if p.MaxQueued <= 0 {
		p.MaxQueued = d.MaxQueued
	}
}

func setDur(dst *time.Duration, v sdk.Duration) {
	if v > 0 {
		*dst = time.Duration(v)
	}
}

func setInt(dst *int, v int) {
	if v > 0 {
		*dst = v
	}
}

func setFloat(dst *float64, v float64) {
	if v > 0 {
		*dst = v
	}
}
