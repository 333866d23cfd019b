// Package router turns one canonical API call into one connector invocation: it
// checks the connector serves the operation, resolves the tenant's account for that
// connector, validates the request body, picks the base URL and deadline, and hands
// the call to the connector processes. It is the hot path of every /v1 operation
// call and owns no transport: engine/api speaks HTTP and engine/plugins speaks gRPC.
//
// Every error it returns is an *sdk.Error; its own have source hub. A create
// (sdk.OperationSpec Creates) whose attempt may have reached the provider with no
// answer coming back (the connector process died, the call timed out or broke after
// the request was written) is not retried, even under an Idempotency-Key: it fails
// with sdk.CodeOutcomeUnknown, saying what the caller should do, and is recorded
// (Config.Unknown). Settle then finds out how such a create turned out, where the
// connector can look it up (find_shipment).
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/telemetry"
)

// Connectors is what the router needs from the connector process manager
// (engine/plugins.Manager satisfies it).
type Connectors interface {
	// Manifest returns the manifest of a known connector.
	Manifest(id string) (*sdk.Manifest, bool)
	// Invoke runs one call in the connector's process; errors are *sdk.Error.
	Invoke(ctx context.Context, connectorID string, call *sdk.Call) ([]byte, error)
}

// Accounts is the part of store.Store the router reads accounts from.
type Accounts interface {
	// GetAccount returns one of the tenant's accounts, or store.ErrNotFound.
	GetAccount(ctx context.Context, tenantID, id string) (store.Account, error)
	// ListAccounts lists the tenant's accounts of one connector.
	ListAccounts(ctx context.Context, tenantID, connectorID string) ([]store.Account, error)
}

// FieldError names one offending field of a request by JSON pointer: the
// SDK's one field-error type, under the name the router's callers know.
type FieldError = sdk.FieldError

// ValidationError is an invalid_request error that names every offending field.
// It unwraps to its *sdk.Error, so errors.As(err, new(*sdk.Error)) finds the code.
type ValidationError struct {
	// Err is the classified error (code invalid_request, source hub).
	Err *sdk.Error
	// Fields are the offending fields.
	Fields []FieldError
}

// Error returns the classified error's text.
func (e *ValidationError) Error() string { return e.Err.Error() }

// Unwrap returns the classified error.
func (e *ValidationError) Unwrap() error { return e.Err }

// NewValidationError builds a ValidationError from field errors; its message names
// the first field and how many others there are.
func NewValidationError(fields []FieldError) *ValidationError {
	msg := "the request body is invalid"
	field := ""
	if len(fields) > 0 {
		field = fields[0].Pointer
		where := fields[0].Pointer
		if where == "" {
			where = "body"
		}
		msg = fmt.Sprintf("%s: %s", where, fields[0].Message)
		if len(fields) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(fields)-1)
		}
	}
	return &ValidationError{
		Err:    &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceHub, Message: msg, Field: field, NotSent: true},
		Fields: fields,
	}
}

// ValidateFunc checks a canonical request body for an operation. It returns nil, a
// *ValidationError naming the offending fields, or any other error, which the
// router reports as an internal hub error.
type ValidateFunc func(op sdk.Operation, body []byte) error

