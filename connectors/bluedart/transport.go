package bluedart

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/connectors/bluedart/internal/waybill"
	"github.com/carrierhub/hub/mappings/doc"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/soap"
	gosoap "github.com/hooklift/gowsdl/soap"
)

// WayBillPath is the BasicHttpBinding (SOAP 1.1) address of WayBillGeneration.svc
// under an environment's base URL.
const WayBillPath = "/ShippingAPI/WayBill/WayBillGeneration.svc/Basic"

// TrackingPath is the tracking servlet's path on its host.
const TrackingPath = "/servlet/RoutingServlet"

const defaultTrackingURL = "https://api.bluedart.com" + TrackingPath

// provider is how errors name Blue Dart.
const provider = "Blue Dart"

// account is an sdk.Account read and checked once per call.
type account struct {
	base       *url.URL
	loginID    string
	licenceKey string
	trackKey   string
	trackURL   string
	settings   Settings
}

func loadAccount(a *sdk.Account) (*account, error) {
	if a == nil {
		return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceHub, Message: "the call carries no account"}
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
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Field: "/account/base_url",
			Message: fmt.Sprintf("account base URL %q is not an http(s) URL", a.BaseURL)}
	}
	acct := &account{
		base:       base,
		loginID:    login,
		licenceKey: key,
		settings: Settings{
			CustomerCode: a.Setting("customer_code", ""),
			OriginArea:   a.Setting("origin_area", ""),
			APIType:      a.Setting("api_type", "S"),
			ProductCode:  a.Setting("product_code", "A"),
			PickupTime:   a.Setting("pickup_time", "1600"),
			VendorCode:   a.Setting("vendor_code", ""),
		},
	}
	acct.trackKey = a.Credentials["tracking_licence_key"]
	if acct.trackKey == "" {
		acct.trackKey = key
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

func (a *account) profile() *waybill.UserProfile {
	return &waybill.UserProfile{
		Api_type:     a.settings.APIType,
		Customercode: a.settings.CustomerCode,
		LicenceKey:   a.licenceKey,
		LoginID:      a.loginID,
	}
}

// wayBill returns the generated client bound to the account's endpoint,
// sending through the connector's SOAP transport. The call's context carries
// its deadline to the HTTP request.
func (c *Connector) wayBill(a *account) waybill.IWayBillGeneration {
	return waybill.NewIWayBillGeneration(gosoap.NewClient(a.base.String()+WayBillPath, gosoap.WithHTTPClient(c.soap)))
}

// classifyFault classifies a SOAP fault with Blue Dart's own rules
// (ClassifyFault), keeping the fault's code and text.
func classifyFault(f *soap.Fault) *sdk.Error {
	e := f.SDKError(provider)
	e.Code = ClassifyFault(f.Code, f.Reason+" "+f.Detail)
	return e
}

// failed classifies the error of a SOAP or tracking call and names the
// operation in its message.
func failed(ctx context.Context, what string, err error) error {
	e := *soap.Classify(ctx, provider, err)
	e.Message = what + ": " + e.Message
	// Blue Dart's endpoints are fixed paths: a 404 means the account's base URL
	// or tracking_url points elsewhere, which no retry mends.
	if e.CarrierCode == "HTTP 404" {
		e.Code = sdk.CodePermanent
		e.Message += " (endpoint not found; check the account's base URL and tracking_url)"
	}
	return &e
}

// fetchTracking runs one tnt servlet query and decodes its ShipmentData.
func (c *Connector) fetchTracking(ctx context.Context, a *account, numbers []string) (*doc.Object, error) {
	const what = "tracking waybills"
	q := url.Values{}
	q.Set("handler", "tnt")
	q.Set("action", "custawbquery")
	q.Set("loginid", a.loginID)
	q.Set("awb", "awb")
	q.Set("numbers", strings.Join(numbers, ","))
	q.Set("format", "xml")
	q.Set("lickey", a.trackKey)
	q.Set("verno", "1.3")
	q.Set("scan", "1")
	u, err := url.Parse(a.trackURL)
	if err != nil || u.Host == "" {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Field: "/account/settings/tracking_url",
			Message: "tracking_url is not a URL"}
	}
	u.RawQuery = q.Encode()
	res, err := c.xml.Send(ctx, http.MethodGet, u.String(), nil, http.Header{"Accept": {"application/xml, text/xml"}})
	if err == nil {
		err = c.xml.Check(res)
	}
	if err != nil {
		return nil, failed(ctx, what, err)
	}
	data, err := ParseTracking(res.Body)
	if err != nil {
		if e, ok := err.(*sdk.Error); ok {
			e.Message = what + ": " + e.Message
		}
		return nil, err
	}
	return data, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
