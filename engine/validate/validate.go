// Package validate checks canonical request bodies against the JSON Schemas in
// sdk/modelschema before the engine routes them to a connector, and adds the
// India-specific checks a schema cannot express (the GSTIN check character, PIN
// codes, a cash-on-delivery amount for cod shipments).
//
// A Validator compiles the schemas once and is then safe for concurrent use; it
// runs on every API call, so it decodes each body once and walks it once more for
// the India checks. It imports sdk and sdk/modelschema, nothing else of the hub's.
package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/modelschema"
)

// FieldError is one problem with a request body.
type FieldError struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value, such as
	// /ship_to/postal_code; empty for the body as a whole.
	Pointer string `json:"pointer"`
	// Message says what is wrong, for a person.
	Message string `json:"message"`
}

// Error lists every problem found in a request body, sorted by pointer.
type Error struct {
	// Fields are the problems; never empty.
	Fields []FieldError
}

// Error returns the problems on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid request: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		if f.Pointer != "" {
			b.WriteString(f.Pointer)
			b.WriteString(": ")
		}
		b.WriteString(f.Message)
	}
	return b.String()
}

// SDKError classifies the problems as an invalid_request error from the hub,
// naming the first offending field, for callers that pass errors on as codes.
func (e *Error) SDKError() *sdk.Error {
	se := &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceHub, Message: e.Error(), NotSent: true}
	if len(e.Fields) > 0 {
		se.Field = e.Fields[0].Pointer
	}
	return se
}

// Validator validates canonical request and response bodies. It is safe for
// concurrent use.
type Validator struct {
	requests  map[sdk.Operation]*jsonschema.Schema
	responses map[sdk.Operation]*jsonschema.Schema
}

// New compiles the schema of every operation's request and response. Call it
// once and share the result.
func New() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	fsys := modelschema.FS()
	added := map[string]bool{}
	compile := func(t reflect.Type) (*jsonschema.Schema, error) {
		name, ok := modelschema.NameFor(t)
		if !ok {
			return nil, fmt.Errorf("no schema for %s", t)
		}
		id := modelschema.IDFor(name)
		if !added[name] {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("reading schema %s: %w", name, err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("parsing schema %s: %w", name, err)
			}
			if err := c.AddResource(id, doc); err != nil {
				return nil, fmt.Errorf("adding schema %s: %w", name, err)
			}
			added[name] = true
		}
		s, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %w", name, err)
		}
		return s, nil
	}
	v := &Validator{requests: map[sdk.Operation]*jsonschema.Schema{}, responses: map[sdk.Operation]*jsonschema.Schema{}}
	for _, op := range sdk.Operations() {
		req, err := compile(op.Request)
		if err != nil {
			return nil, fmt.Errorf("operation %s: %w", op.Name, err)
		}
		resp, err := compile(op.Response)
		if err != nil {
			return nil, fmt.Errorf("operation %s: %w", op.Name, err)
		}
		v.requests[op.Name], v.responses[op.Name] = req, resp
	}
	return v, nil
}

// Request validates the body of a request for op. It returns nil, a *Error
// listing every problem (malformed JSON, schema violations, failed India checks),
// or an *sdk.Error with code not_found when op is not a canonical operation.
func (v *Validator) Request(op sdk.Operation, body []byte) error {
	s, ok := v.requests[op]
	if !ok {
		return unknownOperation(op)
	}
	return check(s, body, true)
}

// Response validates the body of a connector's response to op against its
// schema, for the conformance kit and for debugging a connector. It applies no
// India checks: a response reports what the provider said.
func (v *Validator) Response(op sdk.Operation, body []byte) error {
	s, ok := v.responses[op]
	if !ok {
		return unknownOperation(op)
	}
	return check(s, body, false)
}

func unknownOperation(op sdk.Operation) error {
	return &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceHub, Message: fmt.Sprintf("unknown operation %q", op)}
}

