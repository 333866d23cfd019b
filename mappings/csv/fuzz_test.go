package csv

import (
	"bytes"
	"os"
	"testing"
)

// FuzzRead feeds arbitrary text to the reader. Whatever it accepts must be
// written and read back unchanged; whatever it refuses must be an *Error.
func FuzzRead(f *testing.F) {
	data, err := os.ReadFile("testdata/rate_sheet.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, byte(','))
	f.Add([]byte("a;b\n\"x\r\ny\";2\n"), byte(';'))
	f.Add([]byte("a\tb\n1\t\n"), byte('\t'))
	f.Add([]byte("a,a\n"), byte(','))
	f.Add([]byte("\xef\xbb\xbfa,b\n1,\"2\"\"\"\n"), byte(','))
	f.Fuzz(func(t *testing.T, data []byte, delim byte) {
		opts := Options{Delimiter: rune(delim), MaxColumns: 64}
		rows, err := Read(bytes.NewReader(data), opts)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		out, err := Marshal(rows, WriteOptions{Delimiter: opts.Delimiter})
		if err != nil {
			if len(rows) == 0 {
				return // a header alone has no rows to take the columns from
			}
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, err := Read(bytes.NewReader(out), opts)
		if err != nil {
			t.Fatalf("cannot read what was written: %v\n%q", err, out)
		}
		if dump(rows) != dump(again) {
			t.Fatalf("round trip changed rows:\n%s\n%s\nwritten %q", dump(rows), dump(again), out)
		}
	})
}
