package csv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

func field(t *testing.T, row any, key string) any {
	t.Helper()
	v, ok := row.(*doc.Object).Get(key)
	if !ok {
		t.Fatalf("no %q in %s", key, dump(row))
	}
	return v
}

func TestReadRateSheet(t *testing.T) {
	f, err := os.Open("testdata/rate_sheet.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := Read(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 12 {
		t.Fatalf("%d rows", len(rows))
	}
	first := rows[0].(*doc.Object)
	if k := first.Keys()[0]; k != "Origin Zone" {
		t.Errorf("BOM not stripped: first header %q", k)
	}
	if got := field(t, rows[1], "Weight From (kg)"); got != "0.501" {
		t.Errorf("values keep their form: %v", got)
	}
	if got := field(t, rows[5], "Remarks"); got != `J&K, NE and Andaman: "special zone" rates` {
		t.Errorf("quoted field: %q", got)
	}
	if got := field(t, rows[10], "Remarks"); got != "Kolkata\nincludes Howrah" {
		t.Errorf("multi-line field: %q", got)
	}
	if got := field(t, rows[0], "Remarks"); got != "" {
		t.Errorf("empty trailing field: %q", got)
	}
}

func TestReadOptions(t *testing.T) {
	rows, err := Read(strings.NewReader("# exported 2026-03-11\npin;city\n411026; Pune \n"), Options{Delimiter: ';', Comment: '#', TrimSpace: true})
	if err != nil {
		t.Fatal(err)
	}
	if dump(rows) != `[{"pin":"411026","city":"Pune"}]` {
		t.Errorf("got %s", dump(rows))
	}
	rows, err = Read(strings.NewReader("110001\tDelhi\n"), Options{Delimiter: '\t', Header: []string{"pin", "city"}})
	if err != nil {
		t.Fatal(err)
	}
	if dump(rows) != `[{"pin":"110001","city":"Delhi"}]` {
		t.Errorf("explicit header: %s", dump(rows))
	}
	rows, err = Read(strings.NewReader("a,b,c\n1\n1,2\n"), Options{PadShortRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if dump(rows) != "[{\"a\":\"1\",\"b\":\"\",\"c\":\"\"},\n{\"a\":\"1\",\"b\":\"2\",\"c\":\"\"}]" {
		t.Errorf("padded: %s", dump(rows))
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct {
		name, in string
		opts     Options
		kind     error
		msg      string
	}{
		{"empty input", "", Options{}, ErrHeader, "no header row"},
		{"empty header", "zone,,rate\n", Options{}, ErrHeader, "line 1: column 2: empty header name"},
		{"blank header", "zone, ,rate\n", Options{}, ErrHeader, "column 2"},
		{"duplicate header", "zone,rate,Zone,rate\n", Options{}, ErrHeader, "line 1: column 4 (rate): duplicate header name, also column 2"},
		{"ragged long", "a,b\n1,2\n1,2\n1,2,3\n", Options{}, ErrRagged, "line 4: 3 fields, the header has 2"},
		{"ragged short", "a,b\n1,2\n\n1\n", Options{}, ErrRagged, "line 4: 1 fields"},
		{"ragged after multi-line field", "a,b\n\"x\ny\",2\n3\n", Options{}, ErrRagged, "line 4"},
		{"bare quote", "a,b\n1,x\"y\n", Options{}, ErrSyntax, "line 2"},
		{"unterminated quote", "a,b\n1,\"xy\n", Options{}, ErrSyntax, "line 2"},
		{"invalid utf-8", "a,b\n1,2\n3,\xff\n", Options{}, ErrEncoding, "line 3: column 2"},
		{"size", "a,b\n" + strings.Repeat("1,2\n", 1000), Options{MaxBytes: 100}, ErrLimit, "larger than 100"},
		{"columns", strings.Repeat("c,", 20) + "c\n", Options{MaxColumns: 10}, ErrLimit, "21 fields"},
		{"bad delimiter", "a\n", Options{Delimiter: '"'}, ErrSyntax, "delimiter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := Read(strings.NewReader(c.in), c.opts)
			if err == nil {
				t.Fatalf("accepted: %s", dump(rows))
			}
			var e *Error
			if !errors.Is(err, c.kind) || !errors.As(err, &e) {
				t.Errorf("error %v is not %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

func TestStreamingReader(t *testing.T) {
	rd, err := NewReader(strings.NewReader("a,b\n1,2\n3,4\n5\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h := rd.Header(); len(h) != 2 || h[1] != "b" {
		t.Fatalf("header %v", h)
	}
	for i := 0; i < 2; i++ {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rd.Next(); !errors.Is(err, ErrRagged) {
		t.Fatalf("third row: %v", err)
	}
	if _, err := rd.Next(); !errors.Is(err, ErrRagged) {
		t.Fatalf("error is sticky: %v", err)
	}
}

func obj(kv ...any) *doc.Object {
	o := doc.NewObject(len(kv) / 2)
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

func TestWrite(t *testing.T) {
	rows := []any{
		obj("awb", "1234", "weight", 1.25, "cod", true, "pieces", int64(2), "note", "fragile, \"glass\""),
		obj("note", " leading space", "awb", "1235", "weight", nil),
		obj("awb", "1236", "note", "two\nlines"),
	}
	out, err := Marshal(rows, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "awb,weight,cod,pieces,note\n1234,1.25,true,2,\"fragile, \"\"glass\"\"\"\n1235,,,,\" leading space\"\n1236,,,,\"two\nlines\"\n"
	if string(out) != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	out, err = Marshal(rows[:1], WriteOptions{Header: []string{"note", "awb"}, Delimiter: ';', CRLF: true, IgnoreExtra: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "note;awb\r\n\"fragile, \"\"glass\"\"\";1234\r\n"; string(out) != want {
		t.Errorf("explicit header: %q", out)
	}
	cases := []struct {
		name string
		rows []any
		opts WriteOptions
		msg  string
	}{
		{"extra key", []any{obj("a", "1"), obj("a", "2", "b", "3")}, WriteOptions{}, `row 1 has key "b"`},
		{"nested", []any{obj("a", obj())}, WriteOptions{}, "column 1 (a): row 0: an object cannot be a cell"},
		{"list", []any{obj("a", []any{})}, WriteOptions{}, "a list cannot be a cell"},
		{"not an object", []any{"x"}, WriteOptions{}, "row 0 is string"},
		{"no columns", nil, WriteOptions{}, "columns are unknown"},
		{"duplicate header", []any{obj("a", "1")}, WriteOptions{Header: []string{"a", "a"}}, "duplicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Marshal(c.rows, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want %q", err, c.msg)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/rate_sheet.csv")
	if err != nil {
		t.Fatal(err)
	}
	first, err := Read(bytes.NewReader(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []WriteOptions{{}, {Delimiter: '\t', CRLF: true}, {Delimiter: ';'}} {
		out, err := Marshal(first, opts)
		if err != nil {
			t.Fatal(err)
		}
		second, err := Read(bytes.NewReader(out), Options{Delimiter: opts.Delimiter})
		if err != nil {
			t.Fatal(err)
		}
		if dump(first) != dump(second) {
			t.Errorf("round trip with %q changed rows:\n%s", opts.Delimiter, out)
		}
	}
}

func rows1000() []byte {
	var b bytes.Buffer
	b.WriteString("awb,order_id,origin_pin,destination_pin,service,weight_kg,declared_value,cod_amount,status,remarks\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "%012d,SO-%06d,411026,%06d,Surface,%d.%03d,%d.00,%d.00,Manifested,\"Handle with care, fragile\"\n",
			329014521622+i, i, 110001+i%900, i%20, i%1000, 500+i, i%3*250)
	}
	return b.Bytes()
}

func BenchmarkRead1000Rows(b *testing.B) {
	data := rows1000()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rows, err := Read(bytes.NewReader(data), Options{})
		if err != nil || len(rows) != 1000 {
			b.Fatal(err, len(rows))
		}
	}
}

func BenchmarkWrite1000Rows(b *testing.B) {
	rows, err := Read(bytes.NewReader(rows1000()), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, rows, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
