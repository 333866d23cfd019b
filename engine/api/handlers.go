package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/carrierhub/hub/engine/inbound"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchange"
	"github.com/carrierhub/hub/sdk/host"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// ConnectorView is a connector as GET /v1/connectors shows it: its declaration
// and its process status.
type ConnectorView struct {
	// ID is the connector's stable id (delhivery_express).
	ID string `json:"id"`
	// Name is its display name.
	Name string `json:"name"`
	// Category is carrier_parcel, carrier_ltl_ftl, aggregator, telematics, government or erp.
	Category string `json:"category"`
	// Version is the connector's own version.
	Version string `json:"version"`
	// Builtin is true for connectors compiled into the hub.
	Builtin bool `json:"builtin"`
	// Operations are the canonical operations it serves.
	Operations []OperationView `json:"operations"`
	// State is where its process is: idle, starting, running, crashed, stopped,
	// or gave_up (crashed plugins.max_crashes times in a row and no longer
	// restarted until the hub restarts; LastError says why it last exited).
	State plugins.State `json:"state"`
	// PID is the process id while it runs.
	PID int `json:"pid,omitempty"`
	// Restarts counts unexpected exits since the hub started.
	Restarts int `json:"restarts"`
	// LastError is the last process failure.
	LastError string `json:"last_error,omitempty"`
	// StartedAt is when the current process started.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// Region is the country or region the provider serves (IN, global).
	Region string `json:"region,omitempty"`
	// Description says in a sentence what the connector does.
	Description string `json:"description,omitempty"`
	// Protocols are the wire styles it speaks (rest_json, soap_xml, ...).
	Protocols []string `json:"protocols"`
	// Docs is the provider's API documentation.
	Docs string `json:"docs,omitempty"`
	// Sources are where the connector's facts come from, with how sure we are.
	Sources []sdk.FactSource `json:"sources"`
	// Resilience is the call policy the manifest declares; the hub's
	// configuration may override it, and what neither sets is the engine's default.
	Resilience sdk.Policy `json:"resilience"`
	// Account is what an account of this connector holds: the names of its
	// credentials (write-only) and settings, and its environments.
	Account AccountSchemaView `json:"account"`
}

// AccountSchemaView is a connector's account schema, as forms are built from it.
type AccountSchemaView struct {
	Credentials  []sdk.Field       `json:"credentials"`
	Settings     []sdk.Field       `json:"settings"`
	Environments map[string]string `json:"environments"`
}

// OperationView is one operation a connector serves.
type OperationView struct {
	// Name is the canonical operation.
	Name sdk.Operation `json:"name"`
	// Idempotent is true when repeating the call cannot duplicate its effect.
	Idempotent bool `json:"idempotent"`
	// Creates is true when the operation accepts an Idempotency-Key.
	Creates bool `json:"creates"`
}

// ProcessView is one connector's process status, as the unauthenticated
// GET /healthz/connectors summary shows it; it holds no tenant data.
type ProcessView struct {
	// ID is the connector's id.
	ID string `json:"id"`
	// State is where its process is: idle, starting, running, crashed, stopped,
	// or gave_up (crashed plugins.max_crashes times in a row and no longer
	// restarted until the hub restarts; LastError says why it last exited).
	State plugins.State `json:"state"`
	// PID is the process id while it runs.
	PID int `json:"pid,omitempty"`
	// StartedAt is when the current process started.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// UptimeSeconds is how long the process has run, by the hub's clock; 0 when not running.
	UptimeSeconds int64 `json:"uptime_seconds"`
	// Restarts counts unexpected exits since the hub started.
	Restarts int `json:"restarts"`
	// LastError is the last process failure.
	LastError string `json:"last_error,omitempty"`
	// Calls sums up the connector's recent calls across all accounts; absent
	// before its first call.
	Calls *CallSummary `json:"calls,omitempty"`
}

