package modelschema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/carrierhub/hub/sdk"
)

// ManifestID is the $id of the connector manifest's schema.
const ManifestID = BaseID + "manifest/manifest.schema.json"

//go:embed manifest/manifest.schema.json
var manifestSchema []byte

// Manifest returns the JSON Schema of a connector's manifest.yaml, as
// committed: editors use it (hub connector schema prints it) and
// ValidateManifest checks manifests with it. go test ./sdk/modelschema
// -update regenerates it from sdk.Manifest and its doc comments.
func Manifest() []byte { return manifestSchema }

// GenerateManifest builds the manifest's schema from sdk.Manifest.
func GenerateManifest() ([]byte, error) {
	comments, err := packageComments(".", "github.com/carrierhub/hub/sdk")
	if err != nil {
		return nil, err
	}
	r := &jsonschema.Reflector{ExpandedStruct: true, Mapper: mapManifestType, CommentMap: comments}
	s := r.Reflect(&sdk.Manifest{})
	s.ID = jsonschema.ID(ManifestID)
	s.Title = "Connector manifest"
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding the manifest schema: %w", err)
	}
	return buf.Bytes(), nil
}

func mapManifestType(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[sdk.Duration]():
		return &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`, Description: "a duration such as 30s or 1m30s"}
	case reflect.TypeFor[sdk.Code]():
		s := &jsonschema.Schema{Type: "string"}
		for _, c := range sdk.Codes {
			s.Enum = append(s.Enum, string(c))
		}
		return s
	case reflect.TypeFor[sdk.Operation]():
		s := &jsonschema.Schema{Type: "string"}
		for _, o := range sdk.Operations() {
			s.Enum = append(s.Enum, string(o.Name))
		}
		return s
	}
	return nil
}

var compiledManifest = sync.OnceValues(func() (*sjs.Schema, error) {
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(manifestSchema))
	if err != nil {
		return nil, err
	}
	c := sjs.NewCompiler()
	if err := c.AddResource(ManifestID, doc); err != nil {
		return nil, err
	}
	return c.Compile(ManifestID)
})

// ManifestProblem is one place where a manifest breaks its schema.
type ManifestProblem struct {
	// Path is the offending value's location as keys and indexes.
	Path []string
	// Message says what is wrong.
	Message string
}

// ValidateManifest checks a manifest, decoded from YAML or JSON into plain
// values (maps, slices, strings, numbers, bools), against the schema and
// returns its problems, the innermost first.
func ValidateManifest(doc any) ([]ManifestProblem, error) {
	s, err := compiledManifest()
	if err != nil {
		return nil, fmt.Errorf("compiling the manifest schema: %w", err)
	}
	verr := s.Validate(doc)
	if verr == nil {
		return nil, nil
	}
	ve, ok := verr.(*sjs.ValidationError)
	if !ok {
		return nil, verr
	}
	printer := message.NewPrinter(language.English)
	var out []ManifestProblem
	var walk func(e *sjs.ValidationError)
	walk = func(e *sjs.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, ManifestProblem{Path: e.InstanceLocation, Message: strings.TrimSpace(e.ErrorKind.LocalizedString(printer))})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out, nil
}
