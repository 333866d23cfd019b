package validate

// This file keeps the validator the package used before it compiled its own:
// github.com/santhosh-tekuri/jsonschema/v6 over a body decoded with
// encoding/json, followed by a walk of the decoded value for the India checks.
// It is the reference the compiled validator is compared with, in a
// differential test over fixtures and their mutations, in benchmarks, and in
// FuzzRequest. Product code must not import the library (its package init costs
// every hub process several milliseconds).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/modelschema"
)

// reference is the previous validator.
type reference struct {
	requests, responses map[sdk.Operation]*jsonschema.Schema
}

var (
	refOnce sync.Once
	refV    *reference
)

// sharedReference compiles the reference once per test binary.
func sharedReference(t testing.TB) *reference {
	t.Helper()
	refOnce.Do(func() {
		r, err := newReference()
		if err != nil {
			panic(err)
		}
		refV = r
	})
	return refV
}

func newReference() (*reference, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	fsys := modelschema.FS()
	added := map[string]bool{}
	compile := func(t reflect.Type) (*jsonschema.Schema, error) {
		name, _ := modelschema.NameFor(t)
		id := modelschema.IDFor(name)
		if !added[name] {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, err
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			if err := c.AddResource(id, doc); err != nil {
				return nil, err
			}
			added[name] = true
		}
		return c.Compile(id)
	}
	r := &reference{requests: map[sdk.Operation]*jsonschema.Schema{}, responses: map[sdk.Operation]*jsonschema.Schema{}}
	for _, op := range sdk.Operations() {
		req, err := compile(op.Request)
		if err != nil {
			return nil, err
		}
		resp, err := compile(op.Response)
		if err != nil {
			return nil, err
		}
		r.requests[op.Name], r.responses[op.Name] = req, resp
	}
	return r, nil
}

// check returns the pointers of the problems the reference finds, sorted, or
// nil for a valid body; a malformed body yields the single pointer "".
func (r *reference) check(op sdk.Operation, body []byte, request bool) []string {
	s := r.responses[op]
	if request {
		s = r.requests[op]
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return []string{""}
	}
	var ptrs []string
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return []string{""}
		}
		ptrs = refFlatten(ve, ptrs)
	}
	if request {
		w := refWalker{}
		w.walk(doc)
		ptrs = append(ptrs, w.ptrs...)
	}
	sort.Strings(ptrs)
	return ptrs
}

func refFlatten(ve *jsonschema.ValidationError, out []string) []string {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			out = refFlatten(c, out)
		}
		return out
	}
	ptr := refPointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			out = append(out, ptr+"/"+escape(m))
		}
		return out
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			out = append(out, ptr+"/"+escape(p))
		}
		return out
	}
	return append(out, ptr)
}

func refPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

// refWalker is the India walk over a decoded body, as the package did it.
type refWalker struct {
	path []string
	ptrs []string
}

func (w *refWalker) fail(field string) {
	w.ptrs = append(w.ptrs, refPointer(w.path)+"/"+escape(field))
}

func (w *refWalker) walk(v any) {
	switch v := v.(type) {
	case map[string]any:
		w.object(v)
		for k, c := range v {
			w.path = append(w.path, k)
			w.walk(c)
			w.path = w.path[:len(w.path)-1]
		}
	case []any:
		for i, c := range v {
			w.path = append(w.path, strconv.Itoa(i))
			w.walk(c)
			w.path = w.path[:len(w.path)-1]
		}
	}
}

func (w *refWalker) object(obj map[string]any) {
	gstin, _ := obj["gstin"].(string)
	if gstinShape(gstin) {
		if GSTINCheckChar(gstin[:14]) != gstin[14] {
			w.fail("gstin")
		} else if sc, ok := obj["state_code"].(string); ok && len(sc) == 2 && sc != gstin[:2] {
			w.fail("state_code")
		}
	}
	if cc, _ := obj["country_code"].(string); cc == "IN" {
		if pin, ok := obj["postal_code"].(string); ok && !ValidPIN(pin) {
			w.fail("postal_code")
		}
	}
	if mode, _ := obj["payment_mode"].(string); mode == "cod" {
		if _, ok := obj["cod_amount"]; !ok {
			w.fail("cod_amount")
		}
	}
}

