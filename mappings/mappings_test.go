package mappings

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/carrierhub/hub/mappings/doc"
)

var testFS = fstest.MapFS{
	"status.csv": {Data: []byte("code,status,sub_status\nDL,delivered,delivered_to_consignee\nIT,in_transit,\n")},
	"dup.csv":    {Data: []byte("code,status\nDL,a\nIT,b\nDL,c\n")},
	"text.csv":   {Data: []byte("pattern,status\n(?i)^UD/.*out for delivery,out_for_delivery\n(?i)^UD/.*refus,attempt_failed\n^UD/,in_transit\n")},
	"badre.csv":  {Data: []byte("pattern,status\nok,a\n(unclosed,b\n")},
}

func compile(t *testing.T, src string) *Program {
	t.Helper()
	p, err := Compile("t.mapping", []byte(src), Options{FS: testFS})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func apply(t *testing.T, p *Program, in string) string {
	t.Helper()
	out, err := p.ApplyJSON(nil, []byte(in))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !json.Valid(out) {
		t.Fatalf("output is not JSON: %s", out)
	}
	return string(out)
}

const hdr = "from json\ndirection response\ntable status = \"status.csv\"\n"

func TestFeatures(t *testing.T) {
	in := `{"a":{"b":"x","n":"12.5","w":2,"list":[3,1,2],"empty":""},
	"items":[{"k":"p","v":1},{"k":"q","v":2},{"k":"p","v":3}],
	"nested":[[1,2],[3],4],"date":"25/11/2026","dt":"2026-11-25T10:30:00Z",
	"gstin":"27AAPFU0939F1ZV","bad_gstin":"27AAPFU0939F1ZA","pin":"560001","code":"DL","esc":"a\"b\u00e9",
	"big":123456789012345678901234567890,"u1":"LB","u2":"cm","u3":"stone",
	"byawb":{"A1":{"status":"delivered"},"A2":{"status":"in_transit"}}}`
	cases := []struct{ expr, want string }{
		{`input.a.b`, `"x"`},
		{`input.a.missing ?? "dflt"`, `"dflt"`},
		{`input.a["b"]`, `"x"`},
		{`input.a.list[-1]`, `2`},
		{`input.a.list[1]`, `1`},
		{`if input.a.w > 1 then "big" else "small"`, `"big"`},
		{`match input.code { "DL" => 1, "IT" | "IX" => 2, _ => 3 }`, `1`},
		{`match { input.a.w == 3 => "three", input.a.w == 2 => "two", _ => "other" }`, `"two"`},
		{`input.items.map(i -> i.v * 10)`, `[10,20,30]`},
		{`input.items.filter(i -> i.k == "p").map(i -> i.v)`, `[1,3]`},
		{`input.items.find(i -> i.v > 1).k`, `"q"`},
		{`input.nested.flatten()`, `[1,2,3,4]`},
		{`input.a.list.sort()`, `[1,2,3]`},
		{`input.items.sort_by(i -> 0 - i.v).map(i -> i.v)`, `[3,2,1]`},
		{`input.items.group_by(i -> i.k).map(g -> {key: g.key, n: g.items.length()})`, `[{"key":"p","n":2},{"key":"q","n":1}]`},
		{`input.items.first().v + input.items.last().v`, `4`},
		{`input.items.map(i -> i.k).join("-")`, `"p-q-p"`},
		{`input.a.list.sum()`, `6`},
		{`input.items.any(i -> i.v == 3)`, `true`},
		{`"  New DELHI ".trim().title()`, `"New Delhi"`},
		{`input.a.b.upper() + "-" + input.pin.substr(0, 3)`, `"X-560"`},
		{`"7".pad_left(4, "0")`, `"0007"`},
		{`"+91 98765-43210".digits()`, `"919876543210"`},
		{`"a,b".split(",")`, `["a","b"]`},
		{`input.a.n.number().convert("lb", "kg").round(2)`, `5.67`},
		{`(12345).convert("paise", "rupees")`, `123.45`},
		{`(10).convert("in", "cm")`, `25.4`},
		{`input.date.to_time("dd/MM/yyyy", "Asia/Kolkata")`, `"2026-11-25T00:00:00+05:30"`},
		{`input.dt.format_time("dd/MM/yyyy HH:mm", "Asia/Kolkata")`, `"25/11/2026 16:00"`},
		{`input.date.try_time("dd/MM/yyyy", "Asia/Kolkata")`, `"2026-11-25T00:00:00+05:30"`},
		{`input.byawb.entries().map(e -> e.key + ":" + e.value.status)`, `["A1:delivered","A2:in_transit"]`},
		{`["{\"a\": {\"b\": 2}}".parse_json().a.b, "<V><rc_regn_no>MH12AB1234</rc_regn_no></V>".parse_xml().V.rc_regn_no]`, `[2,"MH12AB1234"]`},
		{"let xs = input.a.list\n[xs.length(), 1]", `[3,1]`},
		{`["2026-11-25T00:00:00+05:30".to_unix("ms"), "2026-11-25T00:00:00Z".to_unix(), input.date.to_time("dd/MM/yyyy", "Asia/Kolkata").to_unix()]`, `[1795545000000,1795564800,1795545000]`},
		{`[input.a.list.entries().map(e -> e.key * 10 + e.value), [].entries()]`, `[[3,11,22],[]]`},
		{`[1764000000.from_unix(), "1764000000123".from_unix("ms", "Asia/Kolkata"), 1764000000.5.from_unix("s", "Asia/Kolkata")]`,
			`["2025-11-24T16:00:00Z","2025-11-24T21:30:00.123+05:30","2025-11-24T21:30:00.5+05:30"]`},
		{`[exists("31/02/2026x".try_time("dd/MM/yyyy", "Asia/Kolkata")), "garbage".try_time() ?? "none"]`, `[false,"none"]`},
		{`[is_gstin(input.gstin), is_gstin(input.bad_gstin), is_pin(input.pin), is_pin("012345")]`, `[true,false,true,false]`},
		{`[is_vehicle_reg("MH 12 AB 1234"), is_vehicle_reg("22BH1234AA"), is_vehicle_reg("XYZ")]`, `[true,true,false]`},
		{`[is_hsn("8471"), is_hsn("847")]`, `[true,false]`},
		{`lookup("status", input.code)`, `"delivered"`},
		{`lookup("status", input.code, "sub_status")`, `"delivered_to_consignee"`},
		{`lookup("status", "ZZ") ?? "unknown"`, `"unknown"`},
		{`input.esc`, `"a\"b\u00e9"`},
		{`input.big`, `123456789012345678901234567890`},
		{`{a?: input.a.empty, b?: input.nope, c: input.nope, d: null, e: input.a.w}`, `{"d":null,"e":2}`},
		{`{let x = input.a.w * 2, y: x + 1}`, `{"y":5}`},
		{`input.a.w.string() + "kg"`, `"2kg"`},
		{`exists(input.a.empty) && !exists(input.nope)`, `true`},
		{`[(2).convert(input.u1, "g"), (3).convert("ft", input.u2)]`, `[907.18474,91.44]`},
		{`[nonblank(input.nope, "  ", null, " Dock 3 ", "x"), nonblank(input.nope, "") ?? "none", nonblank(0, "a")]`, `["Dock 3","none",0]`},
		{`["Plot 7, Udyog Vihar Phase IV, Sector 18 Gurugram".wrap(20), "ABCDEFGHIJKLMNOPQRSTUVWXY".wrap(10), "".wrap(5)]`, `[["Plot 7, Udyog Vihar","Phase IV, Sector 18","Gurugram"],["ABCDEFGHIJ","KLMNOPQRST","UVWXY"],[]]`},
		{`["Amritsar_Hub (Punjab)".index_of("_"), "a(b)(c)".last_index_of("("), "é_x".index_of("_"), "abc".index_of("z")]`, `[8,4,1,-1]`},
		{`["Shipment OUT FOR delivery".matches("(?i)out for delivery"), "held".matches("\\bhold\\b")]`, `[true,false]`},
		{`["Verka Bypass (Punjab)".capture("\\(([^()]*)\\)$"), "x (y)".capture("\\((.*)\\)", 0), "none".capture("(z)") ?? "missing"]`, `["Punjab","(y)","missing"]`},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			p := compile(t, hdr+c.expr)
			got := apply(t, p, in)
			if got != c.want {
				t.Errorf("%s\n got %s\nwant %s", c.expr, got, c.want)
			}
		})
	}
}

