package fixed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// columns gives character-indexed access to one line; ASCII lines are sliced
// directly.
type columns struct {
	s     string
	runes []rune
}

func newColumns(s string) columns {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return columns{s: s, runes: []rune(s)}
		}
	}
	return columns{s: s}
}

func (c columns) len() int {
	if c.runes != nil {
		return len(c.runes)
	}
	return len(c.s)
}

// slice returns columns [start, end), clipped to the line.
func (c columns) slice(start, end int) string {
	n := c.len()
	if start >= n {
		return ""
	}
	end = min(end, n)
	if c.runes != nil {
		return string(c.runes[start:end])
	}
	return c.s[start:end]
}

// Read reads every line of r into a list of row objects; see the package
// documentation.
func (f *Format) Read(r io.Reader) ([]any, error) {
	counter := &countingReader{r: io.LimitReader(r, f.layout.MaxBytes+1)}
	sc := bufio.NewScanner(counter)
	sc.Buffer(make([]byte, 0, min(4096, f.layout.MaxLineLength+2)), f.layout.MaxLineLength+2)
	multi := len(f.records) > 1
	rows := make([]any, 0, 64)
	line := 0
	for sc.Scan() {
		line++
		if counter.n > f.layout.MaxBytes {
			return nil, &Error{Kind: ErrLimit, Line: line, Msg: fmt.Sprintf("input is larger than %d bytes", f.layout.MaxBytes)}
		}
		b := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		if len(b) == 0 || (len(b) == 1 && b[0] == 0x1a) { // empty, or a DOS end-of-file mark
			continue
		}
		if !utf8.Valid(b) {
			col := utf8.RuneCount(b[:invalidAt(b)]) + 1
			return nil, &Error{Kind: ErrEncoding, Line: line, Msg: fmt.Sprintf("invalid UTF-8 at column %d", col)}
		}
		cols := newColumns(string(b))
		rec := &f.records[0]
		if f.typeEnd > 0 {
			code := cols.slice(f.typeStart, f.typeEnd)
			ri, ok := f.byType[code]
			if !ok {
				if f.layout.SkipUnknown {
					continue
				}
				return nil, &Error{Kind: ErrUnknownRecord, Line: line, Msg: fmt.Sprintf("type %q in columns %d-%d matches no record", code, f.typeStart+1, f.typeEnd)}
			}
			rec = &f.records[ri]
		}
		if f.layout.ExactLength && cols.len() != rec.length {
			return nil, &Error{Kind: ErrLength, Line: line, Record: rec.name, Msg: fmt.Sprintf("line has %d characters, the record has %d", cols.len(), rec.length)}
		}
		n := len(rec.fields)
		if multi {
			n++
		}
		o := doc.NewObject(n)
		if multi {
			o.Set("#record", rec.name)
		}
		for i := range rec.fields {
			fd := &rec.fields[i]
			v := cols.slice(fd.start, fd.end)
			switch fd.trim {
			case 'r':
				v = strings.TrimRight(v, " ")
			case 'l':
				v = strings.TrimLeft(v, " ")
			case 'b':
				v = strings.Trim(v, " ")
			case 'n':
				// A short line reads as if padded with spaces.
				if short := fd.end - fd.start - utf8.RuneCountInString(v); short > 0 {
					v += strings.Repeat(" ", short)
				}
			}
			o.Set(fd.name, v)
		}
		rows = append(rows, o)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &Error{Kind: ErrLimit, Line: line + 1, Msg: fmt.Sprintf("line is longer than %d bytes", f.layout.MaxLineLength)}
		}
		return nil, fmt.Errorf("fixed: reading line %d: %w", line+1, err)
	}
	if counter.n > f.layout.MaxBytes {
		return nil, &Error{Kind: ErrLimit, Line: line, Msg: fmt.Sprintf("input is larger than %d bytes", f.layout.MaxBytes)}
	}
	return rows, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// Marshal writes rows as fixed-width lines and returns them; see Write.
