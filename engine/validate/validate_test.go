package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/modelschema"
)

var shared = func() *Validator {
	v, err := New()
	if err != nil {
		panic(err)
	}
	return v
}()

func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/create_shipment.json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mutated returns the fixture after change has edited its decoded form.
func mutated(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t), &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func parcel(m map[string]any) map[string]any { return m["parcels"].([]any)[0].(map[string]any) }

func fieldErrors(t *testing.T, err error) []FieldError {
	t.Helper()
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("got %v (%T), want *validate.Error", err, err)
	}
	if len(ve.Fields) == 0 {
		t.Fatal("*validate.Error with no fields")
	}
	return ve.Fields
}

func TestValidShipmentPasses(t *testing.T) {
	if err := shared.Request(sdk.OpCreateShipment, fixture(t)); err != nil {
		t.Fatal(err)
	}
}

func TestShipmentProblems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(m map[string]any)
		pointer string
		message string
	}{
		{"missing ship_to", func(m map[string]any) { delete(m, "ship_to") }, "/ship_to", "is required"},
		{"unknown top-level field", func(m map[string]any) { m["colour"] = "red" }, "/colour", "is not a known field"},
		{"unknown nested field", func(m map[string]any) { obj(m, "ship_to")["landmark"] = "near temple" }, "/ship_to/landmark", "is not a known field"},
		{"unknown field in an array item", func(m map[string]any) { parcel(m)["fragile"] = true }, "/parcels/0/fragile", "is not a known field"},
		{"PIN starting with 0", func(m map[string]any) { obj(m, "ship_to")["postal_code"] = "060102" }, "/ship_to/postal_code", "six-digit Indian PIN code"},
		{"PIN of five digits", func(m map[string]any) { obj(m, "ship_to")["postal_code"] = "56010" }, "/ship_to/postal_code", "six-digit Indian PIN code"},
		{"GSTIN with a wrong check character", func(m map[string]any) { obj(m, "ship_from")["gstin"] = "27AAPFU0939F1ZX" }, "/ship_from/gstin", "should end in V"},
		{"GSTIN of the wrong shape", func(m map[string]any) { obj(m, "ship_from")["gstin"] = "27AAPFU0939F1Z" }, "/ship_from/gstin", "15-character GSTIN"},
		{"state code not the GSTIN's", func(m map[string]any) { obj(m, "ship_from")["state_code"] = "29" }, "/ship_from/state_code", "belongs to state 27"},
		{"cod without an amount", func(m map[string]any) { delete(m, "cod_amount") }, "/cod_amount", "required when payment_mode is cod"},
		{"unknown weight unit", func(m map[string]any) { obj(parcel(m), "weight")["unit"] = "kgs" }, "/parcels/0/weight/unit", `must be one of "kg", "g", "lb", "oz", not "kgs"`},
		{"negative weight", func(m map[string]any) { obj(parcel(m), "weight")["value"] = -1 }, "/parcels/0/weight/value", "must be at least 0, not -1"},
		{"date in the wrong order", func(m map[string]any) { m["ship_date"] = "15-03-2026" }, "/ship_date", "YYYY-MM-DD"},
		{"no parcels", func(m map[string]any) { m["parcels"] = []any{} }, "/parcels", "at least one item"},
		{"number for a string", func(m map[string]any) { m["reference"] = 42 }, "/reference", "must be string, not number"},
		{"empty reference", func(m map[string]any) { m["reference"] = "" }, "/reference", "must not be empty"},
		{"seven-digit HSN code", func(m map[string]any) { parcel(m)["items"].([]any)[0].(map[string]any)["hsn_code"] = "8509401" }, "/parcels/0/items/0/hsn_code", "HSN code of 4, 6 or 8 digits"},
		{"null for an object", func(m map[string]any) { m["invoice"] = nil }, "/invoice", "must be object, not null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := fieldErrors(t, shared.Request(sdk.OpCreateShipment, mutated(t, tc.change)))
			for _, f := range fields {
				if f.Pointer == tc.pointer && strings.Contains(f.Message, tc.message) {
					return
				}
			}
			t.Errorf("got %+v, want %s: ...%s...", fields, tc.pointer, tc.message)
		})
	}
}

func TestForeignPostalCodeIsNotAPIN(t *testing.T) {
	body := mutated(t, func(m map[string]any) {
		to := obj(m, "ship_to")
		to["country_code"], to["postal_code"] = "GB", "SW1A 1AA"
		delete(to, "state_code")
	})
	if err := shared.Request(sdk.OpCreateShipment, body); err != nil {
		t.Fatal(err)
	}
}

func TestEveryProblemIsReportedInPointerOrder(t *testing.T) {
	body := mutated(t, func(m map[string]any) {
		m["zz_unknown"] = 1
		delete(m, "reference")
		obj(m, "ship_to")["postal_code"] = "000000"
		obj(m, "ship_from")["gstin"] = "27AAPFU0939F1ZA"
	})
	fields := fieldErrors(t, shared.Request(sdk.OpCreateShipment, body))
	var got []string
	for _, f := range fields {
		got = append(got, f.Pointer)
	}
	want := []string{"/reference", "/ship_from/gstin", "/ship_to/postal_code", "/zz_unknown"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("pointers %v, want %v", got, want)
	}
}

