package delhivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// maxResponseBytes bounds how much of a response the connector reads.
const maxResponseBytes = 10 << 20

// credentialToken is the account credential holding the API token.
const credentialToken = "api_token"

// newHTTPClient returns the one client the connector shares across calls and
// tenants. Deadlines come from the caller's context; the client's own timeout is a
// backstop for a context without one. Redirects are not followed: Delhivery's API
// does not redirect, and following one would turn a POST into a GET.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 5 * time.Second
	tr.ResponseHeaderTimeout = 60 * time.Second
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	tr.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport:     tr,
		Timeout:       2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// call is one request to Delhivery.
type call struct {
	method      string
	path        string
	query       string
	contentType string
	body        []byte
}

// send performs one call for the account and returns the body of a 200 answer.
// Every other outcome is a classified *sdk.Error; the token never appears in one.
func send(ctx context.Context, client *http.Client, acct *sdk.Account, c call) ([]byte, error) {
	token, err := acct.Credential(credentialToken)
	if err != nil {
		e := sdk.AsError(err)
		e.NotSent = true
		return nil, e
	}
	base, err := baseURL(acct)
	if err != nil {
		return nil, err
	}
	u := base + c.path
	if c.query != "" {
		u += "?" + c.query
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: "building request: " + err.Error(), NotSent: true}
	}
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Accept", "application/json")
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}

	// wrote records whether the request left this process, so a failure before
	// that point can be marked NotSent and retried safely.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))

	resp, err := client.Do(req)
	if err != nil {
		return nil, transportError(ctx, err, !wrote.Load())
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, transportError(ctx, fmt.Errorf("reading response: %w", err), false)
	}
	if len(data) > maxResponseBytes {
		return nil, sdk.Errorf(sdk.CodePermanent, "Delhivery's response to %s %s exceeds the %d MiB limit", c.method, c.path, maxResponseBytes>>20)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp, data)
	}
	if looksHTML(resp.Header.Get("Content-Type"), data) {
		e := sdk.CarrierError(sdk.CodeCarrierUnavailable, "200", "Delhivery answered with an HTML page instead of JSON: "+htmlTitle(data))
		return nil, e
	}
	return data, nil
}

// baseURL returns the account's base URL without a trailing slash.
func baseURL(acct *sdk.Account) (string, error) {
	raw := strings.TrimRight(strings.TrimSpace(acct.BaseURL), "/")
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, Message: fmt.Sprintf("account base URL %q is not an http(s) URL", raw), NotSent: true}
	}
	return raw, nil
}

// transportError classifies a failure to get a response at all.
func transportError(ctx context.Context, err error, notSent bool) *sdk.Error {
	if ctxErr := ctx.Err(); ctxErr != nil || errors.Is(err, context.DeadlineExceeded) {
		msg := "no answer from Delhivery before the deadline"
		if errors.Is(ctxErr, context.Canceled) {
			msg = "the call was cancelled before Delhivery answered"
		}
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: msg, NotSent: notSent}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop the URL: it is ours, and the message reads better without it
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: "Delhivery did not answer in time: " + err.Error(), NotSent: notSent}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "could not reach Delhivery: " + err.Error(), NotSent: notSent}
}

// statusError classifies a non-200 answer.
func statusError(resp *http.Response, data []byte) *sdk.Error {
	code := strconv.Itoa(resp.StatusCode)
	text := carrierText(resp.Header.Get("Content-Type"), data)
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	var e *sdk.Error
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e = sdk.CarrierError(sdk.CodeAuthFailed, code, text)
		e.Message = "Delhivery refused the account's API token: " + text
	case s == http.StatusTooManyRequests:
		e = sdk.CarrierError(sdk.CodeRateLimited, code, text)
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	case s == http.StatusRequestTimeout:
		e = sdk.CarrierError(sdk.CodeTimeout, code, text)
	case s >= 500:
		e = sdk.CarrierError(sdk.CodeCarrierUnavailable, code, text)
		e.Message = fmt.Sprintf("Delhivery is unavailable (HTTP %d): %s", s, text)
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed || (s >= 300 && s < 400):
		e = sdk.CarrierError(sdk.CodePermanent, code, text)
		e.Message = fmt.Sprintf("Delhivery answered HTTP %d; check the account's base URL: %s", s, text)
	default:
		e = sdk.CarrierError(sdk.CodeInvalidRequest, code, text)
	}
	return e
}

// carrierText extracts the carrier's own words from an error body.
func carrierText(contentType string, data []byte) string {
	if looksHTML(contentType, data) {
		return htmlTitle(data)
	}
	var b errorBody
	if json.Unmarshal(data, &b) == nil {
		if t := b.text(); t != "" {
			return t
		}
	}
	return snippet(data)
}

// retryAfter reads a Retry-After header given in seconds or as an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

func looksHTML(contentType string, data []byte) bool {
	if strings.Contains(strings.ToLower(contentType), "html") {
		return true
	}
	t := bytes.TrimSpace(data)
	return len(t) > 0 && t[0] == '<'
}

var titlePattern = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// htmlTitle returns the title of an HTML page, or a short snippet of it.
func htmlTitle(data []byte) string {
	if m := titlePattern.FindSubmatch(data); m != nil {
		return strings.Join(strings.Fields(string(m[1])), " ")
	}
	return snippet(data)
}

// snippet returns at most 200 bytes of a body on one line, for error messages.
func snippet(data []byte) string {
	s := strings.Join(strings.Fields(string(data)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// decode reads a JSON answer into v, classifying a body the connector cannot read.
func decode(data []byte, v any, what string) error {
	if err := json.Unmarshal(data, v); err != nil {
		return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector, Message: fmt.Sprintf("reading Delhivery's %s response: %v", what, err), CarrierMessage: snippet(data)}
	}
	return nil
}
