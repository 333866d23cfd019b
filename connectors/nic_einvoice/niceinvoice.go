// Package niceinvoice is the hub's direct connector to NIC's e-Invoice
// registration portal (IRP, einvoice1.gst.gov.in): it registers an invoice and
// returns its IRN, acknowledgement and signed QR code (Generate IRN, POST
// <URL>/eicore/v1.03/Invoice after a v1.04 login), through the NIC session
// kernel sdk/transport/nic, which does the RSA login envelope, the session key
// (SEK), the AES payloads, the token cache and NIC's login-rate guard.
//
// It is a Go connector because every payload travels encrypted under a session
// key negotiated at login; no binding can say that. Its folder (manifest.yaml and
// the recorded exchanges, whose provider payloads are shown decrypted) is
// embedded for the registry of built-ins and conformance. The package imports
// sdk and nothing of the engine.
package niceinvoice

import (
	"context"
	"embed"
	"io/fs"

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

// NIC's IRP paths under the account's base URL (the host, e.g.
// https://einv-apisandbox.nic.in).
const (
	// AuthPath is the v1.04 login.
	AuthPath = "/eivital/v1.04/auth"
	// InvoicePath is Generate IRN.
	InvoicePath = "/eicore/v1.03/Invoice"
	// CancelPath is Cancel IRN.
	CancelPath = "/eicore/v1.03/Invoice/Cancel"
	// IRNPath is Get IRN details, the IRN following it.
	IRNPath = "/eicore/v1.03/Invoice/irn/"
	// FindPath is Get IRN by document details (doctype, docnum, docdate in the query).
	FindPath = "/eicore/v1.03/Invoice/irnbydocdetails"
)

// Options tune a connector; the zero value is what New uses.
type Options struct {
	// Manager adjusts each session manager's configuration before it is made
	// (tests set a clock or an HTTP client); Flavor, BaseURL, AuthPath and
	// PublicKey are the connector's.
	Manager func(*nic.Config)
}

// Connector serves NIC e-Invoice (IRP) accounts directly. It keeps one
// nic.Manager per base URL and public key, whose session cache is keyed by
// GSTIN, and is safe for concurrent use by every tenant's accounts.
type Connector struct {
	translation
	accounts *nic.Accounts
}

var (
	_ sdk.EInvoiceGenerator = (*Connector)(nil)
	_ sdk.EInvoiceCanceller = (*Connector)(nil)
	_ sdk.EInvoiceGetter    = (*Connector)(nil)
	_ sdk.EInvoiceFinder    = (*Connector)(nil)
	_ sdk.HealthChecker     = (*Connector)(nil)
)

// New returns the connector with default options.
func New() sdk.Connector { return NewWithOptions(Options{}) }

// NewWithOptions returns the connector tuned by opts.
func NewWithOptions(opts Options) *Connector {
	accounts := &nic.Accounts{Flavor: nic.EInvoice, AuthPath: AuthPath, Adjust: opts.Manager}
	return &Connector{translation: translation{nic.Translation{Manifest: manifest, Wire: directWire{accounts}}}, accounts: accounts}
}

// translation is the canonical e-invoice operations over a wire: each
// request checked and written as NIC's request data, NIC's answer data read
// back, NIC's codes explained. Both connectors embed it.
type translation struct{ nic.Translation }

// GenerateEInvoice registers an invoice with the IRP (Generate IRN).
func (t *translation) GenerateEInvoice(ctx context.Context, req *sdk.Request[model.EInvoiceRequest]) (*model.EInvoice, error) {
	payload, err := invoicePayload(&req.Body)
	if err != nil {
		return nil, err
	}
	return t.invoiceExchange(ctx, req.Call(sdk.OpGenerateEInvoice), "Generate IRN", payload)
}

// CancelEInvoice cancels an e-invoice by its IRN (Cancel IRN).
func (t *translation) CancelEInvoice(ctx context.Context, req *sdk.Request[model.EInvoiceCancel]) (*model.EInvoiceCancellation, error) {
	payload, err := cancelPayload(&req.Body)
	if err != nil {
		return nil, err
	}
	var out cancelAnswer
	if err := explain("Cancel IRN", t.Wire.Exchange(ctx, req.Call(sdk.OpCancelEInvoice), payload, &out)); err != nil {
		return nil, err
	}
	return out.cancellation(payload.Irn)
}

// GetEInvoice reads an e-invoice by its IRN (Get IRN details).
func (t *translation) GetEInvoice(ctx context.Context, req *sdk.Request[model.EInvoiceLookup]) (*model.EInvoice, error) {
	irn, err := checkIRN(req.Body.IRN, "/irn")
	if err != nil {
		return nil, err
	}
	return t.invoiceExchange(ctx, req.Call(sdk.OpGetEInvoice), "Get IRN details", &lookupRequest{Irn: irn})
}

// FindEInvoice reads an e-invoice by its document (Get IRN by document
// details), as Get IRN details answers.
func (t *translation) FindEInvoice(ctx context.Context, req *sdk.Request[model.EInvoiceFind]) (*model.EInvoice, error) {
	payload, err := findPayload(&req.Body)
	if err != nil {
		return nil, err
	}
	return t.invoiceExchange(ctx, req.Call(sdk.OpFindEInvoice), "Get IRN by document details", payload)
}

// invoiceExchange sends payload as NIC's step what and reads the invoice NIC
// answers (Generate IRN and both Get IRN reads answer alike).
func (t *translation) invoiceExchange(ctx context.Context, call *sdk.Call, what string, payload any) (*model.EInvoice, error) {
	var out irnAnswer
	if err := explain(what, t.Wire.Exchange(ctx, call, payload, &out)); err != nil {
		return nil, err
	}
	return out.invoice()
}

// CheckHealth logs the account in (or finds its cached session): the IRP has
// no ping, and a login proves the host, the public key and the credentials. A
// cached session costs nothing; a new login counts against the kernel's guard
// of 5 logins per 15 minutes.
func (c *Connector) CheckHealth(ctx context.Context, a *sdk.Account) error {
	if a == nil {
		return nil
	}
	return explain("login", c.accounts.Login(ctx, a))
}