// Config configures a Router.
type Config struct {
	// Connectors runs calls; required.
	Connectors Connectors
	// Accounts resolves accounts; required.
	Accounts Accounts
	// Validate checks request bodies; nil skips validation (tests only).
	Validate ValidateFunc
	// AccountTTL is how long a resolved account is reused without asking the
	// store again; 5s when zero, negative disables the cache.
	AccountTTL time.Duration
	// Resilience runs every connector call under its policy (timeouts, retries,
	// breakers, rate limits, bulkheads); a default Executor when nil.
	Resilience *resilience.Executor
	// Overrides are the hub configuration's policy overrides; nil for none.
	Overrides *resilience.Overrides
	// AfterCall, when set, records a successful call's canonical response (the
	// shipments and events it causes, in one store transaction) before Invoke
	// returns it. Its failure is logged, and turned into the caller's error only
	// for a Route with MustRecord: the provider has already done what it was
	// asked.
	AfterCall func(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) error
	// Unknown, when set, records a create whose outcome is unknown (an
	// outcome_unknown error; see Invoke) before Invoke returns it: the hub's
	// record of an unconfirmed shipment. Its failure is logged.
	Unknown func(ctx context.Context, u Unknown) error
	// SettleAfter is the Retry-After of an outcome_unknown error: how long a
	// retry should wait before the hub settles the outcome, so that the provider
	// has finished with the lost request. DefaultSettleAfter when zero.
	SettleAfter time.Duration
	// Observe, when set, is told about every finished connector call (err nil
	// on success) with its duration, retries and waits included: for metrics.
	Observe func(connector string, op sdk.Operation, err *sdk.Error, d time.Duration)
	// Logger receives the router's own warnings; slog.Default() when nil.
	Logger *slog.Logger
	// TracerProvider opens the span around each connector call;
	// otel.GetTracerProvider() when nil.
	TracerProvider trace.TracerProvider
	// Now is the clock; time.Now when nil (tests replace it).
	Now func() time.Time
}

// Route identifies one operation call.
type Route struct {
	// TenantID is the authenticated caller's tenant.
	TenantID string
	// ConnectorID is the connector to call.
	ConnectorID string
	// Operation is the canonical operation.
	Operation sdk.Operation
	// AccountID picks the account; empty means the tenant's only account of the connector.
	AccountID string
	// IdempotencyKey is the caller's key; accepted on creating operations only.
	IdempotencyKey string
	// RequestID identifies the call in logs.
	RequestID string
	// MustRecord makes a failure to record the call's outcome (Config.AfterCall)
	// the call's error (internal, from the hub) instead of only a log line. Callers that can ask again without a provider noticing set it: a
	// status file read from an SFTP inbox stays in the inbox until its results
	// are recorded.
	MustRecord bool
}

// Router routes canonical calls to connectors. It is safe for concurrent use.
type Router struct {
	conns    Connectors
	accounts Accounts
	validate ValidateFunc
	log      *slog.Logger
	now      func() time.Time
	cache    *accountCache
	exec     *resilience.Executor
	ov       *resilience.Overrides
	observe  func(connector string, op sdk.Operation, err *sdk.Error, d time.Duration)
	after    func(ctx context.Context, tenantID, connectorID, accountID string, op sdk.Operation, response []byte) error
	unknown  func(ctx context.Context, u Unknown) error
	settle   time.Duration
	tracer   trace.Tracer
	policies sync.Map // policyKey -> resilience.Policy
}

// policyKey names a resolved policy. The manifest pointer is part of it so a
// reloaded connector (a new manifest) resolves afresh.
type policyKey struct {
	m  *sdk.Manifest
	op sdk.Operation
}

