package sdk

import (
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Manifest is what a connector declares about itself: who it talks to, what it can
// do, what an account needs and where the facts it was built from come from.
// First-party connectors keep it in a manifest.yaml beside their code (LoadManifest).
type Manifest struct {
	// ID is the connector's stable identifier, lower snake case (delhivery_express).
	ID string `yaml:"id" json:"id"`
	// Name is the display name.
	Name string `yaml:"name" json:"name"`
	// Version is the connector's own semantic version.
	Version string `yaml:"version" json:"version"`
	// Category is carrier_parcel, carrier_ltl_ftl, aggregator, telematics, government or erp.
	Category string `yaml:"category" json:"category"`
	// Region is the ISO country code or region the provider serves (IN, global).
	Region string `yaml:"region,omitempty" json:"region,omitempty"`
	// Description says in a sentence what the connector does.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Protocols are the wire styles it speaks: rest_json, soap_xml, xml_http, odata, edi, sftp_csv.
	Protocols []string `yaml:"protocols" json:"protocols"`
	// Operations are the canonical operations it serves.
	Operations []OperationInfo `yaml:"operations" json:"operations"`
	// Account describes the credentials and settings an account of this connector holds.
	Account AccountSchema `yaml:"account" json:"account"`
	// Docs is the provider's API documentation URL.
	Docs string `yaml:"docs" json:"docs"`
	// Sources list where each fact the connector relies on came from, and how sure we are.
	Sources []FactSource `yaml:"sources,omitempty" json:"sources,omitempty"`
	// Resilience is the default call policy; hub configuration may override it.
	Resilience Policy `yaml:"resilience,omitempty" json:"resilience,omitempty"`
	// Auth names the ways the provider's requests are signed; operation
	// bindings refer to them by name.
	Auth map[string]*AuthSpec `yaml:"auth,omitempty" json:"auth,omitempty"`
	// Zone is the IANA time zone the provider's times without an offset are
	// read in (Asia/Kolkata); conformance holds the connector to it.
	Zone string `yaml:"zone,omitempty" json:"zone,omitempty"`
	// Shared names the families of shared files the connector reads (the
	// connectors' shared directory, shared/FAMILY/...): a platform's login
	// mapping, one carrier's tracking table for two of its APIs. Their paths
	// in bindings and mappings start with shared/FAMILY/.
	Shared []string `yaml:"shared,omitempty" json:"shared,omitempty"`
	// Translation names the Go translation that runs around the bindings,
	// for a provider whose API carries another system's JSON: nic_ewaybill
	// or nic_einvoice, a GST Suvidha Provider passing NIC's e-way bill or
	// e-invoice JSON on. The bindings then take that system's request data
	// as their input and answer its answer data, and the translation writes
	// and reads the canonical requests and answers (package connectors).
	// Empty: the bindings' mappings translate.
	Translation string `yaml:"translation,omitempty" json:"translation,omitempty" jsonschema:"enum=nic_ewaybill,enum=nic_einvoice"`
	// Inbound is how the provider's pushes authenticate (InboundAuth):
	// required when the connector serves receive_push, and checked by the
	// engine before the connector sees a push.
	Inbound *InboundAuth `yaml:"inbound,omitempty" json:"inbound,omitempty"`
}

// OperationInfo declares one operation a connector serves.
type OperationInfo struct {
	// Name is the canonical operation (create_shipment, track, ...).
	Name Operation `yaml:"name" json:"name"`
	// Idempotent is true when repeating the call cannot duplicate its effect at the
	// provider; only such calls are retried without an idempotency key.
	Idempotent bool `yaml:"idempotent" json:"idempotent"`
	// Timeout overrides the connector's default timeout for this operation.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Binding, when set, declares the provider exchanges that serve the
	// operation, so that it needs no Go (sdk/declarative runs it).
	Binding *Binding `yaml:"binding,omitempty" json:"binding,omitempty"`
}

// AccountSchema describes what an account of a connector holds.
type AccountSchema struct {
	// Credentials are secret fields (keys, passwords, tokens); stored encrypted, never echoed.
	Credentials []Field `yaml:"credentials" json:"credentials"`
	// Settings are non-secret fields (customer code, pickup location, area).
	Settings []Field `yaml:"settings,omitempty" json:"settings,omitempty"`
	// Environments map environment names (sandbox, production) to base URLs.
	Environments map[string]string `yaml:"environments" json:"environments"`
	// Hosts are the provider's other base URLs, by name and then environment,
	// for providers that log in, or track, somewhere else than they book
	// (hosts: {auth: {production: https://oauth.example.com}}); a request
	// path or token URL starting with {host.NAME} goes there. An account
	// setting host_NAME overrides it.
	Hosts map[string]map[string]string `yaml:"hosts,omitempty" json:"hosts,omitempty"`
}

// Field is one credential or setting of an account.
type Field struct {
	// Name is the key in the account's map.
	Name string `yaml:"name" json:"name"`
	// Description tells an operator where to find the value.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Required marks a field the connector cannot work without.
	Required bool `yaml:"required,omitempty" json:"required,omitempty"`
}

// FactSource records where a fact came from.
type FactSource struct {
	// URL is the document.
	URL string `yaml:"url" json:"url"`
	// Covers says which facts it supports.
	Covers string `yaml:"covers,omitempty" json:"covers,omitempty"`
	// Confidence is high, medium or low.
	Confidence string `yaml:"confidence,omitempty" json:"confidence,omitempty"`
}

// Policy is a connector's default call policy; the engine enforces it around every
// call (engine/resilience). Every field is optional: zero means "inherit", from the
// hub configuration's overrides or else from the engine's default named in the
// field's comment. Retries happen in the engine only, never in a connector or its
// transport, and only when the call is safe to repeat (see OperationInfo.Idempotent).
type Policy struct {
	// Timeout bounds one call, every attempt and wait included; 30s when zero.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// RateLimit is the provider's documented request rate per second per account; 0 means none known.
	RateLimit float64 `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	// RateBurst is how many requests an account may send at once above RateLimit;
	// when zero, RateLimit rounded up (at least 1).
	RateBurst int `yaml:"rate_burst,omitempty" json:"rate_burst,omitempty"`
	// MaxAttempts bounds attempts of a retryable call, the first included; 3 when
	// zero, 1 disables retries.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
	// BackoffBase is the first retry's backoff ceiling, doubled each retry (full
	// jitter: the wait is random between zero and the ceiling); 100ms when zero.
	BackoffBase Duration `yaml:"backoff_base,omitempty" json:"backoff_base,omitempty"`
	// BackoffCap caps the backoff ceiling; 2s when zero.
	BackoffCap Duration `yaml:"backoff_cap,omitempty" json:"backoff_cap,omitempty"`
	// RetryAfterCap is the longest Retry-After the engine waits out before retrying;
	// a longer one ends the call with the provider's rate_limited error. 10s when zero.
	RetryAfterCap Duration `yaml:"retry_after_cap,omitempty" json:"retry_after_cap,omitempty"`
	// RetryBudgetRatio caps retries per connector to this fraction of its calls in
	// the budget window (plus RetryBudgetFloor); 0.2 when zero.
	RetryBudgetRatio float64 `yaml:"retry_budget_ratio,omitempty" json:"retry_budget_ratio,omitempty"`
	// RetryBudgetFloor is how many retries the budget always allows per window; 10 when zero.
	RetryBudgetFloor int `yaml:"retry_budget_floor,omitempty" json:"retry_budget_floor,omitempty"`
	// RetryBudgetWindow is the sliding window of the retry budget; 10s when zero.
	RetryBudgetWindow Duration `yaml:"retry_budget_window,omitempty" json:"retry_budget_window,omitempty"`
	// BreakerFailures opens an account's circuit breaker after this many consecutive
	// failures; 5 when zero.
	BreakerFailures int `yaml:"breaker_failures,omitempty" json:"breaker_failures,omitempty"`
	// BreakerFailureRatio also opens it when at least this fraction of the calls in
	// BreakerWindow failed (and there were BreakerMinRequests of them); 0.5 when zero.
	BreakerFailureRatio float64 `yaml:"breaker_failure_ratio,omitempty" json:"breaker_failure_ratio,omitempty"`
	// BreakerMinRequests is how many calls BreakerWindow must hold before the ratio
	// counts; 20 when zero.
	BreakerMinRequests int `yaml:"breaker_min_requests,omitempty" json:"breaker_min_requests,omitempty"`
	// BreakerWindow is the rolling window the breaker counts calls in; 10s when zero.
	BreakerWindow Duration `yaml:"breaker_window,omitempty" json:"breaker_window,omitempty"`
	// BreakerOpenFor is how long an open breaker fails calls fast before letting
	// probes through; 30s when zero.
	BreakerOpenFor Duration `yaml:"breaker_open_for,omitempty" json:"breaker_open_for,omitempty"`
	// BreakerHalfOpenRequests is how many probe calls a half-open breaker lets
	// through (all must succeed to close it); 1 when zero.
	BreakerHalfOpenRequests int `yaml:"breaker_half_open_requests,omitempty" json:"breaker_half_open_requests,omitempty"`
	// MaxInFlight caps the connector's concurrent calls across all accounts; 64 when zero.
	MaxInFlight int `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	// MaxQueued caps the calls waiting for an in-flight slot; beyond it calls fail
	// at once. 256 when zero.
	MaxQueued int `yaml:"max_queued,omitempty" json:"max_queued,omitempty"`
}

// Validate checks that no field of the policy is negative or out of range; zero
// fields are valid (they inherit). Errors name the field by its YAML key.
func (p *Policy) Validate() error {
	type check struct {
		key string
		bad bool
		why string
	}
	checks := []check{
		{"timeout", p.Timeout < 0, "must not be negative"},
		{"rate_limit", p.RateLimit < 0, "must not be negative"},
		{"rate_burst", p.RateBurst < 0, "must not be negative"},
		{"max_attempts", p.MaxAttempts < 0 || p.MaxAttempts > 10, "must be between 1 and 10"},
		{"backoff_base", p.BackoffBase < 0, "must not be negative"},
		{"backoff_cap", p.BackoffCap < 0, "must not be negative"},
		{"backoff_cap", p.BackoffCap > 0 && p.BackoffBase > p.BackoffCap, "must not be less than backoff_base"},
		{"retry_after_cap", p.RetryAfterCap < 0, "must not be negative"},
		{"retry_budget_ratio", p.RetryBudgetRatio < 0 || p.RetryBudgetRatio > 1, "must be between 0 and 1"},
		{"retry_budget_floor", p.RetryBudgetFloor < 0, "must not be negative"},
		{"retry_budget_window", p.RetryBudgetWindow < 0, "must not be negative"},
		{"breaker_failures", p.BreakerFailures < 0, "must not be negative"},
		{"breaker_failure_ratio", p.BreakerFailureRatio < 0 || p.BreakerFailureRatio > 1, "must be between 0 and 1"},
		{"breaker_min_requests", p.BreakerMinRequests < 0, "must not be negative"},
		{"breaker_window", p.BreakerWindow < 0, "must not be negative"},
		{"breaker_open_for", p.BreakerOpenFor < 0, "must not be negative"},
		{"breaker_half_open_requests", p.BreakerHalfOpenRequests < 0, "must not be negative"},
		{"max_in_flight", p.MaxInFlight < 0, "must not be negative"},
		{"max_queued", p.MaxQueued < 0, "must not be negative"},
	}
	for _, c := range checks {
		if c.bad {
			return fmt.Errorf("%s %s", c.key, c.why)
		}
	}
	return nil
}

// DefaultTimeout is the call timeout when neither the manifest nor configuration sets one.
const DefaultTimeout = 30 * time.Second

// TimeoutFor returns the timeout of an operation: its own, else the connector's, else DefaultTimeout.
func (m *Manifest) TimeoutFor(op Operation) time.Duration {
	if info, ok := m.Operation(op); ok && info.Timeout > 0 {
		return time.Duration(info.Timeout)
	}
	if m.Resilience.Timeout > 0 {
		return time.Duration(m.Resilience.Timeout)
	}
	return DefaultTimeout
}

// Operation returns the declaration of op, if the connector serves it.
func (m *Manifest) Operation(op Operation) (OperationInfo, bool) {
	for _, o := range m.Operations {
		if o.Name == op {
			return o, true
		}
	}
	return OperationInfo{}, false
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// Validate checks the manifest is complete and consistent.
func (m *Manifest) Validate() error {
	switch {
	case !idPattern.MatchString(m.ID):
		return fmt.Errorf("manifest: id %q must be lower snake case, 2 to 63 characters", m.ID)
	case m.Name == "":
		return fmt.Errorf("manifest %s: name is required", m.ID)
	case m.Version == "":
		return fmt.Errorf("manifest %s: version is required", m.ID)
	case m.Category == "":
		return fmt.Errorf("manifest %s: category is required", m.ID)
	case len(m.Operations) == 0:
		return fmt.Errorf("manifest %s: declares no operations", m.ID)
	case m.Docs == "":
		return fmt.Errorf("manifest %s: docs (the provider's API documentation URL) is required", m.ID)
	}
	if err := m.Resilience.Validate(); err != nil {
		return fmt.Errorf("manifest %s: resilience.%w", m.ID, err)
	}
	seen := map[Operation]bool{}
	for i, o := range m.Operations {
		if _, ok := LookupOperation(o.Name); !ok {
			return fmt.Errorf("manifest %s: operations[%d]: unknown operation %q", m.ID, i, o.Name)
		}
		if seen[o.Name] {
			return fmt.Errorf("manifest %s: operations[%d]: %q declared twice", m.ID, i, o.Name)
		}
		seen[o.Name] = true
		if o.Binding != nil {
			if err := m.validateBinding(fmt.Sprintf("manifest %s: operations[%d] (%s)", m.ID, i, o.Name), o.Name, o.Binding); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(m.Auth))
	for name := range m.Auth {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if m.Auth[name] == nil {
			return fmt.Errorf("manifest %s: auth.%s is empty", m.ID, name)
		}
		if err := validateAuth(name, m.Auth[name]); err != nil {
			return fmt.Errorf("manifest %s: %w", m.ID, err)
		}
		if err := m.validateLoginAuth(name); err != nil {
			return fmt.Errorf("manifest %s: %w", m.ID, err)
		}
	}
	if err := m.validateInbound(); err != nil {
		return fmt.Errorf("manifest %s: %w", m.ID, err)
	}
	if err := m.validateHosts(); err != nil {
		return fmt.Errorf("manifest %s: %w", m.ID, err)
	}
	for i, f := range m.Shared {
		if !familyRE.MatchString(f) {
			return fmt.Errorf("manifest %s: shared[%d]: %q is not a family name (lower snake case)", m.ID, i, f)
		}
	}
	if m.Zone != "" {
		if _, err := time.LoadLocation(m.Zone); err != nil {
			return fmt.Errorf("manifest %s: zone %q is not an IANA time zone", m.ID, m.Zone)
		}
	}
	return nil
}

// familyRE is a shared family's name.
var familyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

// validateHosts checks the hosts' URLs and that every {host.NAME} a request
// path or token URL names is declared for every environment.
func (m *Manifest) validateHosts() error {
	for name, byEnv := range m.Account.Hosts {
		for env, u := range byEnv {
			if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				return fmt.Errorf("account.hosts.%s.%s: %q is not an http(s) URL", name, env, u)
			}
			if _, ok := m.Account.Environments[env]; !ok {
				return fmt.Errorf("account.hosts.%s.%s: no such environment in account.environments", name, env)
			}
		}
	}
	used := func(where, path string) error {
		host, _ := PathHost(path)
		if host == "" {
			return nil
		}
		for env := range m.Account.Environments {
			if m.Account.Hosts[host][env] == "" {
				return fmt.Errorf("%s: {host.%s} has no URL for environment %s in account.hosts", where, host, env)
			}
		}
		return nil
	}
	for _, o := range m.Operations {
		if o.Binding == nil {
			continue
		}
		for _, st := range o.Binding.StepList() {
			if st.Request != nil {
				if err := used("operations."+string(o.Name), st.Request.Path); err != nil {
					return err
				}
			}
		}
	}
	for name, a := range m.Auth {
		if a == nil {
			continue
		}
		if a.Login != nil {
			if err := used("auth."+name+".login", a.Login.Path); err != nil {
				return err
			}
		}
		if err := used("auth."+name+".token_url", a.TokenURL); err != nil {
			return err
		}
	}
	return nil
}

// Bound reports whether any operation of the manifest has a binding.
func (m *Manifest) Bound() bool {
	for _, o := range m.Operations {
		if o.Binding != nil {
			return true
		}
	}
	return false
}

// LoadManifest reads and validates a YAML manifest from fsys, rejecting unknown keys.
func LoadManifest(fsys fs.FS, name string) (*Manifest, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", name, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// MustLoadManifest is LoadManifest that panics, for manifests embedded at build time
// (a broken embedded manifest is a build defect that every test catches).
func MustLoadManifest(fsys fs.FS, name string) *Manifest {
	m, err := LoadManifest(fsys, name)
	if err != nil {
		panic(err)
	}
	return m
}

// LazyManifest returns a function that loads the manifest on its first call and
// returns the same one afterwards. Built-in connectors use it rather than loading
// at package init: every connector process links every built-in connector, so
// work done at init is paid by all of them at every start.
func LazyManifest(fsys fs.FS, name string) func() *Manifest {
	return sync.OnceValue(func() *Manifest { return MustLoadManifest(fsys, name) })
}

// Duration is a time.Duration written as "30s" or "1m30s" in YAML and JSON.
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// validateLoginAuth checks an entry's login_auth: only a token_login has
// one, and it names another entry that is not itself signed by a login_auth
// (one level: an account login, then a session).
func (m *Manifest) validateLoginAuth(name string) error {
	a := m.Auth[name]
	if a.LoginAuth == "" {
		return nil
	}
	at := "auth." + name + ".login_auth"
	if a.Type != AuthTokenLogin {
		return fmt.Errorf("%s: only a token_login's login is signed by another entry", at)
	}
	inner, ok := m.Auth[a.LoginAuth]
	switch {
	case a.LoginAuth == name:
		return fmt.Errorf("%s: an entry cannot sign its own login", at)
	case !ok:
		return fmt.Errorf("%s: no auth entry %q", at, a.LoginAuth)
	case inner.Type == AuthWSSecurity || inner.Type == AuthBody:
		return fmt.Errorf("%s: %q is a %s entry, which signs bodies, not a login", at, a.LoginAuth, inner.Type)
	case inner.LoginAuth != "":
		return fmt.Errorf("%s: %q has a login_auth of its own; one level is allowed", at, a.LoginAuth)
	}
	return nil
}
