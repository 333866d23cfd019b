// Package scaffold writes a new connector folder that passes hub connector test
// at once: a manifest with a binding per operation, request and response
// mappings with fixtures, a status table, and sample recorded exchanges
// (marked sample: true) in the shape of the chosen protocol. The author then
// replaces the samples with the provider's documented shapes, one file at a
// time, with hub connector test telling what still differs.
package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/carrierhub/hub/sdk"
)

//go:embed all:templates
var templates embed.FS

// Protocols are the wire styles the scaffold writes.
var Protocols = []string{"rest_json", "xml_http", "soap", "sftp_csv"}

// Operations are the operations the scaffold writes samples for, by protocol.
var Operations = map[string][]sdk.Operation{
	"rest_json": {sdk.OpTrack, sdk.OpCreateShipment, sdk.OpCancelShipment},
	"xml_http":  {sdk.OpTrack, sdk.OpCreateShipment, sdk.OpCancelShipment},
	"soap":      {sdk.OpTrack, sdk.OpCreateShipment, sdk.OpCancelShipment},
	"sftp_csv":  {sdk.OpReceivePush},
}

// Options say what to write.
type Options struct {
	// ID is the connector's id, lower snake case.
	ID string
	// Name is its display name; the id in title case when empty.
	Name string
	// Protocol is one of Protocols.
	Protocol string
	// Ops are the operations to bind; every operation of the protocol when empty.
	Ops []sdk.Operation
	// Auth is how requests are signed: header:NAME, query:NAME, bearer, basic,
	// oauth2:TOKEN_PATH or none (wsse too for soap); header:X-Api-Key when empty.
	Auth string
}

// data is what the templates see.
type data struct {
	ID, Name, Protocol string
	Ops                map[string]bool
	OpList             []string
	Auth               authData
}

// authData describes the chosen auth for the templates.
type authData struct {
	Kind                 string // header, query, bearer, basic, oauth2, wsse, none
	Header, Query, Token string
	// Credentials are the account's credential names.
	Credentials []string
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// parseAuth reads the --auth flag.
func parseAuth(s, protocol string) (authData, error) {
	kind, arg, _ := strings.Cut(s, ":")
	a := authData{Kind: kind}
	switch kind {
	case "", "header":
		a.Kind, a.Header = "header", arg
		if a.Header == "" {
			a.Header = "X-Api-Key"
		}
		a.Credentials = []string{"api_key"}
	case "query":
		if arg == "" {
			return a, fmt.Errorf("auth query:NAME needs the query parameter's name")
		}
		a.Query = arg
		a.Credentials = []string{"api_key"}
	case "bearer":
		a.Credentials = []string{"api_token"}
	case "basic", "wsse":
		if kind == "wsse" && protocol != "soap" {
			return a, fmt.Errorf("auth wsse signs SOAP envelopes; use it with --protocol soap")
		}
		a.Credentials = []string{"username", "password"}
	case "oauth2":
		a.Token = arg
		if a.Token == "" {
			a.Token = "/oauth/token"
		}
		a.Credentials = []string{"client_id", "client_secret"}
	case "none":
	default:
		return a, fmt.Errorf("auth %q: use header:NAME, query:NAME, bearer, basic, oauth2[:TOKEN_PATH], wsse or none", s)
	}
	if protocol == "sftp_csv" && a.Kind != "none" {
		// Files arrive through the hub's SFTP inbox: there is no provider API to sign.
		a = authData{Kind: "none"}
	}
	return a, nil
}

// Write writes the connector folder into dir, which must not exist or be
// empty, and returns the files written, relative to dir.
func Write(dir string, o Options) ([]string, error) {
	if !idRE.MatchString(o.ID) {
		return nil, fmt.Errorf("id %q must be lower snake case, 2 to 63 characters", o.ID)
	}
	ops, ok := Operations[o.Protocol]
	if !ok {
		return nil, fmt.Errorf("protocol %q: use one of %s", o.Protocol, strings.Join(Protocols, ", "))
	}
	if len(o.Ops) == 0 {
		o.Ops = ops
	}
	d := data{ID: o.ID, Name: o.Name, Protocol: o.Protocol, Ops: map[string]bool{}}
	if d.Name == "" {
		d.Name = titleCase(o.ID)
	}
	for _, op := range o.Ops {
		if !slices.Contains(ops, op) {
			return nil, fmt.Errorf("the %s scaffold writes %s, not %s; add other operations by hand after it", o.Protocol, joinOps(ops), op)
		}
		d.Ops[string(op)] = true
	}
	for _, op := range ops {
		if d.Ops[string(op)] {
			d.OpList = append(d.OpList, string(op))
		}
	}
	var err error
	if d.Auth, err = parseAuth(o.Auth, o.Protocol); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty", dir)
	}
	root := "templates/" + o.Protocol
	var written []string
	err = fs.WalkDir(templates, root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if op := opOf(rel); op != "" && !d.Ops[op] {
			return nil
		}
		src, err := fs.ReadFile(templates, p)
		if err != nil {
			return err
		}
		out, err := render(p, src, d)
		if err != nil {
			return err
		}
		rel = strings.TrimSuffix(rel, ".tmpl")
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, out, 0o644); err != nil {
			return err
		}
		written = append(written, rel)
		return nil
	})
	sort.Strings(written)
	return written, err
}

// opOf returns the operation a template file belongs to: files are named
// after it (track.mapping, testdata/exchanges/track-delivered.yaml, ...).
func opOf(rel string) string {
	base := path.Base(rel)
	for _, op := range []string{"create_shipment", "cancel_shipment", "track", "receive_push"} {
		short := strings.ReplaceAll(op, "_", "-")
		if strings.HasPrefix(base, short+".") || strings.HasPrefix(base, short+"-") {
			return op
		}
	}
	return ""
}

func render(name string, src []byte, d data) ([]byte, error) {
	common, err := fs.ReadFile(templates, "templates/common.tmpl")
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Delims("[[", "]]").Funcs(template.FuncMap{"join": strings.Join}).Parse(string(common))
	if err == nil {
		t, err = t.Parse(string(src))
	}
	if err != nil {
		return nil, fmt.Errorf("scaffold template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("scaffold template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

func titleCase(id string) string {
	parts := strings.Split(id, "_")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, " ")
}

func joinOps(ops []sdk.Operation) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}
