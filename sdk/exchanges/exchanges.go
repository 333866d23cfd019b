// Package exchanges reads a connector's recorded exchanges: the files under
// testdata/exchanges/ of a connector folder, each one canonical call (its
// request and the answer or error it must produce) with the provider
// exchanges that serve it, as the provider's documentation or a public
// recording shows them, and the URL they were taken from. One set of files
// serves the mapping tests, the generic simulator (sdk/simulator) and
// conformance (sdk/conformance).
//
// A file, testdata/exchanges/track-delivered.yaml:
//
//	operation: track
//	source: https://developer.fedex.com/api/en-us/catalog/track/v1/docs.html
//	canonical:
//	  request: |
//	    {"tracking_numbers": ["794843185271"]}
//	  response: |
//	    {"results": [{"tracking_number": "794843185271", "status": "delivered", ...}]}
//	exchanges:
//	  - request:
//	      method: POST
//	      path: /track/v1/trackingnumbers
//	      headers: {Content-Type: application/json}
//	      body: |
//	        {"includeDetailedScans": true, "trackingInfo": [...]}
//	    response:
//	      status: 200
//	      headers: {Content-Type: application/json}
//	      body: |
//	        {"transactionId": "...", "output": {...}}
//
// Auth exchanges (token endpoints, logins) are not recorded per file: the
// simulator serves them from the manifest's auth.
package exchanges

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// Dir is where a connector folder keeps its exchanges.
const Dir = "testdata/exchanges"

// File is one recorded canonical call.
type File struct {
	// Name is the file's name without .yaml (set by Load).
	Name string `yaml:"-" json:"name"`
	// Operation is the canonical operation.
	Operation sdk.Operation `yaml:"operation" json:"operation"`
	// Source is the URL the provider shapes were taken from.
	Source string `yaml:"source" json:"source"`
	// Sample marks exchanges written by the scaffold as examples, not taken
	// from a source; conformance reports them.
	Sample bool `yaml:"sample,omitempty" json:"sample,omitempty"`
	// Description says what the file shows.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Account holds settings the recorded requests depend on; the simulator's
	// account has them.
	Account Account `yaml:"account,omitempty" json:"account,omitempty"`
	// Push is what the provider pushed, for receive_push: the canonical
	// request is built from it.
	Push *Push `yaml:"push,omitempty" json:"push,omitempty"`
	// Canonical is the call and what it must produce.
	Canonical Canonical `yaml:"canonical" json:"canonical"`
	// Exchanges are the provider requests and answers, in order.
	Exchanges []Exchange `yaml:"exchanges" json:"exchanges"`
}

// Push is a recorded push or dropped file.
type Push struct {
	ContentType string            `yaml:"content_type,omitempty" json:"content_type,omitempty"`
	Headers     map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Query       map[string]string `yaml:"query,omitempty" json:"query,omitempty"`
	Body        string            `yaml:"body" json:"body"`
}

// Request returns the canonical request of the file: Canonical.Request, or
// the model.PushRequest built from Push. A push's header and query values may
// be templates ({credential.push_token}, {setting.X}), expanded with account,
// so that a recorded push carries the account's inbound credential.
func (f *File) Request(account *sdk.Account) []byte {
	if f.Push == nil {
		return []byte(f.Canonical.Request)
	}
	look := func(kind, name string) string {
		if account == nil {
			return ""
		}
		switch kind {
		case "credential":
			return account.Credentials[name]
		case "setting":
			return account.Settings[name]
		}
		return ""
	}
	expand := func(m map[string]string, key func(string) string) map[string]string {
		if m == nil {
			return nil
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[key(k)] = sdk.ExpandTemplate(v, look, nil)
		}
		return out
	}
	// Header names in lower case, as the hub's inbound route hands them on.
	headers := expand(f.Push.Headers, strings.ToLower)
	query := expand(f.Push.Query, func(k string) string { return k })
	b, _ := json.Marshal(model.PushRequest{Headers: headers, Query: query, ContentType: f.Push.ContentType, Body: []byte(f.Push.Body)})
	return b
}

// Account is the part of an account a file depends on.
type Account struct {
	Settings map[string]string `yaml:"settings,omitempty" json:"settings,omitempty"`
}

