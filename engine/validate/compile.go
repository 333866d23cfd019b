package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strings"
)

// draft2020 is the only dialect the compiler accepts in $schema.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// keywords lists every keyword the compiler understands. Annotations are
// accepted and ignored; a keyword missing from this table makes compilation fail,
// so that a change in the schema generator cannot silently weaken validation.
var keywords = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "$ref": true, "$comment": true,
	"type": true, "enum": true, "const": true,
	"properties": true, "required": true, "additionalProperties": true,
	"items": true, "minItems": true, "maxItems": true,
	"pattern": true, "minLength": true, "maxLength": true, "format": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	// Annotations: they describe a value and never assert anything (draft
	// 2020-12 treats contentEncoding and contentMediaType as annotations unless
	// the content vocabulary is asserted, which the hub does not do).
	"title": true, "description": true, "examples": true, "default": true, "deprecated": true,
	"readOnly": true, "writeOnly": true, "contentEncoding": true, "contentMediaType": true,
}

// rawSchema is one schema object as the generator writes it. Fields absent from
// the JSON stay nil.
type rawSchema struct {
	keys map[string]json.RawMessage // every keyword present, raw

	Schema               *string                    `json:"$schema"`
	Defs                 map[string]json.RawMessage `json:"$defs"`
	Ref                  *string                    `json:"$ref"`
	Type                 json.RawMessage            `json:"type"`
	Enum                 []json.RawMessage          `json:"enum"`
	Const                json.RawMessage            `json:"const"`
	Properties           map[string]json.RawMessage `json:"properties"`
	Required             []string                   `json:"required"`
	AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	Items                json.RawMessage            `json:"items"`
	MinItems             *json.Number               `json:"minItems"`
	MaxItems             *json.Number               `json:"maxItems"`
	Pattern              *string                    `json:"pattern"`
	MinLength            *json.Number               `json:"minLength"`
	MaxLength            *json.Number               `json:"maxLength"`
	Format               *string                    `json:"format"`
	Minimum              *json.Number               `json:"minimum"`
	Maximum              *json.Number               `json:"maximum"`
	ExclusiveMinimum     *json.Number               `json:"exclusiveMinimum"`
	ExclusiveMaximum     *json.Number               `json:"exclusiveMaximum"`
}

// jsonType is a bit set of JSON types as the type keyword names them.
type jsonType uint8

const (
	typeNull jsonType = 1 << iota
	typeBoolean
	typeObject
	typeArray
	typeNumber
	typeString
	typeInteger
)

var typeNames = map[string]jsonType{
	"null": typeNull, "boolean": typeBoolean, "object": typeObject, "array": typeArray,
	"number": typeNumber, "string": typeString, "integer": typeInteger,
}

// format is a format keyword the validator asserts.
type format uint8

const (
	formatNone format = iota
	formatDate
	formatDateTime
	formatURI
)

var formats = map[string]format{"date": formatDate, "date-time": formatDateTime, "uri": formatURI}

// bound is an optional numeric limit.
type bound struct {
	set bool
	val float64
}

// literal is a scalar of an enum or const keyword.
type literal struct {
	typ jsonType // typeNull, typeBoolean, typeNumber or typeString
	str string
	num float64
	b   bool
}

// node is one compiled schema. A compiled tree is never modified after New
// returns, so one tree serves every goroutine.
type node struct {
	ref *node // the target of $ref, validated before the node's own keywords

	types     jsonType // zero: any type
	typeNames []string // the type keyword's names, for messages

	enum     []literal
	constant *literal

	// Objects.
	props    map[string]prop
	required []requirement
	closed   bool  // additionalProperties: false
	extra    *node // additionalProperties as a schema
	india    bool  // may hold a field the India checks read

	// Arrays.
	items              *node
	minItems, maxItems int // -1 when absent

	// Strings.
	minLength, maxLength int // -1 when absent
	pattern              *regexp.Regexp
	format               format

	// Numbers.
	minimum, maximum, exclusiveMinimum, exclusiveMaximum bound
}

// prop is a declared property of an object schema. A nil node means the name
// is only listed in required.
type prop struct {
	node  *node
	index int // position among the object's properties, for duplicate and required checks
}

// requirement is a required property.
type requirement struct {
	name  string
	index int
}

// compiler turns one schema document into nodes.
type compiler struct {
	file string
	defs map[string]*node
	raw  map[string]json.RawMessage
	done map[string]bool
}

