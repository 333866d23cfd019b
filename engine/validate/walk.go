package validate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// token is one step of the path to the value being checked: an object key, or
// an array index when key is unused (index >= 0).
type token struct {
	key   string
	index int
}

// walker checks one body against a compiled tree. Strings it reads point into
// the body; every string stored in a FieldError is a fresh copy (the pointer is
// built with a strings.Builder, messages with fmt or strconv), so the caller may
// reuse the body once Request returns.
//
// The path lives in a fixed array inside the walker (and in deeper only past
// its length), so that a walker on the stack validates a body without
// allocating.
type walker struct {
	near   [24]token
	deeper []token
	depth  int
	fields []FieldError
	india  bool // apply the India checks (requests only)
}

func (w *walker) push(t token) {
	if w.depth < len(w.near) {
		w.near[w.depth] = t
	} else {
		w.deeper = append(w.deeper[:w.depth-len(w.near)], t)
	}
	w.depth++
}

func (w *walker) pop() { w.depth-- }

func (w *walker) at(i int) token {
	if i < len(w.near) {
		return w.near[i]
	}
	return w.deeper[i-len(w.near)]
}

// pointer renders the current path, plus extra when it is not empty, as a JSON
// pointer. It runs only when a problem is found.
func (w *walker) pointer(extra string) string {
	var b strings.Builder
	for i := range w.depth {
		t := w.at(i)
		b.WriteByte('/')
		if t.index >= 0 {
			b.WriteString(strconv.Itoa(t.index))
		} else {
			b.WriteString(escape(t.key))
		}
	}
	if extra != "" {
		b.WriteByte('/')
		b.WriteString(escape(extra))
	}
	return b.String()
}

func (w *walker) fail(extra, msg string) {
	w.fields = append(w.fields, FieldError{Pointer: w.pointer(extra), Message: msg})
}

// kindOf returns the JSON type of a value gjson parsed from valid JSON.
func kindOf(v gjson.Result) jsonType {
	switch v.Type {
	case gjson.Null:
		return typeNull
	case gjson.True, gjson.False:
		return typeBoolean
	case gjson.Number:
		return typeNumber
	case gjson.String:
		return typeString
	}
	if len(v.Raw) > 0 && v.Raw[0] == '[' {
		return typeArray
	}
	return typeObject
}

// kindName names a JSON type in messages; numbers are "number" whether or not
// they are integers.
func kindName(t jsonType) string {
	switch t {
	case typeNull:
		return "null"
	case typeBoolean:
		return "boolean"
	case typeNumber:
		return "number"
	case typeString:
		return "string"
	case typeArray:
		return "array"
	}
	return "object"
}

// value checks v against n.
func (w *walker) value(n *node, v gjson.Result) {
	t := kindOf(v)
	if t == typeNumber && math.IsInf(v.Num, 0) {
		// encoding/json refuses such a number, and so would every connector.
		w.fail("", "is too large a number: "+strconv.Quote(v.Raw))
		return
	}
	if n.types != 0 && n.types&t == 0 && !(t == typeNumber && n.types&typeInteger != 0 && isInteger(v.Num)) {
		w.fail("", fmt.Sprintf("must be %s, not %s", strings.Join(n.typeNames, " or "), kindName(t)))
		return
	}
	if n.constant != nil && !n.constant.equals(t, v) {
		want := n.constant.String()
		if n.constant.typ == typeString {
			want = strconv.Quote(want)
		}
		w.fail("", "must be "+want+", not "+display(t, v))
		return
	}
	if n.enum != nil {
		matched := false
		for i := range n.enum {
			if n.enum[i].equals(t, v) {
				matched = true
				break
			}
		}
		if !matched {
			want := make([]string, len(n.enum))
			for i, l := range n.enum {
				want[i] = strconv.Quote(l.String())
			}
			w.fail("", fmt.Sprintf("must be one of %s, not %s", strings.Join(want, ", "), display(t, v)))
			return
		}
	}
	if n.format != formatNone && t == typeString {
		if msg := checkFormat(n.format, v.Str); msg != "" {
			w.fail("", msg+", not "+strconv.Quote(v.Str))
			return
		}
	}
	if n.ref != nil {
		w.value(n.ref, v)
	}
	switch t {
	case typeObject:
		w.object(n, v)
	case typeArray:
		w.array(n, v)
	case typeString:
		w.string(n, v.Str)
	case typeNumber:
		w.number(n, v.Num)
	}
}

// object checks an object's properties, required fields, duplicate keys and,
// for requests, the India checks.
func (w *walker) object(n *node, v gjson.Result) {
	var seenProps uint64 // bit i: the property with index i was present
	var seenBig []bool   // for objects with more than 64 properties
	if len(n.props) > 64 {
		seenBig = make([]bool, len(n.props))
	}
	var others [8]string // keys outside the properties, for duplicate detection
	var moreOthers map[string]bool
	nOthers := 0
	var in indiaFields
	v.ForEach(func(k, val gjson.Result) bool {
		key := k.Str
		p, declared := n.props[key]
		if declared {
			dup := false
			if seenBig != nil {
				dup, seenBig[p.index] = seenBig[p.index], true
			} else {
				bit := uint64(1) << p.index
				dup = seenProps&bit != 0
				seenProps |= bit
			}
			if dup {
				w.fail(key, "appears more than once; give each field once")
				return true
			}
		} else {
			dup := false
			for i := 0; i < nOthers && i < len(others); i++ {
				dup = dup || others[i] == key
			}
			if moreOthers != nil && moreOthers[key] {
				dup = true
			}
			if dup {
				w.fail(key, "appears more than once; give each field once")
				return true
			}
			if nOthers < len(others) {
				others[nOthers] = key
			} else {
				if moreOthers == nil {
					moreOthers = map[string]bool{}
				}
				moreOthers[key] = true
			}
			nOthers++
		}
		if w.india && n.india {
			in.note(key, val)
		}
		var sub *node
		switch {
		case declared && p.node != nil:
			sub = p.node
		case n.extra != nil:
			sub = n.extra
		case n.closed:
			w.fail(key, "is not a known field")
			return true
		default:
			return true
		}
		w.push(token{key: key, index: -1})
		w.value(sub, val)
		w.pop()
		return true
	})
	for _, r := range n.required {
		var present bool
		if seenBig != nil {
			present = seenBig[r.index]
		} else {
			present = seenProps&(uint64(1)<<r.index) != 0
		}
		if !present {
			w.fail(r.name, "is required")
		}
	}
	if w.india && n.india {
		in.check(w)
	}
}

