package edi

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/mappings/doc"
)

// isaWidths are the fixed widths of ISA01 to ISA16.
var isaWidths = [16]int{2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1}

// ReadX12 reads an X12 input of one or more interchanges into a tree (see the
// package documentation for its shape). Separators come from each ISA; the
// counts and control numbers of SE, GE and IEA are checked against what they
// close. Errors are *Error values naming the segment's position.
func ReadX12(data []byte, opts ReadOptions) (*doc.Object, error) {
	if err := checkSize("x12", data, opts.Limits); err != nil {
		return nil, err
	}
	if err := checkUTF8("x12", data); err != nil {
		return nil, err
	}
	r := newReader("x12", opts.Limits, opts.Schema, builtinX12)
	r.s = string(data)
	return r.readX12()
}

// ReadX12From reads all of src, up to the MaxBytes limit, and parses it with
// ReadX12.
func ReadX12From(src io.Reader, opts ReadOptions) (*doc.Object, error) {
	data, err := readAll("x12", src, opts.Limits.MaxBytes)
	if err != nil {
		return nil, err
	}
	return ReadX12(data, opts)
}

func (r *reader) readX12() (*doc.Object, error) {
	root := doc.NewObject(1)
	pos := skipSpace(r.s, 0)
	if pos == len(r.s) {
		return nil, r.fail(ErrTruncated, "input is empty")
	}
	for pos < len(r.s) {
		isa, next, err := r.interchangeX12(pos)
		if err != nil {
			return nil, err
		}
		root.Append("ISA", isa)
		pos = skipSpace(r.s, next)
	}
	return root, nil
}

// headerISA reads the ISA at pos and sets the separators it defines.
func (r *reader) headerISA(pos int) (*doc.Object, int, error) {
	r.seg++
	r.start, r.id = pos, ""
	s := r.s[pos:]
	if !strings.HasPrefix(s, "ISA") {
		return nil, 0, r.fail(ErrSyntax, "expected an ISA interchange header, found %q", clip(s))
	}
	r.id = "ISA"
	if len(s) < 4 {
		return nil, 0, r.fail(ErrTruncated, "input ends inside the ISA")
	}
	elem := s[3]
	var fields [16]string
	p := 3
	for k := range 16 {
		start := p + 1
		if k == 15 {
			if start+2 > len(s) {
				return nil, 0, r.fail(ErrTruncated, "input ends before ISA16 (component separator) and the segment terminator")
			}
			fields[15] = s[start : start+1]
			p = start + 1
			break
		}
		i := strings.IndexByte(s[start:min(len(s), start+64)], elem)
		if i < 0 {
			if len(s) < start+64 {
				return nil, 0, r.fail(ErrTruncated, "input ends inside ISA%02d", k+1)
			}
			return nil, 0, r.fail(ErrSyntax, "ISA%02d is not followed by the element separator %q", k+1, rune(elem))
		}
		fields[k] = s[start : start+i]
		p = start + i
	}
	comp, term := fields[15][0], s[p]
	for k, f := range fields {
		if len(f) > isaWidths[k] {
			return nil, 0, r.fail(ErrSyntax, "ISA%02d is %d characters long, its width is %d", k+1, len(f), isaWidths[k])
		}
	}
	if badSeparator(elem) || badSeparator(comp) || badSeparator(term) || elem == comp || elem == term || comp == term {
		return nil, 0, r.fail(ErrSyntax, "separators element %q, component %q, terminator %q must be distinct and neither letters, digits nor spaces", rune(elem), rune(comp), rune(term))
	}
	if len(fields[10]) != 1 {
		return nil, 0, r.fail(ErrSyntax, "ISA11 (repetition separator or standards id) must be one character")
	}
	r.sx = syntax{elem: elem, comp: comp, seg: term, trimCR: term == '\n' || term == '\r'}
	if rep := fields[10][0]; !alnum(rep) && rep != ' ' && rep != elem && rep != comp && rep != term {
		r.sx.rep = rep
	}
	isa := doc.NewObject(19)
	for k, f := range fields {
		if k == 10 || k == 15 {
			isa.Set(posKey(k+1), f) // separators, kept as they are
			continue
		}
		if i := strings.IndexFunc(f, func(c rune) bool { return c < 0x80 && r.sx.special(byte(c)) || c == '\r' || c == '\n' }); i >= 0 {
			return nil, 0, r.fail(ErrSyntax, "ISA%02d holds the separator %q", k+1, f[i])
		}
		if f = strings.TrimRight(f, " "); f != "" {
			isa.Set(posKey(k+1), f)
		}
	}
	// Consume the terminator and any line break after it.
	_, next, _ := r.sx.cut(r.s, pos+p)
	return isa, next, nil
}