// New returns a Router.
func New(cfg Config) (*Router, error) {
	if cfg.Connectors == nil || cfg.Accounts == nil {
		return nil, errors.New("router: Connectors and Accounts are required")
	}
	if err := cfg.Overrides.Validate(); err != nil {
		return nil, fmt.Errorf("router: resilience overrides: %w", err)
	}
	r := &Router{conns: cfg.Connectors, accounts: cfg.Accounts, validate: cfg.Validate, log: cfg.Logger, now: cfg.Now,
		exec: cfg.Resilience, ov: cfg.Overrides, observe: cfg.Observe, after: cfg.AfterCall,
		unknown: cfg.Unknown, settle: cfg.SettleAfter}
	if r.settle <= 0 {
		r.settle = DefaultSettleAfter
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.exec == nil {
		r.exec = resilience.NewExecutor(resilience.Options{Logger: r.log})
	}
	if r.now == nil {
		r.now = time.Now
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	r.tracer = tp.Tracer("github.com/carrierhub/hub/engine/router")
	ttl := cfg.AccountTTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	if ttl > 0 {
		r.cache = &accountCache{ttl: ttl, max: 4096, entries: map[cacheKey]cacheEntry{}}
	}
	return r, nil
}

func hubError(code sdk.Code, format string, args ...any) *sdk.Error {
	return &sdk.Error{Code: code, Source: sdk.SourceHub, Message: fmt.Sprintf(format, args...), NotSent: true}
}

// Invoke runs one operation for a tenant and returns the canonical response JSON.
func (r *Router) Invoke(ctx context.Context, rt Route, body []byte) ([]byte, error) {
	m, ok := r.conns.Manifest(rt.ConnectorID)
	if !ok {
		return nil, hubError(sdk.CodeNotFound, "no connector %q", rt.ConnectorID)
	}
	spec, ok := sdk.LookupOperation(rt.Operation)
	if !ok {
		return nil, hubError(sdk.CodeNotFound, "no operation %q (see GET /v1/connectors/%s)", rt.Operation, rt.ConnectorID)
	}
	if _, ok := m.Operation(rt.Operation); !ok {
		return nil, hubError(sdk.CodeNotFound, "connector %s does not serve %s", rt.ConnectorID, rt.Operation)
	}
	if rt.IdempotencyKey != "" && !spec.Creates {
		e := hubError(sdk.CodeInvalidRequest, "Idempotency-Key is accepted only on operations that create something; %s does not", rt.Operation)
		e.Field = "Idempotency-Key"
		return nil, e
	}
	acct, err := r.resolve(ctx, rt.TenantID, m, rt.AccountID)
	if err != nil {
		return nil, err
	}
	if r.validate != nil {
		if err := r.validate(rt.Operation, body); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				return nil, ve
			}
			var se *sdk.Error
			if errors.As(err, &se) {
				return nil, se
			}
			r.log.ErrorContext(ctx, "validator failed", "operation", rt.Operation, "error", err)
			return nil, hubError(sdk.CodeInternal, "validating %s request: %v", rt.Operation, err)
		}
	}
	pol := r.policy(m, rt.Operation)
	// One deadline for the whole call (queueing, rate-limit waits, attempts,
	// backoffs); the executor reuses it rather than setting a second one.
	ctx, cancel := context.WithTimeout(ctx, pol.Timeout)
	defer cancel()
	call := &sdk.Call{
		Operation:      rt.Operation,
		Account:        acct,
		IdempotencyKey: rt.IdempotencyKey,
		RequestID:      rt.RequestID,
		Payload:        body,
	}
	// The span covers the resilience call: queueing, rate-limit waits, every
	// attempt (each a child span of its own) and the backoffs between them.
	ctx, span := r.tracer.Start(ctx, "connector call")
	defer span.End()
	recording := span.IsRecording()
	if recording {
		span.SetName("call " + rt.ConnectorID + " " + string(rt.Operation))
		span.SetAttributes(telemetry.AttrConnector.String(rt.ConnectorID), telemetry.AttrOperation.String(string(rt.Operation)),
			telemetry.AttrAccount.String(acct.ID), telemetry.AttrTenant.String(rt.TenantID), telemetry.AttrRequestID.String(rt.RequestID))
	}
	// attempts counts the attempts for the span; nil when it records nothing,
	// so an untraced call allocates no counter.
	var attempts *int
	if recording {
		attempts = new(int)
	}
	// unanswered keeps, for a create, the failure of an attempt that may have
	// reached the provider without an answer coming back.
	var unanswered *atomic.Pointer[sdk.Error]
	if spec.Creates {
		unanswered = new(atomic.Pointer[sdk.Error])
	}
	began := time.Now()
	attempt := func(ctx context.Context) ([]byte, error) {
		if attempts == nil {
			return r.conns.Invoke(ctx, rt.ConnectorID, call)
		}
		*attempts++
		if *attempts > 1 {
			span.AddEvent("retry", trace.WithAttributes(telemetry.AttrAttempt.Int(*attempts)))
		}
		out, err := r.conns.Invoke(ctx, rt.ConnectorID, call)
		if err != nil {
			span.AddEvent("attempt failed", trace.WithAttributes(telemetry.AttrAttempt.Int(*attempts),
				telemetry.AttrErrorCode.String(string(sdk.AsError(err).Code))))
		}
		return out, err
	}
	if unanswered != nil {
		// Such an attempt is never retried, even under an Idempotency-Key (the
		// provider may not honour it, and one that de-duplicates by reference
		// would answer a conflict instead of the booking): the outcome is
		// unknown, the caller is told so, and a retry of theirs settles it. The
		// executor counts it as a failure, like the error it stands for.
		plain := attempt
		attempt = func(ctx context.Context) ([]byte, error) {
			out, err := plain(ctx)
			if e := sdk.AsError(err); e != nil && noAnswer(e) {
				unanswered.CompareAndSwap(nil, e)
				return nil, &sdk.Error{Code: sdk.CodeOutcomeUnknown, Source: e.Source, Message: e.Message,
					CarrierCode: e.CarrierCode, CarrierMessage: e.CarrierMessage}
			}
			return out, err
		}
	}
	out, err := r.exec.Do(ctx, resilience.Call{
		Connector: rt.ConnectorID,
		Account:   acct.ID,
		Operation: rt.Operation,
		Policy:    pol,
		RetrySafe: resilience.RetrySafe(m, rt.Operation, rt.IdempotencyKey),
	}, attempt)
	var se *sdk.Error
	if err != nil {
		se = sdk.AsError(err)
		if unanswered != nil {
			if cause := unanswered.Load(); cause != nil {
				se = r.unknownOutcome(ctx, rt, m, acct.ID, body, cause)
			}
		}
	}
	if r.observe != nil {
		r.observe(rt.ConnectorID, rt.Operation, se, time.Since(began))
	}
	if recording {
		span.SetAttributes(telemetry.AttrAttempt.Int(*attempts))
		if se != nil {
			span.SetAttributes(telemetry.AttrErrorCode.String(string(se.Code)), telemetry.AttrErrorSrc.String(string(se.Source)))
			span.SetStatus(codes.Error, string(se.Code))
		}
	}
	if se != nil {
		return nil, se
	}
	if r.after != nil {
		// The caller may hang up now; the record must still be written.
		if err := r.after(context.WithoutCancel(ctx), rt.TenantID, rt.ConnectorID, acct.ID, rt.Operation, out); err != nil {
			r.log.ErrorContext(ctx, "recording a connector call's outcome", "connector", rt.ConnectorID,
				"operation", rt.Operation, "account", acct.ID, "request_id", rt.RequestID, "error", err)
			if rt.MustRecord {
				return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub,
					Message: "the call succeeded but its outcome could not be recorded; ask again later"}
			}
		}
	}
	return out, nil
}