func TestMalformedJSON(t *testing.T) {
	for _, tc := range []struct {
		name, body, message string
	}{
		{"bad value", `{"reference": }`, "byte offset 15"},
		{"truncated", `{"reference": "x"`, "byte offset 17"},
		{"trailing data", `{} {}`, "byte offset 4"},
		{"empty", ``, "empty body"},
		{"blank", " \n", "empty body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := fieldErrors(t, shared.Request(sdk.OpCreateShipment, []byte(tc.body)))
			if len(fields) != 1 || fields[0].Pointer != "" || !strings.Contains(fields[0].Message, tc.message) {
				t.Fatalf("got %+v, want one error at \"\" mentioning %q", fields, tc.message)
			}
		})
	}
}

func TestBodyMustBeAnObject(t *testing.T) {
	fields := fieldErrors(t, shared.Request(sdk.OpTrack, []byte(`["AWB1"]`)))
	if fields[0].Pointer != "" || fields[0].Message != "must be object, not array" {
		t.Fatalf("got %+v", fields)
	}
}

func TestEveryOperationHasARequestSchema(t *testing.T) {
	for _, op := range sdk.Operations() {
		err := shared.Request(op.Name, []byte(`{"not_a_field": 1}`))
		fields := fieldErrors(t, err)
		found := false
		for _, f := range fields {
			found = found || f.Pointer == "/not_a_field"
		}
		if !found {
			t.Errorf("%s accepted an unknown field: %+v", op.Name, fields)
		}
	}
}

func TestOtherOperations(t *testing.T) {
	for _, tc := range []struct {
		op       sdk.Operation
		body     string
		pointer  string // empty when the body is valid
		contains string
	}{
		{sdk.OpTrack, `{"tracking_numbers": ["1490811234567"]}`, "", ""},
		{sdk.OpTrack, `{"tracking_numbers": []}`, "/tracking_numbers", "at least one item"},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": 2}`, "", ""},
		{sdk.OpCancelEWayBill, `{"number": "39100123456", "reason_code": 2}`, "/number", "12 digits"},
		{sdk.OpCancelEWayBill, `{"number": "391001234567", "reason_code": 1.5}`, "/reason_code", "must be integer, not number"},
		{sdk.OpLookupVehicle, `{"registration_number": "MH 12 AB 1234"}`, "/registration_number", "without spaces"},
		{sdk.OpSchedulePickup, `{"address": {"postal_code": "411026", "country_code": "IN"}, "date": "2026-02-30"}`, "/date", "YYYY-MM-DD"},
		{sdk.OpListTollCrossings, `{"vehicle_number": "MH12AB1234", "from": "2026-03-01 10:00"}`, "/from", "RFC 3339"},
		{sdk.OpListTollCrossings, `{"vehicle_number": "MH12AB1234", "from": "2026-03-01T10:00:00+05:30"}`, "", ""},
	} {
		err := shared.Request(tc.op, []byte(tc.body))
		if tc.pointer == "" {
			if err != nil {
				t.Errorf("%s %s: %v", tc.op, tc.body, err)
			}
			continue
		}
		fields := fieldErrors(t, err)
		if fields[0].Pointer != tc.pointer || !strings.Contains(fields[0].Message, tc.contains) {
			t.Errorf("%s %s: got %+v, want %s ...%s...", tc.op, tc.body, fields, tc.pointer, tc.contains)
		}
	}
}

func TestUnknownOperation(t *testing.T) {
	err := shared.Request("teleport", []byte(`{}`))
	if !errors.Is(err, &sdk.Error{Code: sdk.CodeNotFound}) {
		t.Fatalf("got %v, want not_found", err)
	}
}

func TestSDKError(t *testing.T) {
	err := shared.Request(sdk.OpCreateShipment, mutated(t, func(m map[string]any) { delete(m, "parcels") }))
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	se := ve.SDKError()
	if se.Code != sdk.CodeInvalidRequest || se.Source != sdk.SourceHub || se.Field != "/parcels" || !se.NotSent {
		t.Fatalf("got %+v", se)
	}
	if !strings.Contains(se.Message, "/parcels: is required") {
		t.Fatalf("message %q", se.Message)
	}
}

