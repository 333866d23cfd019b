package fixed

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzRead feeds arbitrary text to the manifest layout. Whatever it accepts
// must be written and read back unchanged; whatever it refuses must be an
// *Error.
func FuzzRead(f *testing.F) {
	data, err := os.ReadFile("testdata/manifest.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("Dअमित 411026\r\nT\n\x1a"))
	f.Add([]byte("H\nD\nT000001-00000000001\n"))
	format := manifestFormat(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := format.Read(bytes.NewReader(data))
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		out, err := format.Marshal(rows)
		if err != nil {
			// Values read from a field always fit it back, but a
			// field may hold text the writer refuses (a \r that
			// only ended a line) or have lost trailing spaces it
			// pads back; nothing else may fail.
			if strings.Contains(err.Error(), "line break") {
				return
			}
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, err := format.Read(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("cannot read what was written: %v\n%q", err, out)
		}
		if dump(rows) != dump(again) {
			t.Fatalf("round trip changed rows:\n%s\n%s", dump(rows), dump(again))
		}
	})
}
