package catalogue

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Markdown writes the catalogue page: counts by category (and India's
// carriers, aggregators and freight together), every connector with its
// facts, and the providers not built with why.
func Markdown(entries []Entry, notBuilt []NotBuilt) []byte {
	entries = append([]Entry(nil), entries...)
	sort.Slice(entries, func(i, j int) bool {
		ci, cj := categoryRank(entries[i].Category), categoryRank(entries[j].Category)
		if ci != cj {
			return ci < cj
		}
		return entries[i].ID < entries[j].ID
	})
	var b bytes.Buffer
	b.WriteString("# Connector catalogue\n\n")
	b.WriteString("Generated from the built-in connectors' manifests and `connectors/catalogue/not-built.yaml` by\n")
	b.WriteString("`go test ./connectors/catalogue -update`; a test fails when this page is stale. A connector\n")
	b.WriteString("counts when it meets the rules of the catalogue: a category, a region, the provider's documentation\n")
	b.WriteString("URL, and sources that each say what they cover and how sure we are (the rest, passing\n")
	b.WriteString("`hub connector test` with exchanges recorded from those sources, is checked in CI for every\n")
	b.WriteString("built-in). Confidence is the lowest of a connector's sources: `high` is the provider's own\n")
	b.WriteString("documentation or SDK, `medium` a public client or recorded payload, `low` an inference (each\n")
	b.WriteString("connector's README names its low-confidence facts).\n\n")

	b.WriteString("## Counts\n\n| category | counted | not built |\n| --- | ---: | ---: |\n")
	india := 0
	total := 0
	for _, c := range Categories {
		n, nb := 0, 0
		for _, e := range entries {
			if e.Category == c && e.Counts() {
				n++
				if e.Region == "IN" && (c == "carrier_parcel" || c == "carrier_ltl_ftl" || c == "aggregator") {
					india++
				}
			}
		}
		for _, x := range notBuilt {
			if x.Category == c {
				nb++
			}
		}
		if n+nb > 0 {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", c, n, nb)
		}
		total += n
	}
	fmt.Fprintf(&b, "| **all** | **%d** | **%d** |\n\n", total, len(notBuilt))
	fmt.Fprintf(&b, "India's carriers, aggregators and freight (region IN; carrier_parcel, carrier_ltl_ftl, aggregator): **%d** counted.\n\n", india)

	b.WriteString("## Connectors\n\n")
	b.WriteString("| id | name | category | region | protocols | auth | operations | confidence | sources |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | ---: |\n")
	for _, e := range entries {
		auth := strings.Join(e.Auth, ", ")
		if auth == "" {
			auth = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %d |\n", e.ID, cell(e.Name), e.Category, e.Region,
			strings.Join(e.Protocols, ", "), auth, strings.Join(e.Operations, ", "), e.Confidence, e.Sources)
	}
	var broken []Entry
	for _, e := range entries {
		if !e.Counts() {
			broken = append(broken, e)
		}
	}
	if len(broken) > 0 {
		b.WriteString("\n### Not counted yet\n\n")
		for _, e := range broken {
			fmt.Fprintf(&b, "- `%s`: %s\n", e.ID, cell(strings.Join(e.Problems, "; ")))
		}
	}

	b.WriteString("\n## Not built\n\n")
	if len(notBuilt) == 0 {
		b.WriteString("None.\n")
		return b.Bytes()
	}
	b.WriteString("| id | name | category | region | reason | searched |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, x := range notBuilt {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", x.ID, cell(x.Name), x.Category, x.Region, cell(x.Reason), cell(x.Searched))
	}
	return b.Bytes()
}

func categoryRank(c string) int {
	for i, x := range Categories {
		if x == c {
			return i
		}
	}
	return len(Categories)
}

// cell makes text safe for one table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