// compileFile reads and compiles the schema document name in fsys.
func compileFile(fsys fs.FS, name string) (*node, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading schema %s: %w", name, err)
	}
	c := &compiler{file: name, defs: map[string]*node{}, done: map[string]bool{}}
	var root rawSchema
	if err := c.decode("#", b, &root); err != nil {
		return nil, err
	}
	if root.Schema == nil || *root.Schema != draft2020 {
		return nil, fmt.Errorf("schema %s: $schema must be %s", name, draft2020)
	}
	// Every $defs entry gets its node first, so that references (including
	// recursive ones) resolve to one shared node.
	c.raw = root.Defs
	for def := range root.Defs {
		c.defs[def] = &node{}
	}
	defNames := make([]string, 0, len(root.Defs))
	for def := range root.Defs {
		defNames = append(defNames, def)
	}
	sort.Strings(defNames)
	for _, def := range defNames {
		if err := c.fill(c.defs[def], "#/$defs/"+def, root.Defs[def]); err != nil {
			return nil, err
		}
	}
	n := &node{}
	if err := c.fillFrom(n, "#", &root); err != nil {
		return nil, err
	}
	return n, nil
}

// decode parses one schema object strictly: every key must be a keyword the
// compiler knows, spelled exactly. Each keyword's value is decoded on its own;
// subschemas stay raw until they are compiled, so no byte is parsed twice at
// one level.
func (c *compiler) decode(at string, b []byte, s *rawSchema) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("schema %s at %s: a schema must be an object: %w", c.file, at, err)
	}
	s.keys = keys
	for k, v := range keys {
		if !keywords[k] {
			return fmt.Errorf("schema %s at %s: unsupported keyword %q", c.file, at, k)
		}
		var dst any
		switch k {
		case "$schema":
			dst = &s.Schema
		case "$defs":
			dst = &s.Defs
		case "$ref":
			dst = &s.Ref
		case "type":
			s.Type = v
		case "enum":
			dst = &s.Enum
		case "const":
			s.Const = v
		case "properties":
			dst = &s.Properties
		case "required":
			dst = &s.Required
		case "additionalProperties":
			s.AdditionalProperties = v
		case "items":
			s.Items = v
		case "minItems":
			dst = &s.MinItems
		case "maxItems":
			dst = &s.MaxItems
		case "pattern":
			dst = &s.Pattern
		case "minLength":
			dst = &s.MinLength
		case "maxLength":
			dst = &s.MaxLength
		case "format":
			dst = &s.Format
		case "minimum":
			dst = &s.Minimum
		case "maximum":
			dst = &s.Maximum
		case "exclusiveMinimum":
			dst = &s.ExclusiveMinimum
		case "exclusiveMaximum":
			dst = &s.ExclusiveMaximum
		}
		if dst == nil {
			continue // kept raw above, or an annotation
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("schema %s at %s: %s: %w", c.file, at, k, err)
		}
	}
	return nil
}

// fill compiles the schema b at location at into n.
func (c *compiler) fill(n *node, at string, b []byte) error {
	var s rawSchema
	if err := c.decode(at, b, &s); err != nil {
		return err
	}
	return c.fillFrom(n, at, &s)
}

// sub compiles a subschema. A schema that is only a $ref (plus annotations)
// compiles to its target, so the walk skips a level of indirection.
func (c *compiler) sub(at string, b []byte) (*node, error) {
	var s rawSchema
	if err := c.decode(at, b, &s); err != nil {
		return nil, err
	}
	if s.Ref != nil && onlyRef(s.keys) {
		return c.resolve(at, *s.Ref)
	}
	n := &node{}
	if err := c.fillFrom(n, at, &s); err != nil {
		return nil, err
	}
	return n, nil
}

// onlyRef reports whether a schema object has no assertion besides $ref.
func onlyRef(keys map[string]json.RawMessage) bool {
	for k := range keys {
		switch k {
		case "$ref", "title", "description", "$comment", "examples", "default", "deprecated", "readOnly", "writeOnly":
		default:
			return false
		}
	}
	return true
}

// resolve finds the node a $ref names; only this document's $defs are reachable.
func (c *compiler) resolve(at, ref string) (*node, error) {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok || strings.ContainsAny(name, "/~") {
		return nil, fmt.Errorf("schema %s at %s: unsupported $ref %q (only #/$defs/Name)", c.file, at, ref)
	}
	n, ok := c.defs[name]
	if !ok {
		return nil, fmt.Errorf("schema %s at %s: $ref %q names no $defs entry", c.file, at, ref)
	}
	return n, nil
}

