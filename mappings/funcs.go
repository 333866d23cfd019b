package mappings

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/mappings/doc"
	mxml "github.com/carrierhub/hub/mappings/xml"
)

// builtin is a function of the language. A call x.f(a) is f(x, a).
type builtin struct {
	name     string
	min, max int  // argument count, counting the value before the dot; max -1: any
	lambda   bool // takes one x -> ... argument
	// check validates constant arguments at compile time and may store what it
	// prepared in the call's aux.
	check func(p *parser, c *callNode) error
	eval  func(e *env, c *callNode) (Value, error)
	// emit, when set, writes the result straight to the output.
	emit func(e *env, c *callNode) (bool, error)
	// iter, when set, yields the elements of the result without building it.
	iter func(e *env, c *callNode, fn func(Value) error) (bool, error)
	// doc is one line for README and hub map help.
	doc string
}

var builtins map[string]*builtin

func init() {
	builtins = map[string]*builtin{}
	for _, b := range []*builtin{
		// Lists.
		{name: "map", min: 1, max: 1, lambda: true, eval: mapEval, emit: mapEmit, iter: mapIter,
			doc: "list.map(x -> value): the value for each element; missing results are left out"},
		{name: "filter", min: 1, max: 1, lambda: true, eval: collect, iter: filterIter,
			doc: "list.filter(x -> condition): the elements for which the condition holds"},
		{name: "find", min: 1, max: 1, lambda: true, eval: findEval,
			doc: "list.find(x -> condition): the first element for which the condition holds"},
		{name: "sort_by", min: 1, max: 1, lambda: true, eval: sortEval,
			doc: "list.sort_by(x -> key): the list ordered by a number or string key, stable"},
		{name: "group_by", min: 1, max: 1, lambda: true, eval: groupEval,
			doc: "list.group_by(x -> key): [{key, items}] in order of first appearance"},
		{name: "any", min: 1, max: 1, lambda: true, eval: anyEval,
			doc: "list.any(x -> condition): whether some element satisfies the condition"},
		{name: "sort", min: 1, max: 1, eval: sortEval, doc: "list.sort(): numbers or strings in ascending order"},
		{name: "reverse", min: 1, max: 1, eval: reverseEval, doc: "list.reverse(): the list back to front"},
		{name: "parse_json", min: 1, max: 1, eval: parseJSONEval,
			doc: `s.parse_json(): the JSON document a string holds (an answer that wraps JSON in a string); an error when it is not JSON`},
		{name: "parse_xml", min: 1, max: 1, eval: parseXMLEval,
			doc: `s.parse_xml(): the XML document a string holds, read as from xml reads one (ULIP's VAHAN <VehicleDetails>); an error when it is not XML`},
		{name: "entries", min: 1, max: 1, eval: entriesEval,
			doc: `obj.entries(): the members as a list of {key, value}, in order (an answer keyed by tracking number becomes a list); a list's are keyed by position, so [] has none`},
		{name: "flatten", min: 1, max: 1, eval: flattenEval, iter: flattenIter, doc: "list.flatten(): lists inside the list spliced in, one level"},
		{name: "first", min: 1, max: 1, eval: firstEval, doc: "list.first(): the first element (missing when empty)"},
		{name: "last", min: 1, max: 1, eval: lastEval, doc: "list.last(): the last element (missing when empty)"},
		{name: "length", min: 1, max: 1, eval: lengthEval, doc: "x.length(): elements of a list, characters of a string, keys of an object"},
		{name: "sum", min: 1, max: 1, eval: sumEval, doc: "list.sum(): the sum of numbers"},
		{name: "join", min: 2, max: 2, eval: joinEval, doc: `list.join(", "): the elements as one string`},
		// Strings.
		{name: "upper", min: 1, max: 1, eval: strFn(strings.ToUpper), doc: "s.upper()"},
		{name: "lower", min: 1, max: 1, eval: strFn(strings.ToLower), doc: "s.lower()"},
		{name: "trim", min: 1, max: 1, eval: strFn(strings.TrimSpace), doc: "s.trim(): without leading and trailing spaces"},
		{name: "title", min: 1, max: 1, eval: strFn(titleCase), doc: `s.title(): "NEW DELHI" becomes "New Delhi"`},
		{name: "digits", min: 1, max: 1, eval: strFn(onlyDigits), doc: `s.digits(): only the digits ("+91 98-76" becomes "919876")`},
		{name: "replace", min: 3, max: 3, eval: replaceEval, doc: `s.replace("old", "new"): every occurrence replaced`},
		{name: "split", min: 2, max: 2, eval: splitEval, doc: `s.split(","): the parts as a list`},
		{name: "contains", min: 2, max: 2, eval: containsEval, doc: "s.contains(sub) or list.contains(value)"},
		{name: "starts_with", min: 2, max: 2, eval: strPred(strings.HasPrefix), doc: "s.starts_with(prefix)"},
		{name: "ends_with", min: 2, max: 2, eval: strPred(strings.HasSuffix), doc: "s.ends_with(suffix)"},
		{name: "substr", min: 2, max: 3, eval: substrEval, doc: "s.substr(start, length?): characters from start (0-based)"},
		{name: "index_of", min: 2, max: 2, eval: indexEval(strings.Index), doc: `s.index_of(sub): the character position of the first sub (0-based), -1 when absent`},
		{name: "last_index_of", min: 2, max: 2, eval: indexEval(strings.LastIndex), doc: `s.last_index_of(sub): the character position of the last sub, -1 when absent`},
		{name: "matches", min: 2, max: 2, check: checkPattern, eval: matchesEval,
			doc: `s.matches("(?i)out for delivery"): whether a regular expression (RE2 syntax, a constant) matches somewhere in s`},
		{name: "capture", min: 2, max: 3, check: checkPattern, eval: captureEval,
			doc: `s.capture("\\(([^)]*)\\)$", 1?): the first match's group (1 by default; 0 is the whole match); missing when it does not match`},
		{name: "wrap", min: 2, max: 2, eval: wrapEval,
			doc: `s.wrap(30): the words of s packed into lines of at most 30 characters (a longer word is cut)`},
		{name: "pad_left", min: 3, max: 3, eval: padEval, doc: `s.pad_left(6, "0"): padded on the left to a width`},
		// Conversions and numbers.
		{name: "string", min: 1, max: 1, eval: stringEval, doc: "x.string(): a number or boolean as text"},
		{name: "number", min: 1, max: 1, eval: numberEval, doc: `x.number(): a number from a number or numeric text ("1,234.50")`},
		{name: "int", min: 1, max: 1, eval: intEval, doc: "x.int(): the whole part of a number"},
		{name: "round", min: 1, max: 2, eval: roundEval, doc: "x.round(places?): half away from zero"},
		{name: "floor", min: 1, max: 1, eval: numFn(math.Floor), doc: "x.floor()"},
		{name: "ceil", min: 1, max: 1, eval: numFn(math.Ceil), doc: "x.ceil()"},
		{name: "abs", min: 1, max: 1, eval: numFn(math.Abs), doc: "x.abs()"},
		{name: "convert", min: 3, max: 3, check: checkConvert, eval: convertEval,
			doc: `x.convert("lb", "kg"): units of mass (kg g lb oz), length (m cm mm in ft) and money (rupees paise)`},
		// Times.
		{name: "to_time", min: 1, max: 3, check: checkToTime, eval: toTimeEval,
			doc: `s.to_time("dd/MM/yyyy HH:mm", "Asia/Kolkata"): an RFC 3339 time; layouts may list alternatives with |`},
		{name: "try_time", min: 1, max: 3, check: checkToTime, eval: tryTimeEval,
			doc: `s.try_time("dd/MM/yyyy HH:mm", "Asia/Kolkata"): like to_time, but missing instead of an error when s does not parse`},
		{name: "from_unix", min: 1, max: 3, check: checkFromUnix, eval: fromUnixEval,
			doc: `x.from_unix("ms"?, "Asia/Kolkata"?): an RFC 3339 time from Unix seconds ("s", the default) or milliseconds ("ms"), written in a zone (UTC by default)`},
		{name: "to_unix", min: 1, max: 2, check: checkToUnix, eval: toUnixEval,
			doc: `t.to_unix("ms"?): an RFC 3339 time as Unix seconds ("s", the default) or milliseconds ("ms")`},
		{name: "format_time", min: 2, max: 3, check: checkFormatTime, eval: formatTimeEval,
			doc: `t.format_time("dd/MM/yyyy", "Asia/Kolkata"): an RFC 3339 time written in a layout and zone`},
		// Tables, presence, validation.
		{name: "lookup", min: 2, max: 3, check: checkLookup, eval: lookupEval,
			doc: `lookup("table", key, "column"?): a row's column (the second by default); missing when the key is not there`},
		{name: "lookup_match", min: 2, max: 3, check: checkLookup, eval: lookupMatchEval,
			doc: `lookup_match("table", s, "column"?): the first row, in file order, whose key (a regular expression) matches s`},
		{name: "nonblank", min: 1, max: -1, eval: nonblankEval,
			doc: `nonblank(a, b, ...): the first value that is not missing, null or blank; strings trimmed`},
		{name: "exists", min: 1, max: 1, eval: existsEval, doc: "exists(x): whether x is present (null counts as present)"},
		{name: "fail", min: 1, max: 1, eval: failEval, doc: `fail("message"): stop with an error naming this place`},
		{name: "is_gstin", min: 1, max: 1, eval: validator(ValidGSTIN), doc: "is_gstin(s): a GSTIN with a correct check character"},
		{name: "is_pin", min: 1, max: 1, eval: validator(ValidPIN), doc: "is_pin(s): an Indian PIN code (six digits, not starting with 0)"},
		{name: "is_vehicle_reg", min: 1, max: 1, eval: validator(ValidVehicleReg), doc: "is_vehicle_reg(s): an Indian vehicle registration number (MH12AB1234, 22BH1234AA)"},
		{name: "is_hsn", min: 1, max: 1, eval: validator(ValidHSN), doc: "is_hsn(s): an HSN or SAC code (2, 4, 6 or 8 digits)"},
	} {
		builtins[b.name] = b
	}
}

