package fixed

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// Field is one column range of a record.
type Field struct {
	// Name is the key of the field's value in the row object.
	Name string `json:"name"`
	// Start is the first column, counted from 1.
	Start int `json:"start"`
	// End is the last column, inclusive. Give End or Width, not both.
	End int `json:"end,omitempty"`
	// Width is the number of columns.
	Width int `json:"width,omitempty"`
	// Trim is what the reader strips: "right" (trailing spaces, the
	// default), "left", "both" or "none".
	Trim string `json:"trim,omitempty"`
	// Align is how the writer places a shorter value: "left" (the default)
	// or "right".
	Align string `json:"align,omitempty"`
	// Pad is the one character the writer fills with (default space). With
	// "0" and right alignment, a leading sign stays in front: -42 in width 5
	// is "-0042". An empty value is written as spaces whatever the pad: the
	// writer does not invent a zero.
	Pad string `json:"pad,omitempty"`
	// Truncate lets the writer cut a longer value to the width instead of
	// refusing it.
	Truncate bool `json:"truncate,omitempty"`
}

// Record is one kind of line.
type Record struct {
	// Name identifies the record in "#record" and in errors ("header",
	// "detail", "trailer").
	Name string `json:"name"`
	// Type is the discriminator value in the layout's type columns. It is
	// required when the layout has more than one record.
	Type string `json:"type,omitempty"`
	// Fields are the record's column ranges. They may leave gaps but not
	// overlap.
	Fields []Field `json:"fields"`
}

// Layout describes a fixed-width file.
type Layout struct {
	// TypeStart and TypeEnd are the discriminator columns (1-based,
	// inclusive) for files with several record kinds.
	TypeStart int `json:"type_start,omitempty"`
	TypeEnd   int `json:"type_end,omitempty"`
	// Records are the record kinds, at least one.
	Records []Record `json:"records"`
	// SkipUnknown skips lines whose discriminator matches no record instead
	// of refusing the file.
	SkipUnknown bool `json:"skip_unknown,omitempty"`
	// ExactLength refuses lines shorter or longer than their record. By
	// default a short line reads as if padded with spaces (editors and
	// transfers often strip trailing blanks) and extra characters are
	// ignored.
	ExactLength bool `json:"exact_length,omitempty"`
	// AllowTruncate lets the writer cut every over-long value.
	AllowTruncate bool `json:"allow_truncate,omitempty"`
	// CRLF ends written lines with \r\n.
	CRLF bool `json:"crlf,omitempty"`
	// MaxBytes bounds the input size (default 256 MiB).
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// MaxLineLength bounds one line in bytes (default 64 KiB).
	MaxLineLength int `json:"max_line_length,omitempty"`
}

type field struct {
	name       string
	start, end int // 0-based, end exclusive
	trim       byte
	right      bool
	pad        rune
	truncate   bool
}

type record struct {
	name   string
	typ    string
	fields []field
	length int
}

// Format is a compiled Layout, immutable and safe for concurrent use.
type Format struct {
	layout    Layout
	typeStart int // 0-based
	typeEnd   int // exclusive
	records   []record
	byType    map[string]int
	byName    map[string]int
}

