package form

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// Default limits, used when the corresponding Options field is zero.
const (
	DefaultMaxBytes  = 32 << 20
	DefaultMaxFields = 10000
	DefaultMaxDepth  = 256
)

// Options tune Decode.
type Options struct {
	// JSONFields name the fields whose value is parsed as JSON.
	JSONFields []string
	// MaxBytes bounds the body size (default DefaultMaxBytes).
	MaxBytes int
	// MaxFields bounds the number of fields (default DefaultMaxFields).
	MaxFields int
	// MaxDepth bounds nesting inside JSON fields (default DefaultMaxDepth).
	MaxDepth int
}

// Decode parses a form body; see the package documentation for the shape.
func Decode(body string, opts Options) (*doc.Object, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxFields <= 0 {
		opts.MaxFields = DefaultMaxFields
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if len(body) > opts.MaxBytes {
		return nil, &Error{Kind: ErrLimit, Msg: fmt.Sprintf("body is larger than %d bytes", opts.MaxBytes)}
	}
	out := doc.NewObject(4)
	count := 0
	off := 0
	for off <= len(body) && body != "" {
		pair := body[off:]
		end := strings.IndexByte(pair, '&')
		if end >= 0 {
			pair = pair[:end]
		}
		start := off
		off += len(pair) + 1
		if pair == "" {
			if end < 0 {
				break
			}
			continue
		}
		count++
		if count > opts.MaxFields {
			return nil, &Error{Kind: ErrLimit, Offset: start + 1, Msg: fmt.Sprintf("more than %d fields", opts.MaxFields)}
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, &Error{Kind: ErrSyntax, Offset: start + 1, Msg: fmt.Sprintf("field name: %v", unwrapURL(err))}
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, &Error{Kind: ErrSyntax, Field: key, Offset: start + len(rawKey) + 2, Msg: unwrapURL(err).Error()}
		}
		if !utf8.ValidString(key) {
			return nil, &Error{Kind: ErrEncoding, Offset: start + 1, Msg: "field name is not valid UTF-8"}
		}
		if slices.Contains(opts.JSONFields, key) {
			v, err := parseJSON(val, key, opts.MaxDepth)
			if err != nil {
				return nil, err
			}
			out.Append(key, v)
			continue
		}
		if !utf8.ValidString(val) {
			return nil, &Error{Kind: ErrEncoding, Field: key, Offset: start + 1, Msg: "value is not valid UTF-8"}
		}
		out.Append(key, val)
		if end < 0 {
			break
		}
	}
	return out, nil
}

func unwrapURL(err error) error {
	var e url.EscapeError
	if errors.As(err, &e) {
		return fmt.Errorf("bad percent escape %q", string(e))
	}
	return err
}

// ParseJSON parses one JSON document into the document model, as Decode does
// for JSON fields; field names the source in errors.
func ParseJSON(s, field string, maxDepth int) (any, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return parseJSON(s, field, maxDepth)
}

func parseJSON(s, field string, maxDepth int) (any, error) {
	if !utf8.ValidString(s) {
		return nil, &Error{Kind: ErrEncoding, Field: field, Msg: "JSON is not valid UTF-8"}
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	p := &jsonParser{dec: dec, field: field, max: maxDepth}
	v, err := p.value(0, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Kind: ErrSyntax, Field: field, Offset: int(dec.InputOffset()), Msg: "data after the JSON document"}
	}
	return v, nil
}

type jsonParser struct {
	dec   *json.Decoder
	field string
	max   int
}

func (p *jsonParser) fail(kind error, path, format string, args ...any) error {
	return &Error{Kind: kind, Field: p.field, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) value(depth int, path string) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, p.fail(ErrSyntax, path, "JSON ends early")
		}
		return nil, p.fail(ErrSyntax, path, "invalid JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= p.max {
			return nil, p.fail(ErrLimit, path, "JSON nested deeper than %d", p.max)
		}
		switch t {
		case '{':
			o := doc.NewObject(4)
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.fail(ErrSyntax, path, "invalid JSON: %v", err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, p.fail(ErrSyntax, path, "object key is not a string")
				}
				if _, dup := o.Get(k); dup {
					return nil, p.fail(ErrSyntax, path, "duplicate key %q", k)
				}
				v, err := p.value(depth+1, path+"."+k)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.fail(ErrSyntax, path, "invalid JSON: %v", err)
			}
			return o, nil
		case '[':
			list := make([]any, 0, 4)
			for p.dec.More() {
				v, err := p.value(depth+1, fmt.Sprintf("%s[%d]", path, len(list)))
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.fail(ErrSyntax, path, "invalid JSON: %v", err)
			}
			return list, nil
		}
		return nil, p.fail(ErrSyntax, path, "unexpected %v", t)
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, p.fail(ErrLimit, path, "number %.40s is out of range", string(t))
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, p.fail(ErrSyntax, path, "unexpected token %v", tok)
}

// Marshal is Encode returning bytes, for HTTP bodies.
func Marshal(fields *doc.Object, opts EncodeOptions) ([]byte, error) {
	s, err := Encode(fields, opts)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}
