package odata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchange"
	"github.com/carrierhub/hub/sdk/telemetry"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// UpdateMethod says how a v2 update is sent. v4 always uses PATCH.
type UpdateMethod int

// v2 update methods.
const (
	// Merge sends the MERGE verb (the v2 partial update; SAP Gateway's default).
	Merge UpdateMethod = iota
	// MergeTunnel sends POST with "X-HTTP-Method: MERGE", for proxies that refuse
	// unknown verbs.
	MergeTunnel
	// Patch sends PATCH, which SAP Gateway also accepts for v2 services.
	Patch
)

// AnyETag is the If-Match value that updates whatever version the server holds.
const AnyETag = "*"

// Defaults for Options.
const (
	// DefaultMaxResponseBytes is the response body cap when Options.MaxResponseBytes is 0 (8 MiB).
	DefaultMaxResponseBytes = 8 << 20
	// DefaultMaxPages is the page cap when Options.MaxPages is 0.
	DefaultMaxPages = 100
)

// Options configures a Client. ServiceRoot and Version are required.
type Options struct {
	// ServiceRoot is the service's root URL, such as
	// https://host/sap/opu/odata/sap/API_SALES_ORDER_SRV or
	// https://org.operations.dynamics.com/data. Queries are resolved against it and
	// next links must stay on its scheme and host.
	ServiceRoot string
	// Version is V2 or V4.
	Version Version
	// HTTPClient sends the requests; nil means a client on egress.Transport()
	// (every connection through the egress guard) without a timeout (the
	// context carries the deadline); a client of another making dials around the
	// guard. If it has no cookie jar the Client keeps its own, because SAP ties
	// the CSRF token to the session cookies.
	HTTPClient *http.Client
	// Auth is called on every request, after the Client's own headers, to add
	// credentials (basic auth, an OAuth2 bearer token). An error stops the call
	// before anything is sent; it should not contain the secret.
	Auth func(*http.Request) error
	// CSRF turns on SAP's token flow: before the first modifying request, GET the
	// service root with "x-csrf-token: Fetch", keep the token and cookies, send the
	// token on every POST, PATCH, MERGE, PUT and DELETE, and on a 403 answered
	// with "x-csrf-token: Required" fetch a new token and retry once.
	CSRF bool
	// V2Update chooses the v2 update verb (default Merge).
	V2Update UpdateMethod
	// Header holds extra headers sent on every request (sap-client may also go in
	// a query Param).
	Header http.Header
	// MaxResponseBytes caps a response body (default DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// MaxPages caps how many pages Pages and All follow (default DefaultMaxPages).
	MaxPages int
	// Now returns the time, for Retry-After dates (default time.Now).
	Now func() time.Time
}

// Client talks to one OData service for one account. It is safe for concurrent
// use; it holds the CSRF token and session cookies of that account, so do not
// share one Client between accounts.
type Client struct {
	opts Options
	root *url.URL
	base string // ServiceRoot without a trailing slash
	hc   *http.Client
	jar  http.CookieJar // non-nil when the Client manages cookies itself

	mu      sync.Mutex // guards csrf and fetched, held across a token fetch
	csrf    string
	fetched bool
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	if !opts.Version.valid() {
		return nil, fmt.Errorf("odata: version %d is not 2 or 4", int(opts.Version))
	}
	u, err := url.Parse(strings.TrimRight(opts.ServiceRoot, "/"))
	if err != nil {
		return nil, fmt.Errorf("odata: service root: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("odata: service root %q is not an absolute http(s) URL", opts.ServiceRoot)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("odata: service root must not have a query or fragment; use Query.Param")
	}
	if opts.V2Update < Merge || opts.V2Update > Patch {
		return nil, fmt.Errorf("odata: unknown V2Update %d", opts.V2Update)
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Client{opts: opts, root: u, base: u.String(), hc: opts.HTTPClient}
	if c.hc == nil {
		c.hc = &http.Client{Transport: exchange.Recording(egress.Transport())}
	}
	if c.hc.Jar == nil {
		c.jar, _ = cookiejar.New(nil) // never fails without options
	}
	return c, nil
}

// Version returns the OData version the Client speaks.
func (c *Client) Version() Version { return c.opts.Version }

// Request is one call for Do.
type Request struct {
	// Method is the HTTP method; empty means GET.
	Method string
	// Query addresses the resource. GET renders every option; other methods only
	// the path and custom options.
	Query *Query
	// Body, when not nil, is sent as JSON: []byte and json.RawMessage as they are,
	// anything else through encoding/json.
	Body any
	// IfMatch, when not empty, is sent as If-Match (an ETag or AnyETag).
	IfMatch string
	// Header holds extra headers for this request.
	Header http.Header
}

// Response is a successful (2xx) answer.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers.
	Header http.Header
	// Body is the whole response body, at most MaxResponseBytes.
	Body []byte
}

// Do sends one request and returns its 2xx answer, or a classified *sdk.Error:
// the provider's OData error code and message are kept in CarrierCode and
// CarrierMessage. Modifying methods go through the CSRF flow when it is on.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var rel string
	var err error
	if method == http.MethodGet {
		rel, err = r.Query.Build(c.opts.Version)
	} else {
		rel, err = r.Query.BuildPath(c.opts.Version)
	}
	if err != nil {
		return nil, local(sdk.CodeInvalidRequest, "building %s request: %v", method, err)
	}
	var body []byte
	if r.Body != nil {
		switch b := r.Body.(type) {
		case []byte:
			body = b
		case json.RawMessage:
			body = b
		default:
			if body, err = json.Marshal(b); err != nil {
				return nil, local(sdk.CodeInvalidRequest, "encoding %s body: %v", method, err)
			}
		}
	}
	resp, data, err := c.exchange(ctx, method, c.base+"/"+rel, body, r.IfMatch, r.Header)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// exchange sends a request (through the CSRF flow for modifying methods) and
// returns a 2xx answer or a classified error.
func (c *Client) exchange(ctx context.Context, method, rawURL string, body []byte, ifMatch string, extra http.Header) (*http.Response, []byte, error) {
	modifying := method != http.MethodGet && method != http.MethodHead
	wire := method
	hdr := extra.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	if method == "MERGE" && c.opts.V2Update == MergeTunnel {
		wire = http.MethodPost
		hdr.Set("X-HTTP-Method", "MERGE")
	}
	if ifMatch != "" {
		hdr.Set("If-Match", ifMatch)
	}
	if body != nil {
		hdr.Set("Content-Type", "application/json")
	}
	for attempt := 0; ; attempt++ {
		token := ""
		if modifying && c.opts.CSRF {
			var err error
			if token, err = c.csrfToken(ctx); err != nil {
				return nil, nil, err
			}
			if token != "" {
				hdr.Set("X-CSRF-Token", token)
			} else {
				hdr.Del("X-CSRF-Token")
			}
		}
		resp, data, err := c.send(ctx, wire, rawURL, body, hdr)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, data, nil
		}
		if modifying && c.opts.CSRF && resp.StatusCode == http.StatusForbidden &&
			strings.EqualFold(resp.Header.Get("X-CSRF-Token"), "required") {
			c.dropToken(token)
			if attempt == 0 {
				continue // the server refused before acting, so one retry is safe
			}
			e := statusError(c.where(method, resp.Request.URL), resp, data, c.opts.Now())
			e.Message += " (CSRF token refused after a fresh fetch)"
			return nil, nil, e
		}
		return nil, nil, statusError(c.where(method, resp.Request.URL), resp, data, c.opts.Now())
	}
}

