// Package modelschema holds the JSON Schemas (draft 2020-12) of the canonical model
// in sdk/model: one file per request, response and main model type, generated from
// the Go structs and committed under schema/, where this package embeds them.
//
// The engine compiles the embedded schemas to validate requests before a
// connector sees them; the API serves them in its OpenAPI document. Generate
// rebuilds them from the structs and their doc comments; run
//
//	go test ./sdk/modelschema -update
//
// after changing sdk/model, and the package's test fails whenever the committed
// files are stale. sdk/model itself stays free of the generator's dependencies:
// only this package imports github.com/invopop/jsonschema. It must not import
// anything under engine/.
package modelschema

import (
	"embed"
	"io/fs"
	"reflect"
	"sort"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// BaseID is the prefix of every schema's $id; the file name follows it.
const BaseID = "https://github.com/carrierhub/hub/sdk/modelschema/schema/"

//go:embed schema/*.json
var embedded embed.FS

// FS returns the committed schemas, one file per type at the root
// (shipment_request.json, tracking.json, ...).
func FS() fs.FS {
	sub, err := fs.Sub(embedded, "schema")
	if err != nil {
		// fs.Sub fails only for an invalid directory name, which "schema" is not.
		panic(err)
	}
	return sub
}

// NameFor returns the schema file of a canonical type (pointers are followed), and
// false when the type has no schema of its own.
func NameFor(t reflect.Type) (file string, ok bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "", false
	}
	file, ok = files[t]
	return file, ok
}

// IDFor returns the $id of a schema file.
func IDFor(file string) string { return BaseID + file }

// mainTypes are the model types that get a schema file of their own besides the
// operations' requests and responses: the building blocks other services reuse.
var mainTypes = []reflect.Type{
	reflect.TypeFor[model.Address](),
	reflect.TypeFor[model.GeoPoint](),
	reflect.TypeFor[model.Money](),
	reflect.TypeFor[model.Weight](),
	reflect.TypeFor[model.Dimensions](),
	reflect.TypeFor[model.Document](),
	reflect.TypeFor[model.Charge](),
	reflect.TypeFor[model.Parcel](),
	reflect.TypeFor[model.Item](),
	reflect.TypeFor[model.InvoiceRef](),
	reflect.TypeFor[model.Rate](),
	reflect.TypeFor[model.Courier](),
	reflect.TypeFor[model.ServiceOption](),
	reflect.TypeFor[model.CODRemittance](),
	reflect.TypeFor[model.Tracking](),
	reflect.TypeFor[model.TrackingEvent](),
	reflect.TypeFor[model.EventLocation](),
	reflect.TypeFor[model.ItemError](),
	reflect.TypeFor[model.TaxedItem](),
	reflect.TypeFor[model.Transport](),
	reflect.TypeFor[model.DocumentLine](),
	reflect.TypeFor[model.TollCrossing](),
}

// types lists every type with a schema file, sorted by file name; files maps each to its file.
var types, files = catalogue()

func catalogue() ([]reflect.Type, map[reflect.Type]string) {
	files := map[reflect.Type]string{}
	var list []reflect.Type
	add := func(t reflect.Type) {
		if _, dup := files[t]; dup {
			return
		}
		files[t] = snakeCase(t.Name()) + ".json"
		list = append(list, t)
	}
	for _, op := range sdk.Operations() {
		add(op.Request)
		add(op.Response)
	}
	for _, t := range mainTypes {
		add(t)
	}
	sort.Slice(list, func(i, j int) bool { return files[list[i]] < files[list[j]] })
	return list, files
}

// snakeCase turns a Go type name into a file stem: ShipmentRequest becomes
// shipment_request, PODRequest pod_request. E-way bill and e-invoice types follow
// the operation names (eway_bill_request, einvoice_request).
func snakeCase(name string) string {
	name = strings.NewReplacer("EWay", "Eway", "EInvoice", "Einvoice").Replace(name)
	var b strings.Builder
	r := []rune(name)
	for i, c := range r {
		upper := c >= 'A' && c <= 'Z'
		if upper && i > 0 {
			prevLower := r[i-1] >= 'a' && r[i-1] <= 'z' || r[i-1] >= '0' && r[i-1] <= '9'
			nextLower := i+1 < len(r) && r[i+1] >= 'a' && r[i+1] <= 'z'
			if prevLower || (r[i-1] >= 'A' && r[i-1] <= 'Z' && nextLower) {
				b.WriteByte('_')
			}
		}
		if upper {
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}