// CallSummary is a connector's resilience state summed over its accounts, with
// no account named, for the unauthenticated process summary.
type CallSummary struct {
	// Accounts is how many accounts have called recently.
	Accounts int `json:"accounts"`
	// BreakersOpen counts accounts whose circuit breaker is open (failing fast).
	BreakersOpen int `json:"breakers_open"`
	// BreakersHalfOpen counts accounts whose breaker is probing for recovery.
	BreakersHalfOpen int `json:"breakers_half_open"`
	// Requests counts attempts that reached providers in the breaker window.
	Requests int `json:"requests"`
	// Failures counts the attempts among them that failed on the provider's side.
	Failures int `json:"failures"`
	// ErrorRate is Failures over Requests.
	ErrorRate float64 `json:"error_rate"`
	// Rejected counts calls failed fast by open breakers in the window.
	Rejected int `json:"rejected"`
	// InFlight and Queued are the bulkhead's current use.
	InFlight int `json:"in_flight"`
	// Queued counts calls waiting for an in-flight slot.
	Queued int `json:"queued"`
	// RetriesRefused counts retries the retry budget refused in its window.
	RetriesRefused int `json:"retries_refused"`
	// P95Millis is the 95th percentile of the connector's latest calls' time
	// end to end (retries and waits included), over LatencySamples calls;
	// absent when the hub keeps no such figure.
	P95Millis      float64 `json:"p95_ms,omitempty"`
	LatencySamples int     `json:"latency_samples,omitempty"`
}

// summarize sums a connector's resilience state over its accounts.
func summarize(h resilience.ConnectorHealth) *CallSummary {
	c := &CallSummary{Accounts: len(h.Accounts), InFlight: h.InFlight, Queued: h.Queued, RetriesRefused: h.RetryBudget.Refused}
	for _, a := range h.Accounts {
		switch a.Breaker {
		case resilience.BreakerOpen:
			c.BreakersOpen++
		case resilience.BreakerHalfOpen:
			c.BreakersHalfOpen++
		}
		c.Requests += a.Requests
		c.Failures += a.Failures
		c.Rejected += a.Rejected
	}
	if c.Requests > 0 {
		c.ErrorRate = float64(c.Failures) / float64(c.Requests)
	}
	return c
}

// HealthView is the answer of GET /v1/connectors/{id}/health.
type HealthView struct {
	// ID is the connector's id.
	ID string `json:"id"`
	// State is where its process is after the probe.
	State plugins.State `json:"state"`
	// PID is the process id while it runs.
	PID int `json:"pid,omitempty"`
	// Restarts counts unexpected exits since the hub started.
	Restarts int `json:"restarts"`
	// LastError is the last process failure.
	LastError string `json:"last_error,omitempty"`
	// StartedAt is when the current process started.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// Account is the account the connector's check ran with, if one was named.
	Account string `json:"account,omitempty"`
	// CheckSupported is true when the connector has its own health check.
	CheckSupported bool `json:"check_supported"`
	// Healthy is true when the process answers, its check (if any) passed and no
	// circuit breaker of the tenant's accounts (of the named one, when named) is open.
	Healthy bool `json:"healthy"`
	// CheckError is the connector's health-check failure, classified.
	CheckError *Problem `json:"check_error,omitempty"`
	// Resilience is the call-policy state: the connector-wide bulkhead and retry
	// budget, and per account of the tenant (only the named one, when named) the
	// circuit breaker, recent error rate and rate-limit headroom.
	Resilience *resilience.ConnectorHealth `json:"resilience,omitempty"`
}

// AccountInput is the body of POST /v1/accounts.
type AccountInput struct {
	// ConnectorID is the connector the account is for.
	ConnectorID string `json:"connector_id"`
	// Name tells the tenant's accounts apart; unique per tenant.
	Name string `json:"name"`
	// Environment is sandbox or production.
	Environment string `json:"environment"`
	// BaseURL overrides the connector's URL for the environment.
	BaseURL string `json:"base_url,omitempty"`
	// Credentials are the secrets, by the names the connector declares; never returned.
	Credentials map[string]string `json:"credentials,omitempty"`
	// Settings are the non-secret values, by the names the connector declares.
	Settings map[string]string `json:"settings,omitempty"`
}

