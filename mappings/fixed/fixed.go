// Package fixed reads and writes fixed-width text files (bank payment files,
// carrier manifests, mainframe extracts) for the mapping language, by column
// ranges declared in a Layout. It imports nothing of the hub's except
// mappings/doc.
//
// # Layout
//
// Columns are counted in characters from 1, and ranges are inclusive, the
// way file specifications print them ("positions 2-13: AWB number"). A field
// gives Start and either End or Width. A file with several kinds of record
// (header, detail, trailer) names the discriminator columns in the Layout
// (TypeStart, TypeEnd) and gives each Record the Type code found there.
// Compile checks the layout once (overlaps, missing ends, duplicate names or
// types) and returns a Format that is safe for concurrent use.
//
// # Tree shape
//
// Read returns a []any with one *doc.Object per line, keyed by field name in
// layout order. Values are strings, trimmed as the field says (trailing spaces
// by default), and otherwise as written: "0001250" stays "0001250" for the
// mapping to convert. With more than one record kind, each object starts with
// "#record": the record's Name. Write takes the same shape back, pads every
// value to its width (left-aligned with spaces unless the field says
// otherwise), writes the record's Type into the discriminator columns, and
// refuses a value longer than its field unless truncation is allowed.
// Empty lines are skipped.
//
// # Errors
//
// Every problem is an *Error naming the line, the record and the field.
package fixed

import (
	"errors"
	"fmt"
)

// Classes of error, matched with errors.Is on an *Error.
var (
	// ErrLayout means the layout itself is inconsistent.
	ErrLayout = errors.New("invalid layout")
	// ErrUnknownRecord means a line's discriminator matches no record.
	ErrUnknownRecord = errors.New("unknown record type")
	// ErrLength means a line is shorter or longer than its record while the
	// layout asks for exact lengths.
	ErrLength = errors.New("wrong line length")
	// ErrWidth means a value is longer than its field and truncation is not
	// allowed.
	ErrWidth = errors.New("value wider than its field")
	// ErrEncoding means the input is not valid UTF-8.
	ErrEncoding = errors.New("invalid utf-8")
	// ErrLimit means the input exceeds a size or line-length limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrShape means a value handed to the writer cannot be written.
	ErrShape = errors.New("value cannot be written as fixed-width")
)

// Error is a classified problem with a fixed-width file, layout or tree.
// Line is 1-based (for the writer, the output line), 0 when not tied to one.
type Error struct {
	Kind   error
	Line   int
	Record string
	Field  string
	Msg    string
}

// Error formats the problem with its position.
func (e *Error) Error() string {
	s := "fixed: "
	if e.Line > 0 {
		s += fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Record != "" {
		s += "record " + e.Record + ": "
	}
	if e.Field != "" {
		s += "field " + e.Field + ": "
	}
	return s + e.Msg
}

// Unwrap returns the error's class.
func (e *Error) Unwrap() error { return e.Kind }