func (r *reader) interchangeX12(pos int) (*doc.Object, int, error) {
	isa, pos, err := r.headerISA(pos)
	if err != nil {
		return nil, 0, err
	}
	ctl, err := r.control(isa, "13")
	if err != nil {
		return nil, 0, err
	}
	groups := 0
	for {
		id, obj, next, err := r.next(pos)
		if err == errEnd {
			return nil, 0, r.fail(ErrTruncated, "input ends inside interchange %q: IEA missing", ctl)
		}
		if err != nil {
			return nil, 0, err
		}
		switch id {
		case "GS":
			next, err = r.groupX12(obj, next)
			if err != nil {
				return nil, 0, err
			}
			isa.Append("GS", obj)
			groups++
		case "TA1":
			isa.Append("TA1", obj)
		case "IEA":
			if err := r.count(obj, "IEA", "functional groups", groups); err != nil {
				return nil, 0, err
			}
			if err := r.reference(obj, "IEA", "ISA13", ctl); err != nil {
				return nil, 0, err
			}
			isa.Set("IEA", obj)
			return isa, next, nil
		default:
			return nil, 0, r.fail(ErrSyntax, "%s outside a functional group (GS) in interchange %q", id, ctl)
		}
		pos = next
	}
}

func (r *reader) groupX12(gs *doc.Object, pos int) (int, error) {
	ctl, err := r.control(gs, "06")
	if err != nil {
		return 0, err
	}
	sets := 0
	for {
		id, obj, next, err := r.next(pos)
		if err == errEnd {
			return 0, r.fail(ErrTruncated, "input ends inside functional group %q: GE missing", ctl)
		}
		if err != nil {
			return 0, err
		}
		switch id {
		case "ST":
			next, err = r.transactionX12(obj, next)
			if err != nil {
				return 0, err
			}
			gs.Append("ST", obj)
			sets++
		case "GE":
			if err := r.count(obj, "GE", "transaction sets", sets); err != nil {
				return 0, err
			}
			if err := r.reference(obj, "GE", "GS06", ctl); err != nil {
				return 0, err
			}
			gs.Set("GE", obj)
			return next, nil
		default:
			return 0, r.fail(ErrSyntax, "%s outside a transaction set (ST) in group %q", id, ctl)
		}
		pos = next
	}
}

func (r *reader) transactionX12(st *doc.Object, pos int) (int, error) {
	ctl, err := r.control(st, "02")
	if err != nil {
		return 0, err
	}
	r.nest.reset(st, r.schema[str(st, "01")], r.lim.MaxDepth)
	n := 1
	for {
		id, obj, next, err := r.next(pos)
		if err == errEnd {
			return 0, r.fail(ErrTruncated, "input ends inside transaction set %q: SE missing", ctl)
		}
		if err != nil {
			return 0, err
		}
		n++
		switch id {
		case "SE":
			if err := r.count(obj, "SE", "segments", n); err != nil {
				return 0, err
			}
			if err := r.reference(obj, "SE", "ST02", ctl); err != nil {
				return 0, err
			}
			st.Set("SE", obj)
			return next, nil
		case "ISA", "IEA", "GS", "GE", "ST":
			return 0, r.fail(ErrSyntax, "%s inside transaction set %q: SE missing", id, ctl)
		}
		if !r.nest.add(id, obj) {
			return 0, r.fail(ErrLimit, "loops nest deeper than %d", r.lim.MaxDepth)
		}
		pos = next
	}
}

// X12WriteOptions configure WriteX12. The zero value writes '*' between
// elements, '~' after segments, and takes control numbers from the tree.
type X12WriteOptions struct {
	// Element is the element separator; default '*'.
	Element byte
	// Segment is the segment terminator; default '~'.
	Segment byte
	// Suffix is written after every terminator, such as "\n"; default none.
	Suffix string
	// Counter, when set, supplies ISA13, GS06 and ST02 (and the trailers that
	// echo them), replacing those in the tree. Without it the tree must hold
	// them.
	Counter Counter
}

func x12Envelope(id string) bool {
	switch id {
	case "ISA", "IEA", "GS", "GE", "ST", "SE":
		return true
	}
	return false
}

