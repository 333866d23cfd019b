package edi

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/carrierhub/hub/mappings/doc"
)

var update = flag.Bool("update", false, "rewrite the golden trees in testdata")

var fixtures = []struct {
	file    string
	edifact bool
}{
	{"214.edi", false},
	{"214-batch.edi", false},
	{"210.edi", false},
	{"990.edi", false},
	{"iftsta.edi", true},
	{"iftmin.edi", true},
}

func readFixture(t testing.TB, name string, edifact bool) ([]byte, *doc.Object) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var tree *doc.Object
	if edifact {
		tree, err = ReadEDIFACT(data, ReadOptions{})
	} else {
		tree, err = ReadX12(data, ReadOptions{})
	}
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return data, tree
}

// TestGoldenTrees compares each fixture's tree with testdata/NAME.json.
func TestGoldenTrees(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			_, tree := readFixture(t, f.file, f.edifact)
			got := toJSON(tree) + "\n"
			golden := filepath.Join("testdata", strings.TrimSuffix(f.file, ".edi")+".json")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("tree differs from %s (run with -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// TestRoundTripBytes writes each fixture's tree back and expects the very
// bytes read: the fixtures use the writers' conventions (a line feed after
// each terminator).
func TestRoundTripBytes(t *testing.T) {
	ctx := context.Background()
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			data, tree := readFixture(t, f.file, f.edifact)
			var out []byte
			var err error
			if f.edifact {
				out, err = WriteEDIFACT(ctx, tree, EDIFACTWriteOptions{Suffix: "\n"})
			} else {
				out, err = WriteX12(ctx, tree, X12WriteOptions{Suffix: "\n"})
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, data) {
				t.Errorf("written bytes differ:\n%s\nwant:\n%s", out, data)
			}
		})
	}
}

func TestAddressing(t *testing.T) {
	_, t214 := readFixture(t, "214.edi", false)
	_, t210 := readFixture(t, "210.edi", false)
	_, t990 := readFixture(t, "990.edi", false)
	_, sta := readFixture(t, "iftsta.edi", true)
	_, min := readFixture(t, "iftmin.edi", true)
	for _, c := range []struct {
		tree *doc.Object
		path string
		want any
	}{
		{t214, "ISA.06", "ABCD"},
		{t214, "ISA.02", nil}, // blank authorization: absent
		{t214, "ISA.16", ">"},
		{t214, "ISA.GS.ST.01", "214"},
		{t214, "ISA.GS.ST.B10.01", "7730045512"},
		{t214, "ISA.GS.ST.L11[1].02", "SO"},
		{t214, "ISA.GS.ST.N1[1].N4.01", "MEMPHIS"},
		{t214, "ISA.GS.ST.N1[1].N3.02", "DOCK 4"},
		{t214, "ISA.GS.ST.LX[0].AT7.05", "20250312"},
		{t214, "ISA.GS.ST.LX[0].AT7.03", nil}, // empty element: absent
		{t214, "ISA.GS.ST.LX[0].AT7.MS1.01", "DALLAS"},
		{t214, "ISA.GS.ST.LX[0].AT8.03", "1240"},
		{t214, "ISA.GS.ST.LX[2].AT7.01", "D1"},
		{t214, "ISA.GS.ST.LX[2].K1.02", "R HOLLOWAY"},
		{t214, "ISA.GS.ST.SE.01", "26"},
		{t210, "ISA.GS.ST.B3.07", "148275"},
		{t210, "ISA.GS.ST.N1[0].N4.01", "AUSTIN"},
		{t210, "ISA.GS.ST.LX[0].L1.04", "106020"},
		{t210, "ISA.GS.ST.LX[2].L1.08", "LFT"},
		{t210, "ISA.GS.ST.L3.05", "148275"},
		{t990, "ISA.GS.ST[1].B1.04", "D"},
		{t990, "ISA.GS.ST[0].N9[1].02[1]", "REEFER CAPABLE"},
		{sta, "UNA", ":+.? '"},
		{sta, "UNB.01.01", "UNOC"},
		{sta, "UNB.02.01", "CARRIERX"},
		{sta, "UNB.UNH.02.01", "IFTSTA"},
		{sta, "UNB.UNH.NAD[0].06", "MÜNCHEN"},
		{sta, "UNB.UNH.CNI.02", "7730045512"},
		{sta, "UNB.UNH.CNI.STS[0].02.04", "ARRIVED AT TERMINAL"},
		{sta, "UNB.UNH.CNI.STS[0].FTX.04", "DRIVER NOTE: RAMP CLOSED+ USE GATE 2"},
		{sta, "UNB.UNH.CNI.STS[0].TDT.02", "TRIP4471"},
		{sta, "UNB.UNH.CNI.STS[1].LOC.02.01", "FRLYS"},
		{sta, "UNB.UNH.CNI.STS[1].DTM.01.02", "202503141120"},
		{min, "UNA", nil},
		{min, "UNB.UNG.05", "GR0412"},
		{min, "UNB.UNG.UNH.BGM.02", "BK-2025-00871"},
		{min, "UNB.UNG.UNH.NAD[0].CTA.COM.01.01", "+49 89 5550123"},
		{min, "UNB.UNG.UNH.GID.MEA.03.02", "1240"},
		{min, "UNB.UNG.UNH.CNT[1].01.02", "3"},
	} {
		if got := get(c.tree, c.path); got != c.want {
			t.Errorf("%s = %#v, want %#v", c.path, got, c.want)
		}
	}
}