// Compile checks l and returns its Format.
func Compile(l Layout) (*Format, error) {
	bad := func(rec, fld, format string, args ...any) error {
		return &Error{Kind: ErrLayout, Record: rec, Field: fld, Msg: fmt.Sprintf(format, args...)}
	}
	if len(l.Records) == 0 {
		return nil, bad("", "", "no records")
	}
	f := &Format{layout: l, byType: map[string]int{}, byName: map[string]int{}}
	if f.layout.MaxBytes <= 0 {
		f.layout.MaxBytes = 256 << 20
	}
	if f.layout.MaxLineLength <= 0 {
		f.layout.MaxLineLength = 64 << 10
	}
	hasType := l.TypeStart != 0 || l.TypeEnd != 0
	if hasType {
		if l.TypeStart < 1 || l.TypeEnd < l.TypeStart {
			return nil, bad("", "", "type columns %d-%d are not a range", l.TypeStart, l.TypeEnd)
		}
		f.typeStart, f.typeEnd = l.TypeStart-1, l.TypeEnd
	} else if len(l.Records) > 1 {
		return nil, bad("", "", "%d records but no type columns to tell them apart", len(l.Records))
	}
	for ri, r := range l.Records {
		if r.Name == "" {
			return nil, bad(fmt.Sprintf("#%d", ri+1), "", "record has no name")
		}
		if _, dup := f.byName[r.Name]; dup {
			return nil, bad(r.Name, "", "two records share this name")
		}
		f.byName[r.Name] = ri
		rec := record{name: r.Name, typ: r.Type}
		if hasType {
			if r.Type == "" {
				return nil, bad(r.Name, "", "record has no type code")
			}
			if n := utf8.RuneCountInString(r.Type); n != f.typeEnd-f.typeStart {
				return nil, bad(r.Name, "", "type %q is %d characters, the type columns are %d", r.Type, n, f.typeEnd-f.typeStart)
			}
			if other, dup := f.byType[r.Type]; dup {
				return nil, bad(r.Name, "", "type %q is also record %s", r.Type, l.Records[other].Name)
			}
			f.byType[r.Type] = ri
			rec.length = f.typeEnd
		}
		if len(r.Fields) == 0 {
			return nil, bad(r.Name, "", "record has no fields")
		}
		names := map[string]bool{}
		for _, fd := range r.Fields {
			if fd.Name == "" || fd.Name == "#record" {
				return nil, bad(r.Name, fd.Name, "field needs a name other than #record")
			}
			if names[fd.Name] {
				return nil, bad(r.Name, fd.Name, "two fields share this name")
			}
			names[fd.Name] = true
			if fd.Start < 1 {
				return nil, bad(r.Name, fd.Name, "start %d is before column 1", fd.Start)
			}
			end := fd.End
			switch {
			case fd.End != 0 && fd.Width != 0:
				return nil, bad(r.Name, fd.Name, "give end or width, not both")
			case fd.Width > 0:
				end = fd.Start + fd.Width - 1
			case fd.End == 0:
				return nil, bad(r.Name, fd.Name, "needs an end or a width")
			}
			if end < fd.Start {
				return nil, bad(r.Name, fd.Name, "end %d is before start %d", end, fd.Start)
			}
			c := field{name: fd.Name, start: fd.Start - 1, end: end, truncate: fd.Truncate || l.AllowTruncate, pad: ' '}
			switch fd.Trim {
			case "", "right":
				c.trim = 'r'
			case "left":
				c.trim = 'l'
			case "both":
				c.trim = 'b'
			case "none":
				c.trim = 'n'
			default:
				return nil, bad(r.Name, fd.Name, "trim %q is not right, left, both or none", fd.Trim)
			}
			switch fd.Align {
			case "", "left":
			case "right":
				c.right = true
			default:
				return nil, bad(r.Name, fd.Name, "align %q is not left or right", fd.Align)
			}
			if fd.Pad != "" {
				p, n := utf8.DecodeRuneInString(fd.Pad)
				if n != len(fd.Pad) || p == utf8.RuneError || p == '\n' || p == '\r' {
					return nil, bad(r.Name, fd.Name, "pad %q is not one character", fd.Pad)
				}
				c.pad = p
			}
			if hasType && c.start < f.typeEnd && f.typeStart < c.end && !(c.start == f.typeStart && c.end == f.typeEnd) {
				return nil, bad(r.Name, fd.Name, "columns %d-%d overlap the type columns without matching them", fd.Start, end)
			}
			rec.fields = append(rec.fields, c)
			rec.length = max(rec.length, end)
		}
		sorted := append([]field(nil), rec.fields...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].start < sorted[j].start })
		for i := 1; i < len(sorted); i++ {
			if sorted[i].start < sorted[i-1].end {
				return nil, bad(r.Name, sorted[i].name, "columns %d-%d overlap field %s (%d-%d)",
					sorted[i].start+1, sorted[i].end, sorted[i-1].name, sorted[i-1].start+1, sorted[i-1].end)
			}
		}
		f.records = append(f.records, rec)
	}
	return f, nil
}

// MustCompile is Compile for layouts fixed in code; it panics on an error.
func MustCompile(l Layout) *Format {
	f, err := Compile(l)
	if err != nil {
		panic(err)
	}
	return f
}
