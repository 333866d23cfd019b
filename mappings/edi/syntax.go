package edi

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/mappings/doc"
)

// Limits bound what a reader accepts, so hostile input costs bounded memory and
// time. A zero field takes its default.
type Limits struct {
	// MaxBytes is the largest input accepted; default 64 MiB.
	MaxBytes int
	// MaxSegments is the most segments in one input; default 1,000,000.
	MaxSegments int
	// MaxElements is the most elements in one segment, and the most
	// repetitions or components in one element; default 512.
	MaxElements int
	// MaxDepth is the deepest nesting of envelopes and loops; default 32.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 20
	}
	if l.MaxSegments <= 0 {
		l.MaxSegments = 1_000_000
	}
	if l.MaxElements <= 0 {
		l.MaxElements = 512
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	return l
}

// keys holds the positional keys "01" to "99", so readers do not format them.
var keys = func() [100]string {
	var k [100]string
	for i := range k {
		k[i] = key(i)
	}
	return k
}()

func key(i int) string {
	if i < 10 {
		return "0" + strconv.Itoa(i)
	}
	return strconv.Itoa(i)
}

func posKey(i int) string {
	if i < len(keys) {
		return keys[i]
	}
	return key(i)
}

// position parses a positional key ("01", "12", "105"); it returns 0 for any
// other key, including non-canonical forms such as "1" or "001".
func position(k string) int {
	if len(k) < 2 || len(k) > 4 {
		return 0
	}
	n := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 || posKey(n) != k {
		return 0
	}
	return n
}

// validID reports whether id is a segment id: an upper-case letter followed by
// one or two upper-case letters or digits.
func validID(id string) bool {
	if len(id) < 2 || len(id) > 3 || id[0] < 'A' || id[0] > 'Z' {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// syntax holds one interchange's separators. rep and rel are 0 when the
// interchange has no repetition separator or release character.
type syntax struct {
	elem, comp, rep, seg, rel byte
	trimCR                    bool // X12 with a line feed as terminator: drop a CR before it
}

// cut returns the segment starting at pos without its terminator, the position
// after the terminator and any line breaks following it, and whether a
// terminator was found.
func (sx *syntax) cut(s string, pos int) (string, int, bool) {
	end := -1
	if sx.rel == 0 {
		if i := strings.IndexByte(s[pos:], sx.seg); i >= 0 {
			end = pos + i
		}
	} else {
		for i := pos; i < len(s); i++ {
			c := s[i]
			if c == sx.rel {
				i++
				continue
			}
			if c == sx.seg {
				end = i
				break
			}
		}
	}
	if end < 0 {
		return s[pos:], len(s), false
	}
	seg := s[pos:end]
	if sx.trimCR && len(seg) > 0 && seg[len(seg)-1] == '\r' {
		seg = seg[:len(seg)-1]
	}
	next := end + 1
	for next < len(s) && (s[next] == '\r' || s[next] == '\n') && !sx.special(s[next]) {
		next++
	}
	return seg, next, true
}

func (sx *syntax) special(c byte) bool {
	return c == sx.elem || c == sx.comp || c == sx.seg || (sx.rep != 0 && c == sx.rep) || (sx.rel != 0 && c == sx.rel)
}

// split appends to dst the parts of s between unreleased separators sep; it
// stops with ok false once more than max parts are found.
func (sx *syntax) split(s string, sep byte, max int, dst []string) ([]string, bool) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if sx.rel != 0 && c == sx.rel {
			i++
			continue
		}
		if c == sep {
			if len(dst) >= max {
				return dst, false
			}
			dst = append(dst, s[start:i])
			start = i + 1
		}
	}
	if len(dst) >= max {
		return dst, false
	}
	return append(dst, s[start:]), true
}

func (sx *syntax) has(s string, sep byte) bool {
	if sx.rel == 0 || strings.IndexByte(s, sx.rel) < 0 {
		return strings.IndexByte(s, sep) >= 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] == sx.rel {
			i++
			continue
		}
		if s[i] == sep {
			return true
		}
	}
	return false
}