func TestCounterRenumbersAndRecounts(t *testing.T) {
	ctx := context.Background()
	seq := NewSequence(7)
	_, t990 := readFixture(t, "990.edi", false)
	out, err := WriteX12(ctx, t990, X12WriteOptions{Counter: seq, Element: '|', Segment: '\n'})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadX12(out, ReadOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for path, want := range map[string]string{
		"ISA.13":          "000000007",
		"ISA.IEA.02":      "000000007",
		"ISA.GS.06":       "7",
		"ISA.GS.GE.01":    "2",
		"ISA.GS.ST[0].02": "0007",
		"ISA.GS.ST[1].02": "0008",
		"ISA.GS.ST[1].SE": "",
	} {
		got, _ := get(back, path).(string)
		if path == "ISA.GS.ST[1].SE" {
			se := get(back, path).(*doc.Object)
			got = str(se, "01") + "/" + str(se, "02")
			want = "4/0008"
		}
		if got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if toJSON(withoutTrailers(get(back, "ISA.GS.ST[0].B1"))) != toJSON(get(t990, "ISA.GS.ST[0].B1")) {
		t.Error("content changed")
	}

	_, min := readFixture(t, "iftmin.edi", true)
	out, err = WriteEDIFACT(ctx, min, EDIFACTWriteOptions{Counter: NewSequence(100), UNA: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("UNA:+.? 'UNB+UNOB:3+")) || !bytes.Contains(out, []byte("UNT+18+100'UNE+1+100'UNZ+1+100'")) {
		t.Errorf("unexpected output:\n%s", out)
	}
	if _, err := ReadEDIFACT(out, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestSequenceIsSafeForConcurrentUse(t *testing.T) {
	seq := NewSequence(1)
	var wg sync.WaitGroup
	seen := make(chan int64, 400)
	for range 4 {
		wg.Go(func() {
			for range 100 {
				n, _ := seq.Next(context.Background(), Message)
				seen <- n
			}
		})
	}
	wg.Wait()
	close(seen)
	got := map[int64]bool{}
	for n := range seen {
		if got[n] {
			t.Fatalf("number %d handed out twice", n)
		}
		got[n] = true
	}
	if len(got) != 400 || !got[1] || !got[400] {
		t.Fatalf("got %d numbers", len(got))
	}
}

// TestSeparatorsComeFromTheISA reads the 214 rewritten with other separators.
func TestSeparatorsComeFromTheISA(t *testing.T) {
	data, want := readFixture(t, "990.edi", false)
	r := strings.NewReplacer("*", "|", "~\n", "\r\n", ">", ":", "^", "!")
	other := []byte(r.Replace(string(data)))
	got, err := ReadX12(other, ReadOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, other)
	}
	if toJSON(withoutTrailers(got)) != strings.NewReplacer(`"^"`, `"!"`, `">"`, `":"`).Replace(toJSON(withoutTrailers(want))) {
		t.Errorf("tree differs:\n%s", toJSON(got))
	}
	opts, ok := SniffX12(other)
	if !ok || opts.Element != '|' || opts.Segment != '\r' {
		t.Fatalf("SniffX12 = %+v, %v", opts, ok)
	}
}

func TestReadErrors(t *testing.T) {
	x214, _ := os.ReadFile("testdata/214.edi")
	sta, _ := os.ReadFile("testdata/iftsta.edi")
	min, _ := os.ReadFile("testdata/iftmin.edi")
	x := string(x214)
	cases := []struct {
		name    string
		edifact bool
		in      string
		opts    ReadOptions
		kind    error
		segment int
		id      string
		text    string
	}{
		{"empty", false, " \n", ReadOptions{}, ErrTruncated, 0, "", "input is empty"},
		{"not x12", false, "hello", ReadOptions{}, ErrSyntax, 1, "", "expected an ISA"},
		{"short isa", false, x[:50], ReadOptions{}, ErrTruncated, 1, "ISA", "ISA"},
		{"se count", false, strings.Replace(x, "SE*26*", "SE*25*", 1), ReadOptions{}, ErrControl, 28, "SE", "SE01 says 25 segments, counted 26"},
		{"se number", false, strings.Replace(x, "SE*26*0001", "SE*26*0002", 1), ReadOptions{}, ErrControl, 28, "SE", `SE02 is "0002", the ST02 control number is "0001"`},
		{"ge count", false, strings.Replace(x, "GE*1*", "GE*2*", 1), ReadOptions{}, ErrControl, 29, "GE", "GE01 says 2 transaction sets, counted 1"},
		{"ge number", false, strings.Replace(x, "GE*1*4521", "GE*1*4522", 1), ReadOptions{}, ErrControl, 29, "GE", "GS06"},
		{"iea count", false, strings.Replace(x, "IEA*1*", "IEA*x*", 1), ReadOptions{}, ErrControl, 30, "IEA", `IEA01 (number of functional groups) is "x", not a count`},
		{"iea number", false, strings.Replace(x, "IEA*1*000004521", "IEA*1*000004520", 1), ReadOptions{}, ErrControl, 30, "IEA", "ISA13"},
		{"no iea", false, x[:strings.Index(x, "IEA")], ReadOptions{}, ErrTruncated, 29, "GE", "IEA missing"},
		{"no terminator", false, strings.TrimSuffix(x, "~\n"), ReadOptions{}, ErrTruncated, 30, "", "no terminator"},
		{"cut in transaction", false, x[:strings.Index(x, "LX*2")], ReadOptions{}, ErrTruncated, 18, "AT8", "SE missing"},
		{"bad id", false, strings.Replace(x, "B10*", "b10*", 1), ReadOptions{}, ErrSyntax, 4, "", `segment id "b10"`},
		{"empty segment", false, strings.Replace(x, "L11*SO-99120*SO~", "~", 1), ReadOptions{}, ErrSyntax, 6, "", `segment id ""`},
		{"st in st", false, strings.Replace(x, "LX*2~", "ST*214*0002~", 1), ReadOptions{}, ErrSyntax, 19, "ST", "SE missing"},
		{"segment outside", false, strings.Replace(x, "ST*214*0001~", "B10*X~", 1), ReadOptions{}, ErrSyntax, 3, "B10", "outside a transaction set"},
		{"no st02", false, strings.Replace(x, "ST*214*0001~", "ST*214~", 1), ReadOptions{}, ErrSyntax, 3, "ST", "ST02 (control number) is missing"},
		{"invalid utf8", false, strings.Replace(x, "DALLAS", "DAL\xffLAS", 1), ReadOptions{}, ErrEncoding, 0, "", "0xff"},
		{"isa width", false, strings.Replace(x, "ABCD           *", "ABCD            *", 1), ReadOptions{}, ErrSyntax, 1, "ISA", "ISA06 is 16 characters long"},
		{"isa separators", false, strings.Replace(x, "*>~", "*~~", 1), ReadOptions{}, ErrSyntax, 1, "ISA", "must be distinct"},
		{"max bytes", false, x, ReadOptions{Limits: Limits{MaxBytes: 100}}, ErrLimit, 0, "", "more than the 100 allowed"},
		{"max segments", false, x, ReadOptions{Limits: Limits{MaxSegments: 10}}, ErrLimit, 11, "", "more than 10 segments"},
		{"max elements", false, x, ReadOptions{Limits: Limits{MaxElements: 4}}, ErrSyntax, 2, "", "more than 4 elements"},
		{"max depth", false, x, ReadOptions{Limits: Limits{MaxDepth: 2}}, ErrLimit, 14, "AT7", "deeper than 2"},

		{"unt count", true, strings.Replace(string(sta), "UNT+18+", "UNT+17+", 1), ReadOptions{}, ErrControl, 20, "UNT", "UNT01 says 17 segments, counted 18"},
		{"unt ref", true, strings.Replace(string(sta), "UNT+18+1'", "UNT+18+2'", 1), ReadOptions{}, ErrControl, 20, "UNT", "UNH01"},
		{"unz ref", true, strings.Replace(string(sta), "UNZ+1+IC0000731", "UNZ+1+IC0000732", 1), ReadOptions{}, ErrControl, 21, "UNZ", "UNB05"},
		{"une count", true, strings.Replace(string(min), "UNE+1+", "UNE+3+", 1), ReadOptions{}, ErrControl, 21, "UNE", "UNE01 says 3 messages, counted 1"},
		{"unz groups", true, strings.Replace(string(min), "UNZ+1+", "UNZ+2+", 1), ReadOptions{}, ErrControl, 22, "UNZ", "UNZ01 says 2 groups"},
		{"no unz", true, string(min[:bytes.Index(min, []byte("UNZ"))]), ReadOptions{}, ErrTruncated, 21, "UNE", "UNZ missing"},
		{"release at end", true, "UNB+UNOA:3+A+B+250101:0000+1'UNH+1+X:D:96A:UN'FTX+AAA+++A?", ReadOptions{}, ErrTruncated, 3, "", "no terminator"},
		{"bad una", true, "UNA:+.?:'UNB+UNOA:3+A+B+250101:0000+1'", ReadOptions{}, ErrSyntax, 1, "UNA", "used twice"},
		{"unb missing", true, "UNH+1+X:D:96A:UN'UNT+2+1'", ReadOptions{}, ErrSyntax, 1, "UNH", "expected a UNB"},
		{"unsupported charset", true, "UNB+UNOD:3+A+B+250101:0000+1'UNH+1+X:D:96A:UN'FTX+AAA+++\xe9'UNT+3+1'UNZ+1+1'", ReadOptions{}, ErrEncoding, 0, "", "UNOD is not supported"},
		{"invalid utf8 unoa", true, "UNB+UNOA:3+A+B+250101:0000+1'UNH+1+X:D:96A:UN'FTX+AAA+++\xe9'UNT+3+1'UNZ+1+1'", ReadOptions{}, ErrEncoding, 0, "", "not valid UTF-8"},
		{"mixed groups", true, "UNB+UNOA:3+A+B+250101:0000+1'UNG+X+A+B+250101:0000+G1+UN+D:96A'UNH+1+X:D:96A:UN'UNT+2+1'UNE+1+G1'UNH+2+X:D:96A:UN'UNT+2+2'UNZ+2+1'", ReadOptions{}, ErrSyntax, 6, "UNH", "has groups"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.edifact {
				_, err = ReadEDIFACT([]byte(c.in), c.opts)
			} else {
				_, err = ReadX12([]byte(c.in), c.opts)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if !errors.Is(err, c.kind) || e.Segment != c.segment || e.ID != c.id || !strings.Contains(err.Error(), c.text) {
				t.Errorf("err = %v (segment %d, id %q), want kind %v, segment %d, id %q, text %q", err, e.Segment, e.ID, c.kind, c.segment, c.id, c.text)
			}
		})
	}
}

func TestUNOCIsDecodedFromLatin1(t *testing.T) {
	data, tree := readFixture(t, "iftsta.edi", true)
	if !bytes.Contains(data, []byte("M\xdcNCHEN")) {
		t.Fatal("fixture is not ISO 8859-1")
	}
	if got := get(tree, "UNB.UNH.NAD[0].06"); got != "MÜNCHEN" {
		t.Errorf("NAD06 = %q", got)
	}
}

func TestEDIFACTSyntaxVersion4Repeats(t *testing.T) {
	in := "UNB+UNOY:4+A+B+20250101:0000+7'UNH+1+IFTSTA:D:01B:UN'RFF+CU:A1*CU:A2'FTX+AAI+++5?*6'UNT+4+1'UNZ+1+7'"
	tree, err := ReadEDIFACT([]byte(in), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(tree, "UNB.UNH.RFF.01[1].02"); got != "A2" {
		t.Errorf("repetition: %v\n%s", got, toJSON(tree))
	}
	if got := get(tree, "UNB.UNH.RFF.FTX.04"); got != nil {
		t.Errorf("FTX nested in RFF: %v", got)
	}
	if got := get(tree, "UNB.UNH.FTX.04"); got != "5*6" {
		t.Errorf("released repetition separator: %v", got)
	}
	out, err := WriteEDIFACT(context.Background(), tree, EDIFACTWriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("written:\n%s\nwant:\n%s", out, in)
	}
}

func TestWriteErrors(t *testing.T) {
	ctx := context.Background()
	seg := func(kv ...any) *doc.Object {
		o := doc.NewObject(len(kv) / 2)
		for i := 0; i < len(kv); i += 2 {
			o.Set(kv[i].(string), kv[i+1])
		}
		return o
	}
	isa := func(body ...any) *doc.Object {
		st := seg(append([]any{"01", "214", "02", "0001"}, body...)...)
		gs := seg("01", "QM", "02", "A", "03", "B", "04", "20250101", "05", "1200", "06", "1", "07", "X", "08", "004010", "ST", st)
		return seg("ISA", seg("01", "00", "03", "00", "05", "ZZ", "06", "A", "07", "ZZ", "08", "B", "09", "250101", "10", "1200",
			"11", "U", "12", "00401", "13", "000000001", "14", "0", "15", "P", "16", ">", "GS", gs))
	}
	ok, err := WriteX12(ctx, isa("B10", seg("01", "PRO1", "02", int64(42), "03", 1.5)), X12WriteOptions{})
	if err != nil || !strings.Contains(string(ok), "~B10*PRO1*42*1.5~SE*3*0001~GE*1*1~IEA*1*000000001~") {
		t.Fatalf("%v\n%s", err, ok)
	}
	cases := []struct {
		name string
		tree *doc.Object
		path string
		text string
	}{
		{"separator", isa("B10", seg("01", "PRO*1")), "ISA.GS.ST.B10.01", `contains the separator '*'`},
		{"component separator", isa("N1", []any{seg("01", "SH"), seg("01", "A>B")}), "ISA.GS.ST.N1[1].01", `separator '>'`},
		{"terminator", isa("K1", seg("01", "A", "02", "B~C")), "ISA.GS.ST.K1.02", `separator '~'`},
		{"bool", isa("K1", seg("01", true)), "ISA.GS.ST.K1.01", "boolean"},
		{"repetition without separator", isa("K1", seg("01", []any{"A", "B"})), "ISA.GS.ST.K1.01", "repetition separator"},
		{"nested composite", isa("K1", seg("01", seg("01", seg("01", "x")))), "ISA.GS.ST.K1.01.01", "do not nest"},
		{"bad key", isa("K1", seg("1", "x")), "ISA.GS.ST.K1.1", "neither a position"},
		{"envelope in body", isa("LX", seg("01", "1", "ST", seg())), "ISA.GS.ST.LX.ST", "envelope segment ST"},
		{"segment is text", isa("K1", "text"), "ISA.GS.ST.K1", "must be an object"},
		{"isa too wide", seg("ISA", seg("06", "A VERY LONG SENDER ID", "13", "1")), "ISA.06", "longer than the ISA06 width 15"},
		{"no control number", seg("ISA", seg("01", "00")), "ISA.13", "control number missing"},
		{"no isa", seg("GS", seg()), "", "no ISA"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := WriteX12(ctx, c.tree, X12WriteOptions{})
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrUnwritable) {
				t.Fatalf("err = %v, out = %s", err, out)
			}
			if e.Path != c.path || !strings.Contains(e.Msg, c.text) {
				t.Errorf("err = %v, want path %q and text %q", err, c.path, c.text)
			}
		})
	}

	// EDIFACT releases separators rather than refusing them, unless the UNA
	// declares no release character.
	msg := func(una string, ftx string) *doc.Object {
		unh := seg("01", "1", "02", seg("01", "IFTSTA", "02", "D", "03", "01B", "04", "UN"), "FTX", seg("01", "AAI", "04", ftx))
		unb := seg("01", seg("01", "UNOC", "02", "3"), "02", "A", "03", "B", "04", seg("01", "250101", "02", "1200"), "05", "9", "UNH", unh)
		root := seg("UNB", unb)
		if una != "" {
			root = seg("UNA", una, "UNB", unb)
		}
		return root
	}
	out, err := WriteEDIFACT(ctx, msg("", "A+B:C?D'E"), EDIFACTWriteOptions{})
	if err != nil || !strings.Contains(string(out), "FTX+AAI+++A?+B?:C??D?'E'") {
		t.Fatalf("%v\n%s", err, out)
	}
	back, err := ReadEDIFACT(out, ReadOptions{})
	if err != nil || get(back, "UNB.UNH.FTX.04") != "A+B:C?D'E" {
		t.Fatalf("%v: %s", err, toJSON(back))
	}
	for _, c := range []struct {
		name, una, ftx, text string
	}{
		{"no release character", ":+.  '", "A+B", "no release character"},
		{"outside latin1", "", "Ωmega", "outside the interchange's ISO 8859-1"},
		{"bad una", "::.? '", "A", "used twice"},
	} {
		_, err := WriteEDIFACT(ctx, msg(c.una, c.ftx), EDIFACTWriteOptions{})
		if !errors.Is(err, ErrUnwritable) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.text)
		}
	}
}

type failingCounter struct{}

func (failingCounter) Next(context.Context, Level) (int64, error) { return 0, errors.New("store down") }

func TestCounterErrorIsWrapped(t *testing.T) {
	_, tree := readFixture(t, "214.edi", false)
	_, err := WriteX12(context.Background(), tree, X12WriteOptions{Counter: failingCounter{}})
	if err == nil || !strings.Contains(err.Error(), "store down") || !strings.Contains(err.Error(), "ISA") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadFromRefusesOversizedInput(t *testing.T) {
	data, _ := readFixture(t, "214.edi", false)
	if _, err := ReadX12From(bytes.NewReader(data), ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := ReadX12From(bytes.NewReader(data), ReadOptions{Limits: Limits{MaxBytes: 64}})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v", err)
	}
	sta, _ := os.ReadFile("testdata/iftsta.edi")
	if _, err := ReadEDIFACTFrom(bytes.NewReader(sta), ReadOptions{Limits: Limits{MaxBytes: 64}}); !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v", err)
	}
}

func TestFlatSchemaKeepsSegmentsAtTheTop(t *testing.T) {
	data, _ := readFixture(t, "214.edi", false)
	tree, err := ReadX12(data, ReadOptions{Schema: Schema{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(tree, "ISA.GS.ST.AT7[2].01"); got != "D1" {
		t.Errorf("AT7[2].01 = %v", got)
	}
	if got, ok := get(tree, "ISA.GS.ST.LX").([]any); !ok || len(got) != 3 {
		t.Errorf("LX = %v", got)
	}
}
