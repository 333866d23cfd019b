package bluedart

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carrierhub/hub/connectors/bluedart/internal/waybill"
	"github.com/carrierhub/hub/mappings/doc"
	"github.com/carrierhub/hub/sdk"
	"github.com/hooklift/gowsdl/soap"
)

// WayBillPath is the BasicHttpBinding (SOAP 1.1) address of WayBillGeneration.svc
// under an environment's base URL.
const WayBillPath = "/ShippingAPI/WayBill/WayBillGeneration.svc/Basic"

// TrackingPath is the tracking servlet's path on its host.
const TrackingPath = "/servlet/RoutingServlet"

const defaultTrackingURL = "https://api.bluedart.com" + TrackingPath

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

// soap returns the generated client bound to the account's endpoint, sending through
// the connector's HTTP client with the response limit and connection tracing.
// The call's context carries its deadline to the HTTP request.
func (c *Connector) soap(a *account) waybill.IWayBillGeneration {
	client := soap.NewClient(a.base.String()+WayBillPath, soap.WithHTTPClient(&limitedClient{c: c.http, max: c.maxBytes}))
	return waybill.NewIWayBillGeneration(client)
}

// errTooLarge is returned when a response body exceeds the limit.
var errTooLarge = errors.New("response body exceeds the connector's size limit")

// errNotSent marks a transport failure before any connection was made.
type errNotSent struct{ err error }

func (e *errNotSent) Error() string { return e.err.Error() }
func (e *errNotSent) Unwrap() error { return e.err }

// limitedClient is a soap.HTTPClient that traces whether a connection was made and
// bounds the response body.
type limitedClient struct {
	c   *http.Client
	max int64
}

// Do sends req, marking failures before a connection as not sent.
func (l *limitedClient) Do(req *http.Request) (*http.Response, error) {
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	res, err := l.c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a licence key (tracking); never echo it
		}
		if !connected.Load() {
			return nil, &errNotSent{err: err}
		}
		return nil, err
	}
	res.Body = &limitedBody{r: res.Body, left: l.max}
	return res, nil
}

type limitedBody struct {
	r    io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe for one more byte: exactly max bytes is fine, more is not.
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

// soapFault is a SOAP 1.1 fault read from an HTTP error body (WCF answers faults with 500).
type soapFault struct {
	Body struct {
		Fault *struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
		} `xml:"Fault"`
	} `xml:"Body"`
}

// classifyCall turns a failed SOAP or HTTP call into a classified *sdk.Error.
func classifyCall(ctx context.Context, err error, what string) error {
	var (
		ns      *errNotSent
		fault   *soap.SOAPFault
		httpErr *soap.HTTPError
	)
	notSent := errors.As(err, &ns)
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, NotSent: notSent,
			Message: what + ": no answer from Blue Dart before the deadline"}
	case errors.Is(err, errTooLarge):
		return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
			Message: what + ": " + errTooLarge.Error() + "; the request may have been processed"}
	case notSent:
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, NotSent: true,
			Message: what + ": could not connect to Blue Dart: " + ns.err.Error()}
	case errors.As(err, &fault):
		return faultError(fault.Code, fault.String, what)
	case errors.As(err, &httpErr):
		var f soapFault
		if xml.Unmarshal(httpErr.ResponseBody, &f) == nil && f.Body.Fault != nil {
			return faultError(f.Body.Fault.Code, f.Body.Fault.String, what)
		}
		return httpStatusError(httpErr.StatusCode, "", what)
	}
	var syn *xml.SyntaxError
	if errors.As(err, &syn) || strings.Contains(err.Error(), "expected element") {
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: what + ": Blue Dart answered with something that is not a SOAP envelope: " + err.Error()}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector,
		Message: what + ": " + err.Error()}
}

// faultError classifies a SOAP fault by its code and text (see ClassifyFault).
func faultError(code, text, what string) *sdk.Error {
	e := sdk.CarrierError(ClassifyFault(code, text), code, text)
	e.Message = what + ": Blue Dart returned a SOAP fault: " + text
	return e
}

// httpStatusError classifies a non-2xx answer that carried no SOAP fault.
func httpStatusError(status int, retryAfter, what string) *sdk.Error {
	e := &sdk.Error{Source: sdk.SourceCarrier, CarrierCode: "HTTP " + strconv.Itoa(status),
		Message: fmt.Sprintf("%s: Blue Dart answered HTTP %d", what, status)}
	switch {
	case status == http.StatusTooManyRequests:
		e.Code = sdk.CodeRateLimited
		if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Code = sdk.CodeAuthFailed
	case status >= 500:
		e.Code = sdk.CodeCarrierUnavailable
	case status == http.StatusNotFound:
		e.Code = sdk.CodeCarrierUnavailable
		e.Message += " (endpoint not found; check the account's base URL)"
	default:
		e.Code = sdk.CodeInvalidRequest
	}
	return e
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: what + ": building request"}
	}
	req.Header.Set("Accept", "application/xml, text/xml")
	res, err := (&limitedClient{c: c.http, max: c.maxBytes}).Do(req)
	if err != nil {
		return nil, classifyCall(ctx, err, what)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, classifyCall(ctx, err, what)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, httpStatusError(res.StatusCode, res.Header.Get("Retry-After"), what)
	}
	data, err := ParseTracking(body)
	if err != nil {
		if e, ok := err.(*sdk.Error); ok {
			e.Message = what + ": " + e.Message
		}
		return nil, err
	}
	return data, nil
}

// sniffXML reports whether b looks like XML rather than an HTML error page.
func sniffXML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<' && !bytes.HasPrefix(bytes.ToLower(b), []byte("<html")) && !bytes.HasPrefix(bytes.ToLower(b), []byte("<!doctype html"))
}

func itoa(i int) string { return strconv.Itoa(i) }
