package xml

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds arbitrary bytes to the reader. Whatever it accepts must
// survive a write and a second read unchanged (in expanded-name mode, which
// loses no namespace information); whatever it refuses must be an *Error.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>`,
		`<a xmlns="urn:a" xmlns:b="urn:b" b:c="1"><b:d xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></a>`,
		`<a>x<b/>y<![CDATA[z]]></a>`,
		"<a k='\t\n&#xD;'>\r\n</a>",
		`<a xml:lang="en"><b xmlns="">t</b></a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{Expanded: true, MaxDepth: 64}
		tree, err := Unmarshal(data, opts)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		out, err := Marshal(tree, WriteOptions{Nil: true})
		if err != nil {
			t.Fatalf("cannot write what was read: %v\ntree: %s", err, dump(tree))
		}
		again, err := Unmarshal(out, opts)
		if err != nil {
			t.Fatalf("cannot read what was written: %v\n%s", err, out)
		}
		if dump(tree) != dump(again) {
			t.Fatalf("round trip changed the tree:\n%s\n%s\nwritten: %s", dump(tree), dump(again), out)
		}
	})
}
