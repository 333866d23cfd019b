// Package form reads and writes application/x-www-form-urlencoded bodies for
// the mapping language, including the pattern where one field carries a JSON
// document, as Delhivery's create API takes format=json&data=<json>. It
// imports nothing of the hub's except mappings/doc.
//
// # Tree shape
//
// Decode returns a *doc.Object keyed by field name in the order the fields
// appear. Values are strings (percent-decoded, '+' as space); a field that
// repeats becomes a []any through doc.Object.Append. A field named in
// Options.JSONFields is parsed as JSON into the document model instead:
// objects as *doc.Object in source order, arrays as []any, integers that fit
// as int64, other numbers as float64, and strings, bools and null as
// themselves.
//
// Encode takes the same shape back: scalars are written as text, a list
// repeats its field, and a field named in EncodeOptions.JSONFields is
// serialised from its subtree as compact JSON and then percent-encoded, so
//
//	{"format": "json", "data": {"shipments": [...], "pickup_location": {...}}}
//
// with JSONFields ["data"] becomes format=json&data=%7B%22shipments%22%3A...
// Field order is kept, which some providers' parsers depend on.
package form

import (
	"errors"
	"fmt"
)

// Classes of error, matched with errors.Is on an *Error.
var (
	// ErrSyntax means the body is not valid form encoding (a bad percent
	// escape) or a JSON field does not hold valid JSON.
	ErrSyntax = errors.New("malformed form body")
	// ErrEncoding means a decoded value is not valid UTF-8.
	ErrEncoding = errors.New("invalid utf-8")
	// ErrLimit means the body exceeds a size, field-count or nesting limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrShape means a value handed to Encode cannot be form-encoded.
	ErrShape = errors.New("value cannot be form-encoded")
)

// Error is a classified problem with a form body or tree. Field names the
// field at fault, Offset the byte offset in the body (0 when not known), Path
// the position inside a JSON field.
type Error struct {
	Kind   error
	Field  string
	Offset int
	Path   string
	Msg    string
}

// Error formats the problem with its position.
func (e *Error) Error() string {
	s := "form: "
	if e.Field != "" {
		s += "field " + e.Field
		if e.Path != "" {
			s += e.Path
		}
		if e.Offset > 0 {
			s += fmt.Sprintf(" (byte %d)", e.Offset)
		}
		s += ": "
	} else if e.Offset > 0 {
		s += fmt.Sprintf("byte %d: ", e.Offset)
	}
	return s + e.Msg
}

// Unwrap returns the error's class.
func (e *Error) Unwrap() error { return e.Kind }