// WriteX12 writes a tree of the shape ReadX12 returns back to bytes. The
// repetition and component separators come from ISA11 and ISA16 (defaults '^'
// and '>'); SE, GE and IEA are generated with their counts and the control
// numbers of their headers, whatever the tree holds for them. ISA elements are
// padded to their fixed widths. Data holding a separator is refused: X12 has no
// release character.
func WriteX12(ctx context.Context, root *doc.Object, opts X12WriteOptions) ([]byte, error) {
	e := &encoder{format: "x12", suffix: opts.Suffix}
	if root == nil {
		return nil, e.fail("the tree is nil")
	}
	v, ok := root.Get("ISA")
	if !ok {
		return nil, e.fail("the tree has no ISA")
	}
	for i := range root.Len() {
		if k, _ := root.At(i); k != "ISA" {
			e.push(k)
			return nil, e.fail("unexpected key at the top of an X12 tree; only ISA belongs there")
		}
	}
	err := each(v, func(i int, isa *doc.Object) error {
		e.path = append(e.path[:0], indexed("ISA", i))
		if isa == nil {
			return e.fail("an interchange must be an object")
		}
		return e.interchangeX12(ctx, isa, opts)
	})
	if err != nil {
		return nil, err
	}
	return e.buf, nil
}

// eachEnvelope runs fn on each object under an envelope key (GS, ST, UNG, UNH),
// one or repeated, with the key on the error path; anything but an object
// fails with msg.
func (e *encoder) eachEnvelope(v any, id, msg string, fn func(*doc.Object) error) error {
	return each(v, func(i int, obj *doc.Object) error {
		e.push(indexed(id, i))
		defer e.pop()
		if obj == nil {
			return e.fail(msg)
		}
		return fn(obj)
	})
}

func indexed(id string, i int) string {
	if i < 0 {
		return id
	}
	return id + "[" + strconv.Itoa(i) + "]"
}

func (e *encoder) control(ctx context.Context, c Counter, level Level, obj *doc.Object, k string, pad int) (string, error) {
	if c == nil {
		v, _ := obj.Get(k)
		s, ok := v.(string)
		if n, isInt := v.(int64); isInt {
			s, ok = strconv.FormatInt(n, 10), true
		}
		if !ok || s == "" {
			e.push(k)
			return "", e.fail("control number missing: set it in the tree or give the writer a Counter")
		}
		return s, nil
	}
	n, err := c.Next(ctx, level)
	if err != nil {
		return "", fmt.Errorf("getting a control number for %s: %w", strings.Join(e.path, "."), err)
	}
	if n <= 0 || n > 999_999_999 {
		e.push(k)
		return "", e.fail(fmt.Sprintf("counter returned %d, outside 1 to 999999999", n))
	}
	s := strconv.FormatInt(n, 10)
	if len(s) < pad {
		s = strings.Repeat("0", pad-len(s)) + s
	}
	return s, nil
}

func with(obj *doc.Object, k string, v any) *doc.Object {
	c := doc.NewObject(obj.Len() + 1)
	for i := range obj.Len() {
		key, val := obj.At(i)
		c.Set(key, val)
	}
	c.Set(k, v)
	return c
}

