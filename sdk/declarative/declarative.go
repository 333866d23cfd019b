// Package declarative is the generic runtime of connectors written as data: a
// folder holding manifest.yaml, whose operations carry bindings (sdk.Binding),
// the mappings those bindings name and recorded exchanges under
// testdata/exchanges. Load compiles a folder once into a Connector that serves
// its bound operations through sdk.Serve, out of process like every other
// connector; the engine cannot tell it from one written in Go.
//
// The runtime owns the glue every connector used to repeat: building the
// request from templates and a request mapping, signing it (sdk/transport/rest
// auth), sending it, telling a refusal from an answer (status table and error
// mapping), fanning a track call out per number or in batches and assembling
// exactly one result per requested number, in request order. It imports sdk
// and mappings, never the engine.
package declarative

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/carrierhub/hub/mappings"
	_ "github.com/carrierhub/hub/mappings/formats" // readers for every declared from format
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/modelschema"
	"github.com/carrierhub/hub/sdk/transport/rest"
)

// ManifestFile is the name of a connector folder's manifest.
const ManifestFile = "manifest.yaml"

// Connector serves the bound operations of one connector folder. It is
// immutable after Load and safe for concurrent use; one value serves every
// tenant's accounts.
type Connector struct {
	sdk.Unimplemented
	manifest *sdk.Manifest
	ops      map[sdk.Operation]*operation
	rest     *rest.Client
	// programs are the compiled mappings by file name (token logins find
	// their body mapping here).
	programs map[string]*mappings.Program
}

var (
	_ sdk.Connector     = (*Connector)(nil)
	_ sdk.RawOperations = (*Connector)(nil)
)

// operation is one bound operation, compiled.
type operation struct {
	name   sdk.Operation
	fan    *sdk.FanOut
	auth   *sdk.AuthSpec
	steps  []*step
	idemp  bool
	connID string
}

// step is one exchange, its mappings compiled.
type step struct {
	name     string
	req      *sdk.RequestBinding
	values   *mappings.Program
	body     *mappings.Program
	resp     *sdk.ResponseBinding
	response *mappings.Program
	errorMap *mappings.Program
	// requestID says its request's templates use {request.id}, so each
	// request sent draws a new one (and no other request pays for it).
	requestID bool
}

// Options configure Load.
type Options struct {
	// Rest is the client requests go through (each account's base URL and auth
	// are set per call); nil means one with the rest transport's defaults.
	Rest *rest.Client
}

// Load reads and validates the connector folder fsys (manifest.yaml at its
// root) and compiles every mapping its bindings name. Errors name the file
// and, for YAML and mappings, the line.
func Load(fsys fs.FS, opts Options) (*Connector, error) {
	m, err := LoadManifest(fsys)
	if err != nil {
		return nil, err
	}
	c := &Connector{manifest: m, ops: map[sdk.Operation]*operation{}, rest: opts.Rest}
	if c.rest == nil {
		if c.rest, err = rest.New(rest.Config{Name: m.Name, BaseURL: "http://unset.invalid"}); err != nil {
			return nil, err
		}
	}
	progs := map[string]*mappings.Program{}
	compile := func(name, wantDir string) (*mappings.Program, error) {
		if p, ok := progs[name]; ok {
			return p, nil
		}
		p, err := mappings.CompileFS(fsys, path.Clean(name), mappings.Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.ID, err)
		}
		if p.Direction() != wantDir {
			return nil, fmt.Errorf("%s: %s is a %s mapping where a %s mapping is wanted", m.ID, name, p.Direction(), wantDir)
		}
		progs[name] = p
		return p, nil
	}
	for _, info := range m.Operations {
		if info.Binding == nil {
			continue
		}
		b := info.Binding
		op := &operation{name: info.Name, fan: b.FanOut, idemp: info.Idempotent, connID: m.ID}
		op.auth = m.BindingAuth(b)
		for _, s := range b.StepList() {
			st := &step{name: s.Name, req: s.Request, resp: s.Response, requestID: s.Request.UsesRequestID()}
			if s.Request != nil && s.Request.Values != "" {
				if st.values, err = compile(s.Request.Values, "request"); err != nil {
					return nil, err
				}
			}
			if s.Request != nil && s.Request.Body != nil {
				if st.body, err = compile(s.Request.Body.Mapping, "request"); err != nil {
					return nil, err
				}
			}
			if s.Response != nil {
				if s.Response.Mapping != "" {
					if st.response, err = compile(s.Response.Mapping, "response"); err != nil {
						return nil, err
					}
					if s.Response.Envelope && (info.Name == sdk.OpReceivePush || st.response.From() != "json") {
						return nil, fmt.Errorf("%s: %s: an envelope (answer, request, values) is read by a json mapping of a call's answer, not a push or a %s mapping",
							m.ID, s.Response.Mapping, st.response.From())
					}
				}
				if s.Response.Error != "" {
					if st.errorMap, err = compile(s.Response.Error, "response"); err != nil {
						return nil, err
					}
				}
			}
			op.steps = append(op.steps, st)
		}
		c.ops[info.Name] = op
	}
	for name, a := range m.Auth {
		if a.Type == sdk.AuthTokenLogin && a.Login.Body != nil {
			if _, err := compile(a.Login.Body.Mapping, "request"); err != nil {
				return nil, fmt.Errorf("auth.%s.login: %w", name, err)
			}
		}
	}
	c.programs = progs
	return c, nil
}

// LoadManifest reads and validates a folder's manifest.yaml, refusing unknown
// keys; errors carry the file name and, for YAML problems, the line.
func LoadManifest(fsys fs.FS) (*sdk.Manifest, error) {
	data, err := fs.ReadFile(fsys, ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ManifestFile, err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", ManifestFile, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	problems, err := modelschema.ValidateManifest(doc)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		msgs := make([]string, 0, len(problems))
		for _, p := range problems {
			msgs = append(msgs, fmt.Sprintf("%s:%d: /%s: %s", ManifestFile, lineAt(data, p.Path), strings.Join(p.Path, "/"), p.Message))
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m sdk.Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %s", ManifestFile, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", ManifestFile, lineOf(data, err.Error()), err)
	}
	return &m, nil
}

// Describe returns the connector's manifest.
func (c *Connector) Describe() *sdk.Manifest { return c.manifest }

// RawHandler returns the runtime's handler for a bound operation.
func (c *Connector) RawHandler(op sdk.Operation) (func(ctx context.Context, call *sdk.Call) ([]byte, error), bool) {
	o, ok := c.ops[op]
	if !ok {
		return nil, false
	}
	return func(ctx context.Context, call *sdk.Call) ([]byte, error) { return c.invoke(ctx, o, call) }, true
}
