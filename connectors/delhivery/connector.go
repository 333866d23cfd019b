package delhivery

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/rest"
)

// folder is the connector's folder as the hub embeds it: the manifest with its
// bindings, the mappings with their tables and fixtures, and the recorded
// exchanges.
//
//go:embed manifest.yaml mappings testdata/exchanges
var folder embed.FS

// Folder returns the connector's folder (manifest.yaml, mappings/,
// testdata/exchanges/), for the registry of built-ins, conformance and the
// generic simulator.
func Folder() fs.FS { return folder }

// settingPickupLocation is the account setting naming the registered pickup
// location, which a booking uses when its request names none. (The create
// request mapping reads it, and client_name, from the settings the runtime
// hands it.)
const settingPickupLocation = "pickup_location"

// healthCheckPIN is the PIN code the health check asks about (New Delhi GPO):
// any answer proves the host is up and the token is accepted.
const healthCheckPIN = "110001"

// rawHandler is a bound operation of the declarative runtime.
type rawHandler = func(ctx context.Context, call *sdk.Call) ([]byte, error)

// Connector is the Delhivery Express connector, a mixed one: the manifest's
// bindings serve track, cancel_shipment and receive_push on their own and do
// every exchange of create_shipment, through the embedded declarative runtime.
// The Go methods below add what a binding cannot say: checking a booking with
// errors that name the offending field, naming the field a refusal concerns,
// and the health check. (A push's token is checked by the hub, before the
// connector sees the push, as the manifest's inbound section declares.) One
// value serves every tenant's accounts concurrently.
type Connector struct {
	*declarative.Connector
	api    *rest.Client
	create rawHandler
}

var (
	_ sdk.ShipmentCreator = (*Connector)(nil)
	_ sdk.HealthChecker   = (*Connector)(nil)
	_ sdk.RawOperations   = (*Connector)(nil)
)

// New returns the Delhivery Express connector. The embedded folder is checked by
// the package's tests, so one that does not load is a build defect: New panics.
func New() sdk.Connector {
	c, err := load()
	if err != nil {
		panic("delhivery: the embedded connector folder does not load: " + err.Error())
	}
	return c
}

func load() (*Connector, error) {
	api, err := newAPI()
	if err != nil {
		return nil, err
	}
	dc, err := declarative.Load(Folder(), declarative.Options{Rest: api})
	if err != nil {
		return nil, err
	}
	c := &Connector{Connector: dc, api: api}
	var ok bool
	if c.create, ok = dc.RawHandler(sdk.OpCreateShipment); !ok {
		return nil, fmt.Errorf("manifest.yaml: create_shipment has no binding")
	}
	return c, nil
}

// CreateShipment books one shipment with Delhivery and returns its waybill. It
// checks the request first (errors name the field by JSON pointer, and nothing
// is sent), then runs the create_shipment binding on the envelope its request
// mapping reads: the request and what the check computed. A refusal keeps the
// code the binding's error mapping gave it and gains the field it concerns.
// Delhivery takes no idempotency key: a repeated call with the same reference is
// refused as a duplicate order (conflict) rather than booked twice.
func (c *Connector) CreateShipment(ctx context.Context, req *sdk.Request[model.ShipmentRequest]) (*model.ShipmentResponse, error) {
	derived, err := checkCreate(&req.Body, req.Account.Setting(settingPickupLocation, ""))
	if err != nil {
		return nil, unsent(err)
	}
	var out model.ShipmentResponse
	if err := invoke(ctx, c.create, sdk.OpCreateShipment, req.Account, req.IdempotencyKey, req.RequestID,
		createInput{Shipment: &req.Body, Derived: derived}, &out); err != nil {
		return nil, withRefusalField(err, req.Body.Reverse)
	}
	return &out, nil
}

// CheckHealth asks Delhivery whether one PIN code is serviceable: a cheap,
// read-only, authenticated call that proves the host is up and the token is
// accepted. A nil account checks only the connector itself, which has nothing to
// check.
func (c *Connector) CheckHealth(ctx context.Context, account *sdk.Account) error {
	if account == nil {
		return nil
	}
	token, err := account.Credential(credentialToken)
	if err != nil {
		return err
	}
	if strings.TrimSpace(account.BaseURL) == "" {
		// For would fall back to production; an account must name its host.
		return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: "the account has no base URL"}
	}
	api, err := c.api.For(account.BaseURL, rest.APIKey{Key: token, Prefix: "Token "})
	if err != nil {
		return err
	}
	return api.DoJSON(ctx, &rest.Request{Method: http.MethodGet, Path: pinCodePath,
		Query: map[string][]string{"filter_codes": {healthCheckPIN}}}, nil)
}

// invoke runs a bound operation's handler on a typed request and decodes its
// canonical answer into out.
func invoke(ctx context.Context, h rawHandler, op sdk.Operation, acct *sdk.Account, key, requestID string, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return unsent(sdk.Errorf(sdk.CodeInternal, "encoding the %s request for its binding: %v", op, err))
	}
	res, err := h(ctx, &sdk.Call{Operation: op, Account: acct, IdempotencyKey: key, RequestID: requestID, Payload: payload})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(res, out); err != nil {
		return sdk.Errorf(sdk.CodeInternal, "reading the %s binding's answer: %v", op, err)
	}
	return nil
}

// unsent marks an error raised before any request was sent, so the engine knows a
// retry cannot duplicate anything.
func unsent(err error) error {
	e := sdk.AsError(err)
	e.NotSent = true
	return e
}