// compiledPointers runs the compiled validator and returns its pointers like
// reference.check does.
func compiledPointers(t testing.TB, op sdk.Operation, body []byte, request bool) []string {
	ptrs, _ := compiledResult(t, op, body, request)
	return ptrs
}

// compiledResult also reports whether the compiled validator found an unknown
// field.
func compiledResult(t testing.TB, op sdk.Operation, body []byte, request bool) (ptrs []string, unknownField bool) {
	var err error
	if request {
		err = shared.Request(op, body)
	} else {
		err = shared.Response(op, body)
	}
	if err == nil {
		return nil, false
	}
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("%s: got %v (%T), want *validate.Error", op, err, err)
	}
	ptrs = make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		ptrs[i] = f.Pointer
		unknownField = unknownField || f.Message == "is not a known field"
	}
	sort.Strings(ptrs)
	return ptrs, unknownField
}

// hasDuplicateKeys reports whether any object in a well-formed body repeats a
// key. The reference keeps the last value; the compiled validator rejects.
func hasDuplicateKeys(body []byte) bool {
	d := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.object {
				top.expect = true
			}
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			if top != nil && top.object {
				top.expect = true
			}
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object {
			top.expect = true
		}
	}
}

// agree compares the two validators on one body: the same accept or reject
// always, and with exact pointers the same set of offending locations. It
// returns a description of the difference, or "".
//
// Two differences are by design. A duplicate key is rejected by the compiled
// validator, while the reference keeps the last value. And the reference ran
// the India checks on every object, including objects under unknown fields
// and objects whose schema has no such fields (a "payment_mode" added to a
// Money), while the compiled validator runs them on the objects whose schema
// declares the fields and reports the unknown field; so pointers are compared
// only for bodies without unknown fields. Finally, a number beyond float64's
// range made the reference reject the whole body as malformed; the compiled
// validator rejects it too, at the number's pointer.
func agree(t testing.TB, op sdk.Operation, body []byte, request, exact bool) string {
	got, unknownField := compiledResult(t, op, body, request)
	exact = exact && !unknownField
	if hasDuplicateKeys(body) {
		if got == nil {
			return "accepted a body with a duplicate key"
		}
		return ""
	}
	want := sharedReference(t).check(op, body, request)
	if (got == nil) != (want == nil) {
		return fmt.Sprintf("compiled %v, reference %v", got, want)
	}
	if len(want) == 1 && want[0] == "" && json.Valid(body) {
		// A number beyond float64's range: encoding/json refused the whole body,
		// the compiled validator names the number.
		exact = false
	}
	if exact && strings.Join(dedupe(got), " ") != strings.Join(dedupe(want), " ") {
		return fmt.Sprintf("pointers: compiled %v, reference %v", got, want)
	}
	return ""
}

func dedupe(s []string) []string {
	var out []string
	for i, p := range s {
		if i == 0 || p != s[i-1] {
			out = append(out, p)
		}
	}
	return out
}

// patternExamples are values that match each pattern of the model, for
// synthesising valid bodies.
var patternExamples = map[string]string{
	`^[0-9]{12}$`:               "391001234567",
	`^[0-9a-f]{64}$`:            "a5c12dca80e743321740b001fd70953e8738d109865d28ba4013750f2046f229",
	`^[0-9]{2}$`:                "27",
	`^[A-Z]{2}$`:                "IN",
	`^[A-Z]{3}$`:                "INR",
	`^[0-9]{2}[A-Z0-9]{13}$`:    "27AAPFU0939F1ZV",
	`^[0-9]{4}([0-9]{2}){0,2}$`: "85094010",
	`^[A-Z0-9]{4,12}$`:          "MH12AB1234",
	`^[0-2][0-9]:[0-5][0-9]$`:   "10:30",
	`^[0-9+]{10,15}$`:           "+919845012345",
	`^[A-Za-z0-9/-]{1,16}$`:     "INV/26/0042",
	`^[1-9][0-9]{5}$`:           "560001",
}

