package modelschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/carrierhub/hub/sdk/model"
)

// modelImportPath is the import path of the package whose types are described.
const modelImportPath = "github.com/carrierhub/hub/sdk/model"

// Generate builds the schema of every canonical type from the Go structs, with
// descriptions taken from their doc comments, and returns file name → schema
// bytes. The output is deterministic, so it can be compared with the committed
// files. It reads sdk/model's source to find the comments, so it works in a
// checkout (tests, go generate), not in a binary built with -trimpath.
//
// Every struct rejects unknown fields (additionalProperties false) and every
// field without omitempty is required.
func Generate() (map[string][]byte, error) {
	r := &jsonschema.Reflector{
		ExpandedStruct: true,
		Anonymous:      true,
		Mapper:         mapNamedType,
	}
	comments, err := modelComments()
	if err != nil {
		return nil, err
	}
	r.CommentMap = comments

	out := make(map[string][]byte, len(types))
	for _, t := range types {
		file := files[t]
		s := r.ReflectFromType(t)
		s.ID = jsonschema.ID(IDFor(file))
		restoreCommaPatterns(s, t)
		tidy(s)
		if err := checkPatterns(s); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", t.Name(), err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			return nil, fmt.Errorf("encoding schema of %s: %w", t.Name(), err)
		}
		out[file] = buf.Bytes()
	}
	return out, nil
}

// modelComments reads sdk/model's doc comments into invopop's comment map, keyed
// by the model's import path.
func modelComments() (map[string]string, error) {
	return packageComments("model", modelImportPath)
}

// packageComments reads the doc comments of the sdk package in the directory
// rel (relative to sdk/) for the reflector, keyed by importPath.
func packageComments(rel, importPath string) (map[string]string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("locating the generator's source")
	}
	dir := filepath.Join(filepath.Dir(self), "..", rel)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("reading %s source for doc comments (run from a checkout): %w", importPath, err)
	}
	var r jsonschema.Reflector
	// With an empty base the comment keys start with dir itself; rewrite them to
	// the import path reflect reports.
	if err := r.AddGoComments("", dir); err != nil {
		return nil, fmt.Errorf("extracting doc comments from %s: %w", dir, err)
	}
	prefix := filepath.ToSlash(dir) + "."
	m := make(map[string]string, len(r.CommentMap))
	for k, v := range r.CommentMap {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			m[importPath+"."+rest] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("no doc comments found in %s", dir)
	}
	return m, nil
}

// mapNamedType gives the model's named string types their schema wherever they
// appear, so that a field without its own enum tag is still constrained.
func mapNamedType(t reflect.Type) *jsonschema.Schema {
	enum := func(vals ...string) *jsonschema.Schema {
		s := &jsonschema.Schema{Type: "string"}
		for _, v := range vals {
			s.Enum = append(s.Enum, v)
		}
		return s
	}
	switch t {
	case reflect.TypeFor[model.Date]():
		return &jsonschema.Schema{Type: "string", Format: "date"}
	case reflect.TypeFor[model.TrackingStatus]():
		vals := make([]string, len(model.TrackingStatuses))
		for i, s := range model.TrackingStatuses {
			vals[i] = string(s)
		}
		return enum(vals...)
	case reflect.TypeFor[model.PaymentMode]():
		return enum(string(model.Prepaid), string(model.CashOnDelivery), string(model.ToPay),
			string(model.PaymentPickup), string(model.PaymentReplace))
	case reflect.TypeFor[model.WeightUnit]():
		return enum(string(model.Kilogram), string(model.Gram), string(model.Pound), string(model.Ounce))
	case reflect.TypeFor[model.LengthUnit]():
		return enum(string(model.Centimetre), string(model.Inch))
	case reflect.TypeFor[model.DocumentFormat]():
		return enum(string(model.FormatPDF), string(model.FormatPNG), string(model.FormatZPL))
	}
	return nil
}

// tidy removes the duplicates that arise when a field's enum tag repeats the
// values its named type already contributes.
func tidy(s *jsonschema.Schema) {
	seen := map[*jsonschema.Schema]bool{}
	var walk func(*jsonschema.Schema)
	walk = func(s *jsonschema.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if len(s.Enum) > 1 {
			uniq := s.Enum[:0]
			for _, v := range s.Enum {
				dup := false
				for _, u := range uniq {
					if u == v {
						dup = true
						break
					}
				}
				if !dup {
					uniq = append(uniq, v)
				}
			}
			s.Enum = uniq
		}
		walk(s.Items)
		if s.AdditionalProperties != nil {
			walk(s.AdditionalProperties)
		}
		for _, d := range s.Definitions {
			walk(d)
		}
		if s.Properties != nil {
			for p := s.Properties.Oldest(); p != nil; p = p.Next() {
				walk(p.Value)
			}
		}
	}
	walk(s)
}

// keywordStart matches the start of the next keyword in a jsonschema tag.
var keywordStart = regexp.MustCompile(`,[A-Za-z_]+=`)

// restoreCommaPatterns repairs patterns that contain a comma, such as
// ^[0-9]{4}([0-9]{2}){0,2}$: invopop splits the jsonschema tag on every unescaped
// comma and keeps only the part before it. The pattern is taken to run up to the
// next ",keyword=" in the raw tag instead. The root schema describes t; every
// other struct is in $defs under its type name.
func restoreCommaPatterns(root *jsonschema.Schema, t reflect.Type) {
	seen := map[reflect.Type]bool{}
	var visit func(u reflect.Type)
	visit = func(u reflect.Type) {
		for u.Kind() == reflect.Pointer || u.Kind() == reflect.Slice || u.Kind() == reflect.Array || u.Kind() == reflect.Map {
			u = u.Elem()
		}
		if u.Kind() != reflect.Struct || seen[u] || u.PkgPath() != modelImportPath {
			return
		}
		seen[u] = true
		target := root
		if u != t {
			target = root.Definitions[u.Name()]
		}
		for i := range u.NumField() {
			f := u.Field(i)
			visit(f.Type)
			tag := f.Tag.Get("jsonschema")
			_, rest, ok := strings.Cut(tag, "pattern=")
			if !ok || !strings.Contains(rest, ",") || target == nil || target.Properties == nil {
				continue
			}
			if loc := keywordStart.FindStringIndex(rest); loc != nil {
				rest = rest[:loc[0]]
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if p, ok := target.Properties.Get(name); ok && p.Type == "string" {
				p.Pattern = strings.ReplaceAll(rest, `\,`, ",")
			}
		}
	}
	visit(t)
}

// checkPatterns reports a pattern that Go's regexp (the validator's engine)
// cannot compile, so that a broken tag fails generation rather than validation.
func checkPatterns(s *jsonschema.Schema) error {
	var first error
	var walk func(string, *jsonschema.Schema)
	walk = func(at string, s *jsonschema.Schema) {
		if s == nil || first != nil {
			return
		}
		if s.Pattern != "" {
			if _, err := regexp.Compile(s.Pattern); err != nil {
				first = fmt.Errorf("pattern at %s: %w", at, err)
				return
			}
		}
		walk(at+"/items", s.Items)
		walk(at+"/additionalProperties", s.AdditionalProperties)
		for name, d := range s.Definitions {
			walk(at+"/$defs/"+name, d)
		}
		if s.Properties != nil {
			for p := s.Properties.Oldest(); p != nil; p = p.Next() {
				walk(at+"/properties/"+p.Key, p.Value)
			}
		}
	}
	walk("#", s)
	return first
}
