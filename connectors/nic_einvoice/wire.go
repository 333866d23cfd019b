package niceinvoice

import (
	"context"
	"net/url"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/transport/nic"
)

// directWire is the IRP's own API through the session kernel (a nic.Wire;
// GSP folders use nic.Bindings, OverBindings).
type directWire struct{ accounts *nic.Accounts }

func (w directWire) Exchange(ctx context.Context, call *sdk.Call, payload, out any) error {
	m, creds, err := w.accounts.Resolve(call.Account)
	if err != nil {
		return err
	}
	switch call.Operation {
	case sdk.OpGenerateEInvoice:
		return m.IRPPost(ctx, creds, InvoicePath, payload, out)
	case sdk.OpCancelEInvoice:
		return m.IRPPost(ctx, creds, CancelPath, payload, out)
	case sdk.OpGetEInvoice:
		lookup, ok := payload.(*lookupRequest)
		if !ok {
			return sdk.Errorf(sdk.CodeInternal, "nic_einvoice: a read's payload is %T", payload)
		}
		return m.IRPGet(ctx, creds, IRNPath+url.PathEscape(lookup.Irn), out)
	case sdk.OpFindEInvoice:
		find, ok := payload.(*findRequest)
		if !ok {
			return sdk.Errorf(sdk.CodeInternal, "nic_einvoice: a find's payload is %T", payload)
		}
		return m.IRPGet(ctx, creds, FindPath+"?"+find.query().Encode(), out)
	}
	return sdk.Errorf(sdk.CodeInternal, "nic_einvoice: no IRP call for %s", call.Operation)
}

// OverBindings returns the connector whose wire is a loaded folder's bindings: a
// GSP's e-invoice API that passes NIC's JSON on. The canonical requests and
// answers are translated as for the IRP's own API; the folder says only what
// differs on the GSP's wire (base URLs, auth, paths, envelopes, refusals).
func OverBindings(folder *declarative.Connector) *GSPConnector {
	return &GSPConnector{translation{nic.OverBindings(folder)}}
}

// GSPConnector serves the accounts of a GSP's e-invoice API (OverBindings).
// It has no health check: a GSP's API has no ping, and its login is the first
// call's. It keeps no per-tenant state beyond the runtime's token cache.
type GSPConnector struct{ translation }

var (
	_ sdk.EInvoiceGenerator = (*GSPConnector)(nil)
	_ sdk.EInvoiceCanceller = (*GSPConnector)(nil)
	_ sdk.EInvoiceGetter    = (*GSPConnector)(nil)
	_ sdk.EInvoiceFinder    = (*GSPConnector)(nil)
)