// synthesise builds a valid value for n with every property present, from the
// compiled tree (which the differential test then checks against the reference).
func synthesise(t testing.TB, n *node, depth int) any {
	for n.ref != nil && n.types == 0 {
		n = n.ref
	}
	if len(n.enum) > 0 {
		l := n.enum[0]
		switch l.typ {
		case typeString:
			return l.str
		case typeNumber:
			return l.num
		}
	}
	switch {
	case n.types&typeObject != 0:
		obj := map[string]any{}
		if depth > 6 {
			return obj
		}
		for name, p := range n.props {
			switch {
			case name == "postal_code":
				obj[name] = "411026" // a valid PIN, since country_code is IN
			case p.node != nil:
				obj[name] = synthesise(t, p.node, depth+1)
			}
		}
		if n.extra != nil {
			obj["flag"] = synthesise(t, n.extra, depth+1)
		}
		return obj
	case n.types&typeArray != 0:
		if n.items == nil {
			return []any{}
		}
		return []any{synthesise(t, n.items, depth+1)}
	case n.types&typeString != 0:
		switch n.format {
		case formatDate:
			return "2026-03-15"
		case formatDateTime:
			return "2026-03-15T10:04:00+05:30"
		case formatURI:
			return "https://example.com/label.pdf"
		}
		if n.pattern != nil {
			ex, ok := patternExamples[n.pattern.String()]
			if !ok {
				t.Fatalf("no example for pattern %s", n.pattern)
			}
			return ex
		}
		return "x"
	case n.types&typeInteger != 0:
		if n.minimum.set {
			return n.minimum.val
		}
		return 1
	case n.types&typeNumber != 0:
		if n.minimum.set {
			return n.minimum.val + 0.5
		}
		return 12.5
	case n.types&typeBoolean != 0:
		return true
	}
	return nil
}

// corpusBody is one valid starting point for mutations.
type corpusBody struct {
	op      sdk.Operation
	request bool
	doc     any
}

// corpus returns the fixture and a synthesised full body for every operation's
// request and response.
func corpus(t testing.TB) []corpusBody {
	var doc any
	if err := json.Unmarshal(fixture(t), &doc); err != nil {
		t.Fatal(err)
	}
	out := []corpusBody{{sdk.OpCreateShipment, true, doc}}
	for _, op := range sdk.Operations() {
		out = append(out,
			corpusBody{op.Name, true, synthesise(t, shared.requests[op.Name], 0)},
			corpusBody{op.Name, false, synthesise(t, shared.responses[op.Name], 0)})
	}
	return out
}

// locations lists the paths of every value in doc, the root first.
func locations(doc any, at []any, out *[][]any) {
	*out = append(*out, append([]any(nil), at...))
	switch v := doc.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			locations(v[k], append(at, k), out)
		}
	case []any:
		for i, c := range v {
			locations(c, append(at, i), out)
		}
	}
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, c := range v {
			s[i] = deepCopy(c)
		}
		return s
	}
	return v
}

// edit applies change to the value at path in a copy of doc; change returns
// the new value, or remove to delete it.
func edit(doc any, path []any, change func(old any) any) any {
	doc = deepCopy(doc)
	if len(path) == 0 {
		return change(doc)
	}
	parent := doc
	for _, step := range path[:len(path)-1] {
		switch s := step.(type) {
		case string:
			parent = parent.(map[string]any)[s]
		case int:
			parent = parent.([]any)[s]
		}
	}
	switch s := path[len(path)-1].(type) {
	case string:
		m := parent.(map[string]any)
		if nv := change(m[s]); nv == remove {
			delete(m, s)
		} else {
			m[s] = nv
		}
	case int:
		a := parent.([]any)
		if nv := change(a[s]); nv == remove {
			// Arrays keep their length; the item becomes null instead.
			a[s] = nil
		} else {
			a[s] = nv
		}
	}
	return doc
}

type removal struct{}

var remove any = removal{}