func check(s *jsonschema.Schema, body []byte, india bool) error {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return &Error{Fields: []FieldError{{Message: syntaxMessage(body, err)}}}
	}
	var fields []FieldError
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return &Error{Fields: []FieldError{{Message: err.Error()}}}
		}
		fields = flatten(ve, fields)
	}
	if india {
		w := walker{fields: fields}
		w.walk(doc)
		fields = w.fields
	}
	if len(fields) == 0 {
		return nil
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Pointer < fields[j].Pointer })
	return &Error{Fields: fields}
}

// syntaxMessage explains why body is not JSON, with the byte offset.
func syntaxMessage(body []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if len(bytes.TrimSpace(body)) == 0 {
			return "empty body: expected a JSON object"
		}
		return fmt.Sprintf("malformed JSON at byte offset %d: %s", se.Offset, se.Error())
	}
	return "malformed JSON: " + err.Error()
}

// printer renders the messages of error kinds without a message of our own.
var printer = message.NewPrinter(language.English)

// flatten appends a FieldError for every leaf of the validation error tree.
func flatten(ve *jsonschema.ValidationError, out []FieldError) []FieldError {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			out = flatten(c, out)
		}
		return out
	}
	ptr := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			out = append(out, FieldError{Pointer: ptr + "/" + escape(m), Message: "is required"})
		}
		return out
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			out = append(out, FieldError{Pointer: ptr + "/" + escape(p), Message: "is not a known field"})
		}
		return out
	}
	return append(out, FieldError{Pointer: ptr, Message: describe(ve.ErrorKind)})
}

// describe says what a failed keyword means, in words a caller understands.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = strconv.Quote(fmt.Sprint(w))
		}
		return fmt.Sprintf("must be one of %s, not %s", strings.Join(want, ", "), display(k.Got))
	case *kind.Pattern:
		if hint, ok := patternHints[k.Want]; ok {
			return fmt.Sprintf("must be %s, not %q", hint, k.Got)
		}
		return fmt.Sprintf("%q does not match the pattern %s", k.Got, k.Want)
	case *kind.Format:
		switch k.Want {
		case "date":
			return fmt.Sprintf("must be a date written YYYY-MM-DD, not %s", display(k.Got))
		case "date-time":
			return fmt.Sprintf("must be an RFC 3339 date-time with an offset, not %s", display(k.Got))
		case "uri":
			return fmt.Sprintf("must be an absolute URI, not %s", display(k.Got))
		}
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long, not %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long, not %d", k.Want, k.Got)
	case *kind.MinItems:
		if k.Want == 1 {
			return "must have at least one item"
		}
		return fmt.Sprintf("must have at least %d items, not %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, not %d", k.Want, k.Got)
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s, not %s", rat(k.Want), rat(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s, not %s", rat(k.Want), rat(k.Got))
	}
	return k.LocalizedString(printer)
}

// patternHints describe the model's patterns in words.
var patternHints = map[string]string{
	`^[0-9]{12}$`: "12 digits",
	`^[0-9]{2}$`:  "a two-digit GST state code such as \"27\"",
	`^[A-Z]{2}$`:  "an ISO 3166-1 alpha-2 country code such as \"IN\"",
	`^[A-Z]{3}$`:  "an ISO 4217 currency code such as \"INR\"",
	`^[0-9]{2}[A-Z0-9]{10}[0-9A-Z]Z[0-9A-Z]$`: "a 15-character GSTIN such as \"27AAPFU0939F1ZV\"",
	`^[0-9]{4}([0-9]{2}){0,2}$`:               "an HSN code of 4, 6 or 8 digits",
	`^[A-Z0-9]{4,12}$`:                        "a registration number of 4 to 12 capital letters and digits, without spaces",
	`^[0-2][0-9]:[0-5][0-9]$`:                 "a time written HH:MM",
	`^[0-9+]{10,15}$`:                         "a phone number of 10 to 15 digits, optionally with +",
	`^[A-Za-z0-9/-]{1,16}$`:                   "at most 16 letters, digits, - or /",
}

func rat(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// display renders a JSON value briefly for a message.
func display(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}

// pointer joins instance-location tokens into a JSON pointer.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

// escape escapes one JSON pointer token (RFC 6901).
func escape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
