package xmlhttp

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
	"sync/atomic"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchange"
	"github.com/carrierhub/hub/sdk/telemetry"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// DefaultMaxResponseBytes bounds a reply when the client sets no MaxResponseBytes.
const DefaultMaxResponseBytes = 8 << 20

// Encoding is the character encoding of request bodies.
type Encoding int

// Request body encodings.
const (
	// UTF8 sends the body as it is.
	UTF8 Encoding = iota
	// UTF16LE sends the body as UTF-16 little endian with a byte order mark, as
	// some Tally installations expect.
	UTF16LE
)

// Client posts XML documents over HTTP. Its fields are read on every call and must
// not change while calls are in flight; a Client is safe for concurrent use.
type Client struct {
	// HTTP sends the requests; nil means a client on egress.Transport(), which
	// dials through the egress guard. The call's context carries its deadline,
	// so the client needs no timeout of its own. A client of another making
	// dials around the guard.
	HTTP *http.Client
	// Provider names the other side in error messages ("Tally", "Canada Post").
	Provider string
	// ContentType is the request's Content-Type; empty means
	// "text/xml; charset=utf-8" (or charset=utf-16 with Encoding UTF16LE).
	ContentType string
	// Accept is sent as the Accept header when not empty (Canada Post wants its
	// vendor media type here too).
	Accept string
	// Encoding is the request body's character encoding.
	Encoding Encoding
	// Header holds static headers added to every request.
	Header http.Header
	// Auth, when set, decorates each request with credentials (see BasicAuth).
	Auth func(*http.Request)
	// MaxResponseBytes bounds the reply; zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxDepth bounds element nesting in the reply; zero means DefaultMaxDepth.
	MaxDepth int
	// Errors reads the provider's own error format from a reply of any status
	// and returns nil when the reply is not a refusal. It runs before the status
	// code is classified. TallyErrors and CanadaPostErrors are ready-made.
	Errors func(*Response) *sdk.Error
}

// defaultHTTP sends for a Client without an HTTP client of its own.
var defaultHTTP = &http.Client{Transport: exchange.Recording(egress.Transport())}

// Response is a reply as the client read it.
type Response struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Header holds the reply's headers.
	Header http.Header
	// Body is the reply, transcoded to UTF-8.
	Body []byte
}

// BasicAuth returns an Auth hook that sets HTTP Basic credentials.
func BasicAuth(user, password string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}

// Post marshals in (a []byte or string is sent as it is, anything else through
// encoding/xml), POSTs it to url and decodes a successful reply into out (nil to
// ignore it). A refusal comes back as a classified *sdk.Error.
func (c *Client) Post(ctx context.Context, url string, in, out any) error {
	return c.Do(ctx, http.MethodPost, url, in, out)
}

// Do is Post with another method; in may be nil for a request without a body.
func (c *Client) Do(ctx context.Context, method, url string, in, out any) error {
	body, err := marshal(in)
	if err != nil {
		return err
	}
	res, err := c.Send(ctx, method, url, body, nil)
	if err != nil {
		return err
	}
	if err := c.Check(res); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return c.Decode(res, out)
}

// Send sends body and reads the reply, whatever its status. It fails only when no
// complete reply arrived (connection, deadline, size limit); header adds to the
// client's static headers for this request.
func (c *Client) Send(ctx context.Context, method, rawURL string, body []byte, header http.Header) (*Response, error) {
	what := c.provider()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("building the request to %s: the URL or method is not valid", what)}
	}
	if body != nil {
		if c.Encoding == UTF16LE {
			body = encodeUTF16LE(body)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		b := body
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Header.Set("Content-Type", c.contentType())
	}
	if c.Accept != "" {
		req.Header.Set("Accept", c.Accept)
	}
	for k, vs := range c.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if c.Auth != nil {
		c.Auth(req)
	}

	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	hs := telemetry.StartHTTP(req, what)
	defer hs.End()
	res, err := hc.Do(req)
	hs.Result(res, err)
	if err != nil {
		return nil, TransportError(ctx, what, err, !connected.Load())
	}
	defer res.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, TransportError(ctx, what, err, false)
	}
	if int64(len(raw)) > limit {
		return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
			Message: fmt.Sprintf("%s's reply exceeds the %d-byte limit; the request may have been processed", what, limit)}
	}
	utf, err := ToUTF8(raw, res.Header.Get("Content-Type"))
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("reading %s's reply: %v", what, err)}
	}
	return &Response{StatusCode: res.StatusCode, Header: res.Header, Body: utf}, nil
}

// Check classifies a reply: an HTML page, the provider's own error format (the
// Errors hook), a refused DOCTYPE, then a non-2xx status. It returns nil for a
// successful reply.
func (c *Client) Check(res *Response) error {
	what := c.provider()
	if IsHTML(res.Body) {
		return HTMLError(what, res)
	}
	if err := checkProlog(res.Body); err != nil {
		return DecodeError(what, err)
	}
	if c.Errors != nil {
		if e := c.Errors(res); e != nil {
			return e
		}
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return StatusError(what, res)
	}
	return nil
}

// Decode decodes a reply into out through the client's guards, classifying a
// reply that cannot be read.
func (c *Client) Decode(res *Response, out any) error {
	if err := Decode(res.Body, out, c.MaxDepth); err != nil {
		return DecodeError(c.provider(), err)
	}
	return nil
}

func (c *Client) provider() string {
	if c.Provider == "" {
		return "the provider"
	}
	return c.Provider
}

func (c *Client) contentType() string {
	switch {
	case c.ContentType != "":
		return c.ContentType
	case c.Encoding == UTF16LE:
		return "text/xml; charset=utf-16"
	}
	return "text/xml; charset=utf-8"
}

func marshal(in any) ([]byte, error) {
	switch v := in.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	b, err := xml.Marshal(in)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("encoding the request as XML: %v", err)}
	}
	return b, nil
}

// TransportError classifies an error from sending a request or reading its reply.
// notSent says no connection was made, so the request never left. The request URL
// is dropped from the message, since it may carry keys.
func TransportError(ctx context.Context, provider string, err error, notSent bool) *sdk.Error {
	if e := egress.Refused(err); e != nil {
		return e
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		msg := fmt.Sprintf("no answer from %s before the deadline", provider)
		if errors.Is(ctx.Err(), context.Canceled) {
			msg = fmt.Sprintf("the call to %s was cancelled", provider)
		}
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, NotSent: notSent, Message: msg}
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, NotSent: notSent,
			Message: fmt.Sprintf("%s timed out: %v", provider, err)}
	}
	if notSent {
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("could not connect to %s: %v", provider, err)}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector,
		Message: fmt.Sprintf("the connection to %s failed mid-call (the request may have been processed): %v", provider, err)}
}
