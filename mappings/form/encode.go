package form

import (
	"bytes"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// EncodeOptions tune Encode.
type EncodeOptions struct {
	// JSONFields name the top-level fields whose value is serialised as a
	// JSON document (Delhivery's "data").
	JSONFields []string
}

// Encode writes fields, an object of top-level fields, as a form body. See
// the package documentation for the shape. A nil field is left out; an object
// anywhere outside a JSON field is refused, as is a list inside a list.
func Encode(fields *doc.Object, opts EncodeOptions) (string, error) {
	if fields == nil {
		return "", nil
	}
	var b bytes.Buffer
	first := true
	put := func(k, v string) {
		if !first {
			b.WriteByte('&')
		}
		first = false
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	for i := 0; i < fields.Len(); i++ {
		k, v := fields.At(i)
		if !utf8.ValidString(k) {
			return "", &Error{Kind: ErrShape, Field: k, Msg: "field name is not valid UTF-8"}
		}
		if slices.Contains(opts.JSONFields, k) {
			var j bytes.Buffer
			if err := appendJSON(&j, v, k, "", 0); err != nil {
				return "", err
			}
			put(k, j.String())
			continue
		}
		switch x := v.(type) {
		case nil:
			continue
		case []any:
			for n, item := range x {
				s, err := scalar(item)
				if err != nil {
					return "", &Error{Kind: ErrShape, Field: k, Path: fmt.Sprintf("[%d]", n), Msg: err.Error()}
				}
				if item != nil {
					put(k, s)
				}
			}
		default:
			s, err := scalar(v)
			if err != nil {
				return "", &Error{Kind: ErrShape, Field: k, Msg: err.Error() + "; name it in JSONFields to send it as JSON"}
			}
			put(k, s)
		}
	}
	return b.String(), nil
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		if !utf8.ValidString(x) {
			return "", fmt.Errorf("invalid UTF-8")
		}
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("number %v has no text form", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case *doc.Object:
		return "", fmt.Errorf("an object cannot be a form value")
	case []any:
		return "", fmt.Errorf("a list inside a list cannot be a form value")
	}
	return "", fmt.Errorf("%T is not a document value", v)
}

const maxJSONDepth = 10000

// appendJSON writes v as compact JSON, objects in key order.
func appendJSON(b *bytes.Buffer, v any, field, path string, depth int) error {
	if depth > maxJSONDepth {
		return &Error{Kind: ErrLimit, Field: field, Path: path, Msg: "nested deeper than 10000 levels"}
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &Error{Kind: ErrShape, Field: field, Path: path, Msg: fmt.Sprintf("number %v has no JSON form", x)}
		}
		// The same form encoding/json uses.
		abs := math.Abs(x)
		format := byte('f')
		if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		s := strconv.FormatFloat(x, format, -1, 64)
		if n := len(s); format == 'e' && n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:] // 1e-09 -> 1e-9
		}
		b.WriteString(s)
	case string:
		if !utf8.ValidString(x) {
			return &Error{Kind: ErrShape, Field: field, Path: path, Msg: "invalid UTF-8"}
		}
		quote(b, x)
	case []any:
		b.WriteByte('[')
		for i, item := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJSON(b, item, field, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case *doc.Object:
		if x == nil {
			b.WriteString("null")
			return nil
		}
		b.WriteByte('{')
		for i := 0; i < x.Len(); i++ {
			k, val := x.At(i)
			if i > 0 {
				b.WriteByte(',')
			}
			if !utf8.ValidString(k) {
				return &Error{Kind: ErrShape, Field: field, Path: path, Msg: "key is not valid UTF-8"}
			}
			quote(b, k)
			b.WriteByte(':')
			if err := appendJSON(b, val, field, path+"."+k, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return &Error{Kind: ErrShape, Field: field, Path: path, Msg: fmt.Sprintf("%T is not a document value", v)}
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// quote writes s as a JSON string. It escapes only what JSON requires (and
// U+2028/U+2029, which break JavaScript parsers), leaving <, > and & as they
// are: the body is percent-encoded afterwards anyway.
func quote(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b.WriteString(s[last:i])
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			}
			i++
			last = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[last:i])
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xf])
			last = i + n
		}
		i += n
	}
	b.WriteString(s[last:])
	b.WriteByte('"')
}