// APIKeyInput is the body of POST /v1/api-keys.
type APIKeyInput struct {
	// Name tells the tenant's keys apart.
	Name string `json:"name"`
	// Admin asks for an admin key; only an admin key may create one.
	Admin bool `json:"admin,omitempty"`
	// ExpiresAt is when the key stops authenticating, RFC 3339, in the future;
	// empty means never, unless the calling key itself expires: a key never
	// outlives the key that made it, and by default expires with it.
	ExpiresAt string `json:"expires_at,omitempty"`
}

// APIKeyCreated is a new key with its secret, which is shown only this once.
type APIKeyCreated struct {
	store.APIKey
	// Secret is the bearer secret.
	Secret string `json:"secret"`
}

// TenantInput is the body of POST /v1/tenants.
type TenantInput struct {
	// Name is the tenant's unique name.
	Name string `json:"name"`
}

// TenantCreated is a new tenant with its first API key, an admin key.
type TenantCreated struct {
	// Tenant is the new tenant.
	Tenant store.Tenant `json:"tenant"`
	// APIKey is its first key, with the secret.
	APIKey APIKeyCreated `json:"api_key"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readBody enforces the JSON media type and the size limit.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Problem) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil, newProblem(http.StatusUnsupportedMediaType, codeMediaType, fmt.Sprintf("the body must be application/json, not %q", ct))
	}
	if r.ContentLength > s.maxBody {
		return nil, newProblem(http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("the body is %d bytes; the limit is %d", r.ContentLength, s.maxBody))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newProblem(http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("the body exceeds the limit of %d bytes", s.maxBody))
		}
		return nil, newProblem(http.StatusBadRequest, string(sdk.CodeInvalidRequest), "reading the body: the connection broke")
	}
	if len(body) == 0 {
		return nil, newProblem(http.StatusBadRequest, string(sdk.CodeInvalidRequest), "the body is empty; send a JSON object")
	}
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		p := newProblem(http.StatusBadRequest, string(sdk.CodeInvalidRequest), "the body is not JSON: "+err.Error())
		p.Source = string(sdk.SourceHub)
		p.Errors = []ProblemField{bodyField("", err.Error())}
		return nil, p
	}
	return body, nil
}

// decodeStrict decodes a management body, rejecting unknown fields and wrong types.
func decodeStrict(body []byte, v any) *Problem {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		pointer, detail := "", err.Error()
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			if te.Field != "" {
				pointer = "/" + strings.ReplaceAll(te.Field, ".", "/")
			}
			detail = fmt.Sprintf("must be %s, not %s", jsonKind(te.Type.Kind()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			pointer, detail = "/"+escapePointer(name), "is not a known field"
		}
		p := newProblem(http.StatusUnprocessableEntity, string(sdk.CodeInvalidRequest), strings.TrimPrefix(pointer+": "+detail, ": "))
		p.Source = string(sdk.SourceHub)
		p.Errors = []ProblemField{bodyField(pointer, detail)}
		return p
	}
	return nil
}

// jsonKind names a Go kind the way a JSON author thinks of it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func invalidFields(fields []router.FieldError) *Problem {
	return problemFromError(router.NewValidationError(fields))
}

// storeProblem classifies a store failure: missing rows are 404, clashes 409,
// input the store refuses 422 naming the body field, anything else a 503 that is
// logged (its text may name files or hosts).
func (s *server) storeProblem(ctx context.Context, err error, what string) *Problem {
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		return invalidFields([]router.FieldError{{Pointer: storePointer(ve.Field), Message: ve.Reason}})
	case errors.Is(err, store.ErrNotFound):
		p := newProblem(http.StatusNotFound, string(sdk.CodeNotFound), what+" not found")
		p.Source = string(sdk.SourceHub)
		return p
	case errors.Is(err, store.ErrConflict):
		p := newProblem(http.StatusConflict, string(sdk.CodeConflict), what+" already exists")
		p.Source = string(sdk.SourceHub)
		return p
	}
	s.log.ErrorContext(ctx, "store failed", "what", what, "error", err)
	p := newProblem(http.StatusServiceUnavailable, codeUnavailable, "the hub's store did not answer; try again")
	p.Source = string(sdk.SourceHub)
	return p
}

// storePointer is the JSON pointer into the request body of a
// store.ValidationError's field: name, base_url, credentials.api_token, or
// "settings key" (one of the map's keys).
func storePointer(field string) string {
	if parent, key, ok := strings.Cut(field, "."); ok {
		return "/" + parent + "/" + escapePointer(key)
	}
	field, _, _ = strings.Cut(field, " ")
	return "/" + field
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	if s.isDraining() {
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, codeUnavailable, "the hub is shutting down"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "readiness: store ping failed", "error", err)
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, codeUnavailable, "the store does not answer"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *server) openAPI(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func connectorView(info plugins.Info) ConnectorView {
	m := info.Manifest
	v := ConnectorView{
		ID: m.ID, Name: m.Name, Category: m.Category, Version: m.Version, Builtin: info.Builtin,
		Operations: make([]OperationView, 0, len(m.Operations)),
		State:      info.Status.State, PID: info.Status.PID, Restarts: info.Status.Restarts,
		LastError: info.Status.LastError, StartedAt: timePtr(info.Status.StartedAt),
		Region: m.Region, Description: m.Description, Protocols: nonNil(m.Protocols), Docs: m.Docs,
		Sources: nonNil(m.Sources), Resilience: m.Resilience,
		Account: AccountSchemaView{Credentials: nonNil(m.Account.Credentials), Settings: nonNil(m.Account.Settings),
			Environments: m.Account.Environments},
	}
	if v.Account.Environments == nil {
		v.Account.Environments = map[string]string{}
	}
	for _, o := range m.Operations {
		spec, _ := sdk.LookupOperation(o.Name)
		v.Operations = append(v.Operations, OperationView{Name: o.Name, Idempotent: o.Idempotent, Creates: spec.Creates})
	}
	return v
}

// nonNil returns list, or an empty list for nil, so JSON shows [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

func (s *server) sortedConnectors() []plugins.Info {
	list := slices.DeleteFunc(s.conns.Connectors(), func(i plugins.Info) bool { return i.Manifest == nil })
	sort.Slice(list, func(i, j int) bool { return list[i].Manifest.ID < list[j].Manifest.ID })
	return list
}

func (s *server) processSummary(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	writeJSON(w, http.StatusOK, s.processes())
}

// processes is every connector's process state with its recent calls.
func (s *server) processes() []ProcessView {
	now := s.now()
	out := []ProcessView{}
	for _, info := range s.sortedConnectors() {
		v := ProcessView{
			ID: info.Manifest.ID, State: info.Status.State, PID: info.Status.PID,
			StartedAt: timePtr(info.Status.StartedAt), Restarts: info.Status.Restarts, LastError: info.Status.LastError,
		}
		if info.Status.State == plugins.StateRunning && !info.Status.StartedAt.IsZero() {
			v.UptimeSeconds = max(0, int64(now.Sub(info.Status.StartedAt).Seconds()))
		}
		if h, ok := s.router.Resilience(info.Manifest.ID); ok {
			v.Calls = summarize(h)
			if s.latency != nil {
				if p95, n := s.latency(info.Manifest.ID); n > 0 {
					v.Calls.P95Millis, v.Calls.LatencySamples = float64(p95.Microseconds())/1000, n
				}
			}
		}
		out = append(out, v)
	}
	return out
}

func (s *server) listConnectors(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	out := []ConnectorView{}
	for _, info := range s.sortedConnectors() {
		out = append(out, connectorView(info))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) connectorExchanges(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	id, accountID := r.PathValue("id"), r.URL.Query().Get("account")
	if _, ok := s.conns.Manifest(id); !ok {
		writeProblem(w, r, noConnector(id))
		return
	}
	if accountID == "" {
		p := newProblem(http.StatusUnprocessableEntity, string(sdk.CodeInvalidRequest), "name the account whose exchanges to show")
		p.Errors = []ProblemField{{Parameter: "account", Detail: "is required"}}
		writeProblem(w, r, p)
		return
	}
	// The account must be the caller's: another tenant's is 404, like any unknown one.
	if _, err := s.router.Account(r.Context(), key.TenantID, id, accountID); err != nil {
		writeProblem(w, r, problemFromError(err))
		return
	}
	list, err := s.conns.Exchanges(r.Context(), id, accountID, exchange.PerAccount)
	if errors.Is(err, host.ErrNoExchanges) {
		writeProblem(w, r, newProblem(http.StatusNotImplemented, string(sdk.CodePermanent), err.Error()))
		return
	}
	if err != nil {
		writeProblem(w, r, problemFromError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, list) // a connector's list is checked to be JSON on the way
}

func (s *server) findConnector(id string) (plugins.Info, bool) {
	for _, info := range s.conns.Connectors() {
		if info.Manifest != nil && info.Manifest.ID == id {
			return info, true
		}
	}
	return plugins.Info{}, false
}

func noConnector(id string) *Problem {
	p := newProblem(http.StatusNotFound, string(sdk.CodeNotFound), fmt.Sprintf("no connector %q", id))
	p.Source = string(sdk.SourceHub)
	return p
}

func (s *server) getConnector(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	info, ok := s.findConnector(r.PathValue("id"))
	if !ok {
		writeProblem(w, r, noConnector(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, connectorView(info))
}

func (s *server) connectorHealth(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	id := r.PathValue("id")
	if _, ok := s.conns.Manifest(id); !ok {
		writeProblem(w, r, noConnector(id))
		return
	}
	var acct *sdk.Account
	accountID := r.URL.Query().Get("account")
	if accountID != "" && isOperator(key) {
		writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "accounts belong to tenants: check an account's connection with one of its tenant's keys"))
		return
	}
	if accountID != "" {
		a, err := s.router.Account(r.Context(), key.TenantID, id, accountID)
		if err != nil {
			writeProblem(w, r, problemFromError(err))
			return
		}
		acct = a
	}
	h, err := s.conns.Health(r.Context(), id, acct)
	if err != nil {
		writeProblem(w, r, problemFromError(err))
		return
	}
	v := HealthView{
		ID: id, State: h.Status.State, PID: h.Status.PID, Restarts: h.Status.Restarts,
		LastError: h.Status.LastError, StartedAt: timePtr(h.Status.StartedAt), Account: accountID,
		CheckSupported: h.CheckSupported,
		Healthy:        h.CheckError == nil && (h.Status.State == plugins.StateRunning || h.Status.State == plugins.StateIdle),
	}
	if h.CheckError != nil {
		v.CheckError = problemFromError(h.CheckError)
	}
	if rh, ok := s.router.Resilience(id); ok {
		mine, err := s.tenantAccounts(r.Context(), key.TenantID, id, accountID)
		if err != nil {
			writeProblem(w, r, s.storeProblem(r.Context(), err, "accounts"))
			return
		}
		kept := rh.Accounts[:0:0]
		for _, a := range rh.Accounts {
			if mine[a.Account] {
				kept = append(kept, a)
				if a.Breaker == resilience.BreakerOpen {
					v.Healthy = false
				}
			}
		}
		rh.Accounts = kept
		v.Resilience = &rh
	}
	writeJSON(w, http.StatusOK, v)
}

// tenantAccounts returns the ids of a tenant's accounts of a connector (only
// accountID, when given, which the caller has already resolved).
func (s *server) tenantAccounts(ctx context.Context, tenantID, connectorID, accountID string) (map[string]bool, error) {
	if accountID != "" {
		a, err := s.router.Account(ctx, tenantID, connectorID, accountID)
		if err != nil {
			return nil, err
		}
		return map[string]bool{a.ID: true}, nil
	}
	list, err := s.store.ListAccounts(ctx, tenantID, connectorID)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(list))
	for _, a := range list {
		ids[a.ID] = true
	}
	return ids, nil
}

func headerOrQuery(r *http.Request, query, header string) (string, *Problem) {
	q, h := r.URL.Query().Get(query), r.Header.Get(header)
	if q != "" && h != "" && q != h {
		p := newProblem(http.StatusUnprocessableEntity, string(sdk.CodeInvalidRequest), fmt.Sprintf("?%s=%s and the %s header disagree", query, q, header))
		p.Errors = []ProblemField{{Parameter: query, Detail: "differs from the " + header + " header"}}
		return "", p
	}
	if q != "" {
		return q, nil
	}
	return h, nil
}

func (s *server) invoke(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	account, p := headerOrQuery(r, "account", "Hub-Account")
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	idem, p := idempotencyKey(r)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	body, p := s.readBody(w, r)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	rt := router.Route{
		TenantID:       key.TenantID,
		ConnectorID:    r.PathValue("id"),
		Operation:      sdk.Operation(r.PathValue("operation")),
		AccountID:      account,
		IdempotencyKey: idem,
		RequestID:      stateOf(r.Context()).requestID,
	}
	st := stateOf(r.Context())
	st.connector, st.operation = rt.ConnectorID, string(rt.Operation)
	st.account.Store(account)
	r = r.WithContext(router.OnAccount(r.Context(), func(id string) { st.account.Store(id) }))
	if idem != "" && s.invokeOnce(w, r, rt, body) {
		return
	}
	out, err := s.router.Invoke(r.Context(), rt, body)
	if err != nil {
		writeProblem(w, r, problemFromError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (s *server) listAccounts(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	list, err := s.store.ListAccounts(r.Context(), key.TenantID, r.URL.Query().Get("connector"))
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "accounts"))
		return
	}
	if list == nil {
		list = []store.Account{}
	}
	writeJSON(w, http.StatusOK, list)
}

// ValidateAccount checks an account against its connector's manifest: a name,
// a known environment (or a base URL whose host, when a literal address, the
// egress policy allow admits; names are checked when dialled), credentials and
// settings by the names the manifest declares with every required one present.
// It returns the offending fields by JSON pointer into AccountInput, or nil.
func ValidateAccount(m *sdk.Manifest, a AccountInput, allow *egress.Policy) []router.FieldError {
	var errs []router.FieldError
	add := func(pointer, format string, args ...any) {
		errs = append(errs, router.FieldError{Pointer: pointer, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(a.Name) == "" {
		add("/name", "is required")
	} else if len(a.Name) > 200 {
		add("/name", "must be at most 200 characters")
	}
	switch a.Environment {
	case "sandbox", "production":
		if a.BaseURL == "" && m.Account.Environments[a.Environment] == "" {
			add("/environment", "connector %s has no %s URL; set base_url", m.ID, a.Environment)
		}
	case "":
		add("/environment", "is required: sandbox or production")
	default:
		add("/environment", "must be sandbox or production, not %q", a.Environment)
	}
	if a.BaseURL != "" {
		u, err := url.Parse(a.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("/base_url", "must be an absolute http or https URL")
		} else if err, ok := allow.CheckHost(u.Hostname()).(*egress.RefusedError); ok {
			add("/base_url", "host %s is %s, which the egress guard refuses; the operator admits non-public ranges with egress.allow (HUB_EGRESS_ALLOW)", u.Hostname(), err.Class)
		}
	}
	// Accounts of a connector that takes pushes may carry the hub's own SFTP
	// inbox settings, whatever its manifest declares; they are checked here as
	// the inbox would read them.
	var hubSettings, hubCredentials []string
	if _, ok := m.Operation(sdk.OpReceivePush); ok {
		hubSettings, hubCredentials = inbound.InboxSettingNames(), inbound.InboxCredentialNames()
		if key, problem := inbound.CheckInboxSettings(a.Settings, a.Credentials); key == "credentials" {
			add("/credentials", "%s", problem)
		} else if key != "" {
			add("/settings/"+escapePointer(key), "%s", problem)
		}
	}
	// The provider's other hosts (manifest account.hosts) may be pointed
	// elsewhere per account (a proxy, a sandbox): host_NAME, checked as
	// base_url is.
	for _, name := range slices.Sorted(maps.Keys(m.Account.Hosts)) {
		key := sdk.HostSetting(name)
		hubSettings = append(hubSettings, key)
		v, ok := a.Settings[key]
		if !ok {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("/settings/"+escapePointer(key), "must be an absolute http or https URL")
		} else if err, ok := allow.CheckHost(u.Hostname()).(*egress.RefusedError); ok {
			add("/settings/"+escapePointer(key), "host %s is %s, which the egress guard refuses; the operator admits non-public ranges with egress.allow (HUB_EGRESS_ALLOW)", u.Hostname(), err.Class)
		}
	}
	checkMap := func(kind string, declared []sdk.Field, given map[string]string, hub []string) {
		known := map[string]bool{}
		for _, name := range hub {
			known[name] = true
		}
		for _, f := range declared {
			known[f.Name] = true
			if f.Required && given[f.Name] == "" {
				add("/"+kind+"/"+escapePointer(f.Name), "is required by connector %s", m.ID)
			}
		}
		names := make([]string, 0, len(given))
		for k := range given {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !known[k] {
				add("/"+kind+"/"+escapePointer(k), "connector %s declares no %s %q", m.ID, strings.TrimSuffix(kind, "s"), k)
			}
		}
	}
	checkMap("credentials", m.Account.Credentials, a.Credentials, hubCredentials)
	checkMap("settings", m.Account.Settings, a.Settings, hubSettings)
	return errs
}

func (s *server) createAccount(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	in, ok := readInput[AccountInput](s, w, r)
	if !ok {
		return
	}
	m, ok := s.conns.Manifest(in.ConnectorID)
	if !ok {
		writeProblem(w, r, invalidFields([]router.FieldError{{Pointer: "/connector_id", Message: fmt.Sprintf("no connector %q", in.ConnectorID)}}))
		return
	}
	if errs := ValidateAccount(m, in, s.egress); len(errs) > 0 {
		writeProblem(w, r, invalidFields(errs))
		return
	}
	a, err := s.store.CreateAccount(r.Context(), store.Account{
		TenantID: key.TenantID, ConnectorID: in.ConnectorID, Name: in.Name, Environment: in.Environment,
		BaseURL: in.BaseURL, Credentials: in.Credentials, Settings: in.Settings,
	})
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "account "+in.Name))
		return
	}
	s.router.Forget(key.TenantID)
	w.Header().Set("Location", "/v1/accounts/"+url.PathEscape(a.ID))
	writeJSON(w, http.StatusCreated, a)
}

func (s *server) getAccount(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	a, err := s.store.GetAccount(r.Context(), key.TenantID, r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "account "+r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *server) deleteAccount(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	if err := s.store.DeleteAccount(r.Context(), key.TenantID, r.PathValue("id")); err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "account "+r.PathValue("id")))
		return
	}
	s.router.Forget(key.TenantID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listAPIKeys(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	list, err := s.store.ListAPIKeys(r.Context(), key.TenantID)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "API keys"))
		return
	}
	if list == nil {
		list = []store.APIKey{}
	}
	writeJSON(w, http.StatusOK, list)
}

func requireName(name string) *Problem {
	if strings.TrimSpace(name) == "" {
		return invalidFields([]router.FieldError{{Pointer: "/name", Message: "is required"}})
	}
	if len(name) > 200 {
		return invalidFields([]router.FieldError{{Pointer: "/name", Message: "must be at most 200 characters"}})
	}
	return nil
}

func (s *server) createAPIKey(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	in, ok := readInput[APIKeyInput](s, w, r)
	if !ok {
		return
	}
	if p := requireName(in.Name); p != nil {
		writeProblem(w, r, p)
		return
	}
	if in.Admin && !key.Admin {
		writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "only an admin key may create an admin key"))
		return
	}
	expires, p := s.keyExpiry(in.ExpiresAt, key)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	var opts []store.KeyOption
	if expires != nil {
		opts = append(opts, store.WithExpiry(*expires))
	}
	k, secret, err := s.store.CreateAPIKey(r.Context(), key.TenantID, in.Name, in.Admin, opts...)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "API key "+in.Name))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, APIKeyCreated{APIKey: k, Secret: secret})
}

// keyExpiry reads a new key's expires_at: RFC 3339 and in the future. A key
// made by an expiring key expires no later than its maker (a 422 otherwise),
// and with it when no time is given, so a short-lived key cannot mint a
// longer-lived one.
func (s *server) keyExpiry(given string, caller store.APIKey) (*time.Time, *Problem) {
	bad := func(format string, args ...any) *Problem {
		return invalidFields([]router.FieldError{{Pointer: "/expires_at", Message: fmt.Sprintf(format, args...)}})
	}
	if given == "" {
		return caller.ExpiresAt, nil
	}
	t, err := time.Parse(time.RFC3339, given)
	if err != nil {
		return nil, bad("must be an RFC 3339 time such as 2027-01-31T18:30:00+05:30")
	}
	if !t.After(s.now()) {
		return nil, bad("%s is not in the future", given)
	}
	if caller.ExpiresAt != nil && t.After(*caller.ExpiresAt) {
		return nil, bad("must not be later than the calling key's own expiry, %s", caller.ExpiresAt.Format(time.RFC3339))
	}
	return &t, nil
}

// revokeAPIKey revokes one of the caller's tenant's keys. Only an admin key
// revokes an admin key, and the store keeps the tenant's last live admin key.
func (s *server) revokeAPIKey(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	id := r.PathValue("id")
	target, err := s.store.GetAPIKey(r.Context(), key.TenantID, id)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "API key "+id))
		return
	}
	if target.Admin && !key.Admin {
		writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "only an admin key may revoke an admin key"))
		return
	}
	err = s.store.RevokeAPIKey(r.Context(), key.TenantID, id)
	if errors.Is(err, store.ErrLastAdminKey) {
		p := newProblem(http.StatusConflict, string(sdk.CodeConflict),
			"API key "+id+" is the tenant's last live admin key, so revoking it would leave no key that can manage admin keys; create another admin key first")
		p.Source = string(sdk.SourceHub)
		writeProblem(w, r, p)
		return
	}
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "API key "+id))
		return
	}
	s.auth.revoke(id)
	w.WriteHeader(http.StatusNoContent)
}

// listTenants lists every tenant for an operator key and only the caller's own
// for a tenant's key.
func (s *server) listTenants(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	if !isOperator(key) {
		t, err := s.store.GetTenant(r.Context(), key.TenantID)
		if err != nil {
			writeProblem(w, r, s.storeProblem(r.Context(), err, "tenant "+key.TenantID))
			return
		}
		writeJSON(w, http.StatusOK, []store.Tenant{t})
		return
	}
	list, err := s.store.ListTenants(r.Context())
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "tenants"))
		return
	}
	if list == nil {
		list = []store.Tenant{}
	}
	writeJSON(w, http.StatusOK, list)
}

// getTenant returns any tenant to an operator key; a tenant's key sees only its
// own, and another tenant is 404 as if it did not exist.
func (s *server) getTenant(w http.ResponseWriter, r *http.Request, key store.APIKey) {
	id := r.PathValue("id")
	if !isOperator(key) && id != key.TenantID {
		writeProblem(w, r, s.storeProblem(r.Context(), store.ErrNotFound, "tenant "+id))
		return
	}
	t, err := s.store.GetTenant(r.Context(), id)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "tenant "+id))
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *server) createTenant(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
	in, ok := readInput[TenantInput](s, w, r)
	if !ok {
		return
	}
	if p := requireName(in.Name); p != nil {
		writeProblem(w, r, p)
		return
	}
	t, err := s.store.CreateTenant(r.Context(), in.Name)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "tenant "+in.Name))
		return
	}
	k, secret, err := s.store.CreateAPIKey(r.Context(), t.ID, "admin", true)
	if err != nil {
		writeProblem(w, r, s.storeProblem(r.Context(), err, "API key of tenant "+t.ID))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, TenantCreated{Tenant: t, APIKey: APIKeyCreated{APIKey: k, Secret: secret}})
}

// readInput reads and strictly decodes a management request's JSON body,
// answering the problem itself when it cannot.
func readInput[T any](s *server, w http.ResponseWriter, r *http.Request) (T, bool) {
	var in T
	body, p := s.readBody(w, r)
	if p == nil {
		p = decodeStrict(body, &in)
	}
	if p != nil {
		writeProblem(w, r, p)
		return in, false
	}
	return in, true
}
