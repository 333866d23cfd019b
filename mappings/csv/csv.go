// Package csv reads delimited text (CSV, TSV, semicolon files from spreadsheet
// exports) into the mapping language's document model by header name, and
// writes lists of objects back as delimited text. It imports nothing of the
// hub's except mappings/doc.
//
// # Tree shape
//
// Read returns a []any with one *doc.Object per data row, keyed by the header
// names in column order. Every value is a string exactly as the file holds it
// (after unquoting): the mapping converts ("number(rate)"), so "000123.50"
// keeps its form. A UTF-8 byte order mark before the header is dropped; header
// names are trimmed of surrounding spaces (and stray byte order marks). Empty
// lines are skipped.
//
// # Problems reported
//
// An empty or duplicate header name, a row with a different number of fields
// than the header (a ragged row), a stray quote, invalid UTF-8 and inputs
// over the size limit are refused with an *Error that names the line (and the
// column where it helps). A file with short rows can be accepted with
// Options.PadShortRows.
package csv

import (
	"errors"
	"fmt"
)

// Classes of error, matched with errors.Is on an *Error.
var (
	// ErrSyntax means the text is not valid delimited text (a stray quote).
	ErrSyntax = errors.New("malformed csv")
	// ErrHeader means the header row is missing, or has an empty or duplicate
	// name.
	ErrHeader = errors.New("invalid header")
	// ErrRagged means a row has a different number of fields than the header.
	ErrRagged = errors.New("ragged row")
	// ErrEncoding means the input is not valid UTF-8.
	ErrEncoding = errors.New("invalid utf-8")
	// ErrLimit means the input exceeds a size or column limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrShape means a value handed to the writer cannot be written as a cell.
	ErrShape = errors.New("value cannot be written as csv")
)

// Error is a classified problem with delimited text. Line is 1-based (0 when
// not tied to a line); Column is the 1-based field number, 0 when the whole
// row is at fault; Field names the column when known.
type Error struct {
	Kind   error
	Line   int
	Column int
	Field  string
	Msg    string
}

// Error formats the problem with its position.
func (e *Error) Error() string {
	s := "csv: "
	if e.Line > 0 {
		s += fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Column > 0 {
		s += fmt.Sprintf("column %d", e.Column)
		if e.Field != "" {
			s += fmt.Sprintf(" (%s)", e.Field)
		}
		s += ": "
	} else if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Msg
}

// Unwrap returns the error's class.
func (e *Error) Unwrap() error { return e.Kind }
