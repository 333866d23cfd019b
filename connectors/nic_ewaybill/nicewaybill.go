// Package nicewaybill is the hub's direct connector to NIC's e-Way Bill system
// (EWB API v1.03): it generates e-way bills (GENEWAYBILL), updates their Part-B
// vehicle (VEHEWB), extends their validity (EXTENDVALIDITY), cancels them
// (CANEWB) and reads them (GetEwayBill), all through the NIC session kernel sdk/transport/nic, which does the
// RSA login envelope, the session key (SEK), the AES payloads, the token cache
// and NIC's login-rate guard.
//
// It is a Go connector because every payload travels encrypted under a session
// key negotiated at login; no binding can say that. Its folder (manifest.yaml and
// the recorded exchanges, whose provider payloads are shown decrypted) is
// embedded for the registry of built-ins and conformance. The package imports
// sdk and nothing of the engine.
package nicewaybill

import (
	"context"
	"embed"
	"io/fs"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/nic"
)

// folder is the connector's folder as the hub sees it: the manifest and the
// recorded exchanges.
//
//go:embed manifest.yaml testdata/exchanges
var folder embed.FS

// Folder returns the connector's folder (manifest.yaml and testdata/exchanges/),
// for the registry of built-ins, conformance and the simulator's replays.
func Folder() fs.FS { return folder }

// manifest is loaded once; a broken embedded manifest fails every test.
var manifest = sdk.LazyManifest(folder, "manifest.yaml")

// NIC's e-Way Bill actions and read methods this connector uses.
const (
	ActionGenerate = "GENEWAYBILL"
	ActionVehicle  = "VEHEWB"
	ActionExtend   = "EXTENDVALIDITY"
	ActionCancel   = "CANEWB"
	// MethodGet is the read GET <base>/ewayapi/GetEwayBill?ewbNo=...
	MethodGet = "GetEwayBill"
	// MethodGSTIN is the master lookup GET <base>/Master/GetGSTINDetails?GSTIN=...
	MethodGSTIN = "GetGSTINDetails"
)

// Options tune a connector; the zero value is what New uses.
type Options struct {
	// Manager adjusts each session manager's configuration before it is made
	// (tests set a clock or an HTTP client); Flavor, BaseURL and PublicKey are
	// the connector's.
	Manager func(*nic.Config)
}

// Connector serves NIC e-Way Bill accounts directly. It keeps one nic.Manager
// per base URL and public key, whose session cache is keyed by GSTIN, and is
// safe for concurrent use by every tenant's accounts.
type Connector struct {
	translation
	accounts *nic.Accounts
}

var (
	_ sdk.EWayBillGenerator      = (*Connector)(nil)
	_ sdk.EWayBillVehicleUpdater = (*Connector)(nil)
	_ sdk.EWayBillExtender       = (*Connector)(nil)
	_ sdk.EWayBillCanceller      = (*Connector)(nil)
	_ sdk.EWayBillGetter         = (*Connector)(nil)
	_ sdk.GSTINLooker            = (*Connector)(nil)
	_ sdk.HealthChecker          = (*Connector)(nil)
)

// New returns the connector with default options.
func New() sdk.Connector { return NewWithOptions(Options{}) }

// NewWithOptions returns the connector tuned by opts.
func NewWithOptions(opts Options) *Connector {
	accounts := &nic.Accounts{Flavor: nic.EWayBill, Adjust: opts.Manager}
	return &Connector{translation: translation{nic.Translation{Manifest: manifest, Wire: directWire{accounts}}}, accounts: accounts}
}

// translation is the canonical e-way bill operations over a wire: each
// request checked and written as NIC's request data, NIC's answer data read
// back, NIC's codes explained. Both connectors embed it.
type translation struct{ nic.Translation }

// exchange sends one operation's request data after the request has been
// checked, and explains NIC's codes in a refusal.
func (t *translation) exchange(ctx context.Context, call *sdk.Call, payload, out any) error {
	return explain(names[call.Operation], t.Wire.Exchange(ctx, call, payload, out))
}

