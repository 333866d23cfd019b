// Package formats registers the readers of every input format in mappings/
// with the mappings package (so Program.Apply reads what a mapping declares)
// and writes a mapping's JSON result in another format through the writers.
// Import it for its side effect where mappings are applied to non-JSON input.
package formats

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/mappings/csv"
	"github.com/carrierhub/hub/mappings/doc"
	"github.com/carrierhub/hub/mappings/edi"
	"github.com/carrierhub/hub/mappings/form"
	mxml "github.com/carrierhub/hub/mappings/xml"
)

func init() {
	mappings.RegisterReader("xml", func(b []byte) (any, error) { return mxml.Unmarshal(b, mxml.Options{}) })
	mappings.RegisterReader("csv", func(b []byte) (any, error) { return csv.Read(bytes.NewReader(b), csv.Options{}) })
	mappings.RegisterReader("x12", func(b []byte) (any, error) { return edi.ReadX12(b, edi.ReadOptions{}) })
	mappings.RegisterReader("edifact", func(b []byte) (any, error) { return edi.ReadEDIFACT(b, edi.ReadOptions{}) })
	mappings.RegisterReader("form", func(b []byte) (any, error) { return form.Decode(string(b), form.Options{}) })
}

// Outputs lists the formats Write writes.
var Outputs = []string{"json", "xml", "soap11", "soap12", "csv", "form", "x12", "edifact"}

// WriteOptions tune Write.
type WriteOptions struct {
	// JSONFields are the form fields written as JSON documents (Delhivery's data).
	JSONFields []string
	// Declaration writes <?xml ...?> before XML and SOAP documents.
	Declaration bool
}

// ContentType returns the HTTP content type of a format Write writes.
func ContentType(format string) string {
	switch format {
	case "json", "":
		return "application/json"
	case "xml":
		return "application/xml"
	case "soap11":
		return "text/xml; charset=utf-8"
	case "soap12":
		return "application/soap+xml; charset=utf-8"
	case "csv":
		return "text/csv"
	case "form":
		return "application/x-www-form-urlencoded"
	case "x12", "edifact":
		return "application/edi-x12"
	}
	return "application/octet-stream"
}

// Write turns a mapping's JSON result into format through the format's
// writer: the result must have the shape that format's reader produces (an X12
// tree for x12, a list of flat objects for csv, an object of fields for form;
// for soap11/soap12 an object with "Body" and optionally "Header", or else the
// whole result as the body).
func Write(format string, result []byte, opts WriteOptions) ([]byte, error) {
	if format == "json" || format == "" {
		return result, nil
	}
	tree, err := form.ParseJSON(string(result), "the mapping's result", 0)
	if err != nil {
		return nil, err
	}
	obj, isObj := tree.(*doc.Object)
	needObj := func() error {
		if !isObj {
			return fmt.Errorf("writing %s needs the mapping to produce an object, not %s", format, KindOf(tree))
		}
		return nil
	}
	switch format {
	case "xml":
		if err := needObj(); err != nil {
			return nil, err
		}
		return mxml.Marshal(obj, mxml.WriteOptions{Declaration: opts.Declaration})
	case "soap11", "soap12":
		v := mxml.SOAP11
		if format == "soap12" {
			v = mxml.SOAP12
		}
		var header, body any = nil, tree
		if isObj {
			if b, ok := obj.Get("Body"); ok {
				body = b
				header, _ = obj.Get("Header")
			}
		}
		return mxml.MarshalSOAP(v, header, body, mxml.WriteOptions{Declaration: opts.Declaration})
	case "csv":
		rows, ok := tree.([]any)
		if !ok {
			if !isObj {
				return nil, fmt.Errorf("writing csv needs the mapping to produce a list of rows, not %s", KindOf(tree))
			}
			rows = []any{obj}
		}
		return csv.Marshal(rows, csv.WriteOptions{})
	case "form":
		if err := needObj(); err != nil {
			return nil, err
		}
		s, err := form.Encode(obj, form.EncodeOptions{JSONFields: opts.JSONFields})
		return []byte(s), err
	case "x12":
		if err := needObj(); err != nil {
			return nil, err
		}
		return edi.WriteX12(context.Background(), obj, edi.X12WriteOptions{Suffix: "\n"})
	case "edifact":
		if err := needObj(); err != nil {
			return nil, err
		}
		return edi.WriteEDIFACT(context.Background(), obj, edi.EDIFACTWriteOptions{Suffix: "\n"})
	}
	return nil, fmt.Errorf("output format %q: write one of %s", format, strings.Join(Outputs, ", "))
}

// KindOf names the kind of a document tree value for messages.
func KindOf(v any) string {
	switch v.(type) {
	case *doc.Object:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	}
	return "a scalar"
}