// Canonical is a canonical call: its request, and its answer or error.
type Canonical struct {
	// Request is the canonical request (JSON); a receive_push file gives
	// its push instead.
	Request string `yaml:"request,omitempty" json:"request,omitempty"`
	// Response is the canonical answer (JSON) the call must produce, when it succeeds.
	Response string `yaml:"response,omitempty" json:"response,omitempty"`
	// Error is the error it must end with, when it fails.
	Error *Error `yaml:"error,omitempty" json:"error,omitempty"`
}

// Error is an expected error: the code always, the carrier's words when given.
type Error struct {
	Code           sdk.Code `yaml:"code" json:"code"`
	CarrierCode    string   `yaml:"carrier_code,omitempty" json:"carrier_code,omitempty"`
	CarrierMessage string   `yaml:"carrier_message,omitempty" json:"carrier_message,omitempty"`
}

// Exchange is one provider request and its answer.
type Exchange struct {
	Request  Request  `yaml:"request" json:"request"`
	Response Response `yaml:"response" json:"response"`
}

// Request is a recorded provider request: the parts that matter.
type Request struct {
	Method  string            `yaml:"method" json:"method"`
	Path    string            `yaml:"path" json:"path"`
	Query   map[string]string `yaml:"query,omitempty" json:"query,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Body    string            `yaml:"body,omitempty" json:"body,omitempty"`
}

// Response is a recorded provider answer.
type Response struct {
	Status  int               `yaml:"status" json:"status"`
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Body    string            `yaml:"body,omitempty" json:"body,omitempty"`
}

// Load reads every testdata/exchanges/*.yaml of a connector folder, in name
// order, checking each against the manifest: a known operation the manifest
// declares, a source URL, JSON canonical parts, and statuses. Errors name the
// file and, for YAML, the line. A folder without exchanges has none.
func Load(fsys fs.FS, m *sdk.Manifest) ([]*File, error) {
	names, err := fs.Glob(fsys, Dir+"/*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []*File
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		f, err := Parse(name, data)
		if err != nil {
			return nil, err
		}
		if err := f.check(m); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// Parse reads one exchanges file, refusing unknown keys.
func Parse(name string, data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	f.Name = strings.TrimSuffix(path.Base(name), path.Ext(name))
	return &f, nil
}

func (f *File) check(m *sdk.Manifest) error {
	if _, ok := m.Operation(f.Operation); !ok {
		return fmt.Errorf("operation %q is not one the manifest declares", f.Operation)
	}
	if !strings.HasPrefix(f.Source, "https://") && !strings.HasPrefix(f.Source, "http://") {
		return fmt.Errorf("source: the URL the exchanges were taken from is required")
	}
	switch {
	case f.Push != nil && f.Operation != sdk.OpReceivePush:
		return fmt.Errorf("push: only a receive_push file records a push")
	case f.Push != nil && f.Canonical.Request != "":
		return fmt.Errorf("canonical.request: a push file's request is its push")
	case f.Push == nil && !json.Valid([]byte(f.Canonical.Request)):
		return fmt.Errorf("canonical.request is not JSON")
	}
	switch {
	case f.Canonical.Response != "" && f.Canonical.Error != nil:
		return fmt.Errorf("canonical: give a response or an error, not both")
	case f.Canonical.Response == "" && f.Canonical.Error == nil:
		return fmt.Errorf("canonical: a response or an error is required")
	case f.Canonical.Response != "" && !json.Valid([]byte(f.Canonical.Response)):
		return fmt.Errorf("canonical.response is not JSON")
	case f.Canonical.Error != nil && !f.Canonical.Error.Code.Valid():
		return fmt.Errorf("canonical.error.code %q is not a canonical error code", f.Canonical.Error.Code)
	}
	if len(f.Exchanges) == 0 && f.Operation != sdk.OpReceivePush {
		return fmt.Errorf("exchanges: at least one provider exchange is required")
	}
	for i, x := range f.Exchanges {
		if x.Request.Method == "" || !strings.HasPrefix(x.Request.Path, "/") {
			return fmt.Errorf("exchanges[%d].request: method and a path starting with / are required", i)
		}
		if x.Response.Status < 100 || x.Response.Status > 599 {
			return fmt.Errorf("exchanges[%d].response.status %d is not an HTTP status", i, x.Response.Status)
		}
	}
	return nil
}

// Header returns a recorded header, matched without regard to case.
func Header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