func TestDocInput(t *testing.T) {
	p := compile(t, hdr+`{
		id: input.Shipment.Id,
		lines: input.Shipment.Line.map(l -> {sku: l["@sku"], qty: l.Qty.number()}),
		count: input.Shipment.Line.length(),
		members: input.Shipment.entries().map(e -> e.key),
	}`)
	root := doc.NewObject(1)
	sh := doc.NewObject(2)
	sh.Set("Id", "S-1")
	l1 := doc.NewObject(2)
	l1.Set("@sku", "A")
	l1.Set("Qty", "2")
	l2 := doc.NewObject(2)
	l2.Set("@sku", "B")
	l2.Set("Qty", int64(5))
	sh.Append("Line", l1)
	sh.Append("Line", l2)
	root.Set("Shipment", sh)
	out, err := p.ApplyDoc(nil, root)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"S-1","lines":[{"sku":"A","qty":2},{"sku":"B","qty":5}],"count":2,"members":["Id","Line"]}`
	if string(out) != want {
		t.Errorf("got %s\nwant %s", out, want)
	}
	// A repeated element that occurs once is a list of one.
	sh2 := doc.NewObject(2)
	sh2.Set("Id", "S-2")
	sh2.Append("Line", l1)
	root.Set("Shipment", sh2)
	out, err = p.ApplyDoc(nil, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"S-2","lines":[{"sku":"A","qty":2}],"count":2,"members":["Id","Line"]}`; string(out) != want {
		// count is the keys of the single object; lines is a list of one.
		t.Errorf("got %s\nwant %s", out, want)
	}
}

