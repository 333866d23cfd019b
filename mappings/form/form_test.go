package form

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/carrierhub/hub/mappings/doc"
)

func dump(v any) string {
	var b bytes.Buffer
	if err := appendJSON(&b, v, "", "", 0); err != nil {
		panic(err)
	}
	return b.String()
}

func obj(kv ...any) *doc.Object {
	o := doc.NewObject(len(kv) / 2)
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// TestDelhiveryCreate builds Delhivery's create body (format=json&data=<json>)
// from a subtree and checks it against what a standard form parser and a
// standard JSON parser see.
func TestDelhiveryCreate(t *testing.T) {
	raw, err := os.ReadFile("testdata/delhivery_create_data.json")
	if err != nil {
		t.Fatal(err)
	}
	data, err := ParseJSON(string(raw), "data", 0)
	if err != nil {
		t.Fatal(err)
	}
	body, err := Encode(obj("format", "json", "data", data), EncodeOptions{JSONFields: []string{"data"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(body, "format=json&data=%7B%22shipments%22%3A%5B%7B%22name%22%3A%22Anil+Kumar+Verma%22") {
		t.Errorf("body starts %.120s", body)
	}
	// An independent parser sees the same fields and the same JSON.
	vals, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	if vals.Get("format") != "json" {
		t.Errorf("format = %q", vals.Get("format"))
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(vals.Get("data")), &got); err != nil {
		t.Fatal(err)
	}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) {
		t.Errorf("data differs:\n%s\n%s", gj, wj)
	}
	// Key order is the source's, and '&' in an address cannot split the body.
	if !strings.HasPrefix(vals.Get("data"), `{"shipments":[{"name":"Anil Kumar Verma","add":"House 14, Gomti Nagar Extn, Near Shiv Mandir & Park"`) {
		t.Errorf("data starts %.100s", vals.Get("data"))
	}

	// And back: Decode with the same JSON field gives the same tree.
	back, err := Decode(body, Options{JSONFields: []string{"data"}})
	if err != nil {
		t.Fatal(err)
	}
	if dump(back) != dump(obj("format", "json", "data", data)) {
		t.Errorf("decoded tree differs:\n%s", dump(back))
	}
	sh, _ := back.Get("data")
	shipments, _ := sh.(*doc.Object).Get("shipments")
	first := shipments.([]any)[0].(*doc.Object)
	if v, _ := first.Get("cod_amount"); v != int64(1499) {
		t.Errorf("integer = %#v", v)
	}
	if v, _ := first.Get("shipment_length"); v != 30.5 {
		t.Errorf("float = %#v", v)
	}
}

func TestEncodeScalarsListsAndNil(t *testing.T) {
	body, err := Encode(obj("waybill", []any{"1234", "1235"}, "cod", true, "amount", 12.5, "qty", int64(3), "remarks", "a b&c=d/é", "skip", nil), EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "waybill=1234&waybill=1235&cod=true&amount=12.5&qty=3&remarks=a+b%26c%3Dd%2F%C3%A9"; body != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
	cases := []struct {
		name string
		in   *doc.Object
		opts EncodeOptions
		msg  string
	}{
		{"object without JSON", obj("data", obj("a", "1")), EncodeOptions{}, "field data: an object cannot be a form value; name it in JSONFields"},
		{"list in list", obj("w", []any{[]any{"x"}}), EncodeOptions{}, "field w[0]"},
		{"NaN in JSON", obj("data", obj("a", []any{math.NaN()})), EncodeOptions{JSONFields: []string{"data"}}, "field data.a[0]: number NaN"},
		{"invalid utf-8", obj("k", "\xff"), EncodeOptions{}, "invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Encode(c.in, c.opts)
			if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want one mentioning %q", err, c.msg)
			}
		})
	}
}

func TestJSONNumbersAndStrings(t *testing.T) {
	in := `{"big":12345678901234567890,"neg":-7,"exp":1e300,"tiny":1e-9,"s":"line\nbreak \"q\" \u2028 <tag>","n":null,"b":false,"e":[],"o":{}}`
	v, err := ParseJSON(in, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"big":12345678901234567000,"neg":-7,"exp":1e+300,"tiny":1e-9,"s":"line\nbreak \"q\" \u2028 <tag>","n":null,"b":false,"e":[],"o":{}}`
	if got := dump(v); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDecodeProblems(t *testing.T) {
	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	cases := []struct {
		name, in string
		opts     Options
		kind     error
		msg      string
	}{
		{"bad escape", "a=1&b=%zz", Options{}, ErrSyntax, `field b (byte 7): bad percent escape "%zz"`},
		{"bad key escape", "a%=1", Options{}, ErrSyntax, "byte 1: field name"},
		{"invalid utf-8", "a=%ff", Options{}, ErrEncoding, "field a"},
		{"bad json", "format=json&data=%7B%22a%22%3A", Options{JSONFields: []string{"data"}}, ErrSyntax, "field data.a: JSON ends early"},
		{"json trailing", "data=%7B%7D%7B%7D", Options{JSONFields: []string{"data"}}, ErrSyntax, "after the JSON document"},
		{"json duplicate key", "data=%7B%22a%22%3A1%2C%22a%22%3A2%7D", Options{JSONFields: []string{"data"}}, ErrSyntax, `duplicate key "a"`},
		{"json depth", "data=" + url.QueryEscape(deep), Options{JSONFields: []string{"data"}}, ErrLimit, "deeper than 256"},
		{"huge number", "data=" + url.QueryEscape("[1e999]"), Options{JSONFields: []string{"data"}}, ErrLimit, "field data[0]: number 1e999 is out of range"},
		{"size", strings.Repeat("a=1&", 100), Options{MaxBytes: 100}, ErrLimit, "larger than 100"},
		{"fields", strings.Repeat("a=1&", 100), Options{MaxFields: 10}, ErrLimit, "more than 10 fields"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Decode(c.in, c.opts)
			if err == nil {
				t.Fatalf("accepted: %s", dump(v))
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want %v mentioning %q", err, c.kind, c.msg)
			}
		})
	}
	v, err := Decode("a=1&&a=2&b&c=&=x&d=x+y%20z", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(v); got != `{"a":["1","2"],"b":"","c":"","":"x","d":"x y z"}` {
		t.Errorf("got %s", got)
	}
}
