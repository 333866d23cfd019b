package csv

import (
	"bufio"
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// Default limits, used when the corresponding Options field is zero.
const (
	DefaultMaxBytes   = 256 << 20
	DefaultMaxColumns = 4096
)

// Options tune the reader. The zero value reads comma-separated text with a
// header row.
type Options struct {
	// Delimiter separates fields (default ','). It may not be a quote, a line
	// break or the replacement character.
	Delimiter rune
	// Comment, if not zero, marks lines to skip when it is their first
	// character.
	Comment rune
	// Header names the columns when the file has no header row; every line
	// is then data.
	Header []string
	// PadShortRows accepts rows with fewer fields than the header, leaving the
	// missing trailing fields "". Rows with more fields are still refused.
	PadShortRows bool
	// TrimSpace trims spaces around every value (header names are always
	// trimmed).
	TrimSpace bool
	// MaxBytes bounds the input size (default DefaultMaxBytes).
	MaxBytes int64
	// MaxColumns bounds the number of columns (default DefaultMaxColumns).
	MaxColumns int
}

// Reader reads rows one at a time, for files too large to hold as one list.
type Reader struct {
	cr      *stdcsv.Reader
	opts    Options
	header  []string
	counter *countingReader
	max     int64
	err     error
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

// NewReader returns a Reader over r. It reads the header row (unless
// opts.Header names the columns) and reports header problems at once.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	if opts.Delimiter == 0 {
		opts.Delimiter = ','
	}
	if opts.MaxColumns <= 0 {
		opts.MaxColumns = DefaultMaxColumns
	}
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if opts.Delimiter == '"' || opts.Delimiter == '\r' || opts.Delimiter == '\n' || opts.Delimiter == utf8.RuneError || opts.Delimiter == opts.Comment {
		return nil, &Error{Kind: ErrSyntax, Msg: fmt.Sprintf("%q cannot be the delimiter", opts.Delimiter)}
	}
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	counter := &countingReader{r: io.LimitReader(br, max+1)}
	cr := stdcsv.NewReader(counter)
	cr.Comma = opts.Delimiter
	cr.Comment = opts.Comment
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	rd := &Reader{cr: cr, opts: opts, counter: counter, max: max}
	if opts.Header != nil {
		if err := rd.setHeader(opts.Header, 0); err != nil {
			return nil, err
		}
		return rd, nil
	}
	rec, err := rd.record()
	if err == io.EOF {
		return nil, &Error{Kind: ErrHeader, Line: 1, Msg: "no header row"}
	}
	if err != nil {
		return nil, err
	}
	line, _ := cr.FieldPos(0)
	if err := rd.setHeader(rec, line); err != nil {
		return nil, err
	}
	return rd, nil
}

func (rd *Reader) setHeader(names []string, line int) error {
	if len(names) > rd.opts.MaxColumns {
		return &Error{Kind: ErrLimit, Line: line, Msg: fmt.Sprintf("%d columns, more than %d", len(names), rd.opts.MaxColumns)}
	}
	seen := make(map[string]int, len(names))
	rd.header = make([]string, len(names))
	for i, n := range names {
		// A stray byte order mark (a file concatenated with another, or
		// saved twice) is no part of a name.
		n = strings.TrimFunc(n, func(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' })
		if n == "" {
			return &Error{Kind: ErrHeader, Line: line, Column: i + 1, Msg: "empty header name"}
		}
		if !utf8.ValidString(n) {
			return &Error{Kind: ErrEncoding, Line: line, Column: i + 1, Msg: "header name is not valid UTF-8"}
		}
		if j, dup := seen[n]; dup {
			return &Error{Kind: ErrHeader, Line: line, Column: i + 1, Field: n, Msg: fmt.Sprintf("duplicate header name, also column %d", j+1)}
		}
		seen[n] = i
		rd.header[i] = n
	}
	return nil
}

// Header returns the column names. The slice must not be modified.
func (rd *Reader) Header() []string { return rd.header }

// record reads the next record, classifying errors.
func (rd *Reader) record() ([]string, error) {
	rec, err := rd.cr.Read()
	if rd.counter.n > rd.max {
		return nil, &Error{Kind: ErrLimit, Msg: fmt.Sprintf("input is larger than %d bytes", rd.max)}
	}
	if err != nil {
		var pe *stdcsv.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{Kind: ErrSyntax, Line: pe.Line, Msg: fmt.Sprintf("%v (at character %d)", pe.Err, pe.Column)}
		}
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("csv: reading input: %w", err)
	}
	if len(rec) > rd.opts.MaxColumns {
		line, _ := rd.cr.FieldPos(0)
		return nil, &Error{Kind: ErrLimit, Line: line, Msg: fmt.Sprintf("%d fields, more than %d", len(rec), rd.opts.MaxColumns)}
	}
	for i, f := range rec {
		if !utf8.ValidString(f) {
			line, _ := rd.cr.FieldPos(i)
			return nil, &Error{Kind: ErrEncoding, Line: line, Column: i + 1, Msg: "invalid UTF-8"}
		}
	}
	return rec, nil
}

// Next returns the next row as an object keyed by header name, or io.EOF
// after the last one. After an error, Next keeps returning it.
func (rd *Reader) Next() (*doc.Object, error) {
	if rd.err != nil {
		return nil, rd.err
	}
	row, err := rd.next()
	if err != nil {
		rd.err = err
	}
	return row, err
}

func (rd *Reader) next() (*doc.Object, error) {
	rec, err := rd.record()
	if err != nil {
		return nil, err
	}
	if len(rec) != len(rd.header) && !(rd.opts.PadShortRows && len(rec) < len(rd.header)) {
		line, _ := rd.cr.FieldPos(0)
		return nil, &Error{Kind: ErrRagged, Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(rd.header))}
	}
	o := doc.NewObject(len(rd.header))
	for i, name := range rd.header {
		v := ""
		if i < len(rec) {
			v = rec[i]
			if strings.IndexByte(v, '\r') >= 0 {
				// encoding/csv turns a quoted \r\n into \n but keeps
				// the \r of "\r\r\n"; finish the job so that every
				// line break in a value reads the same.
				v = crlf(v)
			}
			if rd.opts.TrimSpace {
				v = strings.TrimSpace(v)
			}
		}
		o.Set(name, v)
	}
	return o, nil
}

// Line returns the line on which the last row read started.
func (rd *Reader) Line() int {
	line, _ := rd.cr.FieldPos(0)
	return line
}

// Read reads every row of r; see the package documentation for the shape.
func Read(r io.Reader, opts Options) ([]any, error) {
	rd, err := NewReader(r, opts)
	if err != nil {
		return nil, err
	}
	rows := make([]any, 0, 64)
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
}

// crlf turns every run of carriage returns that ends in a line feed into the
// line feed alone.
func crlf(s string) string {
	if !strings.Contains(s, "\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' {
			j := i
			for j < len(s) && s[j] == '\r' {
				j++
			}
			if j < len(s) && s[j] == '\n' {
				i = j - 1
				continue
			}
			b.WriteString(s[i:j])
			i = j - 1
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
