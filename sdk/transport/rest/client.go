package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchange"
	"github.com/carrierhub/hub/sdk/telemetry"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// DefaultMaxResponseBytes is the response-size limit a Client applies when its
// Config names none: 10 MiB.
const DefaultMaxResponseBytes = 10 << 20

// DefaultUserAgent is the User-Agent a Client sends when its Config names none.
const DefaultUserAgent = "carrierhub-rest/1"

// Config configures a Client. Only BaseURL is required; every other zero value
// takes the default its comment names.
type Config struct {
	// Name is how error messages refer to the provider ("Delhivery"); the default is
	// the base URL's host.
	Name string
	// BaseURL is the provider's API root, e.g. https://track.delhivery.com. A
	// Request's Path is appended to it. Required, http or https.
	BaseURL string
	// HTTP sends requests. The default is NewHTTPClient(): a tuned transport that
	// does not follow redirects, with a 2-minute backstop timeout for a context
	// without a deadline. Pass one client to every Client of a connector so they
	// share connections. A client not built by NewHTTPClient (or on
	// egress.NewTransport) dials around the egress guard.
	HTTP *http.Client
	// Header holds headers sent with every request (a Request's own headers win).
	Header http.Header
	// UserAgent is the User-Agent header (default DefaultUserAgent).
	UserAgent string
	// MaxResponseBytes caps the body read from any response (default
	// DefaultMaxResponseBytes). A larger body is an error naming the limit; no more
	// than the limit is ever buffered.
	MaxResponseBytes int64
	// Auth decorates every request with credentials; a Request's own Auth replaces
	// it. Nil sends requests as they are.
	Auth Auth
	// ExtractError reads the provider's own error code and text from an error body.
	// When it is nil, or returns ok false, the common JSON keys are tried (see
	// DefaultExtractError).
	ExtractError func(status int, header http.Header, body []byte) (code, message string, ok bool)
	// Logger receives one debug record per exchange (method, host, path, status,
	// bytes, duration, error code); never headers, query strings or bodies. The
	// default discards.
	Logger *slog.Logger
	// Now is the clock used to read Retry-After dates (default time.Now).
	Now func() time.Time
}

// Client sends requests to one provider and classifies every outcome into an
// *sdk.Error. It never retries a request (the engine owns retries) except once
// after a 401 when its Auth can renew a stale token. A Client is immutable and
// safe for concurrent use; For derives per-account clients cheaply.
type Client struct {
	name      string
	base      string
	http      *http.Client
	header    http.Header
	userAgent string
	max       int64
	auth      Auth
	extract   func(int, http.Header, []byte) (string, string, bool)
	log       *slog.Logger
	now       func() time.Time
}

// NewHTTPClient returns the *http.Client a Client uses by default: every
// connection through the egress guard (egress.Default, the policy the hub hands
// the process), dial and TLS handshake bounded at 10 s, pooled keep-alive
// connections, redirects not followed (following one would turn a POST into a
// GET) and a 2-minute overall backstop. The request context's deadline is the
// real bound. A client of a connector's own making dials around the guard, and
// conformance fails the connector for it.
func NewHTTPClient() *http.Client {
	tr := egress.NewTransport(&egress.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second})
	tr.TLSHandshakeTimeout = 10 * time.Second
	// A carrier API is one host: keep as many connections to it as are in use at
	// a busy moment (2,500 calls/s at 100 ms is 250), or each burst past the idle
	// limit closes connections that the next burst dials again.
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 512
	tr.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport:     exchange.Recording(tr),
		Timeout:       2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var defaultHTTP = NewHTTPClient()

// New checks cfg and returns a Client. A bad configuration is an internal error.
func New(cfg Config) (*Client, error) {
	base, err := checkBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		name: cfg.Name, base: base, http: cfg.HTTP, header: cfg.Header, userAgent: cfg.UserAgent,
		max: cfg.MaxResponseBytes, auth: cfg.Auth, extract: cfg.ExtractError, log: cfg.Logger, now: cfg.Now,
	}
	if c.http == nil {
		c.http = defaultHTTP
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.max <= 0 {
		c.max = DefaultMaxResponseBytes
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// HTTPClient returns the *http.Client c sends with, so that what a connector
// sends beside c (an OAuth2 token request) goes through the same transport.
func (c *Client) HTTPClient() *http.Client { return c.http }

// For returns a copy of c that talks to baseURL (when not empty) with auth (when
// not nil), sharing c's connections and settings. Connectors keep one Client and
// call For with each account's base URL and credentials.
func (c *Client) For(baseURL string, auth Auth) (*Client, error) {
	cp := *c
	if baseURL != "" {
		base, err := checkBase(baseURL)
		if err != nil {
			return nil, err
		}
		cp.base = base
	}
	if auth != nil {
		cp.auth = auth
	}
	return &cp, nil
}

func checkBase(raw string) (string, error) {
	raw = strings.TrimRight(strings.TrimSpace(raw), "/")
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("rest: base URL %q is not an absolute http(s) URL", redactURL(raw))}
	}
	return raw, nil
}

