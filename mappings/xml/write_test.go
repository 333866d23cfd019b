package xml

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/carrierhub/hub/mappings/doc"
)

func obj(kv ...any) *doc.Object {
	o := doc.NewObject(len(kv) / 2)
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// TestRoundTrip reads every fixture, writes it and reads the output again:
// the trees must be equal, both with namespaces bound to prefixes and with
// expanded names (which the writer turns into generated prefixes).
func TestRoundTrip(t *testing.T) {
	prefixes := map[string]string{
		"soap": NamespaceSOAP11, "env": NamespaceSOAP12, "xsi": NamespaceXSI,
		"p": "http://purolator.com/pws/datatypes/v1", "cp": "http://www.canadapost.ca/ws/track-v2",
	}
	files, _ := filepath.Glob("testdata/*.xml")
	for _, f := range files {
		for _, mode := range []struct {
			name string
			r    Options
			w    WriteOptions
		}{
			{"prefixes", Options{Prefixes: prefixes}, WriteOptions{Prefixes: prefixes, Nil: true, Indent: "  ", Declaration: true}},
			{"expanded", Options{Expanded: true}, WriteOptions{Nil: true}},
			{"local", Options{}, WriteOptions{Nil: true}},
		} {
			t.Run(filepath.Base(f)+"/"+mode.name, func(t *testing.T) {
				first := mustRead(t, filepath.Base(f), mode.r)
				out, err := Marshal(first, mode.w)
				if err != nil {
					t.Fatal(err)
				}
				second, err := Unmarshal(out, mode.r)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if dump(first) != dump(second) {
					t.Errorf("round trip changed the tree:\n%s\nwritten as\n%s", dump(second), out)
				}
			})
		}
	}
}

func TestWriteNamespacesAttributesEscaping(t *testing.T) {
	tree := obj("cp:mailing-scenario", obj(
		"@xmlns", "http://www.canadapost.ca/ws/ship/rate-v4",
		"customer-number", "0009876543",
		"parcel-characteristics", obj("weight", 1.5, "@unit", "kg"),
		"note", `Fragile & "urgent" <glass>`+"\r\n",
		"option", []any{obj("@code", "SO", "#text", "Signature"), obj("@code", `CO"D`, "#text", int64(1200))},
		"missing", nil,
		"flag", true,
	))
	out, err := Marshal(tree, WriteOptions{Prefixes: map[string]string{"cp": "http://www.canadapost.ca/ws/ship/rate-v4"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `<cp:mailing-scenario xmlns:cp="http://www.canadapost.ca/ws/ship/rate-v4" xmlns="http://www.canadapost.ca/ws/ship/rate-v4">` +
		`<customer-number>0009876543</customer-number><parcel-characteristics unit="kg"><weight>1.5</weight></parcel-characteristics>` +
		`<note>Fragile &amp; "urgent" &lt;glass&gt;&#xD;` + "\n" + `</note>` +
		`<option code="SO">Signature</option><option code="CO&quot;D">1200</option><flag>true</flag></cp:mailing-scenario>`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// Default namespace: children are in it, and read back with local names.
	back, err := Unmarshal(out, Options{Prefixes: map[string]string{"r": "http://www.canadapost.ca/ws/ship/rate-v4"}})
	if err != nil {
		t.Fatal(err)
	}
	if get(t, back, "r:mailing-scenario", "r:option", 1, "@code") != `CO"D` {
		t.Errorf("read back: %s", dump(back))
	}
}

func TestWriteGeneratedPrefixes(t *testing.T) {
	tree := obj("{urn:a}root", obj("@{urn:b}k", "v", "{urn:a}child", "x", "plain", "y"))
	out, err := Marshal(tree, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `<ns1:root xmlns:ns1="urn:a" xmlns:ns2="urn:b" ns2:k="v"><ns1:child>x</ns1:child><plain>y</plain></ns1:root>`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestWriteIndent(t *testing.T) {
	tree := obj("a", obj("@id", "1", "b", []any{"x", "y"}, "c", obj("d", ""), "e", nil))
	out, err := Marshal(tree, WriteOptions{Indent: "  ", Declaration: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a id=\"1\">\n  <b>x</b>\n  <b>y</b>\n  <c>\n    <d/>\n  </c>\n</a>\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestWriteRefusesWhatXMLCannotSay(t *testing.T) {
	cases := []struct {
		name string
		tree any
		opts WriteOptions
		kind error
		path string
	}{
		{"not an object", "x", WriteOptions{}, ErrShape, ""},
		{"two roots", obj("a", "1", "b", "2"), WriteOptions{}, ErrShape, ""},
		{"repeated root", obj("a", []any{"1", "2"}), WriteOptions{}, ErrShape, "/a"},
		{"undeclared prefix", obj("a", obj("p:b", "1")), WriteOptions{}, ErrNamespace, "/a/p:b"},
		{"bad name", obj("a", obj("1b", "x")), WriteOptions{}, ErrShape, "/a/1b"},
		{"space in name", obj("a", obj("b c", "x")), WriteOptions{}, ErrShape, "/a/b c"},
		{"list in list", obj("a", obj("b", []any{[]any{"x"}})), WriteOptions{}, ErrShape, "/a/b[0]"},
		{"object attribute", obj("a", obj("@b", obj())), WriteOptions{}, ErrShape, "/a/@b"},
		{"NaN", obj("a", obj("n", math.NaN())), WriteOptions{}, ErrShape, "/a/n"},
		{"control character", obj("a", "bell\x07"), WriteOptions{}, ErrShape, "/a"},
		{"invalid utf-8", obj("a", obj("@k", "\xff")), WriteOptions{}, ErrShape, "/a/@k"},
		{"foreign type", obj("a", 3), WriteOptions{}, ErrShape, "/a"},
		{"xmlns prefix", obj("a", "1"), WriteOptions{Prefixes: map[string]string{"xmlns": "urn:x"}}, ErrNamespace, ""},
		{"conflicting declaration", obj("a", obj("@xmlns:p", "urn:y")), WriteOptions{Prefixes: map[string]string{"p": "urn:x"}}, ErrNamespace, "/a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, c.tree, c.opts)
			var e *Error
			if !errors.Is(err, c.kind) || !errors.As(err, &e) {
				t.Fatalf("error %v, want %v", err, c.kind)
			}
			if e.Path != c.path {
				t.Errorf("path %q, want %q (%v)", e.Path, c.path, err)
			}
		})
	}
}

func TestSOAPEnvelopes(t *testing.T) {
	const puro = "http://purolator.com/pws/datatypes/v1"
	header := obj("p:RequestContext", obj("p:Version", "1.2", "p:Language", "en", "p:RequestReference", "hub"))
	body := obj("p:TrackPackagesByPinRequest", obj("p:PINs", obj("p:PIN", []any{obj("p:Value", "329014521622"), obj("p:Value", "329014521623")})))
	out, err := MarshalSOAP(SOAP11, header, body, WriteOptions{Prefixes: map[string]string{"p": puro}})
	if err != nil {
		t.Fatal(err)
	}
	want := `<soap:Envelope xmlns:p="http://purolator.com/pws/datatypes/v1" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Header><p:RequestContext><p:Version>1.2</p:Version><p:Language>en</p:Language><p:RequestReference>hub</p:RequestReference></p:RequestContext></soap:Header>` +
		`<soap:Body><p:TrackPackagesByPinRequest><p:PINs><p:PIN><p:Value>329014521622</p:Value></p:PIN><p:PIN><p:Value>329014521623</p:Value></p:PIN></p:PINs></p:TrackPackagesByPinRequest></soap:Body></soap:Envelope>`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	env, err := ReadSOAP(bytes.NewReader(out), Options{Prefixes: map[string]string{"p": puro}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dump(env.Body), dump(body)) || dump(env.Header) != dump(header) {
		t.Errorf("round trip: %s %s", dump(env.Header), dump(env.Body))
	}

	out, err = MarshalSOAP(SOAP12, nil, obj("m:Ping", ""), WriteOptions{Prefixes: map[string]string{"m": "urn:m"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<soap:Envelope xmlns:m="urn:m" xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><m:Ping/></soap:Body></soap:Envelope>`; string(out) != want {
		t.Errorf("1.2 got\n%s", out)
	}
	if SOAP12.ContentType("urn:Ping") != `application/soap+xml; charset=utf-8; action="urn:Ping"` || SOAP11.ContentType("x") != "text/xml; charset=utf-8" {
		t.Error("content types")
	}
	if _, err := MarshalSOAP(SOAP11, nil, obj("a", ""), WriteOptions{Prefixes: map[string]string{"soap": "urn:other"}}); !errors.Is(err, ErrNamespace) {
		t.Errorf("soap prefix clash: %v", err)
	}
}

func TestFaultTreeRoundTrip(t *testing.T) {
	for _, v := range []SOAPVersion{SOAP11, SOAP12} {
		in := &Fault{Code: "Client", Reason: "PIN 123 is not valid", Actor: "urn:gateway", Detail: obj("e:Error", obj("e:Code", "1100")), Version: v}
		if v == SOAP12 {
			in.Code = "Sender"
			in.Subcodes = []string{"e:BadPin"}
		}
		out, err := MarshalSOAP(v, nil, FaultTree(v, in), WriteOptions{Prefixes: map[string]string{"e": "urn:errors"}})
		if err != nil {
			t.Fatal(err)
		}
		env, err := ReadSOAP(bytes.NewReader(out), Options{Prefixes: map[string]string{"e": "urn:errors"}})
		if err != nil {
			t.Fatal(err)
		}
		got := env.Fault
		if got == nil || got.Code != in.Code || got.RawCode != "soap:"+in.Code || got.Reason != in.Reason || got.Actor != in.Actor ||
			!reflect.DeepEqual(got.Subcodes, in.Subcodes) || dump(got.Detail) != dump(in.Detail) || env.Version != v {
			t.Errorf("SOAP %v fault changed:\n%+v\n%s", v, got, out)
		}
	}
}

func BenchmarkReadSOAP5KB(b *testing.B) {
	data, err := os.ReadFile("testdata/soap11_track_response.xml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Unmarshal(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSOAPEnvelope5KB(b *testing.B) {
	data, err := os.ReadFile("testdata/soap11_track_response.xml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadSOAP(bytes.NewReader(data), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteSOAP5KB(b *testing.B) {
	data, err := os.ReadFile("testdata/soap11_track_response.xml")
	if err != nil {
		b.Fatal(err)
	}
	tree, err := Unmarshal(data, Options{Expanded: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, tree, WriteOptions{Nil: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
