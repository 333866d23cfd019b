// Package catalogue describes the hub's connector catalogue: one entry per
// built-in connector, read from its manifest, checked against the rules of a
// connector that counts (a category, a region, the provider's documentation,
// every source with what it covers and how sure we are), and the providers
// that were looked for and not built, with what was searched. Markdown
// writes it as docs/connectors.md, which a test keeps current.
package catalogue

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/carrierhub/hub/sdk"
)

// Categories are the kinds of provider a connector talks to, in the order
// the catalogue lists them.
var Categories = []string{"carrier_parcel", "carrier_ltl_ftl", "aggregator", "telematics", "government", "erp", "marketplace", "edi", "other"}

// confidences from the least sure to the surest.
var confidences = []string{"low", "medium", "high"}

// Entry is one built connector, as the catalogue lists it.
type Entry struct {
	ID, Name, Category, Region string
	Protocols                  []string
	// Auth are the ways requests are signed (the manifest's auth types), and
	// "push:TYPE" for how pushes authenticate.
	Auth       []string
	Operations []string
	// Confidence is the lowest confidence among its sources.
	Confidence string
	// Sources is how many sources it cites.
	Sources int
	// Problems are the catalogue rules it breaks; it counts only without any.
	Problems []string
}

// Counts reports whether the entry meets every rule the catalogue checks.
func (e *Entry) Counts() bool { return len(e.Problems) == 0 }

// NotBuilt is a provider that was looked for and not built.
type NotBuilt struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Category string `yaml:"category"`
	Region   string `yaml:"region"`
	// Reason says why it was not built.
	Reason string `yaml:"reason"`
	// Searched says where and for what the facts were looked for.
	Searched string `yaml:"searched"`
}

//go:embed not-built.yaml
var notBuiltYAML []byte

// NotBuiltList returns the providers looked for and not built, by id.
func NotBuiltList() ([]NotBuilt, error) {
	var list []NotBuilt
	dec := yaml.NewDecoder(strings.NewReader(string(notBuiltYAML)))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("not-built.yaml: %w", err)
	}
	for i, n := range list {
		if n.ID == "" || n.Name == "" || n.Reason == "" || n.Searched == "" || !slices.Contains(Categories, n.Category) {
			return nil, fmt.Errorf("not-built.yaml: entry %d (%q) needs an id, a name, a known category, a reason and what was searched", i+1, n.ID)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list, nil
}

// Describe turns a manifest into its catalogue entry, checking the rules.
func Describe(m *sdk.Manifest) Entry {
	e := Entry{ID: m.ID, Name: m.Name, Category: m.Category, Region: m.Region,
		Protocols: slices.Clone(m.Protocols), Sources: len(m.Sources)}
	for _, a := range m.Auth {
		if a != nil && !slices.Contains(e.Auth, a.Type) {
			e.Auth = append(e.Auth, a.Type)
		}
	}
	sort.Strings(e.Auth)
	if m.Inbound != nil {
		e.Auth = append(e.Auth, "push:"+m.Inbound.Type)
	}
	for _, op := range m.Operations {
		e.Operations = append(e.Operations, string(op.Name))
	}
	problem := func(format string, args ...any) { e.Problems = append(e.Problems, fmt.Sprintf(format, args...)) }
	if !slices.Contains(Categories, m.Category) {
		problem("category %q is not one of %s", m.Category, strings.Join(Categories, ", "))
	}
	if m.Region == "" {
		problem("no region")
	}
	if m.Docs == "" {
		problem("no docs URL")
	}
	if len(m.Sources) == 0 {
		problem("no sources")
	}
	lowest := len(confidences)
	for i, s := range m.Sources {
		c := slices.Index(confidences, s.Confidence)
		switch {
		case s.URL == "":
			problem("source %d has no URL", i+1)
		case s.Covers == "":
			problem("source %d (%s) does not say what it covers", i+1, s.URL)
		case c < 0:
			problem("source %d (%s) has confidence %q, not high, medium or low", i+1, s.URL, s.Confidence)
		}
		if c >= 0 && c < lowest {
			lowest = c
		}
	}
	if lowest < len(confidences) {
		e.Confidence = confidences[lowest]
	}
	return e
}