// policy returns the resolved call policy of a connector's operation, resolved
// once per manifest and operation.
func (r *Router) policy(m *sdk.Manifest, op sdk.Operation) resilience.Policy {
	k := policyKey{m, op}
	if p, ok := r.policies.Load(k); ok {
		return p.(resilience.Policy)
	}
	p := resilience.Resolve(m, op, r.ov)
	r.policies.Store(k, p)
	return p
}

// Policy returns the call policy a connector's operation runs under.
func (r *Router) Policy(connectorID string, op sdk.Operation) (resilience.Policy, bool) {
	m, ok := r.conns.Manifest(connectorID)
	if !ok {
		return resilience.Policy{}, false
	}
	return r.policy(m, op), true
}

// Resilience returns a connector's resilience state (breakers, rate-limit
// headroom, error rates, bulkhead, retry budget); ok is false before its first call.
func (r *Router) Resilience(connectorID string) (resilience.ConnectorHealth, bool) {
	return r.exec.Snapshot(connectorID)
}

type accountHookKey struct{}

// OnAccount returns a context under which Invoke and Account tell fn the id of
// the account they resolved (the tenant's only account when none was named), so
// the caller's request log can name it.
func OnAccount(ctx context.Context, fn func(accountID string)) context.Context {
	return context.WithValue(ctx, accountHookKey{}, fn)
}

// Account resolves the account a call of connectorID would act for: accountID
// when given (it must be the tenant's and of that connector), else the tenant's
// only account of the connector. The base URL is filled in.
func (r *Router) Account(ctx context.Context, tenantID, connectorID, accountID string) (*sdk.Account, error) {
	m, ok := r.conns.Manifest(connectorID)
	if !ok {
		return nil, hubError(sdk.CodeNotFound, "no connector %q", connectorID)
	}
	return r.resolve(ctx, tenantID, m, accountID)
}