// Builtins lists the function names with a one-line description each, sorted.
func Builtins() [][2]string {
	var out [][2]string
	for name, b := range builtins {
		out = append(out, [2]string{name, b.doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func (e *env) arg(c *callNode, i int) (Value, error) {
	if i >= len(c.args) {
		return missing, nil
	}
	return e.eval(c.args[i])
}

// call binds the lambda's parameter to x and evaluates its body.
func (e *env) call(l *lambda, x Value) (Value, error) {
	e.bind(l.slot, x)
	return e.eval(l.body)
}

// iter yields the elements of the list n computes, streaming through map,
// filter and flatten; it reports whether the list was present at all.
func (e *env) iter(n node, fn func(Value) error) (bool, error) {
	if c, ok := n.(*callNode); ok && c.fn.iter != nil {
		return c.fn.iter(e, c, fn)
	}
	v, err := e.eval(n)
	if err != nil || v.absent() {
		return false, err
	}
	return true, each(v, func(_ int, x Value) error { return fn(x) })
}

func mapIter(e *env, c *callNode, fn func(Value) error) (bool, error) {
	return e.iter(c.args[0], func(x Value) error {
		v, err := e.call(c.lam, x)
		if err != nil || v.k == kMissing {
			return err
		}
		return fn(v)
	})
}

func mapEmit(e *env, c *callNode) (bool, error) {
	mark := len(e.out)
	e.out = append(e.out, '[')
	first := true
	present, err := e.iter(c.args[0], func(x Value) error {
		e.bind(c.lam.slot, x)
		m := len(e.out)
		if !first {
			e.out = append(e.out, ',')
		}
		ok, err := e.emit(c.lam.body)
		if err != nil {
			return err
		}
		if !ok {
			e.out = e.out[:m]
			return nil
		}
		first = false
		return nil
	})
	if err != nil || !present {
		e.out = e.out[:mark]
		return false, err
	}
	e.out = append(e.out, ']')
	return true, nil
}

// collect materializes a streaming list.
func collect(e *env, c *callNode) (Value, error) {
	var out []Value
	present, err := c.fn.iter(e, c, func(x Value) error { out = append(out, x); return nil })
	if err != nil || !present {
		return missing, err
	}
	if out == nil {
		out = []Value{}
	}
	return Value{k: kArr, a: out}, nil
}

func mapEval(e *env, c *callNode) (Value, error) { return collect(e, c) }

func filterIter(e *env, c *callNode, fn func(Value) error) (bool, error) {
	return e.iter(c.args[0], func(x Value) error {
		ok, err := e.call(c.lam, x)
		if err != nil || !truthy(ok) {
			return err
		}
		return fn(x)
	})
}

// errStop ends an iteration early without an error.
var errStop = fmt.Errorf("stop")

func findEval(e *env, c *callNode) (Value, error) {
	found := missing
	_, err := e.iter(c.args[0], func(x Value) error {
		ok, err := e.call(c.lam, x)
		if err != nil {
			return err
		}
		if truthy(ok) {
			found = x
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return missing, err
	}
	return found, nil
}

func anyEval(e *env, c *callNode) (Value, error) {
	v, err := findEval(e, c)
	return boolean(v.k != kMissing), err
}

func listOf(e *env, c *callNode) ([]Value, bool, error) {
	var out []Value
	present, err := e.iter(c.args[0], func(x Value) error { out = append(out, x); return nil })
	return out, present, err
}

func sortEval(e *env, c *callNode) (Value, error) {
	list, present, err := listOf(e, c)
	if err != nil || !present {
		return missing, err
	}
	keys := list
	if c.lam != nil {
		keys = make([]Value, len(list))
		for i, x := range list {
			if keys[i], err = e.call(c.lam, x); err != nil {
				return missing, err
			}
		}
	}
	for i := 1; i < len(keys); i++ {
		if _, ok := compare(keys[0], keys[i]); !ok {
			return missing, e.fail(c, keys[i], "%s() orders numbers or strings, and cannot order %s with %s", c.fn.name, typeName(keys[0]), typeName(keys[i]))
		}
	}
	idx := make([]int, len(list))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		r, _ := compare(keys[idx[a]], keys[idx[b]])
		return r < 0
	})
	out := make([]Value, len(list))
	for i, j := range idx {
		out[i] = list[j]
	}
	return Value{k: kArr, a: out}, nil
}

func groupEval(e *env, c *callNode) (Value, error) {
	list, present, err := listOf(e, c)
	if err != nil || !present {
		return missing, err
	}
	// Each item's group number, then one backing list cut into the groups'
	// items, so that the work is linear in the items.
	var gs grouper
	var keys []Value // the key of each group, as first seen
	slot := make([]int, len(list))
	for i, x := range list {
		k, err := e.call(c.lam, x)
		if err != nil {
			return missing, err
		}
		if slot[i] = gs.add(k); slot[i] == len(keys) {
			keys = append(keys, k)
		}
	}
	start := make([]int, len(keys)+1)
	for _, g := range slot {
		start[g+1]++
	}
	for g := range keys {
		start[g+1] += start[g]
	}
	items := make([]Value, len(list))
	next := append([]int(nil), start[:len(keys)]...)
	for i, g := range slot {
		items[next[g]] = list[i]
		next[g]++
	}
	out := make([]Value, len(keys))
	for g, k := range keys {
		b := []byte(`{"key":`)
		if k.k == kMissing {
			b = append(b, "null"...)
		} else {
			b = appendValue(b, k)
		}
		b = append(b, `,"items":`...)
		b = appendValue(b, Value{k: kArr, a: items[start[g]:start[g+1]:start[g+1]]})
		b = append(b, '}')
		out[g] = Value{k: kJSON, s: string(b)}
	}
	return Value{k: kArr, a: out}, nil
}

// grouper numbers the groups of group_by in order of first appearance. It
// finds a key's group through a map instead of comparing the key with every
// group, and puts two keys in one group exactly when equal says they are equal.
type grouper struct {
	slots map[groupKey]int
	n     int // groups so far
}

// groupKey is the map key of a group_by key: its class under equal. Missing
// and null share one; a number is its bits with -0 taken as 0 (1 and 1.0 are
// one number); a string is its text, apart from numbers and from objects; an
// object or array is its JSON text as appendValue writes it, which is what
// equal compares, whatever form (input text, computed list, document tree)
// it comes in.
type groupKey struct {
	k kind
	n uint64
	s string
}

// add returns the group number of key k, opening a new group, numbered after
// the others, when no earlier key equals k.
func (g *grouper) add(k Value) int {
	var gk groupKey
	switch k.k {
	case kMissing, kNull:
		gk = groupKey{k: kNull}
	case kBool:
		gk = groupKey{k: kBool}
		if k.b {
			gk.n = 1
		}
	case kNum:
		if math.IsNaN(k.n) {
			// NaN equals nothing, itself included: a group of its own.
			g.n++
			return g.n - 1
		}
		f := k.n
		if f == 0 {
			f = 0 // -0 equals 0
		}
		gk = groupKey{k: kNum, n: math.Float64bits(f)}
	case kStr:
		gk = groupKey{k: kStr, s: k.s}
	default:
		gk = groupKey{k: kJSON, s: string(appendValue(nil, k))}
	}
	if i, ok := g.slots[gk]; ok {
		return i
	}
	if g.slots == nil {
		g.slots = map[groupKey]int{}
	}
	g.slots[gk] = g.n
	g.n++
	return g.n - 1
}

func reverseEval(e *env, c *callNode) (Value, error) {
	list, present, err := listOf(e, c)
	if err != nil || !present {
		return missing, err
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	if list == nil {
		list = []Value{}
	}
	return Value{k: kArr, a: list}, nil
}

func flattenIter(e *env, c *callNode, fn func(Value) error) (bool, error) {
	return e.iter(c.args[0], func(x Value) error {
		if x.isArray() {
			return each(x, func(_ int, y Value) error { return fn(y) })
		}
		return fn(x)
	})
}

func flattenEval(e *env, c *callNode) (Value, error) { return collect(e, c) }

// parseJSONEval reads a string as a JSON document.
func parseJSONEval(e *env, c *callNode) (Value, error) {
	str, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	t := strings.TrimSpace(str)
	if !gjson.Valid(t) {
		return missing, e.fail(c, v, "parse_json(): the string is not a JSON document")
	}
	return fromResult(gjson.Parse(t), 0), nil
}

// parseXMLEval reads a string as an XML document, with the xml reader's
// defaults and limits.
func parseXMLEval(e *env, c *callNode) (Value, error) {
	str, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	root, err := mxml.Unmarshal([]byte(str), mxml.Options{})
	if err != nil {
		return missing, e.fail(c, v, "parse_xml(): %v", err)
	}
	return Value{k: kDoc, a: root}, nil
}

// entriesEval lists an object's members as {key, value} objects, in order.
func entriesEval(e *env, c *callNode) (Value, error) {
	v, err := e.arg(c, 0)
	if err != nil || v.absent() {
		return v, err
	}
	out := []Value{}
	switch {
	case v.k == kJSON && v.isObject():
		v.result().ForEach(func(k, m gjson.Result) bool {
			out = append(out, Value{k: kJSON, s: `{"key":` + k.Raw + `,"value":` + m.Raw + `}`})
			return true
		})
	case v.k == kDoc && v.isObject():
		o := v.a.(*doc.Object)
		for i := range o.Len() {
			key, member := o.At(i)
			entry := doc.NewObject(2)
			entry.Set("key", key)
			entry.Set("value", member)
			out = append(out, Value{k: kDoc, a: entry})
		}
	case v.isArray():
		// Providers that print an empty object as [] (PHP): a list's entries
		// are keyed by position.
		if list, ok := v.a.([]any); ok && v.k == kDoc {
			for i, member := range list {
				entry := doc.NewObject(2)
				entry.Set("key", int64(i))
				entry.Set("value", member)
				out = append(out, Value{k: kDoc, a: entry})
			}
			break
		}
		i := 0
		_, err := e.iter(c.args[0], func(x Value) error {
			b := append([]byte(`{"key":`+strconv.Itoa(i)+`,"value":`), appendValue(nil, x)...)
			out = append(out, Value{k: kJSON, s: string(append(b, '}'))})
			i++
			return nil
		})
		if err != nil {
			return missing, err
		}
	default:
		return missing, e.fail(c, v, "entries() needs an object, got %s", typeName(v))
	}
	return Value{k: kArr, a: out}, nil
}

func firstEval(e *env, c *callNode) (Value, error) {
	found := missing
	_, err := e.iter(c.args[0], func(x Value) error { found = x; return errStop })
	if err != nil && err != errStop {
		return missing, err
	}
	return found, nil
}

func lastEval(e *env, c *callNode) (Value, error) {
	found := missing
	_, err := e.iter(c.args[0], func(x Value) error { found = x; return nil })
	return found, err
}

func lengthEval(e *env, c *callNode) (Value, error) {
	v, err := e.arg(c, 0)
	if err != nil {
		return missing, err
	}
	if v.k == kMissing {
		return num(0), nil
	}
	return num(float64(length(v))), nil
}

func sumEval(e *env, c *callNode) (Value, error) {
	total := 0.0
	_, err := e.iter(c.args[0], func(x Value) error {
		f, ok := toNumber(x)
		if !ok {
			return e.fail(c, x, "sum() adds numbers, got %s", typeName(x))
		}
		total += f
		return nil
	})
	return num(total), err
}

func joinEval(e *env, c *callNode) (Value, error) {
	sepV, err := e.arg(c, 1)
	if err != nil {
		return missing, err
	}
	sep, _ := toString(sepV)
	var b strings.Builder
	n := 0
	present, err := e.iter(c.args[0], func(x Value) error {
		if x.absent() {
			return nil
		}
		s, ok := toString(x)
		if !ok {
			return e.fail(c, x, "join() joins strings and numbers, got %s", typeName(x))
		}
		if n > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
		n++
		return nil
	})
	if err != nil || !present {
		return missing, err
	}
	return str(b.String()), nil
}

// strArg evaluates argument i as text; absent values come back as ok=false.
func (e *env) strArg(c *callNode, i int) (string, Value, bool, error) {
	v, err := e.arg(c, i)
	if err != nil || v.absent() {
		return "", v, false, err
	}
	s, ok := toString(v)
	if !ok {
		return "", v, false, e.fail(c, v, "%s() needs a string, got %s", c.fn.name, typeName(v))
	}
	return s, v, true, nil
}

func strFn(f func(string) string) func(e *env, c *callNode) (Value, error) {
	return func(e *env, c *callNode) (Value, error) {
		s, v, ok, err := e.strArg(c, 0)
		if err != nil || !ok {
			return v, err
		}
		return str(f(s)), nil
	}
}

func strPred(f func(string, string) bool) func(e *env, c *callNode) (Value, error) {
	return func(e *env, c *callNode) (Value, error) {
		s, _, ok, err := e.strArg(c, 0)
		if err != nil || !ok {
			return boolean(false), err
		}
		t, _, _, err := e.strArg(c, 1)
		return boolean(f(s, t)), err
	}
}

func titleCase(s string) string {
	b := []rune(strings.ToLower(s))
	start := true
	for i, r := range b {
		if unicode.IsLetter(r) {
			if start {
				b[i] = unicode.ToUpper(r)
			}
			start = false
		} else {
			start = true
		}
	}
	return string(b)
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func replaceEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	old, _, _, err := e.strArg(c, 1)
	if err != nil {
		return missing, err
	}
	nw, _, _, err := e.strArg(c, 2)
	if err != nil {
		return missing, err
	}
	if old == "" {
		return str(s), nil
	}
	return str(strings.ReplaceAll(s, old, nw)), nil
}

func splitEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	sep, _, _, err := e.strArg(c, 1)
	if err != nil {
		return missing, err
	}
	parts := strings.Split(s, sep)
	if sep == "" {
		parts = parts[:0]
		for _, r := range s {
			parts = append(parts, string(r))
		}
	}
	out := make([]Value, len(parts))
	for i, p := range parts {
		out[i] = str(p)
	}
	return Value{k: kArr, a: out}, nil
}

func containsEval(e *env, c *callNode) (Value, error) {
	v, err := e.arg(c, 0)
	if err != nil {
		return missing, err
	}
	needle, err := e.arg(c, 1)
	if err != nil {
		return missing, err
	}
	if v.k == kStr {
		t, ok := toString(needle)
		return boolean(ok && strings.Contains(v.s, t)), nil
	}
	found := false
	err = each(v, func(_ int, x Value) error {
		if equal(x, needle) {
			found = true
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return missing, err
	}
	return boolean(found), nil
}

func substrEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	startV, err := e.arg(c, 1)
	if err != nil {
		return missing, err
	}
	start, ok := toNumber(startV)
	if !ok || start < 0 {
		return missing, e.fail(c, startV, "substr() needs a start of 0 or more")
	}
	r := []rune(s)
	st := min(int(start), len(r))
	end := len(r)
	if len(c.args) > 2 {
		lv, err := e.arg(c, 2)
		if err != nil {
			return missing, err
		}
		l, ok := toNumber(lv)
		if !ok || l < 0 {
			return missing, e.fail(c, lv, "substr() needs a length of 0 or more")
		}
		end = min(st+int(l), len(r))
	}
	return str(string(r[st:end])), nil
}

func padEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	wv, err := e.arg(c, 1)
	if err != nil {
		return missing, err
	}
	w, ok := toNumber(wv)
	if !ok || w < 0 || w > 1<<16 {
		return missing, e.fail(c, wv, "pad_left() needs a width between 0 and 65536")
	}
	pad, _, _, err := e.strArg(c, 2)
	if err != nil {
		return missing, err
	}
	if pad == "" {
		pad = " "
	}
	n := int(w) - utf8.RuneCountInString(s)
	if n <= 0 {
		return str(s), nil
	}
	return str(strings.Repeat(pad, n)[:n*len(pad)] + s), nil
}

func stringEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	return str(s), nil
}

func (e *env) numArg(c *callNode, i int) (float64, Value, bool, error) {
	v, err := e.arg(c, i)
	if err != nil || v.absent() {
		return 0, v, false, err
	}
	f, ok := toNumber(v)
	if !ok {
		if v.k == kStr {
			return 0, v, false, e.fail(c, v, "%s(): %q is not a number", c.fn.name, v.s)
		}
		return 0, v, false, e.fail(c, v, "%s() needs a number, got %s", c.fn.name, typeName(v))
	}
	return f, v, true, nil
}

func numberEval(e *env, c *callNode) (Value, error) {
	f, v, ok, err := e.numArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	return num(f), nil
}

func intEval(e *env, c *callNode) (Value, error) {
	f, v, ok, err := e.numArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	return num(math.Trunc(f)), nil
}

func numFn(f func(float64) float64) func(e *env, c *callNode) (Value, error) {
	return func(e *env, c *callNode) (Value, error) {
		x, v, ok, err := e.numArg(c, 0)
		if err != nil || !ok {
			return v, err
		}
		return num(f(x)), nil
	}
}

func roundEval(e *env, c *callNode) (Value, error) {
	x, v, ok, err := e.numArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	places := 0.0
	if len(c.args) > 1 {
		p, pv, ok, err := e.numArg(c, 1)
		if err != nil {
			return missing, err
		}
		if !ok || p < 0 || p > 15 {
			return missing, e.fail(c, pv, "round() takes 0 to 15 decimal places")
		}
		places = math.Trunc(p)
	}
	return num(roundTo(x, int(places))), nil
}

func roundTo(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	r := math.Round(x*p) / p
	if math.IsInf(x*p, 0) {
		return x
	}
	return r
}

// unit is a unit's dimension and its size in the dimension's base unit.
type unit struct {
	dim    string
	factor float64
}

// units maps a unit's name to it.
var units = map[string]unit{
	"kg": {"mass", 1}, "g": {"mass", 0.001}, "lb": {"mass", 0.45359237}, "oz": {"mass", 0.028349523125},
	"m": {"length", 1}, "cm": {"length", 0.01}, "mm": {"length", 0.001}, "in": {"length", 0.0254}, "ft": {"length", 0.3048},
	"rupees": {"money", 1}, "inr": {"money", 1}, "paise": {"money", 0.01},
}

// checkConvert resolves constant units at compile time (the usual case), so a
// misspelt or mismatched unit never waits for a payload; units read from the
// input are resolved per call and a bad one is an error naming its path.
func checkConvert(p *parser, c *callNode) error {
	from, fromConst := constArg(c, 1)
	to, toConst := constArg(c, 2)
	if fromConst {
		if _, ok := units[strings.ToLower(from)]; !ok {
			return p.errAt(c.args[1].at(), "convert(): unknown unit %q (%s)", from, unitNames)
		}
	}
	if toConst {
		if _, ok := units[strings.ToLower(to)]; !ok {
			return p.errAt(c.args[2].at(), "convert(): unknown unit %q (%s)", to, unitNames)
		}
	}
	if !fromConst || !toConst {
		return nil
	}
	uf, ut := units[strings.ToLower(from)], units[strings.ToLower(to)]
	if uf.dim != ut.dim {
		return p.errAt(c.p, "convert(): cannot convert %s (%s) to %s (%s)", from, uf.dim, to, ut.dim)
	}
	c.aux = uf.factor / ut.factor
	return nil
}

// unitNames lists the units convert() knows, for its errors.
const unitNames = "kg g lb oz m cm mm in ft rupees paise"

// constArg returns argument i when it is a constant string.
func constArg(c *callNode, i int) (string, bool) {
	if i >= len(c.args) {
		return "", false
	}
	lit, ok := c.args[i].(*litNode)
	if !ok || lit.v.k != kStr {
		return "", false
	}
	return lit.v.s, true
}

func convertEval(e *env, c *callNode) (Value, error) {
	x, v, ok, err := e.numArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	if f, ok := c.aux.(float64); ok {
		return num(x * f), nil
	}
	var u [2]unit
	for i := range u {
		name, nv, ok, err := e.strArg(c, i+1)
		if err != nil {
			return missing, err
		}
		if !ok {
			return missing, e.fail(c, nv, "convert(): the unit is missing")
		}
		un, known := units[strings.ToLower(strings.TrimSpace(name))]
		if !known {
			return missing, e.fail(c, nv, "convert(): unknown unit %q (%s)", name, unitNames)
		}
		u[i] = un
	}
	if u[0].dim != u[1].dim {
		return missing, e.fail(c, v, "convert(): cannot convert %s to %s", u[0].dim, u[1].dim)
	}
	return num(x * (u[0].factor / u[1].factor)), nil
}

func checkLookup(p *parser, c *callNode) error {
	name, err := constString(p, c, 0, "the table's name")
	if err != nil {
		return err
	}
	t := p.prog.tables[name]
	if t == nil {
		return p.errAt(c.args[0].at(), "lookup(): no table %q (declare it: table %s = \"file.csv\")", name, name)
	}
	col := 1
	if len(c.args) > 2 {
		cn, err := constString(p, c, 2, "the column's name")
		if err != nil {
			return err
		}
		col = -1
		for i, h := range t.header {
			if h == cn {
				col = i
			}
		}
		if col < 0 {
			return p.errAt(c.args[2].at(), "lookup(): table %q has no column %q (it has %s)", name, cn, strings.Join(t.header, ", "))
		}
	}
	if c.fn.name == "lookup_match" {
		if err := t.compilePatterns(); err != nil {
			return err
		}
	}
	c.aux = lookupAux{t, col}
	return nil
}

type lookupAux struct {
	t   *table
	col int
}

func lookupEval(e *env, c *callNode) (Value, error) {
	k, v, ok, err := e.strArg(c, 1)
	if err != nil || !ok {
		return v, err
	}
	a := c.aux.(lookupAux)
	row, ok := a.t.rows[k]
	if !ok || a.col >= len(row) {
		return missing, nil
	}
	return str(row[a.col]), nil
}

func lookupMatchEval(e *env, c *callNode) (Value, error) {
	k, v, ok, err := e.strArg(c, 1)
	if err != nil || !ok {
		return v, err
	}
	a := c.aux.(lookupAux)
	row, ok := a.t.matchRow(k)
	if !ok || a.col >= len(row) {
		return missing, nil
	}
	return str(row[a.col]), nil
}

// checkPattern compiles the constant regular expression of matches() and
// capture() once, at compile time.
func checkPattern(p *parser, c *callNode) error {
	src, err := constString(p, c, 1, "a regular expression")
	if err != nil {
		return err
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return p.errAt(c.args[1].at(), "%s(): %q is not a regular expression (RE2 syntax): %v", c.fn.name, src, err)
	}
	if c.fn.name == "capture" && len(c.args) == 2 && re.NumSubexp() == 0 {
		return p.errAt(c.args[1].at(), "capture(): %q has no group; add one in parentheses or pass 0 for the whole match", src)
	}
	if len(c.args) > 2 {
		lit, ok := c.args[2].(*litNode)
		if !ok || lit.v.k != kNum || lit.v.n != math.Trunc(lit.v.n) || lit.v.n < 0 || int(lit.v.n) > re.NumSubexp() {
			return p.errAt(c.args[2].at(), "capture(): the group must be a constant whole number from 0 to %d", re.NumSubexp())
		}
	}
	c.aux = re
	return nil
}

func matchesEval(e *env, c *callNode) (Value, error) {
	s, _, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return boolean(false), err
	}
	return boolean(c.aux.(*regexp.Regexp).MatchString(s)), nil
}

func captureEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	group := 1
	if len(c.args) > 2 {
		group = int(c.args[2].(*litNode).v.n)
	}
	re := c.aux.(*regexp.Regexp)
	m := re.FindStringSubmatchIndex(s)
	if m == nil || m[2*group] < 0 {
		return missing, nil
	}
	return str(s[m[2*group]:m[2*group+1]]), nil
}

// indexEval adapts strings.Index or LastIndex to character (not byte) positions.
func indexEval(f func(string, string) int) func(e *env, c *callNode) (Value, error) {
	return func(e *env, c *callNode) (Value, error) {
		s, v, ok, err := e.strArg(c, 0)
		if err != nil || !ok {
			return v, err
		}
		sub, v, ok, err := e.strArg(c, 1)
		if err != nil || !ok {
			return v, err
		}
		i := f(s, sub)
		if i < 0 {
			return num(-1), nil
		}
		return num(float64(utf8.RuneCountInString(s[:i]))), nil
	}
}

func nonblankEval(e *env, c *callNode) (Value, error) {
	for i := range c.args {
		v, err := e.arg(c, i)
		if err != nil {
			return missing, err
		}
		if v.absent() || v.k == kNull {
			continue
		}
		if v.k == kStr {
			if t := strings.TrimSpace(v.s); t != "" {
				return str(t), nil
			}
			continue
		}
		return v, nil
	}
	return missing, nil
}

func wrapEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	wv, err := e.arg(c, 1)
	if err != nil {
		return missing, err
	}
	w, ok := toNumber(wv)
	if !ok || w < 1 || w != math.Trunc(w) || w > 1<<20 {
		return missing, e.fail(c, wv, "wrap() needs a whole width of 1 or more")
	}
	width := int(w)
	var lines []Value
	var line []rune
	for _, word := range strings.Fields(s) {
		r := []rune(word)
		for len(r) > 0 {
			switch {
			case len(line) == 0 && len(r) <= width:
				line, r = append(line, r...), nil
			case len(line) > 0 && len(line)+1+len(r) <= width:
				line = append(append(line, ' '), r...)
				r = nil
			case len(line) > 0:
				lines, line = append(lines, str(string(line))), nil
			default: // a word longer than a line: cut it
				lines, r = append(lines, str(string(r[:width]))), r[width:]
			}
		}
	}
	if len(line) > 0 {
		lines = append(lines, str(string(line)))
	}
	if lines == nil {
		lines = []Value{}
	}
	return Value{k: kArr, a: lines}, nil
}

func existsEval(e *env, c *callNode) (Value, error) {
	v, err := e.arg(c, 0)
	return boolean(v.k != kMissing), err
}

func failEval(e *env, c *callNode) (Value, error) {
	s, v, _, err := e.strArg(c, 0)
	if err != nil {
		return missing, err
	}
	return missing, e.fail(c, v, "%s", s)
}

func validator(f func(string) bool) func(e *env, c *callNode) (Value, error) {
	return func(e *env, c *callNode) (Value, error) {
		s, _, ok, err := e.strArg(c, 0)
		if err != nil || !ok {
			return boolean(false), err
		}
		return boolean(f(s)), nil
	}
}
