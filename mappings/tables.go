package mappings

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// table is a lookup table loaded from a CSV file: a header row, then one row
// per key (the first column).
type table struct {
	header []string
	rows   map[string][]string
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
	t := &table{header: header, rows: map[string][]string{}}
	for {
		line, _ := r.FieldPos(0)
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &CompileError{File: name, Pos: csvPos(err), Msg: err.Error()}
		}
		line, _ = r.FieldPos(0)
		for i := range row {
			row[i] = strings.TrimSpace(row[i])
		}
		if _, dup := t.rows[row[0]]; dup {
			return nil, &CompileError{File: name, Pos: Pos{line, 1}, Msg: fmt.Sprintf("key %q appears twice", row[0])}
		}
		t.rows[row[0]] = row
	}
	return t, nil
}

func csvPos(err error) Pos {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Pos{pe.Line, pe.Column}
	}
	return Pos{1, 1}
}