// GenerateEWayBill generates an e-way bill (GENEWAYBILL).
func (t *translation) GenerateEWayBill(ctx context.Context, req *sdk.Request[model.EWayBillRequest]) (*model.EWayBill, error) {
	payload, err := generatePayload(&req.Body)
	if err != nil {
		return nil, err
	}
	var out generateAnswer
	if err := t.exchange(ctx, req.Call(sdk.OpGenerateEWayBill), payload, &out); err != nil {
		return nil, err
	}
	return out.bill(req.Body.Transport.VehicleNumber)
}

// UpdateEWayBillVehicle updates an e-way bill's Part-B (VEHEWB).
func (t *translation) UpdateEWayBillVehicle(ctx context.Context, req *sdk.Request[model.EWayBillVehicleUpdate]) (*model.EWayBill, error) {
	payload, err := vehiclePayload(&req.Body)
	if err != nil {
		return nil, err
	}
	var out vehicleAnswer
	if err := t.exchange(ctx, req.Call(sdk.OpUpdateEWayBillVehicle), payload, &out); err != nil {
		return nil, err
	}
	return out.bill(req.Body.Number, req.Body.Transport.VehicleNumber), nil
}

// ExtendEWayBill extends an e-way bill's validity (EXTENDVALIDITY).
func (t *translation) ExtendEWayBill(ctx context.Context, req *sdk.Request[model.EWayBillExtension]) (*model.EWayBill, error) {
	payload, err := extendPayload(&req.Body)
	if err != nil {
		return nil, err
	}
	var out extendAnswer
	if err := t.exchange(ctx, req.Call(sdk.OpExtendEWayBill), payload, &out); err != nil {
		return nil, err
	}
	return out.bill(req.Body.Number, req.Body.Transport.VehicleNumber), nil
}

// CancelEWayBill cancels an e-way bill (CANEWB).
func (t *translation) CancelEWayBill(ctx context.Context, req *sdk.Request[model.EWayBillCancel]) (*model.EWayBill, error) {
	payload, err := cancelPayload(&req.Body)
	if err != nil {
		return nil, err
	}
	var out cancelAnswer
	if err := t.exchange(ctx, req.Call(sdk.OpCancelEWayBill), payload, &out); err != nil {
		return nil, err
	}
	return out.bill(req.Body.Number), nil
}

// GetEWayBill reads an e-way bill as NIC has it now (GetEwayBill; directly,
// NIC answers a read with data encrypted under a fresh key, REK, sealed with
// the session key and signed with an HMAC, which the kernel opens).
func (t *translation) GetEWayBill(ctx context.Context, req *sdk.Request[model.EWayBillLookup]) (*model.EWayBill, error) {
	no, err := ewbNo(req.Body.Number, "/number")
	if err != nil {
		return nil, err
	}
	var out getAnswer
	if err := t.exchange(ctx, req.Call(sdk.OpGetEWayBill), &lookupRequest{EwbNo: no}, &out); err != nil {
		return nil, err
	}
	return out.bill(req.Body.Number), nil
}

// LookupGSTIN reads a GSTIN's registration (GetGSTINDetails, a master
// lookup whose answer NIC seals under a fresh REK, as a bill's read).
func (t *translation) LookupGSTIN(ctx context.Context, req *sdk.Request[model.GSTINLookup]) (*model.GSTINDetails, error) {
	gstin := strings.ToUpper(strings.TrimSpace(req.Body.GSTIN))
	if !model.IsGSTIN(gstin) {
		return nil, bad("/gstin", "a GSTIN is two digits and 13 capital letters and digits")
	}
	var out gstinAnswer
	if err := t.exchange(ctx, req.Call(sdk.OpLookupGSTIN), &gstinRequest{GSTIN: gstin}, &out); err != nil {
		return nil, err
	}
	return out.details(gstin), nil
}

// CheckHealth logs the account in (or finds its cached session): NIC has no
// ping, and a login proves the host, the public key and the credentials. A
// cached session costs nothing; a new login counts against NIC's limit of 5 per
// 15 minutes, which the session manager enforces.
func (c *Connector) CheckHealth(ctx context.Context, a *sdk.Account) error {
	if a == nil {
		return nil
	}
	return c.accounts.Login(ctx, a)
}
