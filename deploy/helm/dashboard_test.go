package helm

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	promql "github.com/prometheus/prometheus/promql/parser"
)

const (
	dashboardPath = "../grafana/hub-dashboard.json"
	metricsDir    = "../../engine/metrics"
)

// targetLabels are added by Prometheus or the Kubernetes service discovery,
// not by the hub.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

// dashboard is the part of a Grafana dashboard model the tests read.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *datasource `json:"datasource"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// hubMetrics reads the source text of the package in dir (engine/metrics) and
// returns every hub_* metric it defines with its label names (nil when the
// test cannot tell them).
func hubMetrics(dir string) (map[string][]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("listing metric sources: %w", err)
	}
	metrics := map[string][]string{}
	fset := token.NewFileSet()
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("reading metric definitions: %w", err)
		}
		collectMetrics(f, metrics)
	}
	if len(metrics) == 0 {
		return nil, fmt.Errorf("no hub_* metrics in %s", dir)
	}
	return metrics, nil
}

// collectMetrics adds the hub_* metrics file f defines to metrics.
func collectMetrics(f *ast.File, metrics map[string][]string) {
	stringLit := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	stringSlice := func(e ast.Expr) []string {
		cl, ok := e.(*ast.CompositeLit)
		if !ok {
			return nil
		}
		out := []string{}
		for _, elt := range cl.Elts {
			if s, ok := stringLit(elt); ok {
				out = append(out, s)
			}
		}
		return out
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, ok := stringLit(n); ok && strings.HasPrefix(s, "hub_") && !strings.ContainsAny(s, " {") {
				if _, seen := metrics[s]; !seen {
					metrics[s] = nil
				}
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok || len(n.Args) < 2 {
				return true
			}
			switch fn := sel.Sel.Name; {
			case fn == "NewDesc" && len(n.Args) >= 3:
				if name, ok := stringLit(n.Args[0]); ok {
					metrics[name] = stringSlice(n.Args[2])
				}
			case strings.HasPrefix(fn, "New") && strings.HasSuffix(fn, "Vec"):
				opts, ok := n.Args[0].(*ast.CompositeLit)
				if !ok {
					return true
				}
				for _, elt := range opts.Elts {
					if kv, ok := elt.(*ast.KeyValueExpr); ok {
						if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "Name" {
							if name, ok := stringLit(kv.Value); ok {
								metrics[name] = stringSlice(n.Args[1])
							}
						}
					}
				}
			}
		}
		return true
	})
}

// grafanaVars stand in for the dashboard's variables so queries parse as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "${connector}", ".*", "$connector", ".*")

// family returns the metric a series name belongs to: a histogram's
// _bucket, _sum and _count series belong to the histogram.
func family(name string, known map[string][]string) (string, bool) {
	if _, ok := known[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if _, ok := known[base]; ok {
				return base, true
			}
		}
	}
	return name, false
}

// checkQuery parses expr as PromQL and returns what is wrong with it: a
// hub_* metric engine/metrics does not define (unless placeholder allows the
// issue-5 families), or a label the metric does not carry, in a matcher or a
// by() clause.
func checkQuery(expr string, known map[string][]string) (used []string, problems []string) {
	p := promql.NewParser(promql.Options{})
	tree, err := p.ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		return nil, []string{fmt.Sprintf("%q does not parse: %v", expr, err)}
	}
	labelsOf := func(name string) ([]string, bool) {
		fam, ok := family(name, known)
		if !ok {
			return nil, false
		}
		ls := known[fam]
		if ls == nil {
			return nil, true // labels unknown: not checked
		}
		ls = append(slices.Clone(ls), targetLabels...)
		if fam != name && strings.HasSuffix(name, "_bucket") {
			ls = append(ls, "le")
		}
		return ls, true
	}
	promql.Inspect(tree, func(node promql.Node, _ []promql.Node) error {
		switch n := node.(type) {
		case *promql.VectorSelector:
			if !strings.HasPrefix(n.Name, "hub_") {
				return nil
			}
			fam, ok := family(n.Name, known)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s is not defined in engine/metrics", n.Name))
				return nil
			}
			used = append(used, fam)
			ls, _ := labelsOf(n.Name)
			for _, m := range n.LabelMatchers {
				if m.Name != "__name__" && ls != nil && !slices.Contains(ls, m.Name) {
					problems = append(problems, fmt.Sprintf("%s has no label %q (labels %v)", n.Name, m.Name, known[fam]))
				}
			}
		case *promql.AggregateExpr:
			if n.Without {
				return nil
			}
			var avail []string
			checked := true
			promql.Inspect(n.Expr, func(inner promql.Node, _ []promql.Node) error {
				if vs, ok := inner.(*promql.VectorSelector); ok {
					ls, ok := labelsOf(vs.Name)
					if !ok || ls == nil {
						checked = false
					}
					avail = append(avail, ls...)
				}
				return nil
			})
			for _, g := range n.Grouping {
				if checked && !slices.Contains(avail, g) {
					problems = append(problems, fmt.Sprintf("by (%s): no metric under %s carries label %q", strings.Join(n.Grouping, ", "), n.Op, g))
				}
			}
		}
		return nil
	})
	return used, problems
}

