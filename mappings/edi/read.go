package edi

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// ReadOptions configure ReadX12 and ReadEDIFACT. The zero value reads with the
// default limits and the built-in schema.
type ReadOptions struct {
	// Limits bound the input; zero fields take their defaults.
	Limits Limits
	// Schema nests segments into loops by transaction set or message type;
	// nil means the built-in schema, an empty Schema nests nothing.
	Schema Schema
}

// reader holds the state shared by the X12 and EDIFACT readers.
type reader struct {
	format string
	s      string
	lim    Limits
	schema Schema
	sx     syntax
	p      segmentParser
	nest   nester
	seg    int // segments read so far
	start  int // offset of the current segment
	id     string
}

func newReader(format string, lim Limits, schema Schema, builtin Schema) *reader {
	r := &reader{format: format, lim: lim.withDefaults(), schema: schema}
	if r.schema == nil {
		r.schema = builtin
	}
	r.p.sx = &r.sx
	r.p.max = r.lim.MaxElements
	return r
}

func (r *reader) fail(kind error, format string, args ...any) error {
	return &Error{Format: r.format, Kind: kind, Segment: r.seg, ID: r.id, Offset: r.start, Msg: fmt.Sprintf(format, args...)}
}

// errEnd signals the end of input to the envelope code, which knows what was
// left open.
var errEnd = &Error{Kind: ErrTruncated}

// next reads the segment at pos.
func (r *reader) next(pos int) (string, *doc.Object, int, error) {
	if pos >= len(r.s) {
		return "", nil, pos, errEnd
	}
	r.seg++
	r.start = pos
	r.id = ""
	if r.seg > r.lim.MaxSegments {
		return "", nil, pos, r.fail(ErrLimit, "more than %d segments", r.lim.MaxSegments)
	}
	text, next, ok := r.sx.cut(r.s, pos)
	if !ok {
		return "", nil, pos, r.fail(ErrTruncated, "segment %q has no terminator %q", clip(text), rune(r.sx.seg))
	}
	if r.sx.trimCR && strings.ContainsAny(text, "\r\n") {
		return "", nil, pos, r.fail(ErrSyntax, "line break inside a segment, and the terminator is a line break")
	}
	r.p.errText = ""
	id, obj := r.p.parse(text)
	r.id = id
	if obj == nil {
		if !validID(id) {
			r.id = ""
		}
		return "", nil, pos, r.fail(ErrSyntax, "%s", r.p.errText)
	}
	return id, obj, next, nil
}

// count checks a trailer's count element against the number counted.
func (r *reader) count(obj *doc.Object, elem, what string, want int) error {
	v, _ := obj.Get("01")
	s, _ := v.(string)
	if s == "" {
		return r.fail(ErrControl, "%s01 (number of %s) is missing", elem, what)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return r.fail(ErrControl, "%s01 (number of %s) is %q, not a count", elem, what, clip(s))
	}
	if n != want {
		return r.fail(ErrControl, "%s01 says %d %s, counted %d", elem, n, what, want)
	}
	return nil
}

// reference checks a trailer's control reference against its header's.
func (r *reader) reference(obj *doc.Object, elem string, header string, want string) error {
	v, _ := obj.Get("02")
	s, _ := v.(string)
	if s != want {
		return r.fail(ErrControl, "%s02 is %q, the %s control number is %q", elem, clip(s), header, clip(want))
	}
	return nil
}

// control returns the control number in element k of a header, refusing a
// missing one.
func (r *reader) control(obj *doc.Object, k string) (string, error) {
	s := str(obj, k)
	if s == "" {
		return "", r.fail(ErrSyntax, "%s%s (control number) is missing", r.id, k)
	}
	return s, nil
}

func str(obj *doc.Object, k string) string {
	v, _ := obj.Get(k)
	s, _ := v.(string)
	return s
}

// readAll reads at most max bytes from src, refusing more.
func readAll(format string, src io.Reader, max int) ([]byte, error) {
	lim := Limits{MaxBytes: max}.withDefaults().MaxBytes
	data, err := io.ReadAll(io.LimitReader(src, int64(lim)+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s input: %w", format, err)
	}
	if len(data) > lim {
		return nil, &Error{Format: format, Kind: ErrLimit, Offset: lim, Msg: fmt.Sprintf("input is larger than the %d bytes allowed", lim)}
	}
	return data, nil
}

func checkSize(format string, data []byte, lim Limits) error {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return &Error{Format: format, Kind: ErrLimit, Offset: lim.MaxBytes, Msg: fmt.Sprintf("input is %d bytes, more than the %d allowed", len(data), lim.MaxBytes)}
	}
	return nil
}

func checkUTF8(format string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return &Error{Format: format, Kind: ErrEncoding, Offset: i, Msg: fmt.Sprintf("byte 0x%02x is not valid UTF-8", data[i])}
		}
		i += n
	}
	return nil
}

// skipSpace skips a byte order mark and white space between interchanges.
func skipSpace(s string, pos int) int {
	if pos == 0 && strings.HasPrefix(s, "\uFEFF") {
		pos = 3
	}
	for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r' || s[pos] == '\n') {
		pos++
	}
	return pos
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
