package nicewaybill

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/transport/nic"
)

// names are the NIC calls behind the operations, as refusals name them.
var names = map[sdk.Operation]string{
	sdk.OpGenerateEWayBill:      ActionGenerate,
	sdk.OpUpdateEWayBillVehicle: ActionVehicle,
	sdk.OpExtendEWayBill:        ActionExtend,
	sdk.OpCancelEWayBill:        ActionCancel,
	sdk.OpGetEWayBill:           MethodGet,
	sdk.OpLookupGSTIN:           MethodGSTIN,
}

// lookupRequest is the read's request data: the bill number, as NIC's
// GetEwayBill takes it in its query.
type lookupRequest struct {
	EwbNo json.Number `json:"ewbNo"`
}

// directWire is NIC's own API through the session kernel (a nic.Wire; GSP
// folders use nic.Bindings, OverBindings).
type directWire struct{ accounts *nic.Accounts }

func (w directWire) Exchange(ctx context.Context, call *sdk.Call, payload, out any) error {
	m, creds, err := w.accounts.Resolve(call.Account)
	if err != nil {
		return err
	}
	switch call.Operation {
	case sdk.OpLookupGSTIN:
		lookup, ok := payload.(*gstinRequest)
		if !ok {
			return sdk.Errorf(sdk.CodeInternal, "nic_ewaybill: a GSTIN lookup's payload is %T", payload)
		}
		return m.EWBMaster(ctx, creds, MethodGSTIN, url.Values{"GSTIN": {lookup.GSTIN}}, out)
	case sdk.OpGetEWayBill:
		lookup, ok := payload.(*lookupRequest)
		if !ok {
			return sdk.Errorf(sdk.CodeInternal, "nic_ewaybill: a read's payload is %T", payload)
		}
		return m.EWBGet(ctx, creds, MethodGet, url.Values{"ewbNo": {string(lookup.EwbNo)}}, out)
	}
	action, ok := names[call.Operation]
	if !ok {
		return sdk.Errorf(sdk.CodeInternal, "nic_ewaybill: no NIC action for %s", call.Operation)
	}
	return m.EWBAction(ctx, creds, action, payload, out)
}

// OverBindings returns the connector whose wire is a loaded folder's bindings: a
// GSP's e-way bill API that passes NIC's JSON on. The canonical requests and
// answers are translated as for NIC's own API; the folder says only what
// differs on the GSP's wire (base URLs, auth, paths, envelopes, refusals).
func OverBindings(folder *declarative.Connector) *GSPConnector {
	return &GSPConnector{translation{nic.OverBindings(folder)}}
}

// GSPConnector serves the accounts of a GSP's e-way bill API (OverBindings).
// It has no health check: a GSP's API has no ping, and its login is the first
// call's. It keeps no per-tenant state beyond the runtime's token cache.
type GSPConnector struct{ translation }

var (
	_ sdk.EWayBillGenerator      = (*GSPConnector)(nil)
	_ sdk.EWayBillVehicleUpdater = (*GSPConnector)(nil)
	_ sdk.EWayBillExtender       = (*GSPConnector)(nil)
	_ sdk.EWayBillCanceller      = (*GSPConnector)(nil)
	_ sdk.EWayBillGetter         = (*GSPConnector)(nil)
	_ sdk.GSTINLooker            = (*GSPConnector)(nil)
)