func TestLookupMatch(t *testing.T) {
	p := compile(t, "from json\ndirection response\ntable text = \"text.csv\"\n"+
		`input.map(s -> lookup_match("text", s) ?? "unmapped")`)
	got := apply(t, p, `["UD/Shipment Out For Delivery", "UD/Consignee refused", "UD/Inscan", "DL/x"]`)
	if want := `["out_for_delivery","attempt_failed","in_transit","unmapped"]`; got != want {
		t.Errorf("got %s, want %s (first matching row in file order)", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{hdr + `input.a.uper()`, "t.mapping:4:9: unknown function uper() (did you mean upper()?)"},
		{hdr + "{\n  a: input.\n}", "t.mapping:6:1: malformed path: expected a field name after '.', found \"}\""},
		{hdr + `shipment.id`, `t.mapping:4:1: unknown name "shipment": paths start at input, a let name or a lambda parameter`},
		{"direction response\ninput", "t.mapping:2:1: the mapping must declare its input format first, e.g. from json"},
		{"from json\ninput", "t.mapping:2:1: the mapping must declare its direction"},
		{"from yaml\n", `t.mapping:1:6: unknown input format "yaml"`},
		{hdr + `input.d.to_time("dd/mm/yyyy")`, `t.mapping:4:17: to_time(): layout "dd/mm/yyyy" has minutes (mm) but no hour: for the month write MM`},
		{hdr + `input.d.to_time("dd/MM/yyyy", "Asia/Calcutta_x")`, `unknown time zone "Asia/Calcutta_x"`},
		{hdr + `input.t.from_unix("h")`, `from_unix(): the unit is "s" (seconds) or "ms" (milliseconds), not "h"`},
		{hdr + `input.t.to_unix("us")`, `to_unix(): the unit is "s" (seconds) or "ms" (milliseconds), not "us"`},
		{hdr + `input.w.convert("lb", "cm")`, `t.mapping:4:9: convert(): cannot convert lb (mass) to cm (length)`},
		{hdr + `input.w.convert("stone", "kg")`, `convert(): unknown unit "stone"`},
		{hdr + `lookup("nope", input.c)`, `t.mapping:4:8: lookup(): no table "nope"`},
		{hdr + `lookup("status", input.c, "colour")`, `table "status" has no column "colour" (it has code, status, sub_status)`},
		{hdr + `input.a.map(x)`, `t.mapping:4:13: unknown name "x"`},
		{hdr + `upper()`, `upper() takes 1 value, got 0`},
		{hdr + `{a: 1, a: 2}`, `t.mapping:4:8: field "a" appears twice in this object`},
		{hdr + `input.a input.b`, `t.mapping:4:9: unexpected "input" after the output expression`},
		{hdr + `"abc`, `t.mapping:4:1: string not closed`},
		{"from json\ndirection response\ntable s = \"dup.csv\"\ninput", `dup.csv:4:1: key "DL" appears twice`},
		{"from json\ndirection response\ntable s = \"none.csv\"\ninput", `t.mapping:3:11: table s: opening none.csv`},
		{hdr + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "nested more than 100 deep"},
		{hdr + `input[1.5]`, "index 1.5 is not a whole number"},
		{hdr + `match input.a { input.b => 1 }`, "a match pattern is a constant"},
		{hdr + "if input.a then 1", "expected else"},
		{hdr + `input.w.convert(input.u, "parsecs")`, `convert(): unknown unit "parsecs"`},
		{hdr + `input.a.matches("(unclosed")`, `t.mapping:4:17: matches(): "(unclosed" is not a regular expression`},
		{hdr + `input.a.matches(input.b)`, `matches() needs a regular expression as a constant string`},
		{hdr + `input.a.capture("abc")`, `capture(): "abc" has no group`},
		{hdr + `input.a.capture("(a)", 2)`, `capture(): the group must be a constant whole number from 0 to 1`},
		{"from json\ndirection response\ntable s = \"badre.csv\"\nlookup_match(\"s\", input.a)", `badre.csv:3:1: key "(unclosed" is not a regular expression`},
	}
	for _, c := range cases {
		_, err := Compile("t.mapping", []byte(c.src), Options{FS: testFS})
		if err == nil {
			t.Errorf("%q compiled", c.src)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
}

func TestRuntimeErrorsNamePaths(t *testing.T) {
	p := compile(t, hdr+`{
  results: input.output.list.map(r -> {
    id!: r.info.id
    at: r.date.to_time("dd/MM/yyyy", "Asia/Kolkata")
  })
}`)
	in := `{"output":{"list":[{"info":{"id":"1"},"date":"01/02/2026"},{"info":{"name":"x"},"date":"02/02/2026"}]}}`
	_, err := p.ApplyJSON(nil, []byte(in))
	var re *RuntimeError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a RuntimeError", err)
	}
	if want := `t.mapping:6:5: required field "id": output.list[1].info.id is missing or empty`; err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	in = `{"output":{"list":[{"info":{"id":"1"},"date":"2026-02-01"}]}}`
	_, err = p.ApplyJSON(nil, []byte(in))
	if want := `t.mapping:7:16: input output.list[0].date: to_time(): "2026-02-01" does not match the layout`; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	p = compile(t, hdr+`input.a / input.b`)
	if _, err := p.ApplyJSON(nil, []byte(`{"a":1,"b":0}`)); err == nil || !strings.Contains(err.Error(), "input b: division by zero") {
		t.Errorf("got %v", err)
	}
	p = compile(t, hdr+`input.a.number()`)
	if _, err := p.ApplyJSON(nil, []byte(`{"a":"12kg"}`)); err == nil || !strings.Contains(err.Error(), `input a: number(): "12kg" is not a number`) {
		t.Errorf("got %v", err)
	}
}

func TestHostileInput(t *testing.T) {
	p, err := Compile("t.mapping", []byte(hdr+`input.a`), Options{FS: testFS, Limits: Limits{MaxInputBytes: 1 << 20, MaxDepth: 64, MaxOutputBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{`{"a":`, "malformed JSON"},
		{``, "empty document"},
		{`{"a":1} x`, "malformed JSON"},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), "nesting deeper than 64"},
		{strings.Repeat("[", 1<<17), "nesting deeper than 64"},
		{`{"a":"` + strings.Repeat("x", 2<<20) + `"}`, "larger than the 1048576-byte limit"},
		{"{\"a\":\"\xff\"}", "invalid UTF-8 at byte 6"},
	}
	for _, c := range cases {
		_, err := p.ApplyJSON(nil, []byte(c.in))
		if err == nil || !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %.40q: got %v, want %s", c.in, err, c.want)
		}
	}
	// Huge numbers pass through verbatim; arithmetic on them overflows to an error.
	if got := apply(t, p, `{"a":1e999}`); got != `1e999` {
		t.Errorf("got %s", got)
	}
	p2 := compile(t, hdr+`input.a * 10`)
	if _, err := p2.ApplyJSON(nil, []byte(`{"a":1e308}`)); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("got %v", err)
	}
	// Output is bounded too.
	p3, _ := Compile("t.mapping", []byte(hdr+`input.a.map(x -> input.a)`), Options{FS: testFS, Limits: Limits{MaxInputBytes: 1 << 20, MaxDepth: 64, MaxOutputBytes: 1 << 10}})
	big := `{"a":[` + strings.TrimSuffix(strings.Repeat(`"xxxxxxxx",`, 100), ",") + `]}`
	if _, err := p3.ApplyJSON(nil, []byte(big)); err == nil || !strings.Contains(err.Error(), "output larger than") {
		t.Errorf("got %v", err)
	}
}