func (sx *syntax) unescape(s string) string {
	if sx.rel == 0 || strings.IndexByte(s, sx.rel) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == sx.rel && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// segmentParser turns segment text into a segment object. It reuses its
// scratch slices between segments.
type segmentParser struct {
	sx      *syntax
	max     int
	parts   []string
	reps    []string
	comps   []string
	errText string
}

// parse returns the id and the object of segment text; on failure it returns a
// nil object and sets p.errText.
func (p *segmentParser) parse(text string) (string, *doc.Object) {
	var ok bool
	p.parts, ok = p.sx.split(text, p.sx.elem, p.max+1, p.parts[:0])
	if !ok {
		p.errText = "more than " + strconv.Itoa(p.max) + " elements"
		return "", nil
	}
	id := p.parts[0]
	if !validID(id) {
		p.errText = "segment id " + strconv.Quote(clip(id)) + " is not an upper-case letter followed by one or two letters or digits"
		return "", nil
	}
	n := 0
	for _, f := range p.parts[1:] {
		if f != "" {
			n++
		}
	}
	obj := doc.NewObject(n)
	for i := 1; i < len(p.parts); i++ {
		v, ok := p.element(p.parts[i])
		if p.errText != "" {
			return id, nil
		}
		if ok {
			obj.Set(posKey(i), v)
		}
	}
	return id, obj
}

func (p *segmentParser) element(f string) (any, bool) {
	if f == "" {
		return nil, false
	}
	if p.sx.rep == 0 || !p.sx.has(f, p.sx.rep) {
		return p.composite(f)
	}
	var ok bool
	p.reps, ok = p.sx.split(f, p.sx.rep, p.max, p.reps[:0])
	if !ok {
		p.errText = "more than " + strconv.Itoa(p.max) + " repetitions in an element"
		return nil, false
	}
	list := make([]any, len(p.reps))
	present := false
	for i, r := range p.reps {
		if v, ok := p.composite(r); ok {
			list[i] = v
			present = true
		}
	}
	return list, present
}

// composite returns a component list as an object with positional keys, or a
// plain string when no component after the first is present.
func (p *segmentParser) composite(f string) (any, bool) {
	if f == "" {
		return nil, false
	}
	if !p.sx.has(f, p.sx.comp) {
		return p.sx.unescape(f), true
	}
	var ok bool
	p.comps, ok = p.sx.split(f, p.sx.comp, p.max, p.comps[:0])
	if !ok {
		p.errText = "more than " + strconv.Itoa(p.max) + " components in an element"
		return nil, false
	}
	last := 0
	n := 0
	for i, c := range p.comps {
		if c != "" {
			last = i + 1
			n++
		}
	}
	switch last {
	case 0:
		return nil, false
	case 1:
		return p.sx.unescape(p.comps[0]), true
	}
	obj := doc.NewObject(n)
	for i, c := range p.comps {
		if c != "" {
			obj.Set(posKey(i+1), p.sx.unescape(c))
		}
	}
	return obj, true
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// encoder writes segment objects with one interchange's separators.
type encoder struct {
	format  string
	sx      syntax
	suffix  string
	decimal byte // the decimal mark numbers are written with
	latin1  bool // the interchange is ISO 8859-1: refuse runes above U+00FF
	buf     []byte
	path    []string
}

func (e *encoder) fail(msg string) error {
	return &Error{Format: e.format, Kind: ErrUnwritable, Path: strings.Join(e.path, "."), Msg: msg}
}

func (e *encoder) push(p string) { e.path = append(e.path, p) }
func (e *encoder) pop()          { e.path = e.path[:len(e.path)-1] }

// segment writes the segment id with its positional elements (children are
// the caller's business) and a terminator.
func (e *encoder) segment(id string, obj *doc.Object) error {
	e.buf = append(e.buf, id...)
	// Elements are written by position; keys may come in any order.
	last := 0
	for i := range obj.Len() {
		k, _ := obj.At(i)
		if n := position(k); n > last {
			last = n
		}
	}
	for n := 1; n <= last; n++ {
		e.buf = append(e.buf, e.sx.elem)
		v, ok := obj.Get(posKey(n))
		if !ok {
			continue
		}
		e.push(posKey(n))
		if err := e.element(v); err != nil {
			return err
		}
		e.pop()
	}
	e.buf = append(e.buf, e.sx.seg)
	e.buf = append(e.buf, e.suffix...)
	return nil
}

func (e *encoder) element(v any) error {
	list, ok := v.([]any)
	if !ok {
		return e.composite(v)
	}
	if e.sx.rep == 0 {
		return e.fail("a list (repetition) needs a repetition separator, and this interchange has none")
	}
	for i, item := range list {
		if i > 0 {
			e.buf = append(e.buf, e.sx.rep)
		}
		e.path[len(e.path)-1] += "[" + strconv.Itoa(i) + "]"
		if _, nested := item.([]any); nested {
			return e.fail("a repetition holds a list; lists do not nest in an element")
		}
		if err := e.composite(item); err != nil {
			return err
		}
		e.path[len(e.path)-1] = e.path[len(e.path)-1][:strings.LastIndexByte(e.path[len(e.path)-1], '[')]
	}
	return nil
}

func (e *encoder) composite(v any) error {
	obj, ok := v.(*doc.Object)
	if !ok {
		return e.scalar(v)
	}
	last := 0
	for i := range obj.Len() {
		k, _ := obj.At(i)
		n := position(k)
		if n == 0 {
			return e.fail("component key " + strconv.Quote(k) + " is not a position such as \"01\"")
		}
		last = max(last, n)
	}
	for n := 1; n <= last; n++ {
		if n > 1 {
			e.buf = append(e.buf, e.sx.comp)
		}
		c, ok := obj.Get(posKey(n))
		if !ok {
			continue
		}
		switch c.(type) {
		case *doc.Object, []any:
			e.push(posKey(n))
			return e.fail("a component holds an object or a list; composites do not nest")
		}
		e.push(posKey(n))
		if err := e.scalar(c); err != nil {
			return err
		}
		e.pop()
	}
	return nil
}

func (e *encoder) scalar(v any) error {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return e.fail("number " + strconv.FormatFloat(x, 'g', -1, 64) + " has no EDI form")
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
		if e.decimal != 0 && e.decimal != '.' {
			s = strings.Replace(s, ".", string(e.decimal), 1)
		}
	case bool:
		return e.fail("a boolean has no EDI form; map it to a code")
	default:
		return e.fail("unsupported value of type " + typeName(v))
	}
	return e.text(s)
}

// text writes s, releasing separators when the syntax has a release character
// and refusing them otherwise.
func (e *encoder) text(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if e.sx.special(c) {
			if e.sx.rel == 0 {
				return e.fail("value " + strconv.Quote(clip(s)) + " contains the separator " + strconv.QuoteRune(rune(c)) + "; X12 has no release character")
			}
			e.buf = append(e.buf, e.sx.rel)
		} else if e.sx.trimCR && (c == '\r' || c == '\n') {
			return e.fail("value " + strconv.Quote(clip(s)) + " contains a line break, which this interchange uses as its terminator")
		}
		e.buf = append(e.buf, c)
	}
	if e.latin1 {
		for _, r := range s {
			if r > 0xFF {
				return e.fail("value " + strconv.Quote(clip(s)) + " has " + strconv.QuoteRune(r) + ", outside the interchange's ISO 8859-1 (UNOC) character set")
			}
		}
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case *doc.Object:
		return "object"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// children writes the segments nested in obj (its non-positional keys) in key
// order, counting them into *count. envelope reports ids that may not appear
// inside a body.
func (e *encoder) children(obj *doc.Object, envelope func(string) bool, skip string, depth int, count *int) error {
	for i := range obj.Len() {
		k, v := obj.At(i)
		if position(k) > 0 || k == skip {
			continue
		}
		if err := e.segments(k, v, envelope, depth, count); err != nil {
			return err
		}
	}
	return nil
}

// segments writes v, a segment object or a list of them, under id.
func (e *encoder) segments(id string, v any, envelope func(string) bool, depth int, count *int) error {
	e.push(id)
	defer e.pop()
	if !validID(id) {
		return e.fail("key " + strconv.Quote(clip(id)) + " is neither a position such as \"01\" nor a segment id")
	}
	if envelope(id) {
		return e.fail("envelope segment " + id + " cannot appear here")
	}
	if depth > 64 {
		return e.fail("segments nest deeper than 64 levels")
	}
	one := func(seg any) error {
		obj, ok := seg.(*doc.Object)
		if !ok {
			return e.fail("a segment must be an object with positional elements, not a " + typeName(seg))
		}
		if err := e.segment(id, obj); err != nil {
			return err
		}
		*count++
		return e.children(obj, envelope, "", depth+1, count)
	}
	list, ok := v.([]any)
	if !ok {
		return one(v)
	}
	for i, seg := range list {
		e.path[len(e.path)-1] = id + "[" + strconv.Itoa(i) + "]"
		if err := one(seg); err != nil {
			return err
		}
	}
	return nil
}

// each calls fn for v, a single object or a list of objects, with its path
// suffix.
func each(v any, fn func(i int, obj *doc.Object) error) error {
	if list, ok := v.([]any); ok {
		for i, item := range list {
			obj, ok := item.(*doc.Object)
			if !ok {
				return fn(i, nil)
			}
			if err := fn(i, obj); err != nil {
				return err
			}
		}
		return nil
	}
	obj, _ := v.(*doc.Object)
	return fn(-1, obj)
}