// Forget drops cached accounts of a tenant, so a deleted or changed account stops
// being used at once rather than after the cache TTL.
func (r *Router) Forget(tenantID string) {
	if r.cache != nil {
		r.cache.forget(tenantID)
	}
}

func (r *Router) resolve(ctx context.Context, tenantID string, m *sdk.Manifest, accountID string) (acct *sdk.Account, err error) {
	defer func() {
		if fn, ok := ctx.Value(accountHookKey{}).(func(string)); ok && err == nil && acct != nil {
			fn(acct.ID)
		}
	}()
	key := cacheKey{tenant: tenantID, connector: m.ID, account: accountID}
	if r.cache != nil {
		if a, ok := r.cache.get(key, r.now()); ok {
			return a, nil
		}
	}
	var sa store.Account
	if accountID != "" {
		a, err := r.accounts.GetAccount(ctx, tenantID, accountID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e := hubError(sdk.CodeNotFound, "no account %q", accountID)
			e.Field = "account"
			return nil, e
		case err != nil:
			return nil, r.storeError(ctx, err)
		case a.ConnectorID != m.ID:
			e := hubError(sdk.CodeInvalidRequest, "account %s belongs to connector %s, not %s", accountID, a.ConnectorID, m.ID)
			e.Field = "account"
			return nil, e
		}
		sa = a
	} else {
		list, err := r.accounts.ListAccounts(ctx, tenantID, m.ID)
		if err != nil {
			return nil, r.storeError(ctx, err)
		}
		switch len(list) {
		case 0:
			e := hubError(sdk.CodeInvalidRequest, "no account of connector %s is set up for this tenant; create one with POST /v1/accounts", m.ID)
			e.Field = "account"
			return nil, e
		case 1:
			sa = list[0]
		default:
			ids := make([]string, len(list))
			for i, a := range list {
				ids[i] = a.ID + " (" + a.Name + ")"
			}
			sort.Strings(ids)
			e := hubError(sdk.CodeInvalidRequest, "the tenant has %d accounts of connector %s; choose one with ?account= or the Hub-Account header: %s", len(list), m.ID, strings.Join(ids, ", "))
			e.Field = "account"
			return nil, e
		}
	}
	base := sa.BaseURL
	if base == "" {
		base = m.Account.Environments[sa.Environment]
	}
	if base == "" {
		e := hubError(sdk.CodeInvalidRequest, "account %s uses environment %q, which connector %s does not define, and sets no base URL", sa.ID, sa.Environment, m.ID)
		e.Field = "account"
		return nil, e
	}
	acct = &sdk.Account{
		ID:          sa.ID,
		TenantID:    sa.TenantID,
		Environment: sa.Environment,
		BaseURL:     base,
		Credentials: sa.Credentials,
		Settings:    sa.Settings,
	}
	if r.cache != nil {
		r.cache.put(key, acct, r.now())
	}
	return acct, nil
}

func (r *Router) storeError(ctx context.Context, err error) *sdk.Error {
	r.log.ErrorContext(ctx, "reading accounts", "error", err)
	if ctx.Err() != nil {
		return hubError(sdk.CodeTimeout, "reading accounts: %v", ctx.Err())
	}
	return hubError(sdk.CodeInternal, "reading accounts: the store did not answer")
}

type cacheKey struct{ tenant, connector, account string }

type cacheEntry struct {
	acct    *sdk.Account
	expires time.Time
}

// accountCache is a tiny TTL map; when full it is emptied rather than evicted
// entry by entry, which keeps it simple and bounded.
type accountCache struct {
	ttl     time.Duration
	max     int
	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
}

func (c *accountCache) get(k cacheKey, now time.Time) (*sdk.Account, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e.acct, true
}

func (c *accountCache) put(k cacheKey, a *sdk.Account, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[k] = cacheEntry{acct: a, expires: now.Add(c.ttl)}
}

func (c *accountCache) forget(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.tenant == tenant {
			delete(c.entries, k)
		}
	}
}
