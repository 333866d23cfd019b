package xml

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/carrierhub/hub/mappings/doc"
)

var update = flag.Bool("update", false, "rewrite golden files")

// dump renders a tree as indented JSON with keys in document order, so that
// golden files show the exact shape a mapping author sees.
func dump(v any) string {
	var b bytes.Buffer
	dumpTo(&b, v, "")
	return b.String()
}

func dumpTo(b *bytes.Buffer, v any, ind string) {
	switch x := v.(type) {
	case *doc.Object:
		if x.Len() == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i := 0; i < x.Len(); i++ {
			k, val := x.At(i)
			kj, _ := json.Marshal(k)
			b.WriteString(ind + "  " + string(kj) + ": ")
			dumpTo(b, val, ind+"  ")
			if i < x.Len()-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(ind + "}")
	case []any:
		b.WriteString("[\n")
		for i, item := range x {
			b.WriteString(ind + "  ")
			dumpTo(b, item, ind+"  ")
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(ind + "]")
	default:
		j, err := json.Marshal(x)
		if err != nil {
			panic(err)
		}
		b.Write(j)
	}
}

func mustRead(t *testing.T, name string, opts Options) *doc.Object {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tree, err := Read(f, opts)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return tree
}

func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			o, ok := v.(*doc.Object)
			if !ok {
				t.Fatalf("at %q: %T is not an object", k, v)
			}
			v, ok = o.Get(k)
			if !ok {
				t.Fatalf("no key %q among %v", k, o.Keys())
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at [%d]: %T is not a long enough list", k, v)
			}
			v = l[k]
		}
	}
	return v
}

func TestReadGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.xml")
	if len(files) < 5 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			got := dump(mustRead(t, name, Options{}))
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".xml")+".golden.json")
			if *update {
				if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("tree differs from %s:\n%s", golden, got)
			}
		})
	}
}

func TestCanadaPostDefaultNamespaceUsesLocalNames(t *testing.T) {
	tree := mustRead(t, "canadapost_tracking_detail.xml", Options{})
	if got := get(t, tree, "tracking-detail", "pin"); got != "7023210039414604" {
		t.Errorf("pin = %v", got)
	}
	if got := get(t, tree, "tracking-detail", "significant-events", "occurrence", 2, "event-retail-name"); got != "BANK ST PO" {
		t.Errorf("third occurrence retail name = %v", got)
	}
	if got := get(t, tree, "tracking-detail", "archive-exists"); got != "" {
		t.Errorf("empty element = %#v, want empty string", got)
	}
	if got := get(t, tree, "tracking-detail", "service-name-2"); got != "Colis accélérés" {
		t.Errorf("non-ASCII text = %v", got)
	}
	// A single repeated-kind element stays an object: mappings accept one or many.
	if _, ok := get(t, tree, "tracking-detail", "delivery-options", "item").(*doc.Object); !ok {
		t.Error("a single <item> should be an object")
	}
}

func TestAttributesTextAndNil(t *testing.T) {
	tree := mustRead(t, "idoc_delvry07.xml", Options{})
	idoc := get(t, tree, "DELVRY07", "IDOC").(*doc.Object)
	if k, v := idoc.At(0); k != "@BEGIN" || v != "1" {
		t.Errorf("first key %s=%v, want the attribute @BEGIN=1", k, v)
	}
	if got := get(t, idoc, "E1EDL20", "E1EDL24", 1, "ARKTX"); got != "Insulation tape & sleeves" {
		t.Errorf("entity in text: %q", got)
	}
	if got := get(t, idoc, "E1EDL20", "E1ADRM1", 0, "@SEGMENT"); got != "1" {
		t.Errorf("segment attribute: %v", got)
	}

	fault := mustRead(t, "soap11_fault.xml", Options{})
	fs := get(t, fault, "Envelope", "Body", "Fault", "faultstring").(*doc.Object)
	if fs.Len() != 2 || fs.Keys()[0] != "@lang" || fs.Keys()[1] != "#text" {
		t.Errorf("attribute plus text: keys %v", fs.Keys())
	}

	track := mustRead(t, "soap11_track_response.xml", Options{})
	if got := get(t, track, "Envelope", "Body", "TrackPackagesByPinResponse", "ResponseInformation", "InformationalMessages"); got != nil {
		t.Errorf("xsi:nil element = %#v, want nil", got)
	}
	scan := get(t, track, "Envelope", "Body", "TrackPackagesByPinResponse", "TrackingInformationList", "TrackingInformation", "Scans", "Scan", 0)
	if got := get(t, scan, "@type"); got != "DeliveryScan" {
		t.Errorf("xsi:type = %v", got)
	}
}