func TestGSTIN(t *testing.T) {
	for _, g := range []string{"27AAPFU0939F1ZV", "29AAGCB7383J1Z4"} {
		if !ValidGSTIN(g) {
			t.Errorf("%s should be valid", g)
		}
	}
	for _, g := range []string{"27AAPFU0939F1ZW", "27AAPFU0939F1Z", "00AAPFU0939F1ZV", "27aapfu0939f1zv!", "2AAAPFU0939F1ZV"} {
		if ValidGSTIN(g) {
			t.Errorf("%s should be invalid", g)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	p := compile(t, hdr+`{items: input.items.map(i -> {k: i.k.upper(), v: i.v * 2}), s: lookup("status", input.c)}`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				in := fmt.Sprintf(`{"c":"DL","items":[{"k":"g%d","v":%d}]}`, g, i)
				out, err := p.ApplyJSON(nil, []byte(in))
				want := fmt.Sprintf(`{"items":[{"k":"G%d","v":%d}],"s":"delivered"}`, g, i*2)
				if err != nil || string(out) != want {
					t.Errorf("got %s, %v; want %s", out, err, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestPassThroughIsCompact(t *testing.T) {
	p := compile(t, hdr+`{whole: input, part: input.a, s: input.a.s}`)
	got := apply(t, p, "  {\n \"a\" : { \"s\" : \"x  y\\\" z\" ,\n \"l\": [ 1 , 2 ] } }\n\n")
	want := `{"whole":{"a":{"s":"x  y\" z","l":[1,2]}},"part":{"s":"x  y\" z","l":[1,2]},"s":"x  y\" z"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Errors name paths in indented input too.
	p = compile(t, hdr+`input.a.l.map(x -> x.number().convert("kg", "lb") / 0)`)
	_, err := p.ApplyJSON(nil, []byte("  {\n \"a\" : { \"l\": [ 1 , 2 ] } }"))
	if err == nil || !strings.Contains(err.Error(), "input a.l[0]: division by zero") {
		t.Errorf("got %v", err)
	}
}

func TestStepBudget(t *testing.T) {
	// Ten nested maps over 10 elements would take 10^10 steps.
	src := hdr + strings.Repeat("input.a.map(x -> ", 10) + "1" + strings.Repeat(")", 10)
	p, err := Compile("t.mapping", []byte(src), Options{FS: testFS, Limits: Limits{MaxSteps: 100_000}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.ApplyJSON(nil, []byte(`{"a":[1,2,3,4,5,6,7,8,9,10]}`))
	if err == nil || !strings.Contains(err.Error(), "mapping took more than 100000 steps") {
		t.Errorf("got %v", err)
	}
}

func TestConvertUnitFromInputErrors(t *testing.T) {
	p := compile(t, hdr+`input.w.convert(input.unit, "kg")`)
	for in, want := range map[string]string{
		`{"w": 2, "unit": "stone"}`: `unknown unit "stone"`,
		`{"w": 2, "unit": "cm"}`:    `cannot convert length to mass`,
		`{"w": 2}`:                  `the unit is missing`,
	} {
		_, err := p.ApplyJSON(nil, []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "convert") {
			t.Errorf("%s: got %v, want %s", in, err, want)
		}
	}
	if got := apply(t, p, `{"w": 2.5, "unit": " G "}`); got != `0.0025` {
		t.Errorf("grams from the input: %s", got)
	}
}

// TestDocInputErrorsNameTreePaths: a runtime error on XML/EDI/CSV input names
// the element's path in the tree, as it does for JSON input.
func TestDocInputErrorsNameTreePaths(t *testing.T) {
	p := compile(t, hdr+`input.Shipment.Line.map(l -> l.Qty.to_time("yyyy-MM-dd"))`)
	root := doc.NewObject(1)
	sh := doc.NewObject(1)
	for _, q := range []string{"2026-01-02", "not a date"} {
		l := doc.NewObject(1)
		l.Set("Qty", q)
		sh.Append("Line", l)
	}
	root.Set("Shipment", sh)
	_, err := p.ApplyDoc(nil, root)
	var re *RuntimeError
	if !errors.As(err, &re) || re.Path != "Shipment.Line[1].Qty" {
		t.Fatalf("got %v (path %q), want the path Shipment.Line[1].Qty", err, pathOfErr(re))
	}
}

func pathOfErr(re *RuntimeError) string {
	if re == nil {
		return ""
	}
	return re.Path
}

// TestLazyCompilesOnceFromAnFS: a mapping and its table read from an fs.FS
// (a connector's embedded files), compiled on the first call only.
func TestLazyCompilesOnceFromAnFS(t *testing.T) {
	fsys := fstest.MapFS{
		"m/track.mapping": {Data: []byte("from json\ndirection response\ntable s = \"status.csv\"\nlookup(\"s\", input.code)\n")},
		"m/status.csv":    {Data: []byte("code,status\nDL,delivered\n")},
	}
	get := Lazy(fsys, "m/track.mapping")
	p1, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := get(); p2 != p1 {
		t.Error("compiled twice")
	}
	if got := apply(t, p1, `{"code":"DL"}`); got != `"delivered"` {
		t.Errorf("got %s", got)
	}
	if _, err := Lazy(fsys, "m/none.mapping")(); err == nil || !strings.Contains(err.Error(), "reading mapping") {
		t.Errorf("a missing file: %v", err)
	}
}

// A string that holds no document is an error naming the function, not a
// silent missing value.
func TestParseErrors(t *testing.T) {
	for expr, want := range map[string]string{
		`input.s.parse_json()`: "parse_json(): the string is not a JSON document",
		`input.s.parse_xml()`:  "parse_xml():",
	} {
		p := compile(t, hdr+expr)
		if _, err := p.ApplyJSON(nil, []byte(`{"s": "not a document <"}`)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", expr, err, want)
		}
	}
}

// TestRepeatedExpressionsAreShared checks that an expression written more than
// once is computed once per binding of the variables it reads: the shared
// value follows each element of a list, a nested list and a let bound again per
// element, and a required field's error still names the input path.
func TestRepeatedExpressionsAreShared(t *testing.T) {
	p := compile(t, hdr+`let total = input.items.map(x -> x.v).sum()
{
  a: input.items.map(x -> {
    let k = x.k.upper()
    twice: x.v * 2
    again: x.v * 2
    key: k + "/" + (x.v * 2).string()
    keys: input.items.map(y -> k + "/" + (x.v * 2).string() + "/" + y.k)
    share: x.v * 100 / total
  })
  b: (input.items.map(x -> x.v).sum())
  total: total
}`)
	if p.nmemos == 0 {
		t.Fatal("no repeated expression found")
	}
	got := apply(t, p, `{"items":[{"k":"p","v":1},{"k":"q","v":3}]}`)
	want := `{"a":[{"twice":2,"again":2,"key":"P/2","keys":["P/2/p","P/2/q"],"share":25},` +
		`{"twice":6,"again":6,"key":"Q/6","keys":["Q/6/p","Q/6/q"],"share":75}],"b":4,"total":4}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// The same program again on another document: nothing carries over.
	if got := apply(t, p, `{"items":[{"k":"r","v":5}]}`); got != `{"a":[{"twice":10,"again":10,"key":"R/10","keys":["R/10/r"],"share":100}],"b":5,"total":5}` {
		t.Errorf("second document: got %s", got)
	}

	p = compile(t, hdr+`input.list.map(r -> { id!: r.info.id, again: r.info.id })`)
	_, err := p.ApplyJSON(nil, []byte(`{"list":[{"info":{"id":"1"}},{"info":{}}]}`))
	if want := `required field "id": list[1].info.id is missing or empty`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
}
