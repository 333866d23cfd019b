package odata

import (
	"fmt"
	"strconv"
)

// Direction is a sort direction for OrderBy.
type Direction bool

// Sort directions.
const (
	// Asc sorts ascending (the OData default).
	Asc Direction = false
	// Desc sorts descending.
	Desc Direction = true
)

// KeyPart is one named property of a composite key, made with K.
type KeyPart struct {
	// Name is the key property's name.
	Name string
	// Value is the key property's value.
	Value Value
}

// K returns a KeyPart for Keys.
func K(name string, v Value) KeyPart { return KeyPart{Name: name, Value: v} }

type segment struct {
	name   string
	keys   []KeyPart
	single bool // keys[0] has no name: Set('1')
}

type orderItem struct {
	prop string
	dir  Direction
}

type param struct{ name, value string }

// Query addresses OData resources: a resource path of entity sets, key predicates
// and navigation properties, plus the system query options $filter, $select,
// $expand, $orderby, $top, $skip and the count option. Methods record the first
// mistake and Build reports it, so a query reads as one chain:
//
//	odata.From("A_SalesOrder").
//		Filter(odata.Eq("SoldToParty", odata.String(customer))).
//		Select("SalesOrder", "TotalNetAmount").
//		OrderBy("SalesOrder", odata.Desc).
//		Top(50)
//
// A Query is not safe for concurrent modification; build it, then share it.
type Query struct {
	segs    []segment
	filter  []Expr
	selects []string
	expands []string
	order   []orderItem
	top     int
	skip    int
	hasTop  bool
	hasSkip bool
	count   bool
	params  []param
	err     error
}

// From starts a query at an entity set (or singleton, or function import).
func From(entitySet string) *Query {
	q := &Query{}
	return q.Nav(entitySet)
}

func (q *Query) fail(format string, args ...any) *Query {
	if q.err == nil {
		q.err = fmt.Errorf(format, args...)
	}
	return q
}

// Nav appends a navigation segment: From("companies").Key(id).Nav("salesOrders").
func (q *Query) Nav(property string) *Query {
	if err := checkName(property); err != nil {
		return q.fail("resource path segment: %w", err)
	}
	q.segs = append(q.segs, segment{name: property})
	return q
}

// Key adds a single-property key predicate to the last segment: Set('1000').
func (q *Query) Key(v Value) *Query {
	last := q.lastSegment()
	if last == nil {
		return q
	}
	last.keys = []KeyPart{{Value: v}}
	last.single = true
	return q
}

// Keys adds a composite key predicate to the last segment:
// Set(SalesOrder='1',SalesOrderItem='10').
func (q *Query) Keys(parts ...KeyPart) *Query {
	last := q.lastSegment()
	if last == nil {
		return q
	}
	if len(parts) == 0 {
		return q.fail("composite key on %s has no parts", last.name)
	}
	for _, p := range parts {
		if err := checkName(p.Name); err != nil {
			return q.fail("key of %s: %w", last.name, err)
		}
	}
	last.keys = parts
	last.single = false
	return q
}

func (q *Query) lastSegment() *segment {
	if len(q.segs) == 0 {
		q.fail("key predicate before any entity set")
		return nil
	}
	last := &q.segs[len(q.segs)-1]
	if last.keys != nil {
		q.fail("segment %s already has a key predicate", last.name)
		return nil
	}
	return last
}

// Filter adds a $filter expression; several calls are joined with "and".
func (q *Query) Filter(e Expr) *Query {
	q.filter = append(q.filter, e)
	return q
}

// Select adds properties to $select.
func (q *Query) Select(props ...string) *Query {
	for _, p := range props {
		if err := checkPath(p); err != nil {
			return q.fail("$select: %w", err)
		}
	}
	q.selects = append(q.selects, props...)
	return q
}

// Expand adds navigation paths to $expand (to_Item, to_Item/to_Partner).
func (q *Query) Expand(paths ...string) *Query {
	for _, p := range paths {
		if err := checkPath(p); err != nil {
			return q.fail("$expand: %w", err)
		}
	}
	q.expands = append(q.expands, paths...)
	return q
}

// OrderBy adds a property to $orderby.
func (q *Query) OrderBy(prop string, dir Direction) *Query {
	if err := checkPath(prop); err != nil {
		return q.fail("$orderby: %w", err)
	}
	q.order = append(q.order, orderItem{prop, dir})
	return q
}

// Top sets $top, the most entities to return.
func (q *Query) Top(n int) *Query {
	if n < 0 {
		return q.fail("$top %d is negative", n)
	}
	q.top, q.hasTop = n, true
	return q
}

// Skip sets $skip, how many entities to pass over.
func (q *Query) Skip(n int) *Query {
	if n < 0 {
		return q.fail("$skip %d is negative", n)
	}
	q.skip, q.hasSkip = n, true
	return q
}

// Count asks for the total count with the page: $count=true in v4,
// $inlinecount=allpages in v2.
func (q *Query) Count() *Query {
	q.count = true
	return q
}

// Param adds a custom query option such as SAP's sap-client=100 or
// sap-language=EN. Names starting with $ are refused: use the typed methods.
// The value is escaped.
func (q *Query) Param(name, value string) *Query {
	if name == "" || name[0] == '$' || name[0] == '@' {
		return q.fail("custom query option %q must not be empty or start with $ or @", clip(name))
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) && name[i] != '-' {
			return q.fail("custom query option %q has a character outside letters, digits, _ and -", clip(name))
		}
	}
	q.params = append(q.params, param{name, value})
	return q
}