// csrfToken returns the cached token, fetching one first if there is none.
func (c *Client) csrfToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetched {
		return c.csrf, nil
	}
	hdr := http.Header{"X-Csrf-Token": {"Fetch"}}
	resp, data, err := c.send(ctx, http.MethodGet, c.base+"/", nil, hdr)
	if err != nil {
		e := sdk.AsError(err)
		e.Message = "fetching CSRF token: " + e.Message
		e.NotSent = true // the modifying request itself was not sent
		return "", e
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		e := statusError("fetching CSRF token: GET service root", resp, data, c.opts.Now())
		e.NotSent = true
		return "", e
	}
	tok := resp.Header.Get("X-CSRF-Token")
	if strings.EqualFold(tok, "required") || strings.EqualFold(tok, "fetch") {
		tok = ""
	}
	// A server without CSRF protection answers without a token; carry on without one.
	c.csrf, c.fetched = tok, true
	return tok, nil
}

// dropToken forgets token unless another call has already replaced it.
func (c *Client) dropToken(token string) {
	c.mu.Lock()
	if c.csrf == token {
		c.csrf, c.fetched = "", false
	}
	c.mu.Unlock()
}

// send performs one HTTP exchange and reads the body within the size limit. It
// returns an error only when no complete answer arrived.
func (c *Client) send(ctx context.Context, method, rawURL string, body []byte, hdr http.Header) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, nil, local(sdk.CodeInvalidRequest, "building %s request: %v", method, err)
	}
	where := c.where(method, req.URL)
	req.Header.Set("Accept", "application/json")
	if c.opts.Version == V4 {
		req.Header.Set("OData-Version", "4.0")
		req.Header.Set("OData-MaxVersion", "4.0")
	} else {
		req.Header.Set("DataServiceVersion", "2.0")
		req.Header.Set("MaxDataServiceVersion", "2.0")
	}
	for k, v := range c.opts.Header {
		req.Header[k] = slices.Clone(v)
	}
	for k, v := range hdr {
		req.Header[k] = slices.Clone(v)
	}
	if c.jar != nil {
		for _, ck := range c.jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
	}
	if c.opts.Auth != nil {
		if err := c.opts.Auth(req); err != nil {
			var se *sdk.Error
			if errors.As(err, &se) {
				cp := *se
				cp.NotSent = true
				return nil, nil, &cp
			}
			return nil, nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
				Message: where + ": adding credentials: " + err.Error()}
		}
	}
	var connected atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	}))
	hs := telemetry.StartHTTP(req, "")
	defer hs.End()
	resp, err := c.hc.Do(req)
	hs.Result(resp, err)
	if err != nil {
		return nil, nil, transportError(ctx, where, err, connected.Load())
	}
	defer resp.Body.Close()
	if c.jar != nil {
		if cks := resp.Cookies(); len(cks) > 0 {
			c.jar.SetCookies(req.URL, cks)
		}
	}
	limit := c.opts.MaxResponseBytes
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= limit {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, transportError(ctx, where, fmt.Errorf("reading response: %w", err), true)
	}
	if n > limit {
		return nil, nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
			CarrierCode: fmt.Sprintf("http-%d", resp.StatusCode),
			Message:     fmt.Sprintf("%s: response body is larger than %d bytes", where, limit)}
	}
	return resp, buf.Bytes(), nil
}

// where names a call in messages: method and path below the service root, never
// the query (which may carry user data or a key).
func (c *Client) where(method string, u *url.URL) string {
	p := u.EscapedPath()
	if rp := c.root.EscapedPath(); strings.HasPrefix(p, rp) {
		p = strings.TrimPrefix(p[len(rp):], "/")
	}
	if p == "" {
		p = "service root"
	}
	return "odata " + method + " " + p
}
