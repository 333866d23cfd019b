package catalogue

import (
	"bytes"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/carrierhub/hub/connectors"
	"github.com/carrierhub/hub/sdk"
)

var update = flag.Bool("update", false, "rewrite docs/connectors.md")

// page is docs/connectors.md, from this package's directory.
const page = "../../docs/connectors.md"

func builtEntries(t *testing.T) []Entry {
	t.Helper()
	var out []Entry
	for _, b := range connectors.Builtins() {
		c, err := b.Connector()
		if err != nil {
			t.Fatalf("%s: %v", b.ID, err)
		}
		out = append(out, Describe(c.Describe()))
	}
	return out
}

// docs/connectors.md is what the manifests and the not-built list say today.
func TestPageIsCurrent(t *testing.T) {
	notBuilt, err := NotBuiltList()
	if err != nil {
		t.Fatal(err)
	}
	want := Markdown(builtEntries(t), notBuilt)
	if *update {
		if err := os.WriteFile(page, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/connectors.md is stale: run go test ./connectors/catalogue -update")
	}
}

// Every built-in meets the catalogue's rules, and a provider is either built
// or listed as not built, never both.
func TestEveryBuiltinCounts(t *testing.T) {
	notBuilt, err := NotBuiltList()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range builtEntries(t) {
		if !e.Counts() {
			t.Errorf("%s does not count: %v", e.ID, e.Problems)
		}
		if slices.ContainsFunc(notBuilt, func(n NotBuilt) bool { return n.ID == e.ID }) {
			t.Errorf("%s is built and listed as not built", e.ID)
		}
	}
}

// The rules catch what they say they catch.
func TestDescribeFindsProblems(t *testing.T) {
	m := &sdk.Manifest{ID: "x", Name: "X", Category: "courier", Sources: []sdk.FactSource{
		{URL: "https://example.com/a", Covers: "auth", Confidence: "high"},
		{URL: "https://example.com/b", Confidence: "medium"},
		{URL: "https://example.com/c", Covers: "codes", Confidence: "sure"},
		{URL: "https://example.com/d", Covers: "an inference", Confidence: "low"},
	}}
	e := Describe(m)
	if e.Counts() || len(e.Problems) != 5 {
		t.Fatalf("problems %q, want the category, region, docs, and two sources", e.Problems)
	}
	if e.Confidence != "low" {
		t.Errorf("confidence %q, want the lowest, low", e.Confidence)
	}
}