func hostOf(base string) string {
	if u, err := url.Parse(base); err == nil {
		return u.Host
	}
	return base
}

// displayName is how messages name the provider.
func (c *Client) displayName() string {
	if c.name != "" {
		return c.name
	}
	return hostOf(c.base)
}

// Request is one call. Build it with a literal, NewJSON or NewForm.
type Request struct {
	// Method is the HTTP method (default GET).
	Method string
	// Path is appended to the Client's base URL; an absolute http(s) URL (a
	// pagination link, say) is used as it is. It may carry a query string.
	Path string
	// Query parameters are added to any in Path.
	Query url.Values
	// Header holds this request's headers; they override the Client's.
	Header http.Header
	// Body is sent as it is; it is kept so the request can be re-sent once after a
	// token renewal, and so signers can hash it.
	Body []byte
	// ContentType is the body's media type.
	ContentType string
	// Auth replaces the Client's Auth for this request when not nil.
	Auth Auth
	// Secrets are extra values (say, a password in a login body) that must never
	// appear in an error; the Client already redacts whatever its Auth added.
	Secrets []string
}

// NewJSON returns a request whose body is v encoded as JSON. An unencodable v is
// an internal error (NotSent).
func NewJSON(method, path string, v any) (*Request, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("rest: encoding the %s %s body as JSON: %v", method, pathOnly(path), err)}
	}
	return &Request{Method: method, Path: path, Body: b, ContentType: "application/json"}, nil
}

// NewForm returns a request whose body is form, URL-encoded.
func NewForm(method, path string, form url.Values) *Request {
	return &Request{Method: method, Path: path, Body: []byte(form.Encode()), ContentType: "application/x-www-form-urlencoded"}
}

// Clone returns a copy of r whose Query and Header can be changed without
// touching r.
func (r *Request) Clone() *Request {
	cp := *r
	if r.Query != nil {
		cp.Query = make(url.Values, len(r.Query))
		for k, v := range r.Query {
			cp.Query[k] = append([]string(nil), v...)
		}
	}
	cp.Header = r.Header.Clone()
	return &cp
}

// Response is a provider's answer, its body read in full (within the limit).
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers.
	Header http.Header
	// Body is the whole body.
	Body []byte
	// URL is the request URL the answer belongs to (with any query), for
	// resolving relative links. It may hold credentials sent in the query: never
	// log it.
	URL *url.URL

	client *Client
	method string
	// sent is the request as it went out, credentials included, so a Renewer can
	// tell which token the provider refused; auth is what signed it.
	sent *http.Request
	auth Auth
}

// Renew drops the credentials this answer's request was sent with, when they
// came from a Renewer (a token login, OAuth2), and reports whether it did, so
// that the caller sends the request once more with new ones. Do does this
// itself after a 401; Renew is for a provider that refuses an expired
// session in a 2xx answer with a code of its own (a GST Suvidha Provider
// passing NIC's "invalid token" on).
func (r *Response) Renew() bool {
	renewer, ok := r.auth.(Renewer)
	return ok && r.sent != nil && renewer.Renew(r.sent)
}

// DecodeJSON decodes the body into v. An HTML page (Content-Type text/html or a
// body starting with <!DOCTYPE or <html) is a carrier_unavailable carrier error
// quoting the page's title; an unreadable body is a permanent connector error
// quoting the start of the body.
func (r *Response) DecodeJSON(v any) error {
	if isHTML(r.Header.Get("Content-Type"), r.Body) {
		e := sdk.CarrierError(sdk.CodeCarrierUnavailable, "", htmlTitle(r.Body))
		e.Message = fmt.Sprintf("%s answered %s %s (HTTP %d) with an HTML page instead of JSON: %s",
			r.name(), r.method, r.URL.Path, r.Status, e.CarrierMessage)
		return e
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
			Message:        fmt.Sprintf("reading %s's answer to %s %s as JSON: %v", r.name(), r.method, r.URL.Path, err),
			CarrierMessage: r.client.quote(r.Body, nil)}
	}
	return nil
}

func (r *Response) name() string {
	if r.client == nil {
		return "the provider"
	}
	return r.client.displayName()
}

