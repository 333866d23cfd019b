package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/modelschema"
)

// schemasWith copies the embedded schemas, replacing old with new (once) in
// file.
func schemasWith(t *testing.T, file, old, new string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(modelschema.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(modelschema.FS(), path)
		if err != nil {
			return err
		}
		if path == file {
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("%s does not contain %q", file, old)
			}
			b = bytes.Replace(b, []byte(old), []byte(new), 1)
		}
		m[path] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEmbeddedSchemasCompile(t *testing.T) {
	if _, err := newFromFS(modelschema.FS()); err != nil {
		t.Fatal(err)
	}
}

// TestUnsupportedSchemaFailsLoudly proves that a keyword, format or reference
// the compiler does not implement stops New instead of being ignored.
func TestUnsupportedSchemaFailsLoudly(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"keyword", `"maxLength": 64,`, `"maxLength": 64, "oneOf": [{"type": "string"}],`, `unsupported keyword "oneOf"`},
		{"keyword in a definition", `"additionalProperties": false,`, `"additionalProperties": false, "minProperties": 1,`, `unsupported keyword "minProperties"`},
		{"keyword spelt in another case", `"maxLength": 64,`, `"MaxLength": 64,`, `unsupported keyword "MaxLength"`},
		{"format", `"format": "date"`, `"format": "ipv4"`, `unsupported format "ipv4"`},
		{"remote $ref", `"$ref": "#/$defs/Money"`, `"$ref": "money.json"`, `unsupported $ref "money.json"`},
		{"dangling $ref", `"$ref": "#/$defs/Money"`, `"$ref": "#/$defs/Cash"`, `names no $defs entry`},
		{"draft", `"$schema": "https://json-schema.org/draft/2020-12/schema"`, `"$schema": "http://json-schema.org/draft-07/schema#"`, `$schema must be`},
		{"bad pattern", `"pattern": "^[0-9]{12}$"`, `"pattern": "^[0-9"`, `pattern`},
		{"fractional bound", `"minimum": 0,`, `"minimum": 0.1,`, `no exact binary representation`},
		{"object enum", `"enum": [`, `"enum": [{"a": 1},`, `only null, boolean, number and string`},
		{"unknown type", `"type": "boolean"`, `"type": "bool"`, `unknown type "bool"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newFromFS(schemasWith(t, "shipment_request.json", tc.old, tc.new))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "shipment_request.json") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestAnnotationsAreAccepted: keywords that assert nothing do not stop New.
func TestAnnotationsAreAccepted(t *testing.T) {
	fsys := schemasWith(t, "shipment_request.json", `"maxLength": 64,`, `"maxLength": 64, "title": "Reference", "examples": ["SO-1"], "$comment": "x",`)
	if _, err := newFromFS(fsys); err != nil {
		t.Fatal(err)
	}
}

func TestDuplicateKeysAreRejected(t *testing.T) {
	for _, tc := range []struct {
		name, body, pointer string
	}{
		{"top level", `{"tracking_numbers": ["1"], "tracking_numbers": ["2"]}`, "/tracking_numbers"},
		{"written with an escape", `{"tracking_numbers": ["1"], "tracking_\u006eumbers": ["2"]}`, "/tracking_numbers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := fieldErrors(t, shared.Request(sdk.OpTrack, []byte(tc.body)))
			if fields[0].Pointer != tc.pointer || !strings.Contains(fields[0].Message, "more than once") {
				t.Fatalf("got %+v", fields)
			}
		})
	}
	// In a nested object and in an open map.
	body := strings.Replace(string(fixture(t)), `"city":"Pune",`, `"city":"Pune","city":"Mumbai",`, 1)
	body = strings.Replace(body, `"label_format":"PDF"`, `"label_format":"PDF","options":{"x":"1","x":"2"}`, 1)
	fields := fieldErrors(t, shared.Request(sdk.OpCreateShipment, []byte(body)))
	if len(fields) != 2 || fields[0].Pointer != "/options/x" || fields[1].Pointer != "/ship_from/city" {
		t.Fatalf("got %+v", fields)
	}
}

func TestLengthsCountCharacters(t *testing.T) {
	ok := `{"reference": "` + strings.Repeat("é", 64) + `"}` // 128 bytes, 64 characters
	for _, f := range fieldErrors(t, shared.Request(sdk.OpCreateShipment, []byte(ok))) {
		if f.Pointer == "/reference" {
			t.Fatalf("64 characters refused: %+v", f)
		}
	}
	long := `{"reference": "` + strings.Repeat(`\u00e9`, 65) + `"}`
	found := false
	for _, f := range fieldErrors(t, shared.Request(sdk.OpCreateShipment, []byte(long))) {
		found = found || f.Pointer == "/reference" && f.Message == "must be at most 64 characters long, not 65"
	}
	if !found {
		t.Fatal("65 characters accepted")
	}
}

func TestNumberBeyondFloat64(t *testing.T) {
	fields := fieldErrors(t, shared.Request(sdk.OpCancelEWayBill, []byte(`{"number": "391001234567", "reason_code": -1e999}`)))
	if fields[0].Pointer != "/reason_code" || !strings.Contains(fields[0].Message, "too large") {
		t.Fatalf("got %+v", fields)
	}
}

func TestDeepNestingIsMalformed(t *testing.T) {
	body := `{"colour": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	fields := fieldErrors(t, shared.Request(sdk.OpCreateShipment, []byte(body)))
	if len(fields) != 1 || !strings.Contains(fields[0].Message, "exceeded max depth") {
		t.Fatalf("got %+v", fields)
	}
	// Brackets inside strings do not count.
	body = `{"reference": "` + strings.Repeat("[", 20000) + `"}`
	for _, f := range fieldErrors(t, shared.Request(sdk.OpCreateShipment, []byte(body))) {
		if f.Pointer == "" {
			t.Fatalf("brackets in a string counted: %+v", f)
		}
	}
}

// TestErrorsDoNotAliasTheBody: the walk reads the body without copying it, so
// every string in an error must be a copy; a caller may reuse its buffer.
func TestErrorsDoNotAliasTheBody(t *testing.T) {
	body := []byte(`{"tracking_numbers": [], "abc": 1, "weird": {"x": 1}}`)
	err := shared.Request(sdk.OpTrack, body)
	before := err.Error()
	for i := range body {
		body[i] = 'Z'
	}
	if after := err.Error(); after != before {
		t.Fatalf("error changed with the body: %q, then %q", before, after)
	}
	for _, want := range []string{"/abc: is not a known field", "/weird: is not a known field", "/tracking_numbers: must have at least one item"} {
		if !strings.Contains(before, want) {
			t.Errorf("%q lacks %q", before, want)
		}
	}
}

func TestFormats(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-03-15": true, "2024-02-29": true, "2000-02-29": true, "1900-02-29": false, "2026-02-29": false,
		"2026-13-01": false, "2026-00-10": false, "2026-01-00": false, "2026-1-01": false, "20260315": false, "2026-03-15 ": false,
	} {
		if validDate(s) != want {
			t.Errorf("validDate(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{
		"2026-03-15T10:04:00+05:30": true, "2026-03-15t10:04:00z": true, "2026-03-15T10:04:00.123Z": true,
		"2026-12-31T23:59:60Z": true, "2027-01-01T05:29:60+05:30": true, "2026-12-31T23:58:60Z": false,
		"2026-03-15T10:04:00": false, "2026-03-15T24:00:00Z": false, "2026-03-15T10:04:00.Z": false,
		"2026-03-15T10:04:00+0530": false, "2026-03-15 10:04:00Z": false, "2026-03-15T10:04:00+24:00": false,
	} {
		if validDateTime(s) != want {
			t.Errorf("validDateTime(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{
		"https://example.com/a.pdf": true, "http://[::1]:8080/x": true, "urn:isbn:0451450523": true,
		"/relative": false, "example.com": false, "http://::1/x": false, "http://[fe80::1%25en0]/": false,
	} {
		if validURI(s) != want {
			t.Errorf("validURI(%q) = %v", s, !want)
		}
	}
}

// TestKeywordsTheGeneratorDoesNotEmitYet covers the supported keywords that the
// committed schemas do not use (type arrays, const, exclusive bounds, lengths and
// counts above one, a recursive $ref) and an object with more than 64
// properties, on a hand-written schema.
func TestKeywordsTheGeneratorDoesNotEmitYet(t *testing.T) {
	var props strings.Builder
	for i := range 70 {
		fmt.Fprintf(&props, `"p%02d": {"type": "integer"},`, i)
	}
	schema := `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$defs": {"Tree": {"type": "object", "additionalProperties": false,
			"properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}}}},
		"type": "object",
		"additionalProperties": false,
		"required": ["p69", "kind"],
		"properties": {` + props.String() + `
			"kind": {"const": "box"},
			"note": {"type": ["string", "null"], "minLength": 3},
			"ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
			"tags": {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "string"}},
			"tree": {"$ref": "#/$defs/Tree"}
		}
	}`
	n, err := compileFile(fstest.MapFS{"s.json": {Data: []byte(schema)}}, "s.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body string
		want []string // pointer: message
	}{
		{`{"p69": 1, "kind": "box", "note": null, "ratio": 0.5, "tags": ["a", "b"], "tree": {"children": [{"name": "x", "children": []}]}}`, nil},
		{`{"p69": 1, "kind": "box", "note": "abc"}`, nil},
		{`{"kind": "bag"}`, []string{`/kind: must be "box", not "bag"`, "/p69: is required"}},
		{`{"p69": 1.5, "p00": 2, "p00": 3, "kind": "box"}`, []string{"/p00: appears more than once; give each field once", "/p69: must be integer, not number"}},
		{`{"p69": 1, "kind": "box", "note": 7}`, []string{"/note: must be string or null, not number"}},
		{`{"p69": 1, "kind": "box", "note": "ab"}`, []string{"/note: must be at least 3 characters long, not 2"}},
		{`{"p69": 1, "kind": "box", "ratio": 0}`, []string{"/ratio: must be more than 0, not 0"}},
		{`{"p69": 1, "kind": "box", "ratio": 1}`, []string{"/ratio: must be less than 1, not 1"}},
		{`{"p69": 1, "kind": "box", "tags": ["a"]}`, []string{"/tags: must have at least 2 items, not 1"}},
		{`{"p69": 1, "kind": "box", "tags": ["a", "b", "c", 4]}`, []string{"/tags: must have at most 3 items, not 4", "/tags/3: must be string, not number"}},
		{`{"p69": 1, "kind": "box", "tree": {"children": [{"children": [{"leaf": true}]}]}}`, []string{"/tree/children/0/children/0/leaf: is not a known field"}},
	} {
		var got []string
		if err := check(n, []byte(tc.body), false); err != nil {
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("%s: %v", tc.body, err)
			}
			for _, f := range ve.Fields {
				got = append(got, f.Pointer+": "+f.Message)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.body, got, tc.want)
		}
	}
}
