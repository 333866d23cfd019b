// Package validate checks canonical request bodies against the JSON Schemas in
// sdk/modelschema before the engine routes them to a connector, and adds the
// India-specific checks a schema cannot express (the GSTIN check character, PIN
// codes, a cash-on-delivery amount for cod shipments).
//
// New compiles the embedded schemas once into an immutable tree: $ref resolved,
// patterns compiled, enums, required sets and property maps prepared. It knows
// exactly the keywords the schema generator emits and refuses any other, so a
// generator change cannot silently weaken validation. A Validator is then safe
// for concurrent use; it runs on every API call, so it checks a body in one
// syntax pass (gjson.ValidBytes) and one walk with gjson, without decoding it
// into Go values, and builds JSON pointers only for the problems it reports.
// It imports sdk and sdk/modelschema, nothing else of the hub's.
package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/modelschema"
)

// FieldError is one problem with a request body: the SDK's one field-error
// type (the router and the API pass it on as it is).
type FieldError = sdk.FieldError

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
	requests  map[sdk.Operation]*node
	responses map[sdk.Operation]*node
}

// New compiles the schema of every operation's request and response. Call it
// once and share the result. It fails when a schema uses a keyword, format or
// $ref form the validator does not implement.
func New() (*Validator, error) {
	return newFromFS(modelschema.FS())
}

// newFromFS compiles the operations' schemas from fsys, laid out as
// modelschema.FS is.
func newFromFS(fsys fs.FS) (*Validator, error) {
	compiled := map[string]*node{}
	compile := func(t reflect.Type) (*node, error) {
		name, ok := modelschema.NameFor(t)
		if !ok {
			return nil, fmt.Errorf("no schema for %s", t)
		}
		if n, ok := compiled[name]; ok {
			return n, nil
		}
		n, err := compileFile(fsys, name)
		if err != nil {
			return nil, err
		}
		compiled[name] = n
		return n, nil
	}
	v := &Validator{requests: map[sdk.Operation]*node{}, responses: map[sdk.Operation]*node{}}
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
// listing every problem (malformed JSON, schema violations, duplicate keys,
// failed India checks), or an *sdk.Error with code not_found when op is not a
// canonical operation. The returned error holds no reference to body.
func (v *Validator) Request(op sdk.Operation, body []byte) error {
	n, ok := v.requests[op]
	if !ok {
		return unknownOperation(op)
	}
	return check(n, body, true)
}

// Response validates the body of a connector's response to op against its
// schema, for the conformance kit and for debugging a connector. It applies no
// India checks: a response reports what the provider said.
func (v *Validator) Response(op sdk.Operation, body []byte) error {
	n, ok := v.responses[op]
	if !ok {
		return unknownOperation(op)
	}
	return check(n, body, false)
}

func unknownOperation(op sdk.Operation) error {
	return &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceHub, Message: fmt.Sprintf("unknown operation %q", op)}
}

// maxDepth is how deeply arrays and objects may nest, as encoding/json allows.
// It also bounds the recursion of gjson's syntax check.
const maxDepth = 10000

func check(n *node, body []byte, india bool) error {
	if (len(body) > maxDepth && tooDeep(body)) || !gjson.ValidBytes(body) {
		return &Error{Fields: []FieldError{{Message: syntaxMessage(body)}}}
	}
	// The walk reads body as a string without copying it. body is not
	// modified while check runs, and no string that points into it outlives the
	// call (see walker).
	doc := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	w := walker{india: india}
	w.value(n, doc)
	if len(w.fields) == 0 {
		return nil
	}
	sort.SliceStable(w.fields, func(i, j int) bool { return w.fields[i].Pointer < w.fields[j].Pointer })
	return &Error{Fields: w.fields}
}

// tooDeep reports whether arrays and objects in body nest more than maxDepth
// deep, counting brackets outside strings.
func tooDeep(body []byte) bool {
	depth := 0
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > maxDepth {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// syntaxMessage explains why body is not JSON, with the byte offset that
// encoding/json reports. It runs only for a body already found malformed.
func syntaxMessage(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body: expected a JSON object"
	}
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at byte offset %d: %s", se.Offset, se.Error())
	}
	if err != nil {
		return "malformed JSON: " + err.Error()
	}
	return "malformed JSON"
}

// patternHints describe the model's patterns in words.
var patternHints = map[string]string{
	`^[0-9]{12}$`:               "12 digits",
	`^[0-9a-f]{64}$`:            "64 lower-case hexadecimal characters (an IRN)",
	`^[0-9]{2}$`:                "a two-digit GST state code such as \"27\"",
	`^[A-Z]{2}$`:                "an ISO 3166-1 alpha-2 country code such as \"IN\"",
	`^[A-Z]{3}$`:                "an ISO 4217 currency code such as \"INR\"",
	`^[0-9]{2}[A-Z0-9]{13}$`:    "a 15-character GSTIN such as \"27AAPFU0939F1ZV\"",
	`^[0-9]{4}([0-9]{2}){0,2}$`: "an HSN code of 4, 6 or 8 digits",
	`^[A-Z0-9]{4,12}$`:          "a registration number of 4 to 12 capital letters and digits, without spaces",
	`^[0-2][0-9]:[0-5][0-9]$`:   "a time written HH:MM",
	`^[0-9+]{10,15}$`:           "a phone number of 10 to 15 digits, optionally with +",
	`^[A-Za-z0-9/-]{1,16}$`:     "at most 16 letters, digits, - or /",
	`^[1-9][0-9]{5}$`:           "a six-digit PIN code not starting with 0",
}

// escape escapes one JSON pointer token (RFC 6901).
func escape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
