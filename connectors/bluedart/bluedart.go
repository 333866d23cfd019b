// Package bluedart is the hub's connector for Blue Dart's legacy Shipping API:
// waybill generation and cancellation over SOAP (WayBillGeneration.svc, the
// credentials in a Profile element of the body) and tracking over the "tnt" XML
// servlet.
//
// It is a mixed connector. Its folder (manifest.yaml, mappings/,
// testdata/exchanges/) binds all three operations, and sdk/declarative runs the
// exchanges: the SOAP 1.1 envelopes are written by mappings/generate-request.mapping
// and mappings/cancel-request.mapping, the answers read by the response and error
// mappings beside them, and the tracking query's answers by mappings/track.mapping
// and its status table. This package wraps each bound handler with what bindings
// cannot say (see RawHandler): validating the request with JSON pointers, adding
// the account's Profile credentials and the default pickup date to what the request
// mappings read, sending tracking to the servlet's own host with its own licence
// key, and echoing request values the answers do not carry. The package imports sdk
// and mappings, and nothing of the engine.
package bluedart

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/rest"
)

// folder is the connector's folder as the runtime, the simulator and
// conformance read it.
//
//go:embed manifest.yaml mappings testdata/exchanges
var folder embed.FS

// Folder returns the connector's folder: manifest.yaml, the mappings with their
// tables and fixtures, and the recorded exchanges under testdata/exchanges.
func Folder() fs.FS { return folder }

// TrackingPath is the tracking servlet's path on its host.
const TrackingPath = "/servlet/RoutingServlet"

// defaultTrackingURL is the servlet of Blue Dart's production host, which public
// clients call for netconnect accounts.
const defaultTrackingURL = "https://api.bluedart.com" + TrackingPath

// provider is how errors name Blue Dart.
const provider = "Blue Dart"

// DefaultMaxResponseBytes bounds how much of a Blue Dart answer the connector reads;
// a waybill answer with its PDF label is well under 1 MiB.
const DefaultMaxResponseBytes = 8 << 20

// generateProgram is the waybill request mapping, compiled on first use to find
// the field of a request the mapping refuses (see locate).
var generateProgram = mappings.Lazy(folder, "mappings/generate-request.mapping")

// Options tune a connector; the zero value is what New uses.
type Options struct {
	// HTTPClient makes the calls; when nil, rest.NewHTTPClient's pooled client
	// that follows no redirects.
	HTTPClient *http.Client
	// MaxResponseBytes bounds a response body; DefaultMaxResponseBytes when zero.
	MaxResponseBytes int64
	// Now returns the current time, for the default pickup date; time.Now when nil.
	Now func() time.Time
}

// Connector serves Blue Dart accounts: the folder's bindings, run by the
// declarative runtime, behind the checks and additions of RawHandler. It keeps
// no per-tenant state and is safe for concurrent use.
type Connector struct {
	*declarative.Connector
	now func() time.Time
}

var _ sdk.RawOperations = (*Connector)(nil)

// New returns the Blue Dart connector with default options.
func New() sdk.Connector { return NewWithOptions(Options{}) }