func (f *Format) Marshal(rows []any) ([]byte, error) {
	var b bytes.Buffer
	if err := f.Write(&b, rows); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes rows, each a *doc.Object, as one fixed-width line per row. A
// row picks its record by "#record" (optional when the layout has one
// record); missing keys and nil are blank; strings are written as they are,
// bools as true/false, numbers in their shortest exact form. A key that is
// not a field of the record is refused, so is a value with a line break.
func (f *Format) Write(w io.Writer, rows []any) error {
	bw := bufio.NewWriter(w)
	eol := "\n"
	if f.layout.CRLF {
		eol = "\r\n"
	}
	var line []rune
	for n, r := range rows {
		ln := n + 1
		row, ok := r.(*doc.Object)
		if !ok {
			return &Error{Kind: ErrShape, Line: ln, Msg: fmt.Sprintf("row %d is %T, not an object", n, r)}
		}
		rec := &f.records[0]
		if v, ok := row.Get("#record"); ok {
			name, _ := v.(string)
			ri, found := f.byName[name]
			if !found {
				return &Error{Kind: ErrUnknownRecord, Line: ln, Msg: fmt.Sprintf("#record %v names no record", v)}
			}
			rec = &f.records[ri]
		} else if len(f.records) > 1 {
			return &Error{Kind: ErrUnknownRecord, Line: ln, Msg: "row has no #record to choose among the layout's records"}
		}
		line = line[:0]
		for range rec.length {
			line = append(line, ' ')
		}
		for i := 0; i < row.Len(); i++ {
			k, v := row.At(i)
			if k == "#record" {
				continue
			}
			fd := rec.field(k)
			if fd == nil {
				return &Error{Kind: ErrShape, Line: ln, Record: rec.name, Field: k, Msg: "not a field of this record"}
			}
			s, err := text(v)
			if err != nil {
				return &Error{Kind: ErrShape, Line: ln, Record: rec.name, Field: k, Msg: err.Error()}
			}
			if err := fd.place(line, s); err != nil {
				return &Error{Kind: ErrWidth, Line: ln, Record: rec.name, Field: k, Msg: err.Error()}
			}
		}
		if f.typeEnd > 0 {
			copy(line[f.typeStart:f.typeEnd], []rune(rec.typ))
		}
		bw.WriteString(string(line))
		bw.WriteString(eol)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("fixed: writing: %w", err)
	}
	return nil
}

func (r *record) field(name string) *field {
	for i := range r.fields {
		if r.fields[i].name == name {
			return &r.fields[i]
		}
	}
	return nil
}

// place writes s into its columns of line, padded or, if allowed, cut.
func (fd *field) place(line []rune, s string) error {
	width := fd.end - fd.start
	if s == "" {
		return nil // blank stays blank, whatever the pad
	}
	v := []rune(s)
	if len(v) > width {
		if !fd.truncate {
			return fmt.Errorf("value of %d characters does not fit width %d: %q", len(v), width, s)
		}
		v = v[:width]
	}
	cell := line[fd.start:fd.end]
	for i := range cell {
		cell[i] = fd.pad
	}
	if !fd.right {
		copy(cell, v)
		return nil
	}
	off := width - len(v)
	if fd.pad == '0' && len(v) > 0 && (v[0] == '-' || v[0] == '+') && off > 0 {
		cell[0] = v[0]
		copy(cell[off+1:], v[1:])
		return nil
	}
	copy(cell[off:], v)
	return nil
}

func text(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("number %v has no text form", x)
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case *doc.Object:
		return "", fmt.Errorf("an object cannot be a field value")
	case []any:
		return "", fmt.Errorf("a list cannot be a field value")
	default:
		return "", fmt.Errorf("%T is not a document value", v)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("invalid UTF-8")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("value holds a line break")
	}
	return s, nil
}
