package sdk

import (
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
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
}

// AccountSchema describes what an account of a connector holds.
type AccountSchema struct {
	// Credentials are secret fields (keys, passwords, tokens); stored encrypted, never echoed.
	Credentials []Field `yaml:"credentials" json:"credentials"`
	// Settings are non-secret fields (customer code, pickup location, area).
	Settings []Field `yaml:"settings,omitempty" json:"settings,omitempty"`
	// Environments map environment names (sandbox, production) to base URLs.
	Environments map[string]string `yaml:"environments" json:"environments"`
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

// Policy is a connector's default call policy. The engine enforces it.
type Policy struct {
	// Timeout bounds one call, including the provider round trip; 30s when zero.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// RateLimit is the provider's documented request rate per second per account; 0 means none known.
	RateLimit float64 `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	// MaxAttempts bounds attempts of a retryable call, the first included; 3 when zero.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
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
	seen := map[Operation]bool{}
	for i, o := range m.Operations {
		if _, ok := LookupOperation(o.Name); !ok {
			return fmt.Errorf("manifest %s: operations[%d]: unknown operation %q", m.ID, i, o.Name)
		}
		if seen[o.Name] {
			return fmt.Errorf("manifest %s: operations[%d]: %q declared twice", m.ID, i, o.Name)
		}
		seen[o.Name] = true
	}
	return nil
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
