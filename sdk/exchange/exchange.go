// Package exchange records a connector's recent provider exchanges (what it
// sent a provider over HTTP and what came back) for debugging from the hub's
// console, with every secret taken out before a record is kept.
//
// A connector's dispatcher marks each call's context with WithCall (the
// account, the operation, the request id and the account's secret values);
// Transport, wrapped around the HTTP transport the connector dials through,
// records the exchanges of marked requests into a Log, a few per account.
// Records are redacted as they are made, so the Log never holds a secret: the
// account's credential values wherever they appear (plain, URL-encoded or
// base64), credentials-bearing headers, sensitive query parameters, and the
// values of sensitive fields in JSON, form and XML bodies (a login answer's
// token is no account credential, but its field name gives it away).
package exchange

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
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
	// Secrets are the account's credential values, taken out of every record.
	Secrets []string
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

// Log keeps the latest redacted exchanges of each account. Its zero value is
// ready; it is safe for concurrent use.
type Log struct {
	mu sync.Mutex
	by map[string][]Record // oldest first, at most PerAccount
}

// add keeps r as its account's newest record.
func (l *Log) add(r Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string][]Record{}
	}
	list := append(l.by[r.Account], r)
	if len(list) > PerAccount {
		list = slices.Delete(list, 0, len(list)-PerAccount)
	}
	l.by[r.Account] = list
}

// Recent returns an account's latest exchanges, newest first, at most n.
func (l *Log) Recent(account string, n int) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.by[account]
	out := make([]Record, 0, min(n, len(list)))
	for i := len(list) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, list[i])
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
	reqBody, reqTrunc := peekRequest(req)
	rec := Record{At: start.UTC(), Account: call.Account, Operation: call.Operation, RequestID: call.RequestID,
		Method: req.Method, URL: req.URL.String(), RequestHeaders: flatten(req.Header), RequestBody: reqBody, Truncated: reqTrunc}
	resp, err := base.RoundTrip(req)
	if err != nil {
		rec.Error = err.Error()
		rec.DurationMS = now().Sub(start).Milliseconds()
		t.Log.add(redact(rec, req.Header.Get("Content-Type"), "", call.Secrets))
		return resp, err
	}
	rec.Status, rec.ResponseHeaders = resp.StatusCode, flatten(resp.Header)
	resp.Body = &recordingBody{ReadCloser: resp.Body, done: func(body []byte, truncated bool) {
		rec.ResponseBody, rec.Truncated = string(body), rec.Truncated || truncated
		rec.DurationMS = now().Sub(start).Milliseconds()
		t.Log.add(redact(rec, req.Header.Get("Content-Type"), resp.Header.Get("Content-Type"), call.Secrets))
	}}
	return resp, nil
}

// peekRequest returns the start of a request's body without taking it from
// the request: through GetBody when the request has it, or by reading the
// start and putting it back in front of the rest.
func peekRequest(req *http.Request) (string, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return "", false
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return "", false
		}
		defer rc.Close()
		b, _ := io.ReadAll(io.LimitReader(rc, MaxBody+1))
		return string(b[:min(len(b), MaxBody)]), len(b) > MaxBody
	}
	b, _ := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	req.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), req.Body), req.Body}
	return string(b[:min(len(b), MaxBody)]), len(b) > MaxBody
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
		out[k] = joinValues(v)
	}
	return out
}

func joinValues(v []string) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}
