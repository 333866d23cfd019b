// Package connectors lists the connectors built into the hub binary, each once,
// as a single value: its folder (manifest, mappings, recorded exchanges), the Go
// factory of a connector that needs code, and its own simulator where the
// generic one cannot express the provider. A connector written as data is a
// folder here with no Go at all; this package embeds it.
//
// Built-ins still run out of process: the hub re-executes itself with a hidden
// subcommand that serves one of them (cmd/hub's connector-process). Third-party
// folders load from hub serve --connectors-dir and are served the same way.
package connectors

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"github.com/carrierhub/hub/connectors/bluedart"
	bluedartsim "github.com/carrierhub/hub/connectors/bluedart/simulator"
	"github.com/carrierhub/hub/connectors/delhivery"
	delhiverysim "github.com/carrierhub/hub/connectors/delhivery/simulator"
	niceinvoice "github.com/carrierhub/hub/connectors/nic_einvoice"
	niceinvoicesim "github.com/carrierhub/hub/connectors/nic_einvoice/simulator"
	nicewaybill "github.com/carrierhub/hub/connectors/nic_ewaybill"
	nicewaybillsim "github.com/carrierhub/hub/connectors/nic_ewaybill/simulator"
	"github.com/carrierhub/hub/connectors/statusfile"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/simulator"
)

// The folders of connectors written as data, embedded whole, one a line:
// each is a built-in whose id is its folder's name. TestEveryDataFolderIsEmbedded
// holds this list to the folders under connectors/ that have no Go. The
// shared directory (declarative.SharedDir) holds files several of them read.
//
//go:embed all:shared
//go:embed all:adaequare_einvoice
//go:embed all:adaequare_ewaybill
//go:embed all:amazon_shipping_in
//go:embed all:bluedart_rest
//go:embed all:borzo
//go:embed all:cleartax_einvoice
//go:embed all:clickpost
//go:embed all:dtdc
//go:embed all:ecom_express
//go:embed all:ekart
//go:embed all:fedex
//go:embed all:franch_express
//go:embed all:freight_tiger
//go:embed all:gati_kwe
//go:embed all:ithink_logistics
//go:embed all:mastersindia_einvoice
//go:embed all:mastersindia_ewaybill
//go:embed all:nimbuspost
//go:embed all:parcelx
//go:embed all:pidge
//go:embed all:porter
//go:embed all:rapidshyp
//go:embed all:sandbox_einvoice
//go:embed all:sandbox_ewaybill
//go:embed all:shadowfax
//go:embed all:shadowfax_flash
//go:embed all:shipmozo
//go:embed all:shiprocket
//go:embed all:smartship
//go:embed all:ulip_aaiclas
//go:embed all:ulip_acmes
//go:embed all:ulip_ewaybill
//go:embed all:ulip_fastag
//go:embed all:ulip_fois
//go:embed all:ulip_kale
//go:embed all:ulip_ldb
//go:embed all:ulip_sarathi
//go:embed all:ulip_tgsarathi
//go:embed all:ulip_tgvahan
//go:embed all:ulip_vahan
//go:embed all:vayana_einvoice
//go:embed all:velocity_shipfast
//go:embed all:vtrans
//go:embed all:whitebooks_einvoice
//go:embed all:whitebooks_ewaybill
var dataFolders embed.FS

// Simulator is a provider simulator on loopback: its URL, and the credentials
// and settings an account needs to talk to it.
type Simulator interface {
	URL() string
	Close()
	Account() (credentials, settings map[string]string)
}

// Builtin is one connector compiled into the hub.
type Builtin struct {
	// ID is the connector's id, as its manifest says.
	ID string
	// Files is the connector's folder: manifest.yaml, mappings and
	// testdata/exchanges. Nil for a Go connector that keeps its manifest to itself.
	Files fs.FS
	// New builds a connector that needs Go; nil means the folder alone, run by
	// the declarative runtime or the translation its manifest names (Load).
	New func() sdk.Connector
	// Simulate starts the connector's own simulator; nil means the generic one
	// from the folder's exchanges, when it has any.
	Simulate func() (Simulator, error)
	// OwnSimulatorReplays says the connector's own simulator answers its
	// recorded exchanges' canonical calls, so conformance replays them against
	// it: for a provider whose wire the generic simulator cannot speak (NIC's
	// encrypted envelope). Otherwise the generic simulator replays them.
	OwnSimulatorReplays bool
}

// Connector returns a fresh instance of the connector.
func (b *Builtin) Connector() (sdk.Connector, error) {
	if b.New != nil {
		return b.New(), nil
	}
	return Load(b.Files)
}

// StartSimulator starts the connector's simulator: its own, or the generic one.
func (b *Builtin) StartSimulator() (Simulator, error) {
	if b.Simulate != nil {
		return b.Simulate()
	}
	if b.Files == nil {
		return nil, fmt.Errorf("connector %s has no simulator", b.ID)
	}
	return simulator.New(b.Files, simulator.Options{})
}

// HasSimulator reports whether StartSimulator can start one.
func (b *Builtin) HasSimulator() bool {
	if b.Simulate != nil {
		return true
	}
	if b.Files == nil {
		return false
	}
	names, _ := fs.Glob(b.Files, exchanges.Dir+"/*.yaml")
	return len(names) > 0
}