// mutations are the edits the differential test applies at every location.
var mutations = []struct {
	name   string
	change func(old any) any
}{
	{"delete", func(any) any { return remove }},
	{"null", func(any) any { return nil }},
	{"true", func(any) any { return true }},
	{"zero", func(any) any { return 0.0 }},
	{"negative", func(any) any { return -1.0 }},
	{"fraction", func(any) any { return 1.5 }},
	{"huge", func(any) any { return 1e300 }},
	{"above 90", func(any) any { return 90.5 }},
	{"above 180", func(any) any { return 180.0000001 }},
	{"empty string", func(any) any { return "" }},
	{"short string", func(any) any { return "x" }},
	{"long string", func(any) any { return strings.Repeat("é", 70) }},
	{"very long string", func(any) any { return strings.Repeat("a", 600) }},
	{"empty array", func(any) any { return []any{} }},
	{"array of arrays", func(any) any { return []any{[]any{1.0}, []any{}} }},
	{"empty object", func(any) any { return map[string]any{} }},
	{"unknown field", func(old any) any {
		if m, ok := old.(map[string]any); ok {
			m["zz_unknown"] = "x"
			return m
		}
		return map[string]any{"zz_unknown": 1.0}
	}},
	{"lowercase", func(old any) any {
		if s, ok := old.(string); ok {
			return strings.ToLower(s)
		}
		return old
	}},
	{"extra character", func(old any) any {
		if s, ok := old.(string); ok {
			return s + "9"
		}
		return old
	}},
	{"truncated", func(old any) any {
		if s, ok := old.(string); ok && s != "" {
			return s[:len(s)-1]
		}
		return old
	}},
	{"doubled array", func(old any) any {
		if a, ok := old.([]any); ok {
			return append(append([]any{}, a...), a...)
		}
		return old
	}},
	{"many items", func(old any) any {
		if a, ok := old.([]any); ok && len(a) > 0 {
			out := make([]any, 501)
			for i := range out {
				out[i] = deepCopy(a[0])
			}
			return out
		}
		return old
	}},
	{"bad date", func(old any) any {
		if _, ok := old.(string); ok {
			return "2026-02-30"
		}
		return old
	}},
	{"date-time without offset", func(old any) any {
		if _, ok := old.(string); ok {
			return "2026-03-15T10:04:00"
		}
		return old
	}},
	{"leap second", func(old any) any {
		if _, ok := old.(string); ok {
			return "2026-12-31T23:59:60Z"
		}
		return old
	}},
	{"relative uri", func(old any) any {
		if _, ok := old.(string); ok {
			return "/labels/1.pdf"
		}
		return old
	}},
	{"cod", func(old any) any {
		if m, ok := old.(map[string]any); ok {
			m["payment_mode"] = "cod"
			delete(m, "cod_amount")
			return m
		}
		return old
	}},
	{"gstin typo", func(old any) any {
		if m, ok := old.(map[string]any); ok {
			if _, ok := m["gstin"]; ok {
				m["gstin"] = "27AAPFU0939F1ZX"
			}
			return m
		}
		return old
	}},
}

// TestDifferential runs both validators over the fixture and a synthesised
// body per operation (request and response), and over every mutation of each at
// every location, and requires the same accept/reject and the same offending
// pointers.
func TestDifferential(t *testing.T) {
	total, rejected, seq := 0, 0, 0
	for _, c := range corpus(t) {
		var locs [][]any
		locations(c.doc, nil, &locs)
		run := func(desc string, doc any) {
			seq++
			if (raceEnabled || testing.Short()) && seq%8 != 0 {
				return
			}
			body, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			total++
			if compiledPointers(t, c.op, body, c.request) != nil {
				rejected++
			}
			if diff := agree(t, c.op, body, c.request, true); diff != "" {
				t.Errorf("%s (request %v) %s: %s\n%s", c.op, c.request, desc, diff, body)
			}
		}
		run("as is", c.doc)
		for _, loc := range locs {
			for _, m := range mutations {
				run(fmt.Sprintf("%s at %v", m.name, loc), edit(c.doc, loc, m.change))
			}
		}
		// Random combinations of several mutations.
		rng := rand.New(rand.NewPCG(1, uint64(len(locs))))
		for range 20 {
			doc := c.doc
			for range 3 {
				var cur [][]any
				locations(doc, nil, &cur)
				loc := cur[rng.IntN(len(cur))]
				doc = edit(doc, loc, mutations[rng.IntN(len(mutations))].change)
			}
			run("random combination", doc)
		}
	}
	t.Logf("%d bodies compared, %d rejected", total, rejected)
	if rejected == 0 || rejected == total {
		t.Fatalf("corpus is one-sided: %d of %d rejected", rejected, total)
	}
}

