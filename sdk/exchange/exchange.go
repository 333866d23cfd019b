// Package exchange records a connector's recent provider exchanges (what it
// sent a provider over HTTP and what came back) for debugging from the hub's
// console, with every secret taken out before a record is kept.
//
// A connector's dispatcher marks each call's context with WithCall (the
// account, the operation, the request id and the account's secret values);
// Transport, wrapped around the HTTP transport the connector dials through,
// records the exchanges of marked requests into a Log, a few per account.
// Recording costs a call only copies (the start of each body, the headers);
// redaction happens when records leave the Log (Recent), so nothing leaves it
// with a secret: the account's credential values wherever they appear (plain,
// URL-encoded, JSON-escaped or base64), credentials-bearing headers, sensitive
// query parameters, and the values of sensitive fields in JSON, form and XML
// bodies (a login answer's token is no account credential, but its field name
// gives it away). The connector process holds those secrets anyway; the Log
// holds them no longer than its last PerAccount exchanges.
package exchange

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// MaxBody is how much of each body a record keeps.
	MaxBody = 4 << 10
	// PerAccount is how many exchanges the Log keeps per account, newest kept.
	PerAccount = 20
)

// Record is one redacted exchange with a provider.
type Record struct {
	At        time.Time `json:"at"`
	Account   string    `json:"account"`
	Operation string    `json:"operation,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Method    string    `json:"method"`
	URL       string    `json:"url"`
	// RequestHeaders and ResponseHeaders hold one value per name, joined with ", ".
	RequestHeaders  map[string]string `json:"request_headers,omitempty"`
	RequestBody     string            `json:"request_body,omitempty"`
	Status          int               `json:"status,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	// Truncated is true when a body was longer than MaxBody.
	Truncated  bool  `json:"truncated,omitempty"`
	DurationMS int64 `json:"duration_ms"`
	// Error is why no answer came (a refused dial, a timeout).
	Error string `json:"error,omitempty"`
}

// Call is what a call's context tells Transport about the call.
type Call struct {
	Account   string
	Operation string
	RequestID string
	// Secrets are the account's credentials (name to value); their values are
	// taken out of every record. The map is read, never changed.
	Secrets map[string]string
}

type callKey struct{}

// WithCall marks ctx as a call whose provider exchanges are recorded.
func WithCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, &c)
}

func callFrom(ctx context.Context) (*Call, bool) {
	c, ok := ctx.Value(callKey{}).(*Call)
	return c, ok && c.Account != ""
}

// Default is the connector process's log, which the SDK's HTTP clients record
// into (Recording) and the plugin protocol reads.
var Default = &Log{}

// Recording wraps base (the egress guard's transport) so that it records into
// Default.
func Recording(base http.RoundTripper) http.RoundTripper {
	return &Transport{Base: base, Log: Default}
}

// Log keeps the latest exchanges of each account. Its zero value is ready; it
// is safe for concurrent use.
type Log struct {
	mu sync.Mutex
	by map[string][]kept // oldest first, at most PerAccount
}

// kept is an exchange as recorded: references and the bodies' starts, turned
// into a redacted Record only when Recent reads it, so that recording costs a
// call as little as it can.
type kept struct {
	call                  *Call
	at                    time.Time
	method                string
	url                   *url.URL // the request's, read when the record is
	reqHeader, respHeader http.Header
	reqBody, respBody     []byte
	status                int
	truncated             bool
	duration              time.Duration
	err                   string
}

// record is k as a redacted Record.
func (k kept) record() Record {
	r := Record{At: k.at.UTC(), Account: k.call.Account, Operation: k.call.Operation, RequestID: k.call.RequestID,
		Method: k.method, URL: k.url.String(), RequestHeaders: flatten(k.reqHeader), RequestBody: string(k.reqBody),
		Status: k.status, ResponseHeaders: flatten(k.respHeader), ResponseBody: string(k.respBody),
		Truncated: k.truncated, DurationMS: k.duration.Milliseconds(), Error: k.err}
	return redact(r, k.reqHeader.Get("Content-Type"), k.respHeader.Get("Content-Type"), k.call.Secrets)
}

// add keeps r as its account's newest record.
func (l *Log) add(k kept) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string][]kept{}
	}
	list := append(l.by[k.call.Account], k)
	if len(list) > PerAccount {
		list = slices.Delete(list, 0, len(list)-PerAccount)
	}
	l.by[k.call.Account] = list
}

// Recent returns an account's latest exchanges, newest first, at most n,
// redacted.
func (l *Log) Recent(account string, n int) []Record {
	l.mu.Lock()
	list := slices.Clone(l.by[account])
	l.mu.Unlock()
	out := make([]Record, 0, min(n, len(list)))
	for i := len(list) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, list[i].record())
	}
	return out
}

// Transport records the exchanges of requests whose context WithCall marked,
// and passes every request to Base (http.DefaultTransport when nil).
type Transport struct {
	Base http.RoundTripper
	Log  *Log
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// RoundTrip implements http.RoundTripper. The request's body still reaches
// Base whole, and the response's body reaches the caller whole; the record is
// kept when the caller closes the response body (or at once on an error).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	call, ok := callFrom(req.Context())
	if !ok || t.Log == nil {
		return base.RoundTrip(req)
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	start := now()
	k := &kept{call: call, at: start, method: req.Method, url: req.URL, reqHeader: req.Header}
	k.reqBody, k.truncated = peekRequest(req)
	resp, err := base.RoundTrip(req)
	if err != nil {
		k.err, k.duration = err.Error(), now().Sub(start)
		t.Log.add(*k)
		return resp, err
	}
	k.status, k.respHeader = resp.StatusCode, resp.Header
	size := 512
	if resp.ContentLength >= 0 {
		size = int(min(resp.ContentLength, MaxBody))
	}
	resp.Body = &recordingBody{ReadCloser: resp.Body, buf: make([]byte, 0, size), done: func(body []byte, truncated bool) {
		k.respBody, k.truncated = body, k.truncated || truncated
		k.duration = now().Sub(start)
		t.Log.add(*k)
	}}
	return resp, nil
}

// peekRequest returns the start of a request's body without taking it from
// the request: through GetBody when the request has it, or by reading the
// start and putting it back in front of the rest.
func peekRequest(req *http.Request) ([]byte, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, false
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, false
		}
		defer rc.Close()
		return readStart(rc, req.ContentLength)
	}
	buf := make([]byte, MaxBody+1)
	n, _ := io.ReadFull(req.Body, buf)
	req.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf[:n]), req.Body), req.Body}
	return buf[:min(n, MaxBody)], n > MaxBody
}

// readStart reads the first MaxBody bytes of r, whose length is size when
// known (-1 when not), and reports whether there was more.
func readStart(r io.Reader, size int64) ([]byte, bool) {
	want := MaxBody + 1
	if size >= 0 && size < int64(want) {
		want = int(size) + 1 // the +1 still finds a body longer than announced
	}
	buf := make([]byte, want)
	n, _ := io.ReadFull(r, buf)
	return buf[:min(n, MaxBody)], n > MaxBody
}

// recordingBody keeps the start of a response body as the caller reads it
// and reports it once, when the caller closes the body.
type recordingBody struct {
	io.ReadCloser
	buf       []byte
	truncated bool
	once      sync.Once
	done      func(body []byte, truncated bool)
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := MaxBody - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(n, room)]...)
		if n > room {
			b.truncated = true
		}
	} else if n > 0 {
		b.truncated = true
	}
	return n, err
}

func (b *recordingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.done(b.buf, b.truncated) })
	return err
}

// flatten keeps one value per header name.
func flatten(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}