// array checks an array's length and items.
func (w *walker) array(n *node, v gjson.Result) {
	count := 0
	v.ForEach(func(_, item gjson.Result) bool {
		if n.items != nil {
			w.push(token{index: count})
			w.value(n.items, item)
			w.pop()
		}
		count++
		return true
	})
	if n.minItems >= 0 && count < n.minItems {
		if n.minItems == 1 {
			w.fail("", "must have at least one item")
		} else {
			w.fail("", fmt.Sprintf("must have at least %d items, not %d", n.minItems, count))
		}
	}
	if n.maxItems >= 0 && count > n.maxItems {
		w.fail("", fmt.Sprintf("must have at most %d items, not %d", n.maxItems, count))
	}
}

// string checks a string's length in characters and its pattern.
func (w *walker) string(n *node, s string) {
	if n.minLength >= 0 || n.maxLength >= 0 {
		chars := utf8.RuneCountInString(s)
		if n.minLength >= 0 && chars < n.minLength {
			if n.minLength == 1 {
				w.fail("", "must not be empty")
			} else {
				w.fail("", fmt.Sprintf("must be at least %d characters long, not %d", n.minLength, chars))
			}
		}
		if n.maxLength >= 0 && chars > n.maxLength {
			w.fail("", fmt.Sprintf("must be at most %d characters long, not %d", n.maxLength, chars))
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		if hint, ok := patternHints[n.pattern.String()]; ok {
			w.fail("", fmt.Sprintf("must be %s, not %q", hint, s))
		} else {
			w.fail("", fmt.Sprintf("%q does not match the pattern %s", s, n.pattern))
		}
	}
}

// number checks a number against its bounds. Values are compared as float64,
// the type every connector decodes them into; bounds are exact float64s.
func (w *walker) number(n *node, f float64) {
	if n.minimum.set && f < n.minimum.val {
		w.fail("", "must be at least "+formatNumber(n.minimum.val)+", not "+formatNumber(f))
	}
	if n.maximum.set && f > n.maximum.val {
		w.fail("", "must be at most "+formatNumber(n.maximum.val)+", not "+formatNumber(f))
	}
	if n.exclusiveMinimum.set && f <= n.exclusiveMinimum.val {
		w.fail("", "must be more than "+formatNumber(n.exclusiveMinimum.val)+", not "+formatNumber(f))
	}
	if n.exclusiveMaximum.set && f >= n.exclusiveMaximum.val {
		w.fail("", "must be less than "+formatNumber(n.exclusiveMaximum.val)+", not "+formatNumber(f))
	}
}

// isInteger reports whether f has no fractional part.
func isInteger(f float64) bool { return f == math.Trunc(f) }

// formatNumber prints a number in plain decimal, without an exponent.
func formatNumber(f float64) string {
	if f == 0 {
		f = 0 // no "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// equals reports whether the value v of JSON type t is the literal l.
func (l *literal) equals(t jsonType, v gjson.Result) bool {
	if t != l.typ {
		return false
	}
	switch t {
	case typeString:
		return v.Str == l.str
	case typeNumber:
		return v.Num == l.num
	case typeBoolean:
		return (v.Type == gjson.True) == l.b
	}
	return true // null
}

// String renders a literal as fmt.Sprint would its decoded value.
func (l literal) String() string {
	switch l.typ {
	case typeString:
		return l.str
	case typeNumber:
		return fmt.Sprint(l.num)
	case typeBoolean:
		return strconv.FormatBool(l.b)
	}
	return "null"
}

// display renders a JSON value briefly for a message.
func display(t jsonType, v gjson.Result) string {
	switch t {
	case typeString:
		return strconv.Quote(v.Str)
	case typeNull:
		return "null"
	case typeObject:
		return "an object"
	case typeArray:
		return "an array"
	case typeNumber:
		return fmt.Sprint(v.Num)
	}
	return strconv.FormatBool(v.Type == gjson.True)
}

// indiaFields are the values of one object the India checks read.
type indiaFields struct {
	gstin, stateCode, countryCode, postalCode, paymentMode gjson.Result
	codAmount                                              bool
}

func (in *indiaFields) note(key string, v gjson.Result) {
	switch key {
	case "gstin":
		in.gstin = v
	case "state_code":
		in.stateCode = v
	case "country_code":
		in.countryCode = v
	case "postal_code":
		in.postalCode = v
	case "payment_mode":
		in.paymentMode = v
	case "cod_amount":
		in.codAmount = true
	}
}
