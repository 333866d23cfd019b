package form

import (
	"os"
	"testing"
)

// FuzzDecode feeds arbitrary bodies to Decode with "data" as a JSON field.
// Whatever it accepts must encode and decode back to the same tree; whatever
// it refuses must be an *Error.
func FuzzDecode(f *testing.F) {
	raw, err := os.ReadFile("testdata/delhivery_create_data.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("format=json&data=" + string(raw))
	f.Add("a=1&a=2&b=%20+x&data=%5B1%2C-2.5e10%2Cnull%5D")
	f.Add("data=%7B%22a%22%3A%7B%22b%22%3A%5B%5D%7D%7D&z=%E2%82%AC")
	opts := Options{JSONFields: []string{"data"}, MaxDepth: 64}
	f.Fuzz(func(t *testing.T, body string) {
		tree, err := Decode(body, opts)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		out, err := Encode(tree, EncodeOptions{JSONFields: opts.JSONFields})
		if err != nil {
			t.Fatalf("cannot encode what was decoded: %v\n%s", err, dump(tree))
		}
		again, err := Decode(out, opts)
		if err != nil {
			t.Fatalf("cannot decode what was encoded: %v\n%s", err, out)
		}
		if dump(tree) != dump(again) {
			t.Fatalf("round trip changed the tree:\n%s\n%s", dump(tree), dump(again))
		}
	})
}
