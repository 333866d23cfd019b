package mappings

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"unicode/utf8"
)

// FuzzCompile feeds arbitrary mapping sources to the compiler: it must return a
// program or a CompileError naming a position, never panic.
func FuzzCompile(f *testing.F) {
	if src, err := os.ReadFile("../connectors/fedex/mappings/track.mapping"); err == nil {
		f.Add(string(src))
	}
	for _, s := range []string{
		hdr + `{a: input.a.map(x -> x.b ?? 1), b?: if input.c then "y" else null}`,
		hdr + `match input.code { "DL" => 1, _ => fail("no") }`,
		hdr + `input.d.to_time("dd/MM/yyyy", "Asia/Kolkata").format_time("yyyy")`,
		hdr + `{let x = lookup("status", input.c, "sub_status"), y!: x}`,
		hdr + `input["a b"][0][-1].c.convert("lb", "kg").round(2)`,
		"from json\ndirection request\n[1, 'two', -3.5e2, true, null]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile("f.mapping", []byte(src), Options{FS: testFS})
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a CompileError", err, err)
			}
			if ce.Pos.Line < 1 || ce.Pos.Col < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		// A compiled program runs on a small document without panicking.
		out, err := p.ApplyJSON(nil, []byte(`{"a":[{"b":1},{"b":"x"}],"c":"DL","d":"01/02/2026"}`))
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
	})
}

// FuzzApplyJSON feeds arbitrary input to the FedEx showcase mapping: invalid
// input must be refused with an InputError, valid input must map or fail with a
// RuntimeError, and any output must be valid JSON.
func FuzzApplyJSON(f *testing.F) {
	p, err := CompileFile("../connectors/fedex/mappings/track.mapping", Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"track.delivered.in.json", "track.notfound.in.json"} {
		if b, err := os.ReadFile("../connectors/fedex/mappings/" + name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{}`, `[]`, `null`, `{"output":{"completeTrackResults":{}}}`,
		`{"output":{"completeTrackResults":[{"trackResults":[{"trackingNumberInfo":{"trackingNumber":1e999},"scanEvents":[{"date":"x"}]}]}]}}`,
		`{"output":{"completeTrackResults":[{"trackResults":[{"trackingNumberInfo":{"trackingNumber":"\u0000\ud800"}}]}]}}`,
		"{\"a\":\"\xff\"}", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := p.ApplyJSON(nil, in)
		if err != nil {
			var ie *InputError
			var re *RuntimeError
			if !errors.As(err, &ie) && !errors.As(err, &re) {
				t.Fatalf("error %v (%T) is neither an InputError nor a RuntimeError", err, err)
			}
			if ie != nil && json.Valid(in) && utf8.Valid(in) && len(in) < DefaultLimits.MaxInputBytes {
				var v any
				if json.Unmarshal(in, &v) == nil && !deeperThan(in, DefaultLimits.MaxDepth) {
					t.Fatalf("valid input refused: %v", err)
				}
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q for %q", out, in)
		}
	})
}

func deeperThan(b []byte, n int) bool {
	d, _ := jsonDepth(b)
	return d > n
}