// NewWithOptions returns the Blue Dart connector tuned by opts. The folder is
// compiled into the binary, so a folder that does not load is a build defect and
// panics.
func NewWithOptions(opts Options) *Connector {
	limit := opts.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	client, err := rest.New(rest.Config{Name: provider, BaseURL: "http://unset.invalid", HTTP: opts.HTTPClient, MaxResponseBytes: limit})
	if err != nil {
		panic(fmt.Sprintf("bluedart: %v", err))
	}
	d, err := declarative.Load(folder, declarative.Options{Rest: client})
	if err != nil {
		panic(fmt.Sprintf("bluedart: loading the connector folder: %v", err))
	}
	c := &Connector{Connector: d, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// RawHandler returns the bound handler of op wrapped with what the bindings
// cannot say:
//
//   - create_shipment: the request validated with JSON pointers (a request
//     mapping's refusal carries no field); today's date in IST as ship_date when
//     the request has none (a mapping has no clock); the account's login id and
//     licence key as "profile" (a request mapping never reads credentials, and
//     Blue Dart wants them in the body); the reference echoed into the answer
//     (a response mapping reads only the answer).
//   - cancel_shipment: the waybill number checked, the profile added, the
//     number echoed as the answer's tracking_number.
//   - schedule_pickup: the request checked (settings, address, date), the
//     profile added.
//   - check_serviceability: the PIN codes checked, the profile added; the
//     finder asked about the destination and, when the request names an
//     origin, about the origin too, whose answer decides "pickup" (the finder
//     answers for one PIN code, and an XML answer cannot feed a later step).
//   - track: the numbers checked; the call sent to the tracking servlet's host
//     (api.bluedart.com, or the tracking_url setting) rather than the SOAP base
//     URL; tracking_licence_key defaulting to licence_key.
func (c *Connector) RawHandler(op sdk.Operation) (func(ctx context.Context, call *sdk.Call) ([]byte, error), bool) {
	bound, ok := c.Connector.RawHandler(op)
	if !ok {
		return nil, false
	}
	switch op {
	case sdk.OpCreateShipment:
		return func(ctx context.Context, call *sdk.Call) ([]byte, error) { return c.createShipment(ctx, call, bound) }, true
	case sdk.OpCancelShipment:
		return func(ctx context.Context, call *sdk.Call) ([]byte, error) { return c.cancelShipment(ctx, call, bound) }, true
	case sdk.OpTrack:
		return func(ctx context.Context, call *sdk.Call) ([]byte, error) { return c.track(ctx, call, bound) }, true
	case sdk.OpSchedulePickup:
		return func(ctx context.Context, call *sdk.Call) ([]byte, error) { return c.schedulePickup(ctx, call, bound) }, true
	case sdk.OpCheckServiceability:
		return func(ctx context.Context, call *sdk.Call) ([]byte, error) {
			return c.checkServiceability(ctx, call, bound)
		}, true
	}
	return bound, true
}

// handler is a bound operation's handler.
type handler = func(ctx context.Context, call *sdk.Call) ([]byte, error)

func (c *Connector) createShipment(ctx context.Context, call *sdk.Call, bound handler) ([]byte, error) {
	var req model.ShipmentRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	acct, err := loadAccount(call.Account)
	if err != nil {
		return nil, err
	}
	if err := validateWayBill(&req, acct.settings); err != nil {
		return nil, err
	}
	today := c.now().In(model.IST).Format(time.DateOnly)
	in, err := wayBillInput(call.Payload, acct, today)
	if err != nil {
		return nil, err
	}
	out, err := bound(ctx, with(call, call.Account, in))
	if err != nil {
		return nil, locate(err, call.Account, in)
	}
	return setField(out, "reference", req.Reference)
}

func (c *Connector) cancelShipment(ctx context.Context, call *sdk.Call, bound handler) ([]byte, error) {
	var req model.CancelRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	awb, err := validateAWB(req.TrackingNumber, "/tracking_number")
	if err != nil {
		return nil, err
	}
	acct, err := loadAccount(call.Account)
	if err != nil {
		return nil, err
	}
	in, err := withFields(call.Payload, map[string]any{"profile": acct.profile()})
	if err != nil {
		return nil, err
	}
	out, err := bound(ctx, with(call, call.Account, in))
	if err != nil {
		return nil, err
	}
	return setField(out, "tracking_number", awb)
}

func (c *Connector) track(ctx context.Context, call *sdk.Call, bound handler) ([]byte, error) {
	var req model.TrackRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	if len(req.TrackingNumbers) == 0 {
		return nil, sdk.InvalidField("/tracking_numbers", "at least one tracking number is required")
	}
	for i, n := range req.TrackingNumbers {
		if _, err := validateAWB(n, "/tracking_numbers/"+strconv.Itoa(i)); err != nil {
			return nil, err
		}
	}
	acct, err := loadAccount(call.Account)
	if err != nil {
		return nil, err
	}
	base, err := acct.trackingBase()
	if err != nil {
		return nil, err
	}
	ta := *call.Account
	ta.BaseURL = base
	ta.Credentials = maps.Clone(call.Account.Credentials)
	ta.Credentials["tracking_licence_key"] = acct.trackKey
	return bound(ctx, with(call, &ta, call.Payload))
}

func (c *Connector) schedulePickup(ctx context.Context, call *sdk.Call, bound handler) ([]byte, error) {
	var req model.PickupRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	acct, err := loadAccount(call.Account)
	if err != nil {
		return nil, err
	}
	if err := validatePickup(&req, acct.settings); err != nil {
		return nil, err
	}
	in, err := withFields(call.Payload, map[string]any{"profile": acct.profile()})
	if err != nil {
		return nil, err
	}
	return bound(ctx, with(call, call.Account, in))
}

func (c *Connector) checkServiceability(ctx context.Context, call *sdk.Call, bound handler) ([]byte, error) {
	var req model.ServiceabilityRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	dest, origin := strings.TrimSpace(req.DestinationPostalCode), strings.TrimSpace(req.OriginPostalCode)
	if !model.IsPINCode(dest) {
		return nil, sdk.InvalidField("/destination_postal_code", "%q is not a six-digit Indian PIN code", req.DestinationPostalCode)
	}
	if origin != "" && !model.IsPINCode(origin) {
		return nil, sdk.InvalidField("/origin_postal_code", "%q is not a six-digit Indian PIN code", req.OriginPostalCode)
	}
	acct, err := loadAccount(call.Account)
	if err != nil {
		return nil, err
	}
	ask := func(pin string) (*model.ServiceabilityResponse, []byte, error) {
		in, err := withFields(call.Payload, map[string]any{"profile": acct.profile(), "destination_postal_code": pin})
		if err != nil {
			return nil, nil, err
		}
		out, err := bound(ctx, with(call, call.Account, in))
		if err != nil {
			return nil, nil, err
		}
		var r model.ServiceabilityResponse
		if err := json.Unmarshal(out, &r); err != nil {
			return nil, nil, sdk.Errorf(sdk.CodeInternal, "the finder's answer is not a serviceability answer: %v", err)
		}
		return &r, out, nil
	}
	to, out, err := ask(dest)
	if err != nil {
		return nil, err
	}
	pickup := false
	switch origin {
	case "":
	case dest:
		pickup = to.Pickup
	default:
		from, _, err := ask(origin)
		if err != nil {
			return nil, err
		}
		pickup = from.Pickup
	}
	if pickup == to.Pickup {
		return out, nil
	}
	res, err := withFields(out, map[string]any{"pickup": pickup})
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "the answer is not a JSON object: %v", err)
	}
	return res, nil
}

