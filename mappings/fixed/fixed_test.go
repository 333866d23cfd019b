package fixed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/carrierhub/hub/mappings/doc"
)

func dump(v any) string {
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, item := range list {
			parts[i] = dump(item)
		}
		return "[" + strings.Join(parts, ",\n") + "]"
	}
	j, _ := json.Marshal(v)
	return string(j)
}

func manifestFormat(t testing.TB) *Format {
	t.Helper()
	data, err := os.ReadFile("testdata/manifest_layout.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Layout
	if err := dec.Decode(&l); err != nil {
		t.Fatal(err)
	}
	f, err := Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func obj(kv ...any) *doc.Object {
	o := doc.NewObject(len(kv) / 2)
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

func TestReadManifest(t *testing.T) {
	f := manifestFormat(t)
	data, err := os.ReadFile("testdata/manifest.txt")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"#record":"header","record_type":"H","shipper_code":"SHP00417","manifest_date":"20260311","manifest_no":"000042","carrier":"DELHIVERY SURFACE"},
{"#record":"detail","awb":"329014521622","consignee":"Shree Ganesh Traders","city":"Pune","pin":"411026","weight_g":"0012500","cod_paise":"0000000000","payment":"PREPAID"},
{"#record":"detail","awb":"329014521623","consignee":"Anil Kumar Verma","city":"Lucknow","pin":"226010","weight_g":"0000850","cod_paise":"0000149900","payment":"COD"},
{"#record":"detail","awb":"329014521624","consignee":"Priya Raghavan","city":"Chennai","pin":"600042","weight_g":"0002300","cod_paise":"0000000000","payment":"PREPAID"},
{"#record":"detail","awb":"329014521625","consignee":"Müller Engineering Pvt Ltd","city":"Bengaluru","pin":"560100","weight_g":"0041000","cod_paise":"0000000000","payment":"PREPAID"},
{"#record":"detail","awb":"329014521626","consignee":"Sunita Devi","city":"Patna","pin":"800001","weight_g":"0000500","cod_paise":"0000064950","payment":"COD"},
{"#record":"trailer","detail_count":"000005","total_cod_paise":"000000214850"}]`
	if got := dump(rows); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	f := manifestFormat(t)
	data, err := os.ReadFile("testdata/manifest.txt")
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture ends lines with CRLF; the format writes LF.
	if want := strings.ReplaceAll(string(data), "\r\n", "\n"); string(out) != want {
		t.Errorf("rewritten file differs:\n%s\nwant\n%s", out, want)
	}
	second, err := f.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if dump(first) != dump(second) {
		t.Error("round trip changed rows")
	}
}

func TestWritePadsAndRefuses(t *testing.T) {
	f := MustCompile(Layout{Records: []Record{{Name: "payment", Fields: []Field{
		{Name: "account", Start: 1, Width: 10},
		{Name: "amount", Start: 12, Width: 8, Align: "right", Pad: "0"},
		{Name: "name", Start: 20, Width: 6, Truncate: true},
	}}}})
	out, err := f.Marshal([]any{
		obj("account", "0012345678", "amount", int64(-4250), "name", "Ramesh Chandra"),
		obj("amount", 99.5, "account", "9"),
		obj("#record", "payment", "name", nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "0012345678 -0004250Ramesh\n" +
		"9          000099.5      \n" +
		"                         \n"
	if string(out) != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	cases := []struct {
		name string
		row  any
		kind error
		msg  string
	}{
		{"too wide", obj("account", "12345678901"), ErrWidth, "line 1: record payment: field account: value of 11 characters does not fit width 10"},
		{"unknown key", obj("iban", "x"), ErrShape, "field iban: not a field"},
		{"nested", obj("name", obj()), ErrShape, "an object cannot be a field value"},
		{"line break", obj("name", "a\nb"), ErrShape, "line break"},
		{"unknown record", obj("#record", "trailer"), ErrUnknownRecord, "names no record"},
		{"not an object", "x", ErrShape, "not an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.Marshal([]any{c.row})
			if !errors.Is(err, c.kind) || !strings.Contains(fmt.Sprint(err), c.msg) {
				t.Errorf("error %v, want %v mentioning %q", err, c.kind, c.msg)
			}
		})
	}
	lenient := MustCompile(Layout{AllowTruncate: true, Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1, Width: 3}}}}})
	if out, err := lenient.Marshal([]any{obj("a", "abcdef")}); err != nil || string(out) != "abc\n" {
		t.Errorf("layout-wide truncation: %q %v", out, err)
	}
}

func TestReadProblems(t *testing.T) {
	f := manifestFormat(t)
	cases := []struct {
		name string
		in   string
		f    *Format
		kind error
		msg  string
	}{
		{"unknown type", "HSHP0041720260311000042DELHIVERY\nX oops\n", f, ErrUnknownRecord, `line 2: type "X" in columns 1-1 matches no record`},
		{"invalid utf-8", "HSHP00417\nD3290\xff\n", f, ErrEncoding, "line 2: invalid UTF-8 at column 6"},
		{"exact length", "abc\nab\n", MustCompile(Layout{ExactLength: true, Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1, End: 3}}}}}), ErrLength, "line 2: record r: line has 2 characters, the record has 3"},
		{"long line", strings.Repeat("x", 300), MustCompile(Layout{MaxLineLength: 100, Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1, End: 3}}}}}), ErrLimit, "line 1: line is longer than 100"},
		{"size", strings.Repeat("abc\n", 100), MustCompile(Layout{MaxBytes: 50, Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1, End: 3}}}}}), ErrLimit, "larger than 50"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := c.f.Read(strings.NewReader(c.in))
			if err == nil {
				t.Fatalf("accepted: %s", dump(rows))
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want %v mentioning %q", err, c.kind, c.msg)
			}
		})
	}
	// Short lines read as padded, unknown records can be skipped, and
	// character columns count runes, not bytes.
	g := MustCompile(Layout{TypeStart: 1, TypeEnd: 1, SkipUnknown: true, Records: []Record{
		{Name: "d", Type: "D", Fields: []Field{{Name: "name", Start: 2, Width: 5}, {Name: "pin", Start: 7, Width: 6, Trim: "both"}}},
	}})
	rows, err := g.Read(strings.NewReader("Dअमित 411026\nZignored\n\nDRam\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(rows); got != "[{\"name\":\"अमित\",\"pin\":\"411026\"},\n{\"name\":\"Ram\",\"pin\":\"\"}]" {
		t.Errorf("got %s", got)
	}
}

func TestCompileRefusesBadLayouts(t *testing.T) {
	fld := func(name string, start, end int) Field { return Field{Name: name, Start: start, End: end} }
	cases := []struct {
		name string
		l    Layout
		msg  string
	}{
		{"no records", Layout{}, "no records"},
		{"no discriminator", Layout{Records: []Record{{Name: "a", Fields: []Field{fld("x", 1, 2)}}, {Name: "b", Fields: []Field{fld("x", 1, 2)}}}}, "no type columns"},
		{"overlap", Layout{Records: []Record{{Name: "r", Fields: []Field{fld("a", 1, 5), fld("b", 5, 8)}}}}, "record r: field b: columns 5-8 overlap field a (1-5)"},
		{"end and width", Layout{Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1, End: 3, Width: 3}}}}}, "not both"},
		{"no end", Layout{Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1}}}}}, "needs an end or a width"},
		{"end before start", Layout{Records: []Record{{Name: "r", Fields: []Field{fld("a", 5, 3)}}}}, "before start"},
		{"column zero", Layout{Records: []Record{{Name: "r", Fields: []Field{fld("a", 0, 3)}}}}, "before column 1"},
		{"duplicate field", Layout{Records: []Record{{Name: "r", Fields: []Field{fld("a", 1, 2), fld("a", 3, 4)}}}}, "two fields share"},
		{"duplicate type", Layout{TypeStart: 1, TypeEnd: 1, Records: []Record{{Name: "a", Type: "D", Fields: []Field{fld("x", 2, 3)}}, {Name: "b", Type: "D", Fields: []Field{fld("x", 2, 3)}}}}, `type "D" is also record a`},
		{"type width", Layout{TypeStart: 1, TypeEnd: 2, Records: []Record{{Name: "a", Type: "D", Fields: []Field{fld("x", 3, 4)}}}}, "the type columns are 2"},
		{"type overlap", Layout{TypeStart: 1, TypeEnd: 2, Records: []Record{{Name: "a", Type: "DD", Fields: []Field{fld("x", 2, 4)}}}}, "overlap the type columns"},
		{"bad trim", Layout{Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1, End: 2, Trim: "middle"}}}}}, "trim"},
		{"bad pad", Layout{Records: []Record{{Name: "r", Fields: []Field{{Name: "a", Start: 1, End: 2, Pad: "ab"}}}}}, "pad"},
		{"reserved name", Layout{Records: []Record{{Name: "r", Fields: []Field{fld("#record", 1, 2)}}}}, "#record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.l)
			if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want one mentioning %q", err, c.msg)
			}
		})
	}
}