func (c *compiler) fillFrom(n *node, at string, s *rawSchema) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("schema %s at %s: %s", c.file, at, fmt.Sprintf(format, args...))
	}
	n.minItems, n.maxItems, n.minLength, n.maxLength = -1, -1, -1, -1
	if s.Defs != nil && at != "#" {
		return fail("$defs are supported only at the root")
	}
	if s.Ref != nil {
		r, err := c.resolve(at, *s.Ref)
		if err != nil {
			return err
		}
		n.ref = r
	}

	if len(s.Type) > 0 {
		var names []string
		if s.Type[0] == '"' {
			var one string
			if err := json.Unmarshal(s.Type, &one); err != nil {
				return fail("type: %v", err)
			}
			names = []string{one}
		} else if err := json.Unmarshal(s.Type, &names); err != nil || len(names) == 0 {
			return fail("type must be a name or a non-empty array of names")
		}
		for _, name := range names {
			t, ok := typeNames[name]
			if !ok {
				return fail("unknown type %q", name)
			}
			if n.types&t != 0 {
				return fail("type %q listed twice", name)
			}
			n.types |= t
		}
		n.typeNames = names
	}

	for i, raw := range s.Enum {
		l, err := parseLiteral(raw)
		if err != nil {
			return fail("enum[%d]: %v", i, err)
		}
		n.enum = append(n.enum, l)
	}
	if s.Enum != nil && len(s.Enum) == 0 {
		return fail("enum must not be empty")
	}
	if len(s.Const) > 0 {
		l, err := parseLiteral(s.Const)
		if err != nil {
			return fail("const: %v", err)
		}
		n.constant = &l
	}

	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	n.props = make(map[string]prop, len(s.Properties)+len(s.Required))
	for i, name := range names {
		p, err := c.sub(at+"/properties/"+escape(name), s.Properties[name])
		if err != nil {
			return err
		}
		n.props[name] = prop{node: p, index: i}
		switch name {
		case "gstin", "country_code", "payment_mode":
			n.india = true
		}
	}
	for _, r := range s.Required {
		p, ok := n.props[r]
		if !ok {
			p = prop{index: len(n.props)}
			n.props[r] = p
		}
		for _, q := range n.required {
			if q.name == r {
				return fail("required lists %q twice", r)
			}
		}
		n.required = append(n.required, requirement{name: r, index: p.index})
	}
	// An open object (a map such as a shipment's options) may hold any key,
	// the India fields included; like the declared ones, they are checked.
	n.india = n.india || string(s.AdditionalProperties) != "false"
	if len(s.AdditionalProperties) > 0 {
		switch string(s.AdditionalProperties) {
		case "false":
			n.closed = true
		case "true":
		default:
			x, err := c.sub(at+"/additionalProperties", s.AdditionalProperties)
			if err != nil {
				return err
			}
			n.extra = x
		}
	}

	if len(s.Items) > 0 {
		if s.Items[0] != '{' {
			return fail("items must be a schema object")
		}
		it, err := c.sub(at+"/items", s.Items)
		if err != nil {
			return err
		}
		n.items = it
	}
	var err error
	if n.minItems, err = count(s.MinItems); err != nil {
		return fail("minItems: %v", err)
	}
	if n.maxItems, err = count(s.MaxItems); err != nil {
		return fail("maxItems: %v", err)
	}
	if n.minLength, err = count(s.MinLength); err != nil {
		return fail("minLength: %v", err)
	}
	if n.maxLength, err = count(s.MaxLength); err != nil {
		return fail("maxLength: %v", err)
	}
	if s.Pattern != nil {
		re, err := regexp.Compile(*s.Pattern)
		if err != nil {
			return fail("pattern: %v", err)
		}
		n.pattern = re
	}
	if s.Format != nil {
		f, ok := formats[*s.Format]
		if !ok {
			return fail("unsupported format %q", *s.Format)
		}
		n.format = f
	}
	for _, b := range []struct {
		name string
		raw  *json.Number
		dst  *bound
	}{
		{"minimum", s.Minimum, &n.minimum},
		{"maximum", s.Maximum, &n.maximum},
		{"exclusiveMinimum", s.ExclusiveMinimum, &n.exclusiveMinimum},
		{"exclusiveMaximum", s.ExclusiveMaximum, &n.exclusiveMaximum},
	} {
		if b.raw == nil {
			continue
		}
		f, err := exactFloat(string(*b.raw))
		if err != nil {
			return fail("%s: %v", b.name, err)
		}
		*b.dst = bound{set: true, val: f}
	}
	return nil
}

// count parses a non-negative integer keyword; -1 when absent.
func count(n *json.Number) (int, error) {
	if n == nil {
		return -1, nil
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > math.MaxInt32 {
		return 0, fmt.Errorf("%s is not a non-negative integer", *n)
	}
	return int(i), nil
}

// exactFloat parses a bound that a float64 holds exactly. Comparing a value
// rounded to float64 (as every connector decodes it) against such a bound gives
// the same answer as comparing the exact value, because rounding is monotonic.
func exactFloat(s string) (float64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%s is not a number", s)
	}
	f, exact := r.Float64()
	if !exact || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s has no exact binary representation", s)
	}
	return f, nil
}

// parseLiteral parses a scalar enum or const value.
func parseLiteral(raw json.RawMessage) (literal, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return literal{}, err
	}
	switch v := v.(type) {
	case nil:
		return literal{typ: typeNull}, nil
	case bool:
		return literal{typ: typeBoolean, b: v}, nil
	case string:
		return literal{typ: typeString, str: v}, nil
	case json.Number:
		f, err := exactFloat(string(v))
		if err != nil {
			return literal{}, err
		}
		return literal{typ: typeNumber, num: f}, nil
	}
	return literal{}, fmt.Errorf("only null, boolean, number and string values are supported, not %s", raw)
}