func TestResponse(t *testing.T) {
	ok := `{"results":[{"tracking_number":"1490811234567","status":"in_transit","raw_code":"UD","events":[{"time":"2026-03-15T10:04:00+05:30","status":"in_transit","sub_status":"picked_up"}]}]}`
	if err := shared.Response(sdk.OpTrack, []byte(ok)); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(ok, `"status":"in_transit","raw_code"`, `"status":"moving","raw_code"`, 1)
	fields := fieldErrors(t, shared.Response(sdk.OpTrack, []byte(bad)))
	if fields[0].Pointer != "/results/0/status" {
		t.Fatalf("got %+v", fields)
	}
	// Responses skip the India checks: a carrier's bad PIN is its own business.
	pod := `{"tracking_number":"X","location":{"lat":18.5,"lon":73.8}}`
	if err := shared.Response(sdk.OpGetPOD, []byte(pod)); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	good := fixture(t)
	bad := mutated(t, func(m map[string]any) { obj(m, "ship_to")["postal_code"] = "012345" })
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if i%2 == 0 {
					if err := shared.Request(sdk.OpCreateShipment, good); err != nil {
						t.Error(err)
						return
					}
				} else if err := shared.Request(sdk.OpCreateShipment, bad); err == nil {
					t.Error("bad PIN accepted")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestGSTIN(t *testing.T) {
	for _, g := range []string{"27AAPFU0939F1ZV", "29AAGCB7383J1Z4"} {
		if !ValidGSTIN(g) {
			t.Errorf("ValidGSTIN(%s) = false", g)
		}
	}
	for _, g := range []string{"27AAPFU0939F1ZW", "27aapfu0939f1zv", "27AAPFU0939F1YV", "27AAPFU0939F1Z", "", "2XAAPFU0939F1ZV"} {
		if ValidGSTIN(g) {
			t.Errorf("ValidGSTIN(%q) = true", g)
		}
	}
	if c := GSTINCheckChar("27AAPFU0939F1"); c != 0 {
		t.Errorf("check char of a 13-character prefix = %q, want 0", c)
	}
	if c := GSTINCheckChar("27AAPFU0939F1z"); c != 0 {
		t.Errorf("check char with a lowercase letter = %q, want 0", c)
	}
}

func TestPIN(t *testing.T) {
	for pin, want := range map[string]bool{"411026": true, "110001": true, "011026": false, "41102": false, "4110266": false, "41102A": false, "": false} {
		if ValidPIN(pin) != want {
			t.Errorf("ValidPIN(%q) = %v", pin, !want)
		}
	}
}

func TestPointerEscaping(t *testing.T) {
	var w walker
	for _, tok := range []token{{key: "options", index: -1}, {key: "a/b~c", index: -1}, {index: 10}} {
		w.push(tok)
	}
	if got := w.pointer("x~y"); got != "/options/a~1b~0c/10/x~0y" {
		t.Fatalf("got %s", got)
	}
	// Deeper than the walker's fixed array, and back.
	var deep walker
	var want strings.Builder
	for i := range 40 {
		deep.push(token{index: i})
		fmt.Fprintf(&want, "/%d", i)
	}
	deep.pop()
	deep.push(token{key: "k", index: -1})
	if got, w := deep.pointer(""), strings.TrimSuffix(want.String(), "/39")+"/k"; got != w {
		t.Fatalf("deep pointer %s, want %s", got, w)
	}
	if got := (&walker{}).pointer(""); got != "" {
		t.Fatalf("root pointer %q", got)
	}
}

func BenchmarkRequestCreateShipment(b *testing.B) {
	body := fixture(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := shared.Request(sdk.OpCreateShipment, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestCreateShipmentInvalid(b *testing.B) {
	var m map[string]any
	_ = json.Unmarshal(fixture(b), &m)
	m["ship_to"].(map[string]any)["postal_code"] = "012345"
	m["colour"] = "red"
	body, _ := json.Marshal(m)
	b.ReportAllocs()
	for b.Loop() {
		if err := shared.Request(sdk.OpCreateShipment, body); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkDecodeOnly is the floor: decoding the body into a generic value, which
// validation cannot avoid.
func BenchmarkDecodeOnly(b *testing.B) {
	body := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEveryRequestPatternHasAHint keeps messages readable when a pattern is added
// to the model: each pattern in a request schema needs words in patternHints.
func TestEveryRequestPatternHasAHint(t *testing.T) {
	for _, op := range sdk.Operations() {
		name, _ := modelschema.NameFor(op.Request)
		b, err := fs.ReadFile(modelschema.FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if p, ok := v["pattern"].(string); ok {
					if _, ok := patternHints[p]; !ok {
						t.Errorf("%s: pattern %s has no hint", name, p)
					}
				}
				for _, c := range v {
					walk(c)
				}
			case []any:
				for _, c := range v {
					walk(c)
				}
			}
		}
		walk(doc)
	}
}

// BenchmarkGJSONFloor is the floor of the compiled validator's approach: the
// syntax check and a walk of every value with gjson, checking nothing.
func BenchmarkGJSONFloor(b *testing.B) {
	body := fixture(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var visit func(v gjson.Result) int
	visit = func(v gjson.Result) int {
		n := 1
		if v.IsObject() || v.IsArray() {
			v.ForEach(func(_, c gjson.Result) bool {
				n += visit(c)
				return true
			})
		}
		return n
	}
	for b.Loop() {
		if !gjson.ValidBytes(body) {
			b.Fatal("invalid")
		}
		if visit(gjson.ParseBytes(body)) < 10 {
			b.Fatal("short walk")
		}
	}
}
