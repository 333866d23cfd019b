package mappings

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
)

// table is a lookup table loaded from a CSV file: a header row, then one row
// per key (the first column).
type table struct {
	name   string
	header []string
	rows   map[string][]string
	// order is the rows in file order and lines their line numbers, for
	// lookup_match, which tries the keys as patterns one after another.
	order [][]string
	lines []int
	// patterns are the keys compiled as regular expressions, the first time a
	// lookup_match names the table (at compile time, so never concurrently).
	patterns []*regexp.Regexp
}

// maxTableBytes bounds a table file.
const maxTableBytes = 8 << 20

func loadTable(fsys fs.FS, name string) (*table, error) {
	if fsys == nil {
		return nil, errors.New("no directory to read tables from")
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	defer f.Close()
	r := csv.NewReader(io.LimitReader(f, maxTableBytes))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading %s: a table starts with a header row: %w", name, err)
	}
	if len(header) < 2 {
		return nil, fmt.Errorf("reading %s: a table has at least two columns (key and value)", name)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	t := &table{name: name, header: header, rows: map[string][]string{}}
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &CompileError{File: name, Pos: csvPos(err), Msg: err.Error()}
		}
		line, _ := r.FieldPos(0)
		for i := range row {
			row[i] = strings.TrimSpace(row[i])
		}
		if _, dup := t.rows[row[0]]; dup {
			return nil, &CompileError{File: name, Pos: Pos{line, 1}, Msg: fmt.Sprintf("key %q appears twice", row[0])}
		}
		t.rows[row[0]] = row
		t.order = append(t.order, row)
		t.lines = append(t.lines, line)
	}
	return t, nil
}

// compilePatterns compiles the table's keys as regular expressions (RE2
// syntax), once; a bad one is a compile error at its line in the table file.
func (t *table) compilePatterns() error {
	if t.patterns != nil {
		return nil
	}
	pats := make([]*regexp.Regexp, len(t.order))
	for i, row := range t.order {
		re, err := regexp.Compile(row[0])
		if err != nil {
			return &CompileError{File: t.name, Pos: Pos{t.lines[i], 1}, Msg: fmt.Sprintf("key %q is not a regular expression: %v", row[0], err)}
		}
		pats[i] = re
	}
	t.patterns = pats
	return nil
}

// matchRow returns the first row, in file order, whose key pattern matches s.
func (t *table) matchRow(s string) ([]string, bool) {
	for i, re := range t.patterns {
		if re.MatchString(s) {
			return t.order[i], true
		}
	}
	return nil, false
}

func csvPos(err error) Pos {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Pos{pe.Line, pe.Column}
	}
	return Pos{1, 1}
}
