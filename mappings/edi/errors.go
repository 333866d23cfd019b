package edi

import (
	"errors"
	"fmt"
)

// The kinds of error the readers and writers return. Every *Error wraps one of
// them, so callers classify with errors.Is.
var (
	// ErrSyntax marks malformed input: a bad segment id, a missing envelope
	// header, a segment where the envelope does not allow one.
	ErrSyntax = errors.New("malformed")
	// ErrTruncated marks input that ends inside a segment or an envelope.
	ErrTruncated = errors.New("truncated")
	// ErrControl marks a trailer whose count or control reference does not
	// match its header or the segments it closes.
	ErrControl = errors.New("control mismatch")
	// ErrLimit marks input beyond a configured size, count or depth limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrEncoding marks bytes that are not valid in the declared or assumed
	// character set (UTF-8 unless an EDIFACT UNB says otherwise).
	ErrEncoding = errors.New("invalid encoding")
	// ErrUnwritable marks a tree a writer cannot turn into bytes: a value
	// holding a separator, an unknown key, a missing control number.
	ErrUnwritable = errors.New("not writable")
)

// Error is a classified reader or writer error with the position of the
// offending segment (readers) or the path of the offending value (writers).
type Error struct {
	// Format is "x12" or "edifact".
	Format string
	// Kind is one of the Err* sentinels; errors.Is matches it.
	Kind error
	// Segment is the 1-based position of the offending segment in the input,
	// counting from the first envelope header; 0 when not known.
	Segment int
	// ID is the offending segment's id, when known.
	ID string
	// Offset is the byte offset of the offending segment in the input.
	Offset int
	// Path is the writer's path to the offending value, such as
	// "ISA.GS.ST[1].B10.02"; empty for reader errors.
	Path string
	// Msg says what is wrong, in words.
	Msg string
}

// Error returns the message with its position and kind.
func (e *Error) Error() string {
	switch {
	case e.Path != "":
		return fmt.Sprintf("%s write: %s: %s (%v)", e.Format, e.Path, e.Msg, e.Kind)
	case e.Kind == ErrUnwritable:
		return fmt.Sprintf("%s write: %s (%v)", e.Format, e.Msg, e.Kind)
	case e.Segment > 0 && e.ID != "":
		return fmt.Sprintf("%s: segment %d (%s) at byte %d: %s (%v)", e.Format, e.Segment, e.ID, e.Offset, e.Msg, e.Kind)
	case e.Segment > 0:
		return fmt.Sprintf("%s: segment %d at byte %d: %s (%v)", e.Format, e.Segment, e.Offset, e.Msg, e.Kind)
	default:
		return fmt.Sprintf("%s: byte %d: %s (%v)", e.Format, e.Offset, e.Msg, e.Kind)
	}
}

// Unwrap returns the error's kind.
func (e *Error) Unwrap() error { return e.Kind }
