package delhivery

import (
	"context"
	"embed"
	"net/http"
	"strings"
	"sync"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/rest"
	"github.com/tidwall/gjson"
)

//go:embed manifest.yaml
var manifestFS embed.FS

// manifest is loaded once; a broken embedded manifest fails every test.
var manifest = sdk.LazyManifest(manifestFS, "manifest.yaml")

// Account setting names.
const (
	settingPickupLocation = "pickup_location"
	settingClientName     = "client_name"
)

// healthCheckPIN is the PIN code the health check asks about (New Delhi GPO):
// any answer proves the host is up and the token is accepted.
const healthCheckPIN = "110001"

// trackFallbackParallelism bounds the one-waybill-per-request fallback of track.
const trackFallbackParallelism = 4

// Connector is the Delhivery Express connector. One value serves every tenant's
// accounts concurrently; it holds only the shared REST client.
type Connector struct {
	sdk.Unimplemented
	api *rest.Client
	// apiErr is the REST client's configuration error, which every call
	// returns; it is nil unless the constant configuration is broken.
	apiErr error
}

var (
	_ sdk.ShipmentCreator   = (*Connector)(nil)
	_ sdk.Tracker           = (*Connector)(nil)
	_ sdk.ShipmentCanceller = (*Connector)(nil)
	_ sdk.HealthChecker     = (*Connector)(nil)
	_ sdk.PushReceiver      = (*Connector)(nil)
)

// New returns the Delhivery Express connector.
func New() sdk.Connector {
	api, err := newAPI()
	return &Connector{api: api, apiErr: err}
}

// Describe returns the connector's manifest.
func (c *Connector) Describe() *sdk.Manifest { return manifest() }

// CreateShipment books one shipment with Delhivery and returns its waybill.
// Delhivery takes no idempotency key: a repeated call with the same reference is
// refused as a duplicate order (conflict) rather than booked twice.
func (c *Connector) CreateShipment(ctx context.Context, req *sdk.Request[model.ShipmentRequest]) (*model.ShipmentResponse, error) {
	body, err := buildCreateBody(&req.Body, createSettings{
		PickupLocation: req.Account.Setting(settingPickupLocation, ""),
		ClientName:     req.Account.Setting(settingClientName, ""),
	})
	if err != nil {
		return nil, unsent(err)
	}
	var resp createResponse
	if _, err := c.call(ctx, req.Account, &rest.Request{
		Method: http.MethodPost, Path: "/api/cmu/create.json",
		ContentType: "application/x-www-form-urlencoded", Body: body,
	}, &resp); err != nil {
		return nil, err
	}
	return fromCreateResponse(&resp)
}

// Track returns the status and scans of up to 50 waybills, one result per
// requested number in request order. Delhivery refuses a whole batch when one
// waybill in it is unknown; the connector then asks for each waybill on its own
// so that the known ones still get a result.
func (c *Connector) Track(ctx context.Context, req *sdk.Request[model.TrackRequest]) (*model.TrackResponse, error) {
	numbers := req.Body.TrackingNumbers
	if err := checkTrackingNumbers(numbers); err != nil {
		return nil, unsent(err)
	}
	uniq := distinct(numbers)
	found, missing, err := c.trackBatch(ctx, req.Account, uniq)
	if err != nil {
		return nil, err
	}
	if missing != "" && len(uniq) > 1 {
		found, err = c.trackEach(ctx, req.Account, uniq)
		if err != nil {
			return nil, err
		}
	}
	out := &model.TrackResponse{Results: make([]model.Tracking, 0, len(numbers))}
	for _, n := range numbers {
		t, ok := found[n]
		if !ok {
			t = notFound(n, missing)
		}
		out.Results = append(out.Results, t)
	}
	return out, nil
}

// trackBatch asks for several waybills at once. missing is Delhivery's error text
// when it refused the query as naming an unknown waybill.
func (c *Connector) trackBatch(ctx context.Context, acct *sdk.Account, numbers []string) (found map[string]model.Tracking, missing string, err error) {
	r, err := c.do(ctx, acct, &rest.Request{Method: http.MethodGet, Path: "/api/v1/packages/json/?" + trackQuery(numbers)})
	if err != nil {
		return nil, "", err
	}
	data := r.Body
	// Only the Error field is read here (the mapping reads the rest): gjson
	// finds it without decoding the whole answer. A body that is not a JSON
	// object goes through DecodeJSON for its classified error.
	if !gjson.ValidBytes(data) || !gjson.ParseBytes(data).IsObject() {
		var resp trackResponse
		if err := r.DecodeJSON(&resp); err != nil {
			return nil, "", err
		}
	}
	if e := gjson.GetBytes(data, "Error"); e.Type == gjson.String && e.Str != "" {
		return map[string]model.Tracking{}, e.Str, nil
	}
	found, err = fromTrackResponse(data)
	if err != nil {
		return nil, "", err
	}
	return found, "", nil
}

// trackEach asks for each waybill on its own, a few at a time.
func (c *Connector) trackEach(ctx context.Context, acct *sdk.Account, numbers []string) (map[string]model.Tracking, error) {
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
		found    = make(map[string]model.Tracking, len(numbers))
		sem      = make(chan struct{}, trackFallbackParallelism)
	)
	for _, n := range numbers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			got, missing, err := c.trackBatch(ctx, acct, []string{n})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			case missing != "":
				found[n] = notFound(n, missing)
			default:
				if t, ok := got[n]; ok {
					found[n] = t
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return found, nil
}

// CancelShipment cancels a booked shipment. Cancelling a shipment that is already
// cancelled succeeds again, so the call is idempotent.
func (c *Connector) CancelShipment(ctx context.Context, req *sdk.Request[model.CancelRequest]) (*model.CancelResponse, error) {
	number := strings.TrimSpace(req.Body.TrackingNumber)
	if number == "" {
		return nil, unsent(sdk.InvalidField("/tracking_number", "tracking_number is required"))
	}
	if !waybillPattern.MatchString(number) {
		return nil, unsent(sdk.InvalidField("/tracking_number", "tracking number %q is not a Delhivery waybill", number))
	}
	edit, err := rest.NewJSON(http.MethodPost, "/api/p/edit", cancelRequest{Waybill: number, Cancellation: "true"})
	if err != nil {
		return nil, err
	}
	var resp cancelResponse
	if _, err := c.call(ctx, req.Account, edit, &resp); err != nil {
		return nil, err
	}
	return fromCancelResponse(number, &resp)
}

// CheckHealth asks Delhivery whether one PIN code is serviceable: a cheap,
// read-only, authenticated call that proves the host is up and the token is
// accepted. A nil account checks only the connector itself, which has nothing to
// check.
func (c *Connector) CheckHealth(ctx context.Context, account *sdk.Account) error {
	if account == nil {
		return nil
	}
	var resp pinCodeResponse
	_, err := c.call(ctx, account, &rest.Request{Method: http.MethodGet, Path: "/c/api/pin-codes/json/?filter_codes=" + healthCheckPIN}, &resp)
	return err
}

// unsent marks an error raised before any request was sent, so the engine knows a
// retry cannot duplicate anything.
func unsent(err error) error {
	e := sdk.AsError(err)
	e.NotSent = true
	return e
}
