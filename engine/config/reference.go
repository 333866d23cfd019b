package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// Setting is one leaf of the configuration, as the reference lists it.
type Setting struct {
	// Key is the dotted YAML path; map keys appear as <connector> or <operation>.
	Key string
	// Type is string, integer, number, boolean or duration.
	Type string
	// Default is the value when nothing sets it, as YAML would write it.
	Default string
	// Env lists the environment variables that set it.
	Env []string
	// Doc describes it.
	Doc string
	// Secret is true for values never printed.
	Secret bool
}

// Settings lists every setting in struct order.
func Settings() []Setting {
	var out []Setting
	walk(reflect.TypeOf(Config{}), reflect.ValueOf(Default()), "", true, &out)
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))
var sdkDurationType = reflect.TypeOf(sdk.Duration(0))

// walk appends the leaves of t. v holds the defaults (invalid below maps); env
// says whether leaves get an HUB_<PATH> name (not below maps).
func walk(t reflect.Type, v reflect.Value, prefix string, env bool, out *[]Setting) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		if f.Anonymous && name == "" {
			walk(f.Type, fv, prefix, env, out)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		doc := f.Tag.Get("doc")
		if doc == "" {
			doc = fieldDoc(f)
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType:
			walk(ft, fv, key+".", env, out)
			continue
		case ft.Kind() == reflect.Map:
			placeholder := "<key>"
			switch {
			case strings.HasSuffix(key, "connectors"):
				placeholder = "<connector>"
			case strings.HasSuffix(key, "operations"):
				placeholder = "<operation>"
			}
			walk(ft.Elem(), reflect.Value{}, key+"."+placeholder+".", false, out)
			continue
		}
		s := Setting{Key: key, Type: typeName(ft), Doc: doc, Secret: f.Tag.Get("secret") == "true"}
		if fv.IsValid() {
			s.Default = format(fv)
		}
		if env {
			if alias := f.Tag.Get("env"); alias != "" {
				s.Env = append(s.Env, alias)
			}
			if n := envName(key); len(s.Env) == 0 || s.Env[0] != n {
				s.Env = append(s.Env, n)
			}
		}
		*out = append(*out, s)
	}
}

// policyDocs are the descriptions of sdk.Policy's knobs, which carry no doc tags
// (sdk's manifest documents them in Go comments).
var policyDocs = map[string]string{
	"timeout":                    "bound on a whole call: queueing, rate-limit waits, every attempt and backoff (default 30s)",
	"rate_limit":                 "requests per second allowed per account; 0: none known",
	"rate_burst":                 "requests an account may send at once above rate_limit (default: rate_limit rounded up)",
	"max_attempts":               "attempts of a retryable call, the first included; 1 disables retries (default 3)",
	"backoff_base":               "first retry's backoff ceiling, doubled per retry, full jitter (default 100ms)",
	"backoff_cap":                "cap of the backoff ceiling (default 2s)",
	"retry_after_cap":            "longest Retry-After waited out; longer ends the call rate_limited (default 10s)",
	"retry_budget_ratio":         "fraction of a connector's calls that may be retried (default 0.2)",
	"retry_budget_floor":         "retries always allowed per budget window (default 10)",
	"retry_budget_window":        "sliding window of the retry budget (default 10s)",
	"breaker_failures":           "consecutive failures that open an account's breaker (default 5)",
	"breaker_failure_ratio":      "failure fraction in breaker_window that opens it (default 0.5)",
	"breaker_min_requests":       "calls breaker_window must hold before the ratio counts (default 20)",
	"breaker_window":             "rolling window the breaker counts calls in (default 10s)",
	"breaker_open_for":           "time an open breaker fails calls fast before probing (default 30s)",
	"breaker_half_open_requests": "probe calls a half-open breaker lets through (default 1)",
	"max_in_flight":              "concurrent calls per connector across accounts (default 64)",
	"max_queued":                 "calls waiting for an in-flight slot; beyond it calls fail at once (default 256)",
}

func fieldDoc(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return policyDocs[name]
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType || t == sdkDurationType:
		return "duration"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem())
	}
	return t.String()
}

func format(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return "[]"
		}
		return fmt.Sprint(v.Interface())
	case v.Kind() == reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}

// envName is the HUB_ variable of a dotted key: HUB_SERVER_MAX_BODY_BYTES.
func envName(key string) string {
	return "HUB_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envNames maps every environment variable that sets a value to its dotted key.
func envNames() map[string]string {
	m := map[string]string{}
	for _, s := range Settings() {
		for _, e := range s.Env {
			m[e] = s.Key
		}
	}
	return m
}

// Reference returns the Markdown reference of every setting.
func Reference() string {
	var b strings.Builder
	b.WriteString("# Hub configuration reference\n\n")
	b.WriteString("Generated from `engine/config` by `go test ./engine/config -update`; do not edit.\n")
	b.WriteString("`hub serve --config FILE` (or `HUB_CONFIG`) reads one YAML file; environment variables\n")
	b.WriteString("override the file, and command-line flags override both. `hub config validate FILE` checks a\n")
	b.WriteString("file and names the line of any unknown key or bad value. Durations are written `30s`, `10m`, `24h`.\n\n")
	sections := map[string][]Setting{}
	var order []string
	for _, s := range Settings() {
		sec, _, _ := strings.Cut(s.Key, ".")
		if _, ok := sections[sec]; !ok {
			order = append(order, sec)
		}
		sections[sec] = append(sections[sec], s)
	}
	docs := map[string]string{}
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		docs[name] = t.Field(i).Tag.Get("doc")
	}
	for _, sec := range order {
		fmt.Fprintf(&b, "## %s\n\n%s.\n\n", sec, upperFirst(docs[sec]))
		b.WriteString("| key | type | default | environment | description |\n| --- | --- | --- | --- | --- |\n")
		for _, s := range sections[sec] {
			env := "—"
			if len(s.Env) > 0 {
				env = "`" + strings.Join(s.Env, "`, `") + "`"
			}
			def := s.Default
			switch {
			case s.Secret && def != `""`:
				def = "(secret)"
			case def == "":
				def = "(manifest)"
			}
			doc := s.Doc
			if s.Secret {
				doc += " (a secret: never logged or printed)"
			}
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", s.Key, s.Type, def, env, doc)
		}
		b.WriteString("\n")
	}
	b.WriteString("Example: give Delhivery's create calls a 20 s timeout and no retries, and cap its tracking\n")
	b.WriteString("at 40 requests a minute per account:\n\n```yaml\nresilience:\n  connectors:\n    delhivery:\n")
	b.WriteString("      timeout: 20s\n      operations:\n        create_shipment:\n          max_attempts: 1\n        track:\n          rate_limit: 0.67\n```\n")
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
