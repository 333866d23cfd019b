package edi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// defaultUNA is the service string advice that applies when an interchange
// has none: component ':', element '+', decimal '.', release '?', repetition
// reserved (a space), terminator an apostrophe.
const defaultUNA = ":+.? '"

// ReadEDIFACT reads an EDIFACT input of one or more interchanges into a tree
// (see the package documentation for its shape). A leading UNA sets the
// separators and release character, else the defaults apply (with '*' as the
// repetition separator under syntax version 4). UNB01 selects the character
// set: UNOC is decoded from ISO 8859-1, other sets must be ASCII or UTF-8. The
// counts and references of UNT, UNE and UNZ are checked against what they
// close. Errors are *Error values naming the segment's position; for UNOC input
// their offsets count bytes of the decoded text.
func ReadEDIFACT(data []byte, opts ReadOptions) (*doc.Object, error) {
	if err := checkSize("edifact", data, opts.Limits); err != nil {
		return nil, err
	}
	r := newReader("edifact", opts.Limits, opts.Schema, builtinEDIFACT)
	s, err := decodeEDIFACT(data)
	if err != nil {
		return nil, err
	}
	r.s = s
	return r.readEDIFACT()
}

// ReadEDIFACTFrom reads all of src, up to the MaxBytes limit, and parses it
// with ReadEDIFACT.
func ReadEDIFACTFrom(src io.Reader, opts ReadOptions) (*doc.Object, error) {
	data, err := readAll("edifact", src, opts.Limits.MaxBytes)
	if err != nil {
		return nil, err
	}
	return ReadEDIFACT(data, opts)
}

// charset returns the syntax identifier (UNB01.01) of the first UNB, read
// with the separators of the UNA if there is one, or "".
func charset(data []byte) string {
	s := string(data[:min(len(data), 256)])
	pos := skipSpace(s, 0)
	sx := unaSyntax(defaultUNA)
	if strings.HasPrefix(s[pos:], "UNA") && len(s)-pos >= 9 {
		if checkUNA(s[pos+3:pos+9]) != "" {
			return ""
		}
		sx = unaSyntax(s[pos+3 : pos+9])
		pos = skipSpace(s, pos+9)
	}
	if !strings.HasPrefix(s[pos:], "UNB") || len(s)-pos < 4 || s[pos+3] != sx.elem {
		return ""
	}
	var id []byte
	for i := pos + 4; i < len(s); i++ {
		c := s[i]
		if sx.rel != 0 && c == sx.rel && i+1 < len(s) {
			i++
			c = s[i]
		} else if c == sx.comp || c == sx.elem || c == sx.seg || sx.rep != 0 && c == sx.rep {
			break
		}
		id = append(id, c)
	}
	return string(id)
}