// allPanels flattens rows into the panels they hold.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return &d
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	known, err := hubMetrics(metricsDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) < 20 {
		t.Fatalf("found %d hub_* metrics in %s; the source's shape changed", len(known), metricsDir)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q uid %q: both are needed to import and link the dashboard", d.Title, d.UID)
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}

	var dsVar string
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			dsVar = v.Name
		}
	}
	if dsVar == "" {
		t.Fatal("no Prometheus datasource variable")
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${"+dsVar+"}") {
			t.Errorf("variable %s does not query the ${%s} datasource", v.Name, dsVar)
		}
	}

	used := map[string]bool{}
	ids := map[int]string{}
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q has gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${"+dsVar+"}" {
			t.Errorf("panel %q does not use the ${%s} datasource", p.Title, dsVar)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			names, problems := checkQuery(tg.Expr, known)
			for _, pr := range problems {
				t.Errorf("panel %q: %s", p.Title, pr)
			}
			for _, n := range names {
				used[n] = true
			}
		}
	}

	// The panels the hub's operators asked for (issue 6) must stay.
	required := []string{
		"hub_http_requests_total", "hub_http_request_duration_seconds",
		"hub_connector_calls_total", "hub_connector_call_duration_seconds", "hub_connector_error_ratio",
		"hub_circuit_breakers", "hub_circuit_breaker_transitions_total",
		"hub_connector_retries_total", "hub_retry_budget_refused_total",
		"hub_rate_limit_waits_total", "hub_rate_limit_rejections_total", "hub_rate_limit_headroom_ratio",
		"hub_bulkhead_in_flight_calls", "hub_bulkhead_queued_calls",
		"hub_connector_process_state", "hub_connector_process_restarts_total",
		"hub_connector_process_resident_memory_bytes", "hub_connector_cold_starts_total",
		"hub_idempotency_replays_total",
		"hub_outbox_depth", "hub_outbox_oldest_age_seconds", "hub_webhook_deliveries_total",
		"hub_webhook_delivery_duration_seconds", "hub_webhook_endpoints", "hub_kafka_relay_lag",
	}
	var missing []string
	for _, m := range required {
		if !used[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		t.Errorf("no panel shows %v", missing)
	}
	var unused []string
	for m := range known {
		if !used[m] {
			unused = append(unused, m)
		}
	}
	sort.Strings(unused)
	t.Logf("engine/metrics names the dashboard does not show: %v", unused)
}

// TestDashboardQueryCheck proves checkQuery catches what it is for.
func TestDashboardQueryCheck(t *testing.T) {
	known, err := hubMetrics(metricsDir)
	if err != nil {
		t.Fatal(err)
	}
	if ls := known["hub_connector_calls_total"]; !slices.Equal(ls, []string{"connector", "operation", "code"}) {
		t.Fatalf("labels of hub_connector_calls_total read as %v", ls)
	}
	if ls := known["hub_circuit_breakers"]; !slices.Equal(ls, []string{"connector", "state"}) {
		t.Fatalf("labels of hub_circuit_breakers read as %v", ls)
	}
	tests := []struct {
		expr string
		want string // "" for no problem
	}{
		{`sum by (connector, code) (rate(hub_connector_calls_total{connector=~"$connector"}[$__rate_interval]))`, ""},
		{`histogram_quantile(0.95, sum by (le) (rate(hub_http_request_duration_seconds_bucket[5m])))`, ""},
		{`sum(rate(hub_connector_calls_total{job="hub"}[5m]))`, ""},
		{`rate(hub_connector_calls_totl[5m])`, "hub_connector_calls_totl is not defined"},
		{`rate(hub_connector_calls_total{tenant="t1"}[5m])`, `no label "tenant"`},
		{`sum by (account) (hub_circuit_breakers)`, `carries label "account"`},
		{`sum by (le) (rate(hub_connector_calls_total[5m]))`, `carries label "le"`},
		{`sum(hub_outbox_depth)`, ""},
		{`sum(hub_other_thing)`, "hub_other_thing is not defined"},
		{`sum(rate(hub_connector_calls_total[5m])`, "does not parse"},
	}
	for _, tt := range tests {
		_, problems := checkQuery(tt.expr, known)
		switch {
		case tt.want == "" && len(problems) > 0:
			t.Errorf("%s: unexpected problems %q", tt.expr, problems)
		case tt.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }):
			t.Errorf("%s: problems %q, want one saying %q", tt.expr, problems, tt.want)
		}
	}
}
