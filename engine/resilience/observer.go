package resilience

import (
	"time"

	"github.com/carrierhub/hub/sdk"
)

// Observer is told what the Executor does, for metrics. The Executor calls it from
// the goroutine running the call (BreakerChange: from whichever call caused the
// change, with the breaker's lock held), so implementations must be safe for
// concurrent use and must not block. Embed NopObserver to implement only some hooks.
type Observer interface {
	// CallDone reports a finished call: err is nil on success, attempts counts the
	// attempts that reached fn (0 when the call was refused before any).
	CallDone(connector, account string, op sdk.Operation, err *sdk.Error, attempts int)
	// Retry reports that attempt (2 for the first retry) will follow after wait,
	// because the previous one failed with code.
	Retry(connector, account string, op sdk.Operation, attempt int, code sdk.Code, wait time.Duration)
	// RetryRefused reports a retry the connector's retry budget did not allow.
	RetryRefused(connector, account string, op sdk.Operation, code sdk.Code)
	// BreakerChange reports a circuit breaker's state change.
	BreakerChange(connector, account string, from, to BreakerState)
	// RateLimitWait reports a call waiting wait for a rate-limit token.
	RateLimitWait(connector, account string, wait time.Duration)
	// RateLimitReject reports a call refused because no token comes before its
	// deadline; retryAfter is when one would.
	RateLimitReject(connector, account string, retryAfter time.Duration)
	// BulkheadReject reports a call refused because the connector's in-flight
	// slots and queue were full.
	BulkheadReject(connector string, inFlight, queued int)
}

// NopObserver is an Observer that does nothing; embed it to override some hooks.
type NopObserver struct{}

var _ Observer = NopObserver{}

// CallDone does nothing.
func (NopObserver) CallDone(string, string, sdk.Operation, *sdk.Error, int) {}

// Retry does nothing.
func (NopObserver) Retry(string, string, sdk.Operation, int, sdk.Code, time.Duration) {}

// RetryRefused does nothing.
func (NopObserver) RetryRefused(string, string, sdk.Operation, sdk.Code) {}

// BreakerChange does nothing.
func (NopObserver) BreakerChange(string, string, BreakerState, BreakerState) {}

// RateLimitWait does nothing.
func (NopObserver) RateLimitWait(string, string, time.Duration) {}

// RateLimitReject does nothing.
func (NopObserver) RateLimitReject(string, string, time.Duration) {}

// BulkheadReject does nothing.
func (NopObserver) BulkheadReject(string, int, int) {}
