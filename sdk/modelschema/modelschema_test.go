package modelschema

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

var update = flag.Bool("update", false, "rewrite the committed schemas in schema/")

// TestCommittedSchemasAreCurrent regenerates every schema and compares it with the
// committed file; -update rewrites the files instead.
func TestCommittedSchemasAreCurrent(t *testing.T) {
	got, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		old, _ := filepath.Glob(filepath.Join("schema", "*.json"))
		for _, f := range old {
			if _, keep := got[filepath.Base(f)]; !keep {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, b := range got {
			if err := os.WriteFile(filepath.Join("schema", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	onDisk, err := filepath.Glob(filepath.Join("schema", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range onDisk {
		if _, ok := got[filepath.Base(f)]; !ok {
			t.Errorf("%s is not generated any more; run go test ./sdk/modelschema -update", f)
		}
	}
	for name, want := range got {
		have, err := os.ReadFile(filepath.Join("schema", name))
		if err != nil {
			t.Errorf("%s missing; run go test ./sdk/modelschema -update", name)
			continue
		}
		if !bytes.Equal(have, want) {
			t.Errorf("schema/%s is stale; run go test ./sdk/modelschema -update", name)
		}
		embedded, err := fs.ReadFile(FS(), name)
		if err != nil || !bytes.Equal(embedded, have) {
			t.Errorf("embedded %s differs from the file on disk", name)
		}
	}
}

// TestGenerateIsDeterministic guards the stale check against map-order noise.
// TestCommittedManifestSchemaIsCurrent regenerates the manifest's schema and
// compares it with the committed file; -update rewrites it.
func TestCommittedManifestSchemaIsCurrent(t *testing.T) {
	got, err := GenerateManifest()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("manifest", "manifest.schema.json"), got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, Manifest()) {
		t.Error("manifest/manifest.schema.json is stale; run go test ./sdk/modelschema -update")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs of Generate differ")
	}
}

func TestEveryOperationTypeHasASchema(t *testing.T) {
	for _, op := range sdk.Operations() {
		for _, typ := range []reflect.Type{op.Request, op.Response} {
			name, ok := NameFor(typ)
			if !ok {
				t.Errorf("%s: %s has no schema", op.Name, typ)
				continue
			}
			if _, err := fs.Stat(FS(), name); err != nil {
				t.Errorf("%s: %s: %v", op.Name, name, err)
			}
		}
	}
	if name, ok := NameFor(reflect.TypeFor[*model.ShipmentRequest]()); !ok || name != "shipment_request.json" {
		t.Errorf("NameFor(*ShipmentRequest) = %q, %v", name, ok)
	}
	if _, ok := NameFor(reflect.TypeFor[string]()); ok {
		t.Error("NameFor(string) found a schema")
	}
	if _, ok := NameFor(nil); ok {
		t.Error("NameFor(nil) found a schema")
	}
}

// TestEveryModelStructHasASchema parses sdk/model and checks that each exported
// struct type is in the catalogue, so a new type cannot be forgotten.
func TestEveryModelStructHasASchema(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), filepath.Join("..", "model"), func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for typ := range files {
		have[typ.Name()] = true
	}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.TYPE {
					continue
				}
				for _, s := range g.Specs {
					ts := s.(*ast.TypeSpec)
					if _, isStruct := ts.Type.(*ast.StructType); isStruct && ts.Name.IsExported() && !have[ts.Name.Name] {
						t.Errorf("model.%s has no schema; add it to mainTypes", ts.Name.Name)
					}
				}
			}
		}
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"ShipmentRequest":       "shipment_request",
		"PODRequest":            "pod_request",
		"ERPPostResponse":       "erp_post_response",
		"EWayBillVehicleUpdate": "eway_bill_vehicle_update",
		"EInvoice":              "einvoice",
		"ProofOfDelivery":       "proof_of_delivery",
		"GeoPoint":              "geo_point",
		"Address":               "address",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSchemaShape spot-checks what the generator promises: $id, $defs, closed
// objects, required non-omitempty fields and descriptions from doc comments.
func TestSchemaShape(t *testing.T) {
	b, err := fs.ReadFile(FS(), "shipment_request.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema      string                     `json:"$schema"`
		ID          string                     `json:"$id"`
		Description string                     `json:"description"`
		Required    []string                   `json:"required"`
		Additional  *bool                      `json:"additionalProperties"`
		Properties  map[string]json.RawMessage `json:"properties"`
		Defs        map[string]struct {
			Additional *bool                      `json:"additionalProperties"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q", s.Schema)
	}
	if s.ID != BaseID+"shipment_request.json" {
		t.Errorf("$id = %q", s.ID)
	}
	if !strings.HasPrefix(s.Description, "ShipmentRequest asks a carrier to book") {
		t.Errorf("description = %q, want the type's doc comment", s.Description)
	}
	if s.Additional == nil || *s.Additional {
		t.Error("root does not reject unknown fields")
	}
	wantReq := map[string]bool{"reference": true, "ship_from": true, "ship_to": true, "parcels": true}
	for _, r := range s.Required {
		if !wantReq[r] {
			t.Errorf("%q required but has omitempty", r)
		}
		delete(wantReq, r)
	}
	for r := range wantReq {
		t.Errorf("%q not required", r)
	}
	addr, ok := s.Defs["Address"]
	if !ok {
		t.Fatal("no $defs/Address")
	}
	if addr.Additional == nil || *addr.Additional {
		t.Error("Address does not reject unknown fields")
	}
	if !strings.Contains(string(addr.Properties["gstin"]), "GST identification number") {
		t.Errorf("gstin has no description from its comment: %s", addr.Properties["gstin"])
	}
	if !strings.Contains(string(s.Properties["payment_mode"]), `"enum":["prepaid","cod","to_pay","pickup","replacement"]`) &&
		!strings.Contains(compact(t, s.Properties["payment_mode"]), `"enum":["prepaid","cod","to_pay","pickup","replacement"]`) {
		t.Errorf("payment_mode enum wrong or duplicated: %s", s.Properties["payment_mode"])
	}
}

func compact(t *testing.T, b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