// with returns a copy of call for acct with payload.
func with(call *sdk.Call, acct *sdk.Account, payload []byte) *sdk.Call {
	cp := *call
	cp.Account, cp.Payload = acct, payload
	return &cp
}

// decode reads the call's canonical request into v.
func decode(call *sdk.Call, v any) error {
	if err := json.Unmarshal(call.Payload, v); err != nil {
		return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("decoding %s request: %v", call.Operation, err)}
	}
	return nil
}

// account is an sdk.Account read and checked once per call.
type account struct {
	loginID    string
	licenceKey string
	trackKey   string
	trackURL   string
	settings   settings
}

func loadAccount(a *sdk.Account) (*account, error) {
	if a == nil {
		return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceHub, NotSent: true, Message: "the call carries no account"}
	}
	login, err := a.Credential("login_id")
	if err != nil {
		return nil, err
	}
	key, err := a.Credential("licence_key")
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimRight(a.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Field: "/account/base_url", NotSent: true,
			Message: fmt.Sprintf("account base URL %q is not an http(s) URL", a.BaseURL)}
	}
	acct := &account{
		loginID:    login,
		licenceKey: key,
		trackKey:   key,
		settings: settings{
			CustomerCode: a.Setting("customer_code", ""),
			OriginArea:   a.Setting("origin_area", ""),
		},
	}
	if k := a.Credentials["tracking_licence_key"]; k != "" {
		acct.trackKey = k
	}
	acct.trackURL = a.Setting("tracking_url", "")
	if acct.trackURL == "" {
		if strings.HasSuffix(base.Hostname(), "bluedart.com") {
			acct.trackURL = defaultTrackingURL
		} else {
			acct.trackURL = base.Scheme + "://" + base.Host + TrackingPath
		}
	}
	return acct, nil
}