// GetJSON sends GET path?query and decodes a 2xx JSON answer into out (nil
// discards it).
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	return c.doJSON(ctx, &Request{Method: http.MethodGet, Path: path, Query: query}, out)
}

// PostJSON sends in as a JSON body with POST and decodes a 2xx JSON answer into
// out (nil discards it).
func (c *Client) PostJSON(ctx context.Context, path string, in, out any) error {
	req, err := NewJSON(http.MethodPost, path, in)
	if err != nil {
		return err
	}
	return c.doJSON(ctx, req, out)
}

// PostForm sends form URL-encoded with POST and decodes a 2xx JSON answer into
// out (nil discards it).
func (c *Client) PostForm(ctx context.Context, path string, form url.Values, out any) error {
	return c.doJSON(ctx, NewForm(http.MethodPost, path, form), out)
}

// DoJSON sends req expecting JSON and decodes a 2xx answer into out (nil
// discards it).
func (c *Client) DoJSON(ctx context.Context, req *Request, out any) error {
	return c.doJSON(ctx, req, out)
}

func (c *Client) doJSON(ctx context.Context, req *Request, out any) error {
	resp, err := c.do(ctx, req, "application/json")
	if err != nil {
		return err
	}
	if out == nil {
		if isHTML(resp.Header.Get("Content-Type"), resp.Body) {
			return resp.DecodeJSON(&struct{}{})
		}
		return nil
	}
	return resp.DecodeJSON(out)
}

// Do sends req once and reads the answer. A 2xx answer returns the Response and a
// nil error. Any other status returns the Response together with a classified
// *sdk.Error (see Classify); a transport failure or a body over the limit returns
// only the error. The context's deadline bounds the whole exchange, body included.
// When the Auth implements Renewer and the provider answers 401, the token is
// renewed and the request sent once more.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	return c.do(ctx, req, "")
}

// do is Do with a default Accept header for requests that name none.
func (c *Client) do(ctx context.Context, req *Request, accept string) (*Response, error) {
	auth := c.auth
	if req.Auth != nil {
		auth = req.Auth
	}
	resp, err := c.send(ctx, req, auth, accept)
	if err == nil || resp == nil || resp.Status != http.StatusUnauthorized {
		return resp, err
	}
	renewer, ok := auth.(Renewer)
	if !ok || !renewer.Renew(resp.sent) {
		return resp, err
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "rest: renewing credentials after 401", slog.String("host", hostOf(c.base)), slog.String("path", resp.URL.Path))
	resp2, err2 := c.send(ctx, req, auth, accept)
	return resp2, err2
}

// safeMethod reports whether method only reads (RFC 9110's safe methods), so
// that repeating it cannot change anything at the provider.
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// noTransportReplay stops net/http from re-sending req by itself. When a kept-alive
// connection turns out closed after a request went out on it, http.Transport sends
// the request again on a new connection if it deems it replayable: a safe method,
// or any method carrying an Idempotency-Key or X-Idempotency-Key header, as long as
// the body can be rewound (GetBody) or there is none. The provider may have acted on
// the first copy, and one that ignores the header would then book twice, silently.
// Without GetBody the request is not replayable: the failure comes back to the
// Client, which marks it NotSent only when nothing was written, and the engine
// decides what to do. A body-less request carrying one of those headers gets an
// empty body net/http cannot rewind, sent as an empty chunked body (valid
// HTTP/1.1); other requests go on the wire as before. It runs after Auth, which may
// read the body through GetBody to sign it.
func noTransportReplay(req *http.Request) {
	req.GetBody = nil
	if req.Body != nil && req.Body != http.NoBody {
		return
	}
	// The exact keys net/http looks for (http.Request's isReplayable).
	if _, ok := req.Header["Idempotency-Key"]; !ok {
		if _, ok := req.Header["X-Idempotency-Key"]; !ok {
			return
		}
	}
	req.Body = emptyBody{}
	req.ContentLength = 0
}

// emptyBody is an empty request body that net/http cannot tell is empty in
// advance (unlike http.NoBody), so it never counts it as rewindable.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }

func (emptyBody) Close() error { return nil }

