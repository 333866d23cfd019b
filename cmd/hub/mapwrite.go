package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/carrierhub/hub/mappings/csv"
	"github.com/carrierhub/hub/mappings/doc"
	"github.com/carrierhub/hub/mappings/edi"
	"github.com/carrierhub/hub/mappings/form"
	mxml "github.com/carrierhub/hub/mappings/xml"
)

// outputFormats are what hub map apply --to writes a mapping's result as.
var outputFormats = []string{"json", "xml", "soap11", "soap12", "csv", "form", "x12", "edifact"}

// writerOptions tune the writers of --to.
type writerOptions struct {
	// jsonFields are the form fields written as JSON documents (Delhivery's data).
	jsonFields []string
}

// writeAs turns a mapping's JSON result into format through the format's
// writer: the result must have the shape that format's reader produces (an X12
// tree for x12, a list of flat objects for csv, an object of fields for form;
// for soap11/soap12 an object with "Body" and optionally "Header", or else the
// whole result as the body).
func writeAs(format string, result []byte, opts writerOptions) ([]byte, error) {
	if format == "json" {
		return result, nil
	}
	tree, err := form.ParseJSON(string(result), "the mapping's result", 0)
	if err != nil {
		return nil, err
	}
	obj, isObj := tree.(*doc.Object)
	needObj := func() error {
		if !isObj {
			return fmt.Errorf("--to %s needs the mapping to produce an object, not %s", format, kindOf(tree))
		}
		return nil
	}
	switch format {
	case "xml":
		if err := needObj(); err != nil {
			return nil, err
		}
		return mxml.Marshal(obj, mxml.WriteOptions{Declaration: true})
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
		return mxml.MarshalSOAP(v, header, body, mxml.WriteOptions{Declaration: true})
	case "csv":
		rows, ok := tree.([]any)
		if !ok {
			if !isObj {
				return nil, fmt.Errorf("--to csv needs the mapping to produce a list of rows, not %s", kindOf(tree))
			}
			rows = []any{obj}
		}
		return csv.Marshal(rows, csv.WriteOptions{})
	case "form":
		if err := needObj(); err != nil {
			return nil, err
		}
		s, err := form.Encode(obj, form.EncodeOptions{JSONFields: opts.jsonFields})
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
	return nil, fmt.Errorf("--to %q: write one of %s", format, strings.Join(outputFormats, ", "))
}

func kindOf(v any) string {
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
