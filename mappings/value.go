package mappings

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
	"github.com/tidwall/gjson"
)

// kind is the type of a runtime value.
type kind uint8

const (
	kMissing kind = iota // absent: a path that leads nowhere
	kNull
	kBool
	kNum
	kStr
	kJSON // an object or array still in its JSON text (s), read lazily
	kArr  // a computed list (a holds []Value)
	kDoc  // a document-tree object or list (a holds *doc.Object or []any)
)

// Value is a runtime value. Values read from JSON input keep their raw text so
// that they are written back without re-encoding, and their offset so that an
// error can name their path.
type Value struct {
	k   kind
	b   bool
	n   float64
	s   string // string value, or the JSON text of a kJSON value
	raw string // the JSON text of a string or number read from input
	a   any
	src int // 1 + byte offset in the input JSON; 0 when not from the input
}

func num(f float64) Value  { return Value{k: kNum, n: f} }
func str(s string) Value   { return Value{k: kStr, s: s} }
func boolean(b bool) Value { return Value{k: kBool, b: b} }

var missing = Value{}

func (v Value) absent() bool { return v.k == kMissing || v.k == kNull }

// fromResult turns a gjson result into a value; base is the src of the JSON
// text the result was found in (0 when not from the input).
func fromResult(r gjson.Result, base int) Value {
	src := 0
	if base > 0 {
		src = base + r.Index
	}
	switch r.Type {
	case gjson.Null:
		if !r.Exists() {
			return missing
		}
		return Value{k: kNull, src: src}
	case gjson.False:
		return Value{k: kBool, src: src}
	case gjson.True:
		return Value{k: kBool, b: true, src: src}
	case gjson.Number:
		return Value{k: kNum, n: r.Num, raw: r.Raw, src: src}
	case gjson.String:
		return Value{k: kStr, s: r.Str, raw: r.Raw, src: src}
	}
	return Value{k: kJSON, s: r.Raw, src: src}
}

// fromDoc turns a document-tree node into a value.
func fromDoc(x any) Value {
	switch t := x.(type) {
	case nil:
		return Value{k: kNull}
	case bool:
		return boolean(t)
	case string:
		return str(t)
	case float64:
		return num(t)
	case int64:
		return Value{k: kNum, n: float64(t), raw: strconv.FormatInt(t, 10)}
	case int:
		return Value{k: kNum, n: float64(t), raw: strconv.Itoa(t)}
	case []any, *doc.Object:
		return Value{k: kDoc, a: x}
	}
	return Value{k: kNull}
}

// result returns the gjson view of a kJSON value, carrying its offset.
func (v Value) result() gjson.Result {
	return gjson.Result{Type: gjson.JSON, Raw: v.s, Index: max(v.src-1, 0)}
}

// isArray reports whether v is a list.
func (v Value) isArray() bool {
	switch v.k {
	case kJSON:
		return len(v.s) > 0 && v.s[0] == '['
	case kArr:
		return true
	case kDoc:
		_, ok := v.a.([]any)
		return ok
	}
	return false
}

// isObject reports whether v is an object.
func (v Value) isObject() bool {
	switch v.k {
	case kJSON:
		return len(v.s) > 0 && v.s[0] == '{'
	case kDoc:
		_, ok := v.a.(*doc.Object)
		return ok
	}
	return false
}

// field returns v's member key.
func field(v Value, key, gkey string) Value {
	switch v.k {
	case kJSON:
		if v.s[0] != '{' {
			return missing
		}
		src := v.src
		r := gjson.Get(v.s, gkey)
		return fromResult(r, src)
	case kDoc:
		if o, ok := v.a.(*doc.Object); ok {
			x, ok := o.Get(key)
			if !ok {
				return missing
			}
			return fromDoc(x)
		}
	}
	return missing
}

// index returns v's i-th element; negative i counts from the end.
func index(v Value, i int) Value {
	switch v.k {
	case kJSON:
		if v.s[0] != '[' {
			return missing
		}
		if i >= 0 {
			return fromResult(gjson.Get(v.s, strconv.Itoa(i)), v.src)
		}
		var all []gjson.Result
		v.result().ForEach(func(_, x gjson.Result) bool { all = append(all, x); return true })
		if -i > len(all) {
			return missing
		}
		x := all[len(all)+i]
		el := fromResult(x, 0)
		if v.src > 0 {
			el.src = x.Index + 1
		}
		return el
	case kArr:
		l := v.a.([]Value)
		if i < 0 {
			i += len(l)
		}
		if i < 0 || i >= len(l) {
			return missing
		}
		return l[i]
	case kDoc:
		l, ok := v.a.([]any)
		if !ok {
			return missing
		}
		if i < 0 {
			i += len(l)
		}
		if i < 0 || i >= len(l) {
			return missing
		}
		return fromDoc(l[i])
	}
	return missing
}

