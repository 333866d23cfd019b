package csv

import (
	"bytes"
	stdcsv "encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/carrierhub/hub/mappings/doc"
)

// WriteOptions tune the writer. The zero value writes comma-separated text
// with LF line ends and the header taken from the first row.
type WriteOptions struct {
	// Delimiter separates fields (default ',').
	Delimiter rune
	// Header fixes the columns and their order. When empty, the first row's
	// keys are the header.
	Header []string
	// NoHeaderRow leaves the header line out of the output.
	NoHeaderRow bool
	// CRLF ends lines with \r\n, as RFC 4180 and many spreadsheet importers
	// expect.
	CRLF bool
	// IgnoreExtra drops keys that are not columns instead of refusing the row.
	IgnoreExtra bool
}

// Marshal writes rows as delimited text and returns it; see Write.
func Marshal(rows []any, opts WriteOptions) ([]byte, error) {
	var b bytes.Buffer
	if err := Write(&b, rows, opts); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes rows, each a *doc.Object, as delimited text to w. A missing
// key or nil is an empty cell; strings are written as they are, bools as
// true/false, numbers in their shortest exact form. Fields holding the
// delimiter, a quote, a line break or leading space are quoted. A key that is
// not a column is refused (the data would be lost) unless IgnoreExtra is set,
// and so is an object or list as a cell.
func Write(w io.Writer, rows []any, opts WriteOptions) error {
	if opts.Delimiter == 0 {
		opts.Delimiter = ','
	}
	if opts.Delimiter == '"' || opts.Delimiter == '\r' || opts.Delimiter == '\n' || !utf8.ValidRune(opts.Delimiter) {
		return &Error{Kind: ErrShape, Msg: fmt.Sprintf("%q cannot be the delimiter", opts.Delimiter)}
	}
	header := opts.Header
	if len(header) == 0 {
		if len(rows) == 0 {
			return &Error{Kind: ErrHeader, Msg: "no rows and no header: the columns are unknown"}
		}
		first, ok := rows[0].(*doc.Object)
		if !ok {
			return &Error{Kind: ErrShape, Msg: fmt.Sprintf("row 0 is %s, not an object", kind(rows[0]))}
		}
		header = first.Keys()
	}
	index := make(map[string]int, len(header))
	for i, h := range header {
		if h == "" {
			return &Error{Kind: ErrHeader, Column: i + 1, Msg: "empty header name"}
		}
		if j, dup := index[h]; dup {
			return &Error{Kind: ErrHeader, Column: i + 1, Field: h, Msg: fmt.Sprintf("duplicate header name, also column %d", j+1)}
		}
		index[h] = i
	}
	cw := stdcsv.NewWriter(w)
	cw.Comma = opts.Delimiter
	cw.UseCRLF = opts.CRLF
	if !opts.NoHeaderRow {
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("csv: writing header: %w", err)
		}
	}
	rec := make([]string, len(header))
	for n, r := range rows {
		row, ok := r.(*doc.Object)
		if !ok {
			return &Error{Kind: ErrShape, Msg: fmt.Sprintf("row %d is %s, not an object", n, kind(r))}
		}
		clear(rec)
		for i := 0; i < row.Len(); i++ {
			k, v := row.At(i)
			col, ok := index[k]
			if !ok {
				if opts.IgnoreExtra {
					continue
				}
				return &Error{Kind: ErrShape, Field: k, Msg: fmt.Sprintf("row %d has key %q, which is not a column", n, k)}
			}
			s, err := cell(v)
			if err != nil {
				return &Error{Kind: ErrShape, Column: col + 1, Field: k, Msg: fmt.Sprintf("row %d: %v", n, err)}
			}
			rec[col] = s
		}
		if len(rec) == 1 && rec[0] == "" {
			// encoding/csv writes an empty line, which readers skip:
			// quote the empty field so the row survives.
			cw.Flush()
			eol := "\n"
			if opts.CRLF {
				eol = "\r\n"
			}
			if _, err := io.WriteString(w, `""`+eol); err != nil {
				return fmt.Errorf("csv: writing row %d: %w", n, err)
			}
			continue
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("csv: writing row %d: %w", n, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("csv: writing: %w", err)
	}
	return nil
}

func cell(v any) (string, error) {
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
	}
	return "", fmt.Errorf("%s cannot be a cell", kind(v))
}

func kind(v any) string {
	switch v.(type) {
	case *doc.Object:
		return "an object"
	case []any:
		return "a list"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