// Err returns the first mistake recorded while building the query.
func (q *Query) Err() error { return q.err }

// Build renders the query for version v as a URL relative to the service root,
// with the path and every option value percent-encoded: v2 adds $format=json.
func (q *Query) Build(v Version) (string, error) {
	b, err := q.appendURL(nil, v, true)
	return string(b), err
}

// BuildPath renders only the resource path and custom options, as used by
// create, update and delete; system query options are refused there.
func (q *Query) BuildPath(v Version) (string, error) {
	b, err := q.appendURL(nil, v, false)
	return string(b), err
}

func (q *Query) appendURL(b []byte, v Version, read bool) ([]byte, error) {
	if q == nil {
		return b, fmt.Errorf("query is nil")
	}
	if q.err != nil {
		return b, q.err
	}
	if !v.valid() {
		return b, fmt.Errorf("OData version %d is not 2 or 4", int(v))
	}
	if len(q.segs) == 0 {
		return b, fmt.Errorf("query has no entity set")
	}
	var scratch []byte
	var err error
	for i, s := range q.segs {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, s.name...)
		if s.keys == nil {
			continue
		}
		scratch = append(scratch[:0], '(')
		for j, k := range s.keys {
			if j > 0 {
				scratch = append(scratch, ',')
			}
			if !s.single {
				scratch = append(scratch, k.Name...)
				scratch = append(scratch, '=')
			}
			if scratch, err = k.Value.appendLiteral(scratch, v); err != nil {
				return b, fmt.Errorf("key of %s: %w", s.name, err)
			}
		}
		scratch = append(scratch, ')')
		b = appendEscaped(b, scratch, true)
	}
	if !read {
		if len(q.filter) > 0 || q.selects != nil || q.expands != nil || q.order != nil || q.hasTop || q.hasSkip || q.count {
			return b, fmt.Errorf("system query options are not allowed on a create, update or delete")
		}
	}
	sep := byte('?')
	opt := func(name string) {
		b = append(b, sep)
		sep = '&'
		b = append(b, name...)
		b = append(b, '=')
	}
	if len(q.filter) > 0 {
		scratch = scratch[:0]
		e := q.filter[0]
		if len(q.filter) > 1 {
			e = And(q.filter...)
		}
		if scratch, err = e.appendExpr(scratch, v); err != nil {
			return b, fmt.Errorf("$filter: %w", err)
		}
		opt("$filter")
		b = appendEscaped(b, scratch, false)
	}
	if len(q.selects) > 0 {
		opt("$select")
		b = appendList(b, q.selects)
	}
	if len(q.expands) > 0 {
		opt("$expand")
		b = appendList(b, q.expands)
	}
	if len(q.order) > 0 {
		opt("$orderby")
		for i, o := range q.order {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, o.prop...)
			if o.dir == Desc {
				b = append(b, "%20desc"...)
			}
		}
	}
	if q.hasTop {
		opt("$top")
		b = strconv.AppendInt(b, int64(q.top), 10)
	}
	if q.hasSkip {
		opt("$skip")
		b = strconv.AppendInt(b, int64(q.skip), 10)
	}
	if q.count {
		if v == V2 {
			opt("$inlinecount")
			b = append(b, "allpages"...)
		} else {
			opt("$count")
			b = append(b, "true"...)
		}
	}
	for _, p := range q.params {
		opt(p.name)
		b = appendEscaped(b, []byte(p.value), false)
	}
	if read && v == V2 {
		opt("$format")
		b = append(b, "json"...)
	}
	return b, nil
}

func appendList(b []byte, items []string) []byte {
	for i, s := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return b
}

const hexDigits = "0123456789ABCDEF"

// appendEscaped percent-encodes s for a URL query value (path false) or a path
// segment (path true). Letters, digits, -._~ and the OData punctuation '()*,:!@$
// stay as they are; a path segment also keeps = (composite keys) but escapes /.
// Everything else, notably & = + # % ; ? space and non-ASCII bytes, is escaped, so
// a value can never end its option or start another.
func appendEscaped(b, s []byte, path bool) []byte {
	for _, c := range s {
		if keepByte(c) || (path && c == '=') || (!path && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

func keepByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '\'', '(', ')', '*', ',', ':', '!', '@', '$':
		return true
	}
	return false
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// checkName accepts an OData simple identifier, optionally namespace-qualified
// (letters, digits and _, not starting with a digit; segments joined by dots).
func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !start && i < len(s)-1:
			start = true
		case isNameByte(c) && !(start && c >= '0' && c <= '9'):
			start = false
		default:
			return fmt.Errorf("%q is not an OData identifier", clip(s))
		}
	}
	return nil
}

// checkPath accepts identifiers joined by / (a property path such as
// to_Partner/Customer).
func checkPath(s string) error {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '/' {
			if err := checkName(s[start:i]); err != nil {
				if s[start:i] == "" {
					return fmt.Errorf("%q is not an OData property path", clip(s))
				}
				return err
			}
			start = i + 1
		}
	}
	return nil
}