func decodeEDIFACT(data []byte) (string, error) {
	cs := charset(data)
	ascii := true
	for _, c := range data {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	switch {
	case ascii:
		return string(data), nil
	case cs == "UNOC":
		var b strings.Builder
		b.Grow(len(data) + len(data)/8)
		for _, c := range data {
			b.WriteRune(rune(c))
		}
		return b.String(), nil
	case cs >= "UNOD" && cs <= "UNOK":
		i := bytes.IndexFunc(data, func(r rune) bool { return r >= 0x80 || r == utf8.RuneError })
		return "", &Error{Format: "edifact", Kind: ErrEncoding, Offset: max(i, 0), Msg: fmt.Sprintf("character set %s is not supported beyond ASCII", cs)}
	}
	if err := checkUTF8("edifact", data); err != nil {
		return "", err
	}
	return string(data), nil
}

func (r *reader) readEDIFACT() (*doc.Object, error) {
	root := doc.NewObject(2)
	pos := skipSpace(r.s, 0)
	if pos == len(r.s) {
		return nil, r.fail(ErrTruncated, "input is empty")
	}
	una := defaultUNA
	hasUNA := strings.HasPrefix(r.s[pos:], "UNA")
	if hasUNA {
		r.seg, r.start, r.id = 1, pos, "UNA"
		if len(r.s)-pos < 9 {
			return nil, r.fail(ErrTruncated, "input ends inside the UNA service string advice")
		}
		una = r.s[pos+3 : pos+9]
		if msg := checkUNA(una); msg != "" {
			return nil, r.fail(ErrSyntax, "%s", msg)
		}
		root.Set("UNA", una)
		pos = skipSpace(r.s, pos+9)
	}
	r.sx = unaSyntax(una)
	for pos < len(r.s) {
		unb, next, err := r.interchangeEDIFACT(pos, hasUNA, una)
		if err != nil {
			return nil, err
		}
		root.Append("UNB", unb)
		pos = skipSpace(r.s, next)
	}
	if _, ok := root.Get("UNB"); !ok {
		return nil, r.fail(ErrTruncated, "input ends after the UNA: UNB missing")
	}
	return root, nil
}

// checkUNA returns what is wrong with the six characters of a service string
// advice, or "".
func checkUNA(una string) string {
	if len(una) != 6 {
		return "the UNA must hold six characters"
	}
	seen := map[byte]bool{}
	for i := range 6 {
		c := una[i]
		if c >= 0x80 || alnum(c) {
			return fmt.Sprintf("UNA character %d (%q) is a letter, a digit or not ASCII", i+1, rune(c))
		}
		if i == 2 || c == ' ' && (i == 3 || i == 4) {
			continue // the decimal mark, or no release character or repetition separator
		}
		if seen[c] {
			return fmt.Sprintf("UNA character %q is used twice", rune(c))
		}
		seen[c] = true
	}
	if una[0] == ' ' || una[1] == ' ' || una[5] == ' ' {
		return "the UNA's component, element and segment separators cannot be spaces"
	}
	return ""
}

func unaSyntax(una string) syntax {
	sx := syntax{comp: una[0], elem: una[1], rel: una[3], rep: una[4], seg: una[5]}
	if sx.rel == ' ' {
		sx.rel = 0
	}
	if sx.rep == ' ' {
		sx.rep = 0
	}
	return sx
}

// syntaxVersion returns UNB01.02, the syntax version number.
func syntaxVersion(unb *doc.Object) string {
	v, _ := unb.Get("01")
	if o, ok := v.(*doc.Object); ok {
		return str(o, "02")
	}
	return ""
}

func (r *reader) interchangeEDIFACT(pos int, hasUNA bool, una string) (*doc.Object, int, error) {
	r.sx.rep = 0
	if hasUNA {
		r.sx.rep = unaSyntax(una).rep
	}
	id, unb, next, err := r.next(pos)
	if err == errEnd {
		return nil, 0, r.fail(ErrTruncated, "input ends before the UNB")
	}
	if err != nil {
		return nil, 0, err
	}
	if id != "UNB" {
		return nil, 0, r.fail(ErrSyntax, "expected a UNB interchange header, found %s", id)
	}
	if !hasUNA && syntaxVersion(unb) == "4" {
		r.sx.rep = '*'
	}
	ctl, err := r.control(unb, "05")
	if err != nil {
		return nil, 0, err
	}
	pos = next
	groups, messages := 0, 0
	for {
		id, obj, next, err := r.next(pos)
		if err == errEnd {
			return nil, 0, r.fail(ErrTruncated, "input ends inside interchange %q: UNZ missing", ctl)
		}
		if err != nil {
			return nil, 0, err
		}
		switch id {
		case "UNG":
			if messages > 0 {
				return nil, 0, r.fail(ErrSyntax, "UNG after messages outside groups in interchange %q", ctl)
			}
			if next, err = r.groupEDIFACT(obj, next); err != nil {
				return nil, 0, err
			}
			unb.Append("UNG", obj)
			groups++
		case "UNH":
			if groups > 0 {
				return nil, 0, r.fail(ErrSyntax, "UNH outside a group in interchange %q, which has groups", ctl)
			}
			if next, err = r.messageEDIFACT(obj, next); err != nil {
				return nil, 0, err
			}
			unb.Append("UNH", obj)
			messages++
		case "UNZ":
			what, n := "messages", messages
			if groups > 0 {
				what, n = "groups", groups
			}
			if err := r.count(obj, "UNZ", what, n); err != nil {
				return nil, 0, err
			}
			if err := r.reference(obj, "UNZ", "UNB05", ctl); err != nil {
				return nil, 0, err
			}
			unb.Set("UNZ", obj)
			return unb, next, nil
		default:
			return nil, 0, r.fail(ErrSyntax, "%s outside a message (UNH) in interchange %q", id, ctl)
		}
		pos = next
	}
}

func (r *reader) groupEDIFACT(ung *doc.Object, pos int) (int, error) {
	ctl, err := r.control(ung, "05")
	if err != nil {
		return 0, err
	}
	messages := 0
	for {
		id, obj, next, err := r.next(pos)
		if err == errEnd {
			return 0, r.fail(ErrTruncated, "input ends inside group %q: UNE missing", ctl)
		}
		if err != nil {
			return 0, err
		}
		switch id {
		case "UNH":
			if next, err = r.messageEDIFACT(obj, next); err != nil {
				return 0, err
			}
			ung.Append("UNH", obj)
			messages++
		case "UNE":
			if err := r.count(obj, "UNE", "messages", messages); err != nil {
				return 0, err
			}
			if err := r.reference(obj, "UNE", "UNG05", ctl); err != nil {
				return 0, err
			}
			ung.Set("UNE", obj)
			return next, nil
		default:
			return 0, r.fail(ErrSyntax, "%s outside a message (UNH) in group %q", id, ctl)
		}
		pos = next
	}
}

// messageType returns UNH02.01, such as "IFTSTA".
func messageType(unh *doc.Object) string {
	v, _ := unh.Get("02")
	if o, ok := v.(*doc.Object); ok {
		return str(o, "01")
	}
	s, _ := v.(string)
	return s
}

func (r *reader) messageEDIFACT(unh *doc.Object, pos int) (int, error) {
	ctl, err := r.control(unh, "01")
	if err != nil {
		return 0, err
	}
	r.nest.reset(unh, r.schema[messageType(unh)], r.lim.MaxDepth)
	n := 1
	for {
		id, obj, next, err := r.next(pos)
		if err == errEnd {
			return 0, r.fail(ErrTruncated, "input ends inside message %q: UNT missing", ctl)
		}
		if err != nil {
			return 0, err
		}
		n++
		switch id {
		case "UNT":
			if err := r.count(obj, "UNT", "segments", n); err != nil {
				return 0, err
			}
			if err := r.reference(obj, "UNT", "UNH01", ctl); err != nil {
				return 0, err
			}
			unh.Set("UNT", obj)
			return next, nil
		case "UNA", "UNB", "UNZ", "UNG", "UNE", "UNH":
			return 0, r.fail(ErrSyntax, "%s inside message %q: UNT missing", id, ctl)
		}
		if !r.nest.add(id, obj) {
			return 0, r.fail(ErrLimit, "segment groups nest deeper than %d", r.lim.MaxDepth)
		}
		pos = next
	}
}

// EDIFACTWriteOptions configure WriteEDIFACT. The zero value writes with the
// tree's UNA (or the default separators and no UNA) and takes control
// references from the tree.
type EDIFACTWriteOptions struct {
	// Suffix is written after every terminator, such as "\n"; default none.
	Suffix string
	// Counter, when set, supplies UNB05, UNG05 and UNH01 (and the trailers
	// that echo them), replacing those in the tree.
	Counter Counter
	// UNA writes a service string advice even when the tree has none.
	UNA bool
}

func edifactEnvelope(id string) bool {
	switch id {
	case "UNA", "UNB", "UNZ", "UNG", "UNE", "UNH", "UNT":
		return true
	}
	return false
}

// WriteEDIFACT writes a tree of the shape ReadEDIFACT returns back to bytes.
// The separators come from the tree's "UNA" (six characters) or the defaults;
// separators in data are escaped with the release character, and refused when
// the UNA declares none. UNT, UNE and UNZ are generated with their counts and
// the references of their headers. An interchange whose UNB01 is UNOC is
// written in ISO 8859-1.
func WriteEDIFACT(ctx context.Context, root *doc.Object, opts EDIFACTWriteOptions) ([]byte, error) {
	e := &encoder{format: "edifact", suffix: opts.Suffix}
	if root == nil {
		return nil, e.fail("the tree is nil")
	}
	for _, c := range []byte(opts.Suffix) {
		if c != '\r' && c != '\n' {
			return nil, e.fail("the suffix may hold only CR and LF")
		}
	}
	una, hasUNA := defaultUNA, false
	for i := range root.Len() {
		k, v := root.At(i)
		switch k {
		case "UNB":
		case "UNA":
			s, ok := v.(string)
			e.push("UNA")
			if !ok {
				return nil, e.fail("the UNA must be a string of six characters")
			}
			if msg := checkUNA(s); msg != "" {
				return nil, e.fail(msg)
			}
			e.pop()
			una, hasUNA = s, true
		default:
			e.push(k)
			return nil, e.fail("unexpected key at the top of an EDIFACT tree; only UNA and UNB belong there")
		}
	}
	v, ok := root.Get("UNB")
	if !ok {
		return nil, e.fail("the tree has no UNB")
	}
	if hasUNA || opts.UNA {
		e.buf = append(e.buf, "UNA"+una...)
		e.buf = append(e.buf, opts.Suffix...)
	}
	// The first UNB's syntax identifier decides the character set of the
	// whole output, as it does for the reader.
	first := v
	if list, ok := v.([]any); ok && len(list) > 0 {
		first = list[0]
	}
	if unb, ok := first.(*doc.Object); ok {
		ucs, _ := unb.Get("01")
		e.latin1 = ucs == "UNOC"
		if o, ok := ucs.(*doc.Object); ok {
			e.latin1 = str(o, "01") == "UNOC"
		}
	}
	start := len(e.buf)
	err := each(v, func(i int, unb *doc.Object) error {
		e.path = append(e.path[:0], indexed("UNB", i))
		if unb == nil {
			return e.fail("an interchange must be an object")
		}
		e.sx = unaSyntax(una)
		e.decimal = una[2]
		// Without a UNA, the UNB is read before its syntax version is known,
		// so it never uses a repetition separator.
		rep := e.sx.rep
		if !hasUNA {
			e.sx.rep = 0
			if syntaxVersion(unb) == "4" {
				rep = '*'
			}
		}
		return e.interchangeEDIFACT(ctx, unb, rep, opts)
	})
	if err != nil {
		return nil, err
	}
	if e.latin1 {
		out := make([]byte, 0, len(e.buf)-start)
		for _, r := range string(e.buf[start:]) {
			out = append(out, byte(r))
		}
		e.buf = append(e.buf[:start], out...)
	}
	return e.buf, nil
}

func (e *encoder) interchangeEDIFACT(ctx context.Context, unb *doc.Object, rep byte, opts EDIFACTWriteOptions) error {
	ctl, err := e.control(ctx, opts.Counter, Interchange, unb, "05", 0)
	if err != nil {
		return err
	}
	if err := e.segment("UNB", with(unb, "05", ctl)); err != nil {
		return err
	}
	e.sx.rep = rep
	groups, messages := 0, 0
	for i := range unb.Len() {
		k, v := unb.At(i)
		switch {
		case position(k) > 0 || k == "UNZ":
		case k == "UNG":
			err := e.eachEnvelope(v, "UNG", "a group must be an object", func(ung *doc.Object) error {
				groups++
				return e.groupEDIFACT(ctx, ung, opts)
			})
			if err != nil {
				return err
			}
		case k == "UNH":
			err := e.eachEnvelope(v, "UNH", "a message must be an object", func(unh *doc.Object) error {
				messages++
				return e.messageEDIFACT(ctx, unh, opts)
			})
			if err != nil {
				return err
			}
		default:
			e.push(k)
			return e.fail("unexpected key in an interchange; it holds UNB elements, UNG or UNH, and UNZ")
		}
	}
	if groups > 0 && messages > 0 {
		return e.fail("an interchange holds either groups (UNG) or messages (UNH), not both")
	}
	return e.segment("UNZ", trailer(max(groups, messages), ctl))
}

func (e *encoder) groupEDIFACT(ctx context.Context, ung *doc.Object, opts EDIFACTWriteOptions) error {
	ctl, err := e.control(ctx, opts.Counter, Group, ung, "05", 0)
	if err != nil {
		return err
	}
	if err := e.segment("UNG", with(ung, "05", ctl)); err != nil {
		return err
	}
	messages := 0
	for i := range ung.Len() {
		k, v := ung.At(i)
		switch {
		case position(k) > 0 || k == "UNE":
		case k == "UNH":
			err := e.eachEnvelope(v, "UNH", "a message must be an object", func(unh *doc.Object) error {
				messages++
				return e.messageEDIFACT(ctx, unh, opts)
			})
			if err != nil {
				return err
			}
		default:
			e.push(k)
			return e.fail("unexpected key in a group; it holds UNG elements, UNH and UNE")
		}
	}
	return e.segment("UNE", trailer(messages, ctl))
}

func (e *encoder) messageEDIFACT(ctx context.Context, unh *doc.Object, opts EDIFACTWriteOptions) error {
	ctl, err := e.control(ctx, opts.Counter, Message, unh, "01", 0)
	if err != nil {
		return err
	}
	if err := e.segment("UNH", with(unh, "01", ctl)); err != nil {
		return err
	}
	n := 1
	if err := e.children(unh, edifactEnvelope, "UNT", 0, &n); err != nil {
		return err
	}
	return e.segment("UNT", trailer(n+1, ctl))
}