// profile is what the request mappings read as "profile": the credentials of
// Blue Dart's Profile element.
func (a *account) profile() map[string]string {
	return map[string]string{"login_id": a.loginID, "licence_key": a.licenceKey}
}

// trackingBase is the base URL the tracking binding's path is joined to: the
// tracking URL without the servlet's path.
func (a *account) trackingBase() (string, error) {
	u, err := url.Parse(a.trackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Field: "/account/settings/tracking_url", NotSent: true,
			Message: "tracking_url is not an http(s) URL"}
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), TrackingPath)
	u.RawPath = ""
	return u.String(), nil
}

// wayBillInput is the canonical request as the waybill request mapping reads it
// (the runtime adds the settings): the account's profile, and today as the
// ship date when the request names none.
func wayBillInput(payload []byte, a *account, today string) ([]byte, error) {
	extra := map[string]any{"profile": a.profile()}
	var probe struct {
		ShipDate string `json:"ship_date"`
	}
	if err := json.Unmarshal(payload, &probe); err == nil && probe.ShipDate == "" {
		extra["ship_date"] = today
	}
	return withFields(payload, extra)
}

// withFields returns the JSON object payload with fields set.
func withFields(payload []byte, fields map[string]any) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil || obj == nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: "the request must be a JSON object"}
	}
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "encoding %s: %v", k, err)
		}
		obj[k] = b
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "encoding the request: %v", err)
	}
	return out, nil
}

// setField sets one string field of a canonical answer (left as it is when v
// is empty).
func setField(out []byte, name, v string) ([]byte, error) {
	if v == "" {
		return out, nil
	}
	res, err := withFields(out, map[string]any{name: v})
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "the answer is not a JSON object: %v", err)
	}
	return res, nil
}

// locate gives a refusal of the waybill request mapping (an address that does
// not fit three lines) the JSON pointer of the request field it names: the
// runtime reports a request mapping's refusal with its message only, so the
// mapping is run again on the same input to read the input path of its error.
// Other errors pass unchanged.
func locate(err error, acct *sdk.Account, in []byte) error {
	e := sdk.AsError(err)
	if e.Code != sdk.CodeInvalidRequest || e.Source != sdk.SourceConnector || !e.NotSent || e.Field != "" {
		return err
	}
	prog, perr := generateProgram()
	if perr != nil {
		return err
	}
	input, ierr := withFields(in, map[string]any{"settings": acct.Settings})
	if ierr != nil {
		return err
	}
	_, merr := prog.ApplyJSON(nil, input)
	if fe := fieldError(merr); fe != nil {
		return fe
	}
	return err
}

// fieldError returns the refusal of a waybill request mapping run as an
// invalid_request naming the request field its input path points at; nil when
// err is not a refusal about the request's fields.
func fieldError(err error) *sdk.Error {
	var re *mappings.RuntimeError
	if !errors.As(err, &re) {
		return nil
	}
	ptr, ok := requestPointer(re.Path)
	if !ok {
		return nil
	}
	fe := sdk.InvalidField(ptr, "%s", re.Msg)
	fe.NotSent = true
	return fe
}

// requestPointer turns a waybill mapping input path (ship_to.lines,
// parcels[0].weight) into the JSON pointer of the canonical request's field
// (/ship_to/lines, /parcels/0/weight). Paths under what Go or the runtime added
// (settings, profile) are not the request's, and ok is false.
func requestPointer(path string) (string, bool) {
	if path == "" {
		return "", false
	}
	var b strings.Builder
	for i, part := range strings.Split(path, ".") {
		name, index, _ := strings.Cut(part, "[")
		if name == "" || (i == 0 && (name == "settings" || name == "profile")) {
			return "", false
		}
		b.WriteString("/" + name)
		for index != "" {
			n, more, _ := strings.Cut(index, "]")
			if _, err := strconv.Atoi(n); err != nil {
				return "", false
			}
			b.WriteString("/" + n)
			index = strings.TrimPrefix(more, "[")
		}
	}
	return b.String(), true
}