func (c *Client) buildURL(req *Request) (*url.URL, error) {
	raw := req.Path
	if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
		if raw != "" && !strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "?") {
			raw = "/" + raw
		}
		raw = c.base + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("rest: request path %q does not parse as a URL", pathOnly(req.Path))}
	}
	if len(req.Query) > 0 {
		if u.RawQuery == "" {
			u.RawQuery = req.Query.Encode()
		} else {
			q := u.Query()
			for k, vs := range req.Query {
				for _, v := range vs {
					q.Add(k, v)
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	return u, nil
}

func (c *Client) send(ctx context.Context, r *Request, auth Auth, accept string) (*Response, error) {
	start := time.Now()
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	u, err := c.buildURL(r)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}
	// The URL is already parsed: build on an empty one and put ours in, rather
	// than format and parse it again.
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, "", body)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("rest: building %s %s: invalid method %q", method, u.Path, method)}
	}
	hreq.URL, hreq.Host = u, u.Host
	for k, v := range c.header {
		hreq.Header[k] = v
	}
	for k, v := range r.Header {
		hreq.Header[k] = v
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", c.userAgent)
	}
	if r.ContentType != "" {
		hreq.Header.Set("Content-Type", r.ContentType)
	}
	if accept != "" && hreq.Header.Get("Accept") == "" {
		hreq.Header.Set("Accept", accept)
	}
	// The client span covers credentials, the exchange and reading the answer;
	// its traceparent goes on before Auth, so it is never taken for a credential.
	hs := telemetry.StartHTTP(hreq, c.name)
	defer hs.End()
	var before authSnapshot
	if auth != nil {
		before = snapshot(hreq)
		if err := auth.Apply(ctx, hreq); err != nil {
			e := authError(ctx, err)
			c.logCall(ctx, method, u, 0, 0, start, e)
			return nil, e
		}
	}
	// secrets lists what must not appear in an error; it is worked out only
	// when there is an error to write.
	secrets := func() []string {
		var out []string
		if auth != nil {
			out = added(before, hreq)
		}
		return append(out, r.Secrets...)
	}

	if !safeMethod(method) {
		noTransportReplay(hreq)
	}
	hresp, err := c.http.Do(hreq)
	hs.Result(hresp, err)
	if err != nil {
		e := c.transportError(ctx, method, u, err, !wrote.Load(), secrets())
		c.logCall(ctx, method, u, 0, 0, start, e)
		return nil, e
	}
	defer hresp.Body.Close()
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header, URL: u, client: c, method: method, sent: hreq, auth: auth}
	if hresp.ContentLength > c.max {
		e := c.tooLarge(method, u, hresp.StatusCode)
		c.logCall(ctx, method, u, hresp.StatusCode, 0, start, e)
		return nil, e
	}
	data, err := readLimited(hresp.Body, hresp.ContentLength, c.max)
	if err != nil {
		e := c.transportError(ctx, method, u, fmt.Errorf("reading the answer: %w", err), false, secrets())
		c.logCall(ctx, method, u, hresp.StatusCode, len(data), start, e)
		return nil, e
	}
	if int64(len(data)) > c.max {
		e := c.tooLarge(method, u, hresp.StatusCode)
		c.logCall(ctx, method, u, hresp.StatusCode, len(data), start, e)
		return nil, e
	}
	resp.Body = data
	if resp.Status >= 200 && resp.Status < 300 {
		c.logCall(ctx, method, u, resp.Status, len(data), start, nil)
		return resp, nil
	}
	e := c.classify(resp, secrets())
	c.logCall(ctx, method, u, resp.Status, len(data), start, e)
	return resp, e
}

// readLimited reads at most max+1 bytes, sizing the buffer from Content-Length
// when the server sent one.
func readLimited(r io.Reader, contentLength, max int64) ([]byte, error) {
	if contentLength >= 0 && contentLength <= max {
		buf := make([]byte, contentLength+1)
		n, err := io.ReadFull(r, buf)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			if int64(n) < contentLength {
				return buf[:n], io.ErrUnexpectedEOF
			}
			err = nil
		}
		return buf[:n], err
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(io.LimitReader(r, max+1))
	return b.Bytes(), err
}

func (c *Client) tooLarge(method string, u *url.URL, status int) *sdk.Error {
	return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
		Message: fmt.Sprintf("%s's answer to %s %s (HTTP %d) is larger than the %d-byte response limit",
			c.displayName(), method, u.Path, status, c.max)}
}

func (c *Client) logCall(ctx context.Context, method string, u *url.URL, status, n int, start time.Time, e *sdk.Error) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", method), slog.String("host", u.Host), slog.String("path", u.Path),
		slog.Int("status", status), slog.Int("bytes", n), slog.Duration("took", time.Since(start)),
	}
	if e != nil {
		attrs = append(attrs, slog.String("code", string(e.Code)), slog.Bool("not_sent", e.NotSent))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "rest call", attrs...)
}

// pathOnly returns a path or URL without its query, which may hold credentials.
func pathOnly(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// redactURL returns raw without user info or query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
