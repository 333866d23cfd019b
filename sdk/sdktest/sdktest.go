// Package sdktest provides a connector whose behaviour each request chooses, for
// testing hosts of connectors (the engine's plugin manager, the conformance kit,
// benchmarks) with real processes. It talks to no provider.
//
// Track's tracking numbers and CreateShipment's reference select the behaviour:
//
//	"ok..."        answer at once
//	"sleep:<dur>"  answer after the duration (or the deadline)
//	"crash"        exit the process mid-call with status 3
//	"panic"        panic inside the operation
//	"print"        print to stdout and stderr, then answer
//	"error:<code>" fail with that sdk.Code, as the carrier would
//
// CreateShipment echoes every parcel's description back in Messages, so a
// benchmark controls both the request and the response size.
//
// Error is the check every connector and transport test makes of a failure:
// that it is an *sdk.Error.
package sdktest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// Connector is the behaviour-driven test connector.
type Connector struct {
	sdk.Unimplemented
	manifest *sdk.Manifest
}

// New returns a test connector with the given id.
func New(id string) *Connector {
	return &Connector{manifest: &sdk.Manifest{
		ID: id, Name: "Test connector " + id, Version: "1.0.0", Category: "carrier_parcel",
		Protocols: []string{"rest_json"}, Docs: "https://example.invalid/docs",
		Operations: []sdk.OperationInfo{
			{Name: sdk.OpCreateShipment},
			{Name: sdk.OpTrack, Idempotent: true},
		},
		Account: sdk.AccountSchema{
			Credentials:  []sdk.Field{{Name: "api_key", Required: true}},
			Environments: map[string]string{"sandbox": "http://127.0.0.1:1", "production": "http://127.0.0.1:1"},
		},
	}}
}

// Describe returns the manifest.
func (c *Connector) Describe() *sdk.Manifest { return c.manifest }

// CreateShipment echoes the parcels' descriptions.
func (c *Connector) CreateShipment(ctx context.Context, req *sdk.Request[model.ShipmentRequest]) (*model.ShipmentResponse, error) {
	if err := behave(ctx, req.Body.Reference); err != nil {
		return nil, err
	}
	resp := &model.ShipmentResponse{TrackingNumber: "TEST" + req.Body.Reference, Reference: req.Body.Reference}
	for _, p := range req.Body.Parcels {
		resp.Messages = append(resp.Messages, p.Description)
	}
	return resp, nil
}

// Track answers each number according to its behaviour.
func (c *Connector) Track(ctx context.Context, req *sdk.Request[model.TrackRequest]) (*model.TrackResponse, error) {
	if _, err := req.Account.Credential("api_key"); err != nil {
		return nil, err
	}
	resp := &model.TrackResponse{}
	for _, n := range req.Body.TrackingNumbers {
		if err := behave(ctx, n); err != nil {
			return nil, err
		}
		resp.Results = append(resp.Results, model.Tracking{
			TrackingNumber: n, Status: model.StatusInTransit, RawCode: "IT", RawText: "In transit",
		})
	}
	return resp, nil
}

// CheckHealth fails for an account whose api_key is "bad".
func (c *Connector) CheckHealth(_ context.Context, account *sdk.Account) error {
	if account != nil && account.Credentials["api_key"] == "bad" {
		return sdk.CarrierError(sdk.CodeAuthFailed, "401", "invalid api key")
	}
	return nil
}

func behave(ctx context.Context, key string) error {
	switch {
	case strings.HasPrefix(key, "sleep:"):
		d, err := time.ParseDuration(strings.TrimPrefix(key, "sleep:"))
		if err != nil {
			return sdk.InvalidField("/tracking_numbers", "bad sleep: %v", err)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	case key == "crash":
		os.Exit(3)
	case key == "panic":
		panic("test connector asked to panic")
	case key == "print":
		fmt.Println("sdktest: a line on stdout")
		fmt.Fprintln(os.Stderr, "sdktest: a line on stderr")
	case strings.HasPrefix(key, "error:"):
		code := sdk.Code(strings.TrimPrefix(key, "error:"))
		e := sdk.CarrierError(code, "E42", "carrier says no")
		if code == sdk.CodeRateLimited {
			e.RetryAfter = 7 * time.Second
		}
		return e
	}
	return nil
}