// folder is an embedded data folder with the shared families it names mounted.
func folder(name string) fs.FS {
	return declarative.WithShared(sub(name), sub(declarative.SharedDir))
}

func sub(name string) fs.FS {
	fsys, err := fs.Sub(dataFolders, name)
	if err != nil {
		panic(err) // the embed patterns above name it: a build defect
	}
	return fsys
}

// goBuiltins are the built-ins that need Go, each with its own package.
var goBuiltins = []Builtin{
	{ID: "bluedart_soap", Files: bluedart.Folder(), New: bluedart.New, Simulate: func() (Simulator, error) { return bluedartSim{bluedartsim.New()}, nil }},
	{ID: "delhivery_express", Files: delhivery.Folder(), New: delhivery.New, Simulate: func() (Simulator, error) { return delhiverySim{delhiverysim.New()}, nil }},
	{ID: "statusfile", Files: statusfile.Folder(), New: statusfile.New},
	{ID: "nic_ewaybill", Files: nicewaybill.Folder(), New: nicewaybill.New, Simulate: nicEWayBillSim, OwnSimulatorReplays: true},
	{ID: "nic_einvoice", Files: niceinvoice.Folder(), New: niceinvoice.New, Simulate: nicEInvoiceSim, OwnSimulatorReplays: true},
}

// translations are the Go translations a folder's manifest can name
// (sdk.Manifest.Translation): each runs around the loaded folder's bindings.
var translations = map[string]func(*declarative.Connector) sdk.Connector{
	"nic_ewaybill": func(d *declarative.Connector) sdk.Connector { return nicewaybill.OverBindings(d) },
	"nic_einvoice": func(d *declarative.Connector) sdk.Connector { return niceinvoice.OverBindings(d) },
}

// Load returns the connector a folder describes: the declarative runtime
// over its bindings, or the translation its manifest names around them.
func Load(fsys fs.FS) (sdk.Connector, error) {
	d, err := declarative.Load(fsys, declarative.Options{})
	if err != nil {
		return nil, err
	}
	return translated(d)
}

// LoadDir loads a connector folder from disk (declarative.LoadDir, which
// checks it binds every operation it declares) as Load does.
func LoadDir(dir string) (sdk.Connector, error) {
	d, err := declarative.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	c, err := translated(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return c, nil
}

// translated is a loaded folder as its manifest's translation runs it, or
// as it is when it names none.
func translated(d *declarative.Connector) (sdk.Connector, error) {
	name := d.Describe().Translation
	if name == "" {
		return d, nil
	}
	translate, ok := translations[name]
	if !ok {
		return nil, fmt.Errorf("%s: translation %q is not one of the hub's", d.Describe().ID, name)
	}
	return translate(d), nil
}

// builtins lists every built-in connector once: those with Go, then one per
// embedded data folder.
var builtins = func() []Builtin {
	out := append([]Builtin(nil), goBuiltins...)
	dirs, err := fs.ReadDir(dataFolders, ".")
	if err != nil {
		panic(err) // an embedded FS always reads: a build defect
	}
	for _, d := range dirs {
		if d.IsDir() && d.Name() != declarative.SharedDir {
			out = append(out, Builtin{ID: d.Name(), Files: folder(d.Name())})
		}
	}
	return out
}()

// Builtins returns every built-in connector, by id.
func Builtins() []Builtin {
	out := append([]Builtin(nil), builtins...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup returns the built-in connector with this id.
func Lookup(id string) (*Builtin, bool) {
	for i := range builtins {
		if builtins[i].ID == id {
			b := builtins[i]
			return &b, true
		}
	}
	return nil, false
}

// delhiverySim adapts Delhivery's own simulator.
type delhiverySim struct{ *delhiverysim.Simulator }

func (s delhiverySim) Account() (map[string]string, map[string]string) {
	return map[string]string{"api_token": s.Token()}, map[string]string{"pickup_location": "WH-1"}
}

// bluedartSim adapts Blue Dart's own simulator.
type bluedartSim struct{ *bluedartsim.Simulator }

func (s bluedartSim) Account() (map[string]string, map[string]string) {
	return map[string]string{"login_id": bluedartsim.LoginID, "licence_key": bluedartsim.LicenceKey},
		map[string]string{"customer_code": bluedartsim.CustomerCode, "origin_area": "BOM"}
}

// nicEWayBillSim starts NIC's e-Way Bill simulator (nicsim behind the
// connector's API user and public key); it replays the connector's recorded
// exchanges, whose payloads NIC sends encrypted.
func nicEWayBillSim() (Simulator, error) {
	s, err := nicewaybillsim.New()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// nicEInvoiceSim starts NIC's e-Invoice (IRP) simulator (nicsim behind the
// connector's API user and public key); it replays the connector's recorded
// exchanges, whose payloads NIC sends encrypted.
func nicEInvoiceSim() (Simulator, error) {
	s, err := niceinvoicesim.New()
	if err != nil {
		return nil, err
	}
	return s, nil
}