// each calls fn for every element of a list. A single value that is not a list
// counts as a list of one (a repeated XML element that occurs once); null and
// missing are empty lists.
func each(v Value, fn func(i int, x Value) error) error {
	switch v.k {
	case kMissing, kNull:
		return nil
	case kJSON:
		if v.s[0] != '[' {
			return fn(0, v)
		}
		var err error
		i := 0
		base := v.src
		v.result().ForEach(func(_, x gjson.Result) bool {
			el := fromResult(x, 0)
			if base > 0 {
				el.src = x.Index + 1
			}
			err = fn(i, el)
			i++
			return err == nil
		})
		return err
	case kArr:
		for i, x := range v.a.([]Value) {
			if err := fn(i, x); err != nil {
				return err
			}
		}
		return nil
	case kDoc:
		if l, ok := v.a.([]any); ok {
			for i, x := range l {
				if err := fn(i, fromDoc(x)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return fn(0, v)
}

// length returns the number of elements of a list, characters of a string or
// keys of an object.
func length(v Value) int {
	switch v.k {
	case kStr:
		return utf8.RuneCountInString(v.s)
	case kJSON:
		n := 0
		v.result().ForEach(func(_, _ gjson.Result) bool { n++; return true })
		return n
	case kArr:
		return len(v.a.([]Value))
	case kDoc:
		switch t := v.a.(type) {
		case []any:
			return len(t)
		case *doc.Object:
			return t.Len()
		}
	case kMissing, kNull:
		return 0
	}
	return 1
}

// truthy is the condition rule: missing, null, false and "" are false.
func truthy(v Value) bool {
	switch v.k {
	case kMissing, kNull:
		return false
	case kBool:
		return v.b
	case kStr:
		return v.s != ""
	}
	return true
}

// typeName names v's type for error messages.
func typeName(v Value) string {
	switch v.k {
	case kMissing:
		return "missing"
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNum:
		return "number"
	case kStr:
		return "string"
	}
	if v.isArray() {
		return "array"
	}
	return "object"
}

// equal compares two values; missing equals null.
func equal(a, b Value) bool {
	if a.absent() || b.absent() {
		return a.absent() && b.absent()
	}
	if a.k != b.k {
		if a.k == kNum && b.k == kStr || a.k == kStr && b.k == kNum {
			return false
		}
		if a.k <= kStr || b.k <= kStr {
			return false
		}
	}
	switch a.k {
	case kBool:
		return a.b == b.b
	case kNum:
		return a.n == b.n
	case kStr:
		return a.s == b.s
	}
	return string(appendValue(nil, a)) == string(appendValue(nil, b))
}

// appendValue writes v as JSON. Missing writes nothing.
func appendValue(dst []byte, v Value) []byte {
	switch v.k {
	case kNull:
		return append(dst, "null"...)
	case kBool:
		if v.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case kNum:
		if v.raw != "" {
			return append(dst, v.raw...)
		}
		return appendNumber(dst, v.n)
	case kStr:
		if v.raw != "" {
			return append(dst, v.raw...)
		}
		return appendString(dst, v.s)
	case kJSON:
		return appendCompact(dst, v.s)
	case kArr:
		dst = append(dst, '[')
		first := true
		for _, x := range v.a.([]Value) {
			if x.k == kMissing {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendValue(dst, x)
		}
		return append(dst, ']')
	case kDoc:
		return appendDoc(dst, v.a)
	}
	return dst
}

// appendCompact copies valid JSON text without the whitespace between tokens,
// so that an object taken from pretty-printed input stays on one NDJSON line.
func appendCompact(dst []byte, raw string) []byte {
	inStr, start := false, 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inStr {
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case ' ', '\t', '\n', '\r':
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...)
}

func appendDoc(dst []byte, x any) []byte {
	switch t := x.(type) {
	case []any:
		dst = append(dst, '[')
		for i, el := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendDoc(dst, el)
		}
		return append(dst, ']')
	case *doc.Object:
		dst = append(dst, '{')
		for i := 0; i < t.Len(); i++ {
			k, el := t.At(i)
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendDoc(dst, el)
		}
		return append(dst, '}')
	}
	return appendValue(dst, fromDoc(x))
}

// appendNumber writes a finite number the way JSON expects; whole numbers have
// no fraction. Callers check finiteness first.
func appendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'e', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// toString converts scalars to text for string functions and concatenation.
func toString(v Value) (string, bool) {
	switch v.k {
	case kStr:
		return v.s, true
	case kNum:
		if v.raw != "" {
			return v.raw, true
		}
		return string(appendNumber(nil, v.n)), true
	case kBool:
		return strconv.FormatBool(v.b), true
	}
	return "", false
}

// toNumber converts numbers and numeric strings ("22.5", " 1,234.50 ").
func toNumber(v Value) (float64, bool) {
	switch v.k {
	case kNum:
		return v.n, true
	case kStr:
		s := strings.TrimSpace(v.s)
		if strings.IndexByte(s, ',') >= 0 {
			s = strings.ReplaceAll(s, ",", "")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		return f, true
	}
	return 0, false
}
