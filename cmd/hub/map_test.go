package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk/model"
)

func runMap(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, streams{strings.NewReader(stdin), &out, &errb})
	return code, out.String(), errb.String()
}

const fedexDir = "../../connectors/fedex/mappings"

func TestMapTestFedEx(t *testing.T) {
	code, out, errOut := runMap(t, "", "map", "test", fedexDir)
	if code != 0 || !strings.Contains(out, "ok   ../../connectors/fedex/mappings/track.mapping delivered") || !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestMapTestEveryConnector runs every mapping the connectors ship, with their
// fixtures, the way CI and an author would: one command over the whole tree.
func TestMapTestEveryConnector(t *testing.T) {
	code, out, errOut := runMap(t, "", "map", "test", "../../connectors")
	if code != 0 || !strings.Contains(out, " 0 failed") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, m := range []string{"delhivery/mappings/track.mapping", "bluedart/mappings/track.mapping", "fedex/mappings/track.mapping",
		"statusfile/mappings/x12-214.mapping", "statusfile/mappings/csv.mapping"} {
		if !strings.Contains(out, m) {
			t.Errorf("no fixture ran for %s:\n%s", m, out)
		}
	}
}

// TestMapFixedAndForm maps a fixed-width manifest (with its column layout) and
// a Delhivery form body through hub map apply and hub map test.
func TestMapFixedAndForm(t *testing.T) {
	const dir = "../../testdata/mappings"
	if code, out, errOut := runMap(t, "", "map", "test", dir); code != 0 || !strings.Contains(out, "2 passed, 0 failed") {
		t.Fatalf("map test: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runMap(t, "", "map", "apply", "--mapping", dir+"/manifest/manifest.mapping",
		"--layout", dir+"/manifest/manifest.layout.json", dir+"/manifest/manifest.sample.in.txt")
	if code != 0 || !strings.Contains(out, `"tracking_number":"329014521623"`) || !strings.Contains(out, `"cod_amount":{"amount":1499,"currency":"INR"}`) {
		t.Fatalf("apply fixed: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runMap(t, "", "map", "apply", "--mapping", dir+"/manifest/manifest.mapping", dir+"/manifest/manifest.sample.in.txt"); code == 0 || !strings.Contains(errOut, "--layout") {
		t.Errorf("fixed without a layout: exit %d, %s", code, errOut)
	}
	body := "format=json&data=" + url.QueryEscape(`{"shipments":[{"order":"A1","name":"X","add":"L","pin":"110001","country":"India","payment_mode":"Prepaid","weight":500}],"pickup_location":{"name":"WH"}}`)
	code, out, errOut = runMap(t, body, "map", "apply", "--mapping", dir+"/delhivery-form/create-body.mapping", "-")
	if code != 0 || !strings.Contains(out, `"reference":"A1"`) || !strings.Contains(out, `"weight":{"value":0.5,"unit":"kg"}`) {
		t.Fatalf("apply form: exit %d\n%s%s", code, out, errOut)
	}
}

func TestMapApplyNDJSONIsCanonical(t *testing.T) {
	var in bytes.Buffer
	for _, f := range []string{"track.delivered.in.json", "track.notfound.in.json"} {
		b, err := os.ReadFile(filepath.Join(fedexDir, f))
		if err != nil {
			t.Fatal(err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatal(err)
		}
		in.Write(c.Bytes())
		in.WriteByte('\n')
	}
	code, out, errOut := runMap(t, in.String(), "map", "apply", "--mapping", filepath.Join(fedexDir, "track.mapping"), "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out)
	}
	// Every output decodes into the canonical model with no unknown field.
	var statuses []model.TrackingStatus
	for _, l := range lines {
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		var r model.TrackResponse
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in %s", err, l)
		}
		for _, res := range r.Results {
			statuses = append(statuses, res.Status)
			for i := 1; i < len(res.Events); i++ {
				if res.Events[i].Time.Before(res.Events[i-1].Time) {
					t.Errorf("%s: events not oldest first", res.TrackingNumber)
				}
			}
		}
	}
	want := []model.TrackingStatus{model.StatusDelivered, model.StatusUnknown, model.StatusAttemptFailed}
	if len(statuses) != len(want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Errorf("statuses %v, want %v", statuses, want)
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMapTestReportsMismatch(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"m.mapping":         "from json\ndirection response\n{id: input.id, n: input.n * 2}\n",
		"m.ok.in.json":      `{"id":"a","n":1}`,
		"m.ok.out.json":     "{\n  \"n\": 2,\n  \"id\": \"a\"\n}\n",
		"m.wrong.in.json":   `{"id":"b","n":2}`,
		"m.wrong.out.json":  `{"id":"b","n":5}`,
		"broken.mapping":    "from json\ndirection response\n{id: input.id.uper()}\n",
		"lonely.mapping":    "from json\ndirection request\ninput\n",
		"m.noexp.in.json":   `{"id":"c","n":0}`,
		"unrelated.in.json": `{}`,
	})
	code, out, _ := runMap(t, "", "map", "test", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"broken.mapping:3:15: unknown function uper() (did you mean upper()?)",
		"?    " + filepath.Join(dir, "lonely.mapping") + " (no fixtures",
		"ok   " + filepath.Join(dir, "m.mapping") + " ok",
		"FAIL " + filepath.Join(dir, "m.mapping") + " wrong",
		`-  "n": 5`,
		`+  "n": 4`,
		"no expected output",
		"1 passed, 3 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// --update writes the expected outputs, after which everything passes.
	if code, out, _ := runMap(t, "", "map", "test", "--update", dir); code != 1 || !strings.Contains(out, "3 passed, 1 failed") {
		t.Errorf("update: exit %d\n%s", code, out)
	}
}

func TestMapApplyErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"m.mapping":   "from json\ndirection response\n{id!: input.id}\n",
		"f.mapping":   "from fixed\ndirection response\ninput\n",
		"x.mapping":   "from xml\ndirection response\n{id: input.Order.Id, n: input.Order.Line.length()}\n",
		"order.xml":   `<Order><Id>O-1</Id><Line>a</Line><Line>b</Line></Order>`,
		"scalars.txt": `{"id":"a"} {"id":"b"}` + "\n" + `{"id":`,
	})
	code, out, errOut := runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, "m.mapping"), filepath.Join(dir, "scalars.txt"))
	if code != 1 || out != "{\"id\":\"a\"}\n{\"id\":\"b\"}\n" || !strings.Contains(errOut, "record 3: invalid input: malformed JSON") {
		t.Errorf("exit %d, out %q, err %q", code, out, errOut)
	}
	code, _, errOut = runMap(t, `{"other":1}`, "map", "apply", "--mapping", filepath.Join(dir, "m.mapping"))
	if code != 1 || !strings.Contains(errOut, `record 1: `) || !strings.Contains(errOut, `required field "id": id is missing`) {
		t.Errorf("exit %d, err %q", code, errOut)
	}
	code, _, errOut = runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, "f.mapping"))
	if code != 1 || !strings.Contains(errOut, "fixed-width input needs a column layout: --layout FILE") {
		t.Errorf("exit %d, err %q", code, errOut)
	}
	code, _, errOut = runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, "m.mapping"), "--from", "xml")
	if code != 1 || !strings.Contains(errOut, "--from xml disagrees with the mapping, which reads json") {
		t.Errorf("exit %d, err %q", code, errOut)
	}
	code, out, errOut = runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, "x.mapping"), filepath.Join(dir, "order.xml"))
	if code != 0 || out != "{\"id\":\"O-1\",\"n\":2}\n" {
		t.Errorf("xml: exit %d, out %q, err %q", code, out, errOut)
	}
}