func (e *encoder) interchangeX12(ctx context.Context, isa *doc.Object, opts X12WriteOptions) error {
	elem, term := opts.Element, opts.Segment
	if elem == 0 {
		elem = '*'
	}
	if term == 0 {
		term = '~'
	}
	comp := byte('>')
	if s := str(isa, "16"); len(s) == 1 {
		comp = s[0]
	} else if s != "" {
		e.push("16")
		return e.fail("ISA16 (component separator) must be one character")
	}
	var rep byte
	rs := str(isa, "11")
	if rs == "" {
		rs = "^"
		if v := str(isa, "12"); v != "" && v < "00402" {
			rs = "U"
		}
	}
	if len(rs) != 1 {
		e.push("11")
		return e.fail("ISA11 (repetition separator) must be one character")
	}
	if r := rs[0]; !alnum(r) && r != ' ' && r != comp {
		rep = r
	}
	if badSeparator(elem) || badSeparator(comp) || badSeparator(term) || elem == comp || elem == term || comp == term ||
		rep != 0 && (rep == elem || rep == term) {
		return e.fail(fmt.Sprintf("separators element %q, component %q, repetition %q, terminator %q must be distinct and neither letters, digits nor spaces", rune(elem), rune(comp), rune(rep), rune(term)))
	}
	for _, c := range []byte(opts.Suffix) {
		if c != '\r' && c != '\n' {
			return e.fail("the suffix may hold only CR and LF")
		}
	}
	e.sx = syntax{elem: elem, comp: comp, rep: rep, seg: term, trimCR: term == '\n' || term == '\r'}
	ctl, err := e.control(ctx, opts.Counter, Interchange, isa, "13", 9)
	if err != nil {
		return err
	}
	// The ISA: fixed widths, no composites, ISA11 and ISA16 are separators.
	e.buf = append(e.buf, "ISA"...)
	for k := 1; k <= 16; k++ {
		e.buf = append(e.buf, elem)
		var s string
		switch k {
		case 11:
			s = rs
		case 13:
			s = ctl
		case 16:
			s = string(comp)
		default:
			v, _ := isa.Get(posKey(k))
			switch v.(type) {
			case nil, string:
				s, _ = v.(string)
			default:
				e.push(posKey(k))
				return e.fail("ISA elements are text, not a " + typeName(v))
			}
		}
		if len(s) > isaWidths[k-1] {
			e.push(posKey(k))
			return e.fail(fmt.Sprintf("%q is longer than the ISA%02d width %d", clip(s), k, isaWidths[k-1]))
		}
		if k != 11 && k != 16 {
			for i := 0; i < len(s); i++ {
				if e.sx.special(s[i]) || s[i] == '\r' || s[i] == '\n' {
					e.push(posKey(k))
					return e.fail(fmt.Sprintf("value %q contains the separator %q", clip(s), rune(s[i])))
				}
			}
		}
		e.buf = append(e.buf, s...)
		e.buf = append(e.buf, strings.Repeat(" ", isaWidths[k-1]-len(s))...)
	}
	e.buf = append(e.buf, term)
	e.buf = append(e.buf, opts.Suffix...)
	groups := 0
	for i := range isa.Len() {
		k, v := isa.At(i)
		switch {
		case position(k) > 0 || k == "IEA":
		case k == "TA1":
			n := 0
			if err := e.segments("TA1", v, x12Envelope, 0, &n); err != nil {
				return err
			}
		case k == "GS":
			err := e.eachEnvelope(v, "GS", "a functional group must be an object", func(gs *doc.Object) error {
				groups++
				return e.groupX12(ctx, gs, opts)
			})
			if err != nil {
				return err
			}
		default:
			e.push(k)
			return e.fail("unexpected key in an interchange; it holds ISA elements, TA1, GS and IEA")
		}
	}
	return e.segment("IEA", trailer(groups, ctl))
}

func trailer(n int, ctl string) *doc.Object {
	t := doc.NewObject(2)
	t.Set("01", strconv.Itoa(n))
	t.Set("02", ctl)
	return t
}

func (e *encoder) groupX12(ctx context.Context, gs *doc.Object, opts X12WriteOptions) error {
	ctl, err := e.control(ctx, opts.Counter, Group, gs, "06", 0)
	if err != nil {
		return err
	}
	if err := e.segment("GS", with(gs, "06", ctl)); err != nil {
		return err
	}
	sets := 0
	for i := range gs.Len() {
		k, v := gs.At(i)
		switch {
		case position(k) > 0 || k == "GE":
		case k == "ST":
			err := e.eachEnvelope(v, "ST", "a transaction set must be an object", func(st *doc.Object) error {
				sets++
				return e.transactionX12(ctx, st, opts)
			})
			if err != nil {
				return err
			}
		default:
			e.push(k)
			return e.fail("unexpected key in a functional group; it holds GS elements, ST and GE")
		}
	}
	return e.segment("GE", trailer(sets, ctl))
}

func (e *encoder) transactionX12(ctx context.Context, st *doc.Object, opts X12WriteOptions) error {
	ctl, err := e.control(ctx, opts.Counter, Message, st, "02", 4)
	if err != nil {
		return err
	}
	if err := e.segment("ST", with(st, "02", ctl)); err != nil {
		return err
	}
	n := 1
	if err := e.children(st, x12Envelope, "SE", 0, &n); err != nil {
		return err
	}
	return e.segment("SE", trailer(n+1, ctl))
}

// SniffX12 returns writer options with the element separator and segment
// terminator of the first ISA in data, so a reply can use its partner's
// separators; ok is false when data does not start with a whole ISA.
func SniffX12(data []byte) (opts X12WriteOptions, ok bool) {
	r := newReader("x12", Limits{}, nil, nil)
	r.s = string(data[:min(len(data), 4096)])
	if _, _, err := r.headerISA(skipSpace(r.s, 0)); err != nil {
		return opts, false
	}
	return X12WriteOptions{Element: r.sx.elem, Segment: r.sx.seg}, true
}

func badSeparator(c byte) bool { return alnum(c) || c == ' ' }