// TestDifferentialRawBodies covers what a re-encoded value cannot: raw syntax,
// escapes, numbers written in odd ways, duplicate keys.
func TestDifferentialRawBodies(t *testing.T) {
	for _, tc := range []struct {
		op   sdk.Operation
		body string
	}{
		{sdk.OpTrack, `{"tracking_numbers": ["1490811234567"]}`},
		{sdk.OpTrack, `{"tracking_numbers": ["1490811234567"],}`},
		{sdk.OpTrack, `{"tracking_numbers": ["1490811234567"]} x`},
		{sdk.OpTrack, `{"tracking_\u006eumbers": ["\u0031"]}`},
		{sdk.OpTrack, `{"tracking_numbers": ["a"], "tracking_numbers": []}`},
		{sdk.OpTrack, "{\"tracking_numbers\": [\"\xff\xfe\"]}"},
		{sdk.OpTrack, `{"tracking_numbers": ["\ud800"]}`},
		{sdk.OpTrack, "\t{\"tracking_numbers\":\n[\"1\"]\r}\n"},
		{sdk.OpTrack, `"a string"`},
		{sdk.OpTrack, `null`},
		{sdk.OpTrack, `123`},
		{sdk.OpTrack, `{"tracking_numbers": [01]}`},
		{sdk.OpTrack, `{"tracking_numbers": [1.]}`},
		{sdk.OpTrack, `{"tracking_numbers": [-]}`},
		{sdk.OpTrack, "{\"tracking_numbers\": [\"a\tb\"]}"},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": 2.0}`},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": 2e0}`},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": 1e400}`},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": 1e-400}`},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": -0}`},
		{sdk.OpCancelEWayBill, `{"number": "\u0033\u0039\u0031001234567", "reason_code": 2}`},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": 20000000000000000000000000}`},
		{sdk.OpCreateShipment, `{"reference": "` + strings.Repeat(`\u00e9`, 64) + `"}`},
		{sdk.OpCreateShipment, `{"reference": "` + strings.Repeat(`\u00e9`, 65) + `"}`},
		{sdk.OpCreateShipment, `{"options": {"a": "1", "a": "2"}}`},
		{sdk.OpCreateShipment, `{"options": {"a/b": 1, "c~d": "x"}}`},
		{sdk.OpCreateShipment, strings.Repeat("[", 10001) + strings.Repeat("]", 10001)},
		{sdk.OpCreateShipment, `{"colour": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`},
	} {
		if diff := agree(t, tc.op, []byte(tc.body), true, true); diff != "" {
			t.Errorf("%s %.80q: %s", tc.op, tc.body, diff)
		}
	}
}

// invalidFixture is the fixture with a bad PIN and an unknown field.
func invalidFixture(b testing.TB) []byte {
	var m map[string]any
	if err := json.Unmarshal(fixture(b), &m); err != nil {
		b.Fatal(err)
	}
	m["ship_to"].(map[string]any)["postal_code"] = "012345"
	m["colour"] = "red"
	body, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkRequest validates the 1 KB create_shipment fixture, valid and
// invalid, with the compiled validator and with the reference.
func BenchmarkRequest(b *testing.B) {
	ref := sharedReference(b)
	for _, validity := range []string{"valid", "invalid"} {
		body := fixture(b)
		if validity == "invalid" {
			body = invalidFixture(b)
		}
		wantErr := validity == "invalid"
		b.Run("compiled/"+validity, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := shared.Request(sdk.OpCreateShipment, body); (err != nil) != wantErr {
					b.Fatal(err)
				}
			}
		})
		b.Run("santhosh/"+validity, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if ptrs := ref.check(sdk.OpCreateShipment, body, true); (ptrs != nil) != wantErr {
					b.Fatal(ptrs)
				}
			}
		})
	}
}

// FuzzRequest checks that the compiled validator never panics and accepts or
// rejects exactly what the reference does (a duplicate key aside, which only the
// compiled validator rejects).
func FuzzRequest(f *testing.F) {
	ops := sdk.Operations()
	f.Add(uint8(0), fixture(f))
	f.Add(uint8(0), invalidFixture(f))
	for i, c := range corpus(f) {
		if !c.request {
			continue
		}
		body, err := json.Marshal(c.doc)
		if err != nil {
			f.Fatal(err)
		}
		for j, op := range ops {
			if op.Name == c.op {
				f.Add(uint8(j), body)
			}
		}
		_ = i
	}
	f.Add(uint8(1), []byte(`{"tracking_numbers": ["1"], "tracking_numbers": []}`))
	f.Add(uint8(1), []byte(`{"number": "391001234567", "reason_code": 1e400}`))
	f.Fuzz(func(t *testing.T, opIndex uint8, body []byte) {
		op := ops[int(opIndex)%len(ops)].Name
		if diff := agree(t, op, body, true, false); diff != "" {
			t.Fatalf("%s %q: %s", op, body, diff)
		}
	})
}