func TestJSONSplitter(t *testing.T) {
	in := "{\"a\": [1,\n 2]}\n\n  {\"b\":\"x}\\\"\"}[3] 42 \"s\"\ntrue\n{\"c\":"
	sp := newJSONSplitter(strings.NewReader(in), 1<<20)
	var got []string
	for {
		rec, err := sp.next()
		if err != nil {
			break
		}
		got = append(got, string(rec))
	}
	want := []string{"{\"a\": [1,\n 2]}", `{"b":"x}\""}`, "[3]", "42", `"s"`, "true", `{"c":`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	sp = newJSONSplitter(strings.NewReader(`{"a":"`+strings.Repeat("x", 1000)+`"}`), 100)
	if _, err := sp.next(); err == nil || !strings.Contains(err.Error(), "larger than the 100-byte limit") {
		t.Errorf("got %v", err)
	}
}

// TestMapApplyWriters writes mapping results through every writer: an identity
// mapping turns X12 and EDIFACT back into the same bytes (counts and control
// numbers regenerated from the headers), and a JSON mapping writes XML, SOAP,
// CSV and Delhivery's form body.
func TestMapApplyWriters(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"x12.mapping":     "from x12\ndirection request\ninput\n",
		"edifact.mapping": "from edifact\ndirection request\ninput\n",
		"order.mapping": `from json
direction request
{
  Body: { "ns:BookPickup": { "@xmlns:ns": "urn:example", AWB: input.awb, Pieces: input.n.string() } }
}`,
		"rows.mapping": "from json\ndirection request\ninput.items.map(i -> {sku: i.sku, qty: i.qty})\n",
		"form.mapping": "from json\ndirection request\n{format: \"json\", data: {shipments: [{order: input.awb}]}}\n",
		"order.json":   `{"awb": "5091234 & <co>", "n": 2, "items": [{"sku": "A,1", "qty": 2}, {"sku": "B", "qty": 1}]}`,
	})
	for _, f := range []string{"../../mappings/edi/testdata/214.edi", "../../mappings/edi/testdata/iftmin.edi"} {
		m := "x12.mapping"
		to := "x12"
		if strings.HasSuffix(f, "iftmin.edi") {
			m, to = "edifact.mapping", "edifact"
		}
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, m), "--to", to, f)
		if code != 0 || out != string(want) {
			t.Errorf("%s round trip: exit %d %s\n got %q\nwant %q", to, code, errOut, out, want)
		}
	}
	in := filepath.Join(dir, "order.json")
	cases := []struct{ mapping, to, want string }{
		{"order.mapping", "soap11", `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns:BookPickup xmlns:ns="urn:example"><AWB>5091234 &amp; &lt;co&gt;</AWB><Pieces>2</Pieces></ns:BookPickup></soap:Body></soap:Envelope>`},
		{"rows.mapping", "csv", "sku,qty\n\"A,1\",2\nB,1\n"},
		{"form.mapping", "form", `format=json&data=%7B%22shipments%22%3A%5B%7B%22order%22%3A%225091234+%26+%3Cco%3E%22%7D%5D%7D`},
	}
	for _, c := range cases {
		code, out, errOut := runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, c.mapping), "--to", c.to, in)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("--to %s: exit %d %s\n got %s\nwant it to contain %s", c.to, code, errOut, out, c.want)
		}
	}
	if code, _, errOut := runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, "rows.mapping"), "--to", "xml", in); code != 1 || !strings.Contains(errOut, "writing xml needs the mapping to produce an object, not a list") {
		t.Errorf("a list as XML: exit %d %s", code, errOut)
	}
	if code, _, errOut := runMap(t, "", "map", "apply", "--mapping", filepath.Join(dir, "rows.mapping"), "--to", "yaml", in); code != 1 || !strings.Contains(errOut, `--to "yaml"`) {
		t.Errorf("unknown writer: exit %d %s", code, errOut)
	}
}