func TestNamespaceKeying(t *testing.T) {
	const puro = "http://purolator.com/pws/datatypes/v1"
	prefixed := mustRead(t, "soap11_track_response.xml", Options{Prefixes: map[string]string{"soap": NamespaceSOAP11, "p": puro}})
	if got := get(t, prefixed, "soap:Envelope", "soap:Body", "p:TrackPackagesByPinResponse", "p:TrackingInformationList", "p:TrackingInformation", "p:PIN", "p:Value"); got != "329014521622" {
		t.Errorf("author prefixes: %v", got)
	}
	// The document wrote "s:" and a default namespace; the author's names win.
	scan := get(t, prefixed, "soap:Envelope", "soap:Body", "p:TrackPackagesByPinResponse", "p:TrackingInformationList", "p:TrackingInformation", "p:Scans", "p:Scan", 0).(*doc.Object)
	if scan.Keys()[0] != "@type" {
		t.Errorf("xsi not bound by the author stays local: %v", scan.Keys())
	}

	expanded := mustRead(t, "soap11_track_response.xml", Options{Expanded: true, Prefixes: map[string]string{"soap": NamespaceSOAP11}})
	body := get(t, expanded, "soap:Envelope", "soap:Body").(*doc.Object)
	if k := body.Keys()[0]; k != "{"+puro+"}TrackPackagesByPinResponse" {
		t.Errorf("expanded key = %q", k)
	}
	if got := get(t, expanded, "soap:Envelope", "soap:Header", "{"+puro+"}ResponseContext", "{"+puro+"}ResponseReference"); got != "hub-trk-20260312-0007" {
		t.Errorf("header reference = %v", got)
	}

	// Two namespaces sharing a local name merge under local names and stay
	// apart with prefixes.
	src := `<r xmlns:a="urn:a" xmlns:b="urn:b"><a:id>1</a:id><b:id>2</b:id></r>`
	local, err := Unmarshal([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := get(t, local, "r", "id").([]any); !ok || len(l) != 2 {
		t.Errorf("local names: %#v", get(t, local, "r", "id"))
	}
	split, err := Unmarshal([]byte(src), Options{Prefixes: map[string]string{"x": "urn:a", "y": "urn:b"}})
	if err != nil {
		t.Fatal(err)
	}
	if get(t, split, "r", "x:id") != "1" || get(t, split, "r", "y:id") != "2" {
		t.Errorf("prefixed: %s", dump(split))
	}
}

func TestReadSOAP(t *testing.T) {
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	env, err := ReadSOAP(open("soap11_track_response.xml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if env.Version != SOAP11 || env.Fault != nil {
		t.Fatalf("version %v fault %v", env.Version, env.Fault)
	}
	if got := get(t, env.Header, "ResponseContext", "ResponseReference"); got != "hub-trk-20260312-0007" {
		t.Errorf("header: %v", got)
	}
	if got := get(t, env.Body, "TrackPackagesByPinResponse", "TrackingInformationList", "TrackingInformation", "Scans", "Scan", 8, "Description"); got != "Shipment created" {
		t.Errorf("last scan: %v", got)
	}

	env, err = ReadSOAP(open("soap11_fault.xml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := env.Fault
	if f == nil || f.Code != "InternalServiceFault" || f.RawCode != "a:InternalServiceFault" {
		t.Fatalf("fault: %+v", f)
	}
	if want := `Invalid PIN "32901452162X": check digit does not match & the PIN was rejected`; f.Reason != want {
		t.Errorf("reason %q", f.Reason)
	}
	if got := get(t, f.Detail, "ValidationFault", "Details", "ValidationDetail", 1, "Message"); got != "Length must be 12" {
		t.Errorf("detail: %v", got)
	}

	env, err = ReadSOAP(open("soap12_fault.xml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f = env.Fault
	if env.Version != SOAP12 || f.Code != "Sender" || !reflect.DeepEqual(f.Subcodes, []string{"ak:AuthenticationFailed"}) {
		t.Fatalf("1.2 fault: %v %+v", env.Version, f)
	}
	if f.Reason != "Account PIN does not match the account number" || f.Actor != "http://ws.aramex.net/ShippingAPI/v1/gateway" {
		t.Errorf("reason %q role %q", f.Reason, f.Actor)
	}
	if got := get(t, env.Header, "Transaction", "@soap:mustUnderstand"); got != "true" {
		t.Errorf("header block attribute in the envelope namespace: %v", got)
	}
	if !strings.Contains(f.Error(), "env:Sender") {
		t.Errorf("Error() = %q", f.Error())
	}

	_, err = ReadSOAP(open("canadapost_tracking_detail.xml"), Options{})
	if !errors.Is(err, ErrNotSOAP) || !strings.Contains(err.Error(), "{http://www.canadapost.ca/ws/track-v2}tracking-detail") {
		t.Errorf("not soap: %v", err)
	}
	_, err = ReadSOAP(strings.NewReader(`<soap:Envelope xmlns:soap="`+NamespaceSOAP11+`"><soap:Header/></soap:Envelope>`), Options{})
	if !errors.Is(err, ErrNotSOAP) {
		t.Errorf("no body: %v", err)
	}
}

func TestHostileInput(t *testing.T) {
	deep := strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)
	var manyAttrs strings.Builder
	manyAttrs.WriteString("<a")
	for i := range 5000 {
		fmt.Fprintf(&manyAttrs, " a%d=\"x\"", i)
	}
	manyAttrs.WriteString("/>")
	cases := []struct {
		name string
		in   string
		opts Options
		kind error
		msg  string
	}{
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`, Options{}, ErrDTD, "DOCTYPE"},
		{"external entity", "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<r>&xxe;</r>", Options{}, ErrDTD, "line 2"},
		{"external dtd", `<!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><r/>`, Options{}, ErrDTD, ""},
		{"undeclared entity", "<r>\n  <v>&xxe;</v>\n</r>", Options{}, ErrSyntax, "line 2"},
		{"deep nesting", deep, Options{}, ErrLimit, "deeper than 256"},
		{"depth option", "<a><b><c/></b></a>", Options{MaxDepth: 2}, ErrLimit, "/a/b"},
		{"size", "<a>" + strings.Repeat("x", 2000) + "</a>", Options{MaxBytes: 1000}, ErrLimit, "larger than 1000"},
		{"invalid utf-8", "<a>\n<b>ok</b>\n<c>\xff\xfe</c></a>", Options{}, ErrEncoding, "line 3, column 4"},
		{"utf-16", "\xff\xfe<\x00a\x00/\x00>\x00", Options{}, ErrEncoding, "UTF-16"},
		{"latin-1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, Options{}, ErrEncoding, "ISO-8859-1"},
		{"many attributes", manyAttrs.String(), Options{}, ErrLimit, "5000 attributes"},
		{"duplicate attribute", `<a x="1" x="2"/>`, Options{}, ErrSyntax, "twice"},
		{"duplicate expanded attribute", `<a xmlns:p="urn:x" xmlns:q="urn:x" p:k="1" q:k="2"/>`, Options{}, ErrNamespace, "urn:x"},
		{"undeclared prefix", "<a>\n<p:b/></a>", Options{}, ErrNamespace, `prefix "p"`},
		{"mismatched tags", "<a>\n<b></c></a>", Options{}, ErrSyntax, "line 2"},
		{"two roots", `<a/><b/>`, Options{}, ErrSyntax, "second root"},
		{"text after root", `<a/>junk`, Options{}, ErrSyntax, "outside the root"},
		{"empty", "  \n ", Options{}, ErrSyntax, "no root"},
		{"unclosed", "<a><b>", Options{}, ErrSyntax, "unexpected end"},
		{"colon in local name", `<a:b:c xmlns:a="urn:a"/>`, Options{}, ErrSyntax, ""},
		{"illegal character", "<a>&#0;</a>", Options{}, ErrSyntax, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree, err := Unmarshal([]byte(c.in), c.opts)
			if err == nil {
				t.Fatalf("accepted: %s", dump(tree))
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %v is not %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not *Error", err)
			}
		})
	}
	// Read applies the size limit while reading, before buffering more.
	_, err := Read(strings.NewReader("<a>"+strings.Repeat("x", 5000)+"</a>"), Options{MaxBytes: 100})
	if !errors.Is(err, ErrLimit) {
		t.Errorf("Read size limit: %v", err)
	}
}

func TestReadBOMAndDeclarations(t *testing.T) {
	tree, err := Unmarshal([]byte("\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8' standalone='yes'?><!-- c --><?pi x?><a>1</a>\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if get(t, tree, "a") != "1" {
		t.Errorf("tree: %s", dump(tree))
	}
	tree, err = Unmarshal([]byte(`<a><![CDATA[<b>&x</b>]]> and &lt;more&gt; &#x263A;</a>`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, tree, "a"); got != "<b>&x</b> and <more> ☺" {
		t.Errorf("cdata and references: %q", got)
	}
	tree, err = Unmarshal([]byte(`<a>x<b/>y</a>`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, tree, "a", "#text"); got != "xy" {
		t.Errorf("mixed content text: %q", got)
	}
}
