package rest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// QuoteLimit is the most bytes of a provider's body quoted in an error.
const QuoteLimit = 512

// CodeForStatus returns the error code for a non-2xx HTTP status: 401 and 403
// auth_failed; 404 and 410 not_found; 409 and 412 conflict; 408 timeout; 429
// rate_limited; 501 and 505 permanent; other 5xx carrier_unavailable; 3xx
// permanent (a redirect this client does not follow); other 4xx invalid_request.
func CodeForStatus(status int) sdk.Code {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return sdk.CodeAuthFailed
	case status == http.StatusNotFound || status == http.StatusGone:
		return sdk.CodeNotFound
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		return sdk.CodeConflict
	case status == http.StatusRequestTimeout:
		return sdk.CodeTimeout
	case status == http.StatusTooManyRequests:
		return sdk.CodeRateLimited
	case status == http.StatusNotImplemented || status == http.StatusHTTPVersionNotSupported:
		return sdk.CodePermanent
	case status >= 500:
		return sdk.CodeCarrierUnavailable
	case status >= 400:
		return sdk.CodeInvalidRequest
	}
	return sdk.CodePermanent
}

// classify turns a non-2xx response into a carrier error that keeps the
// provider's own code and text.
func (c *Client) classify(r *Response, secrets []string) *sdk.Error {
	code := CodeForStatus(r.Status)
	var carrierCode, carrierMsg string
	html := isHTML(r.Header.Get("Content-Type"), r.Body)
	switch {
	case html:
		carrierMsg = c.redact(htmlTitle(r.Body), secrets)
	default:
		ok := false
		if c.extract != nil {
			carrierCode, carrierMsg, ok = c.extract(r.Status, r.Header, r.Body)
		}
		if !ok {
			carrierCode, carrierMsg, ok = DefaultExtractError(r.Status, r.Header, r.Body)
		}
		if !ok {
			carrierMsg = c.quote(r.Body, secrets)
		} else {
			carrierCode, carrierMsg = c.redact(carrierCode, secrets), c.redact(carrierMsg, secrets)
		}
	}
	e := &sdk.Error{Code: code, Source: sdk.SourceCarrier, CarrierCode: carrierCode, CarrierMessage: truncate(carrierMsg)}
	what := fmt.Sprintf("%s answered %s %s with HTTP %d", c.displayName(), r.method, r.URL.Path, r.Status)
	if html {
		what += " and an HTML page"
	}
	if e.CarrierMessage != "" {
		e.Message = what + ": " + e.CarrierMessage
	} else {
		e.Message = what + " " + http.StatusText(r.Status)
	}
	if ra := r.Header.Get("Retry-After"); ra != "" {
		e.RetryAfter = ParseRetryAfter(ra, c.now())
	}
	return e
}

// ParseRetryAfter reads a Retry-After value given in seconds or as an HTTP date
// (RFC 9110 section 10.2.3), relative to now. A value in the past, negative or
// unreadable gives 0.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(365*24*time.Hour/time.Second) {
			n = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// DefaultExtractError reads the provider's code and message from a JSON error
// body using common shapes: {"error":"x","error_description":"y"} (OAuth2),
// {"code":..,"message":..}, {"error":{"code":..,"message":..}},
// {"errors":[{"code":..,"message":..}]} or {"errors":["text"]}, and the keys msg,
// detail and title (RFC 9457). It reports ok false when the body is not a JSON
// object or none of the keys hold anything.
func DefaultExtractError(_ int, _ http.Header, body []byte) (code, message string, ok bool) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return "", "", false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return "", "", false
	}
	code = first(scalar(m["code"]), scalar(m["error_code"]), scalar(m["errorCode"]))
	message = first(scalar(m["error_description"]), scalar(m["message"]), scalar(m["msg"]), scalar(m["detail"]))
	switch v := m["error"].(type) {
	case string:
		if message == "" {
			message = v
		} else if code == "" {
			code = v
		}
	case map[string]any:
		code = first(code, scalar(v["code"]))
		message = first(message, scalar(v["message"]), scalar(v["description"]))
	}
	if errs, _ := m["errors"].([]any); len(errs) > 0 {
		switch v := errs[0].(type) {
		case string:
			message = first(message, v)
		case map[string]any:
			code = first(code, scalar(v["code"]))
			message = first(message, scalar(v["message"]), scalar(v["detail"]), scalar(v["msg"]))
		}
	}
	message = first(message, scalar(m["title"]))
	return code, message, code != "" || message != ""
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// scalar renders a JSON string, number or boolean; anything else is "".
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// HTMLPage reports whether an answer is an HTML page rather than the API's
// format (a proxy's or a maintenance page), and its title for an error: such a
// page, even under 200, means the provider's API did not answer.
func (r *Response) HTMLPage() (title string, ok bool) {
	if !isHTML(r.Header.Get("Content-Type"), r.Body) {
		return "", false
	}
	return htmlTitle(r.Body), true
}

// isHTML reports whether a body is an HTML page rather than the API's format.
func isHTML(contentType string, body []byte) bool {
	if ct := strings.ToLower(contentType); strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "application/xhtml") {
		return true
	}
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(b) > 64 {
		b = b[:64]
	}
	lb := bytes.ToLower(b)
	return bytes.HasPrefix(lb, []byte("<!doctype html")) || bytes.HasPrefix(lb, []byte("<html"))
}

// htmlTitle returns an HTML page's <title> text on one line, or the start of its
// text when it has none.
func htmlTitle(body []byte) string {
	lb := bytes.ToLower(body)
	if i := bytes.Index(lb, []byte("<title")); i >= 0 {
		if j := bytes.IndexByte(lb[i:], '>'); j >= 0 {
			start := i + j + 1
			if k := bytes.Index(lb[start:], []byte("</title")); k >= 0 {
				if t := strings.Join(strings.Fields(string(body[start:start+k])), " "); t != "" {
					return t
				}
			}
		}
	}
	return "an HTML page without a title"
}

// quote returns body on one line, redacted and truncated to QuoteLimit bytes.
func (c *Client) quote(body []byte, secrets []string) string {
	if len(body) > 4*QuoteLimit {
		body = body[:4*QuoteLimit]
	}
	return truncate(c.redact(strings.Join(strings.Fields(string(body)), " "), secrets))
}

// redact replaces every secret in s.
func (c *Client) redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// truncate cuts s to QuoteLimit bytes on a rune boundary.
func truncate(s string) string {
	if len(s) <= QuoteLimit {
		return s
	}
	cut := QuoteLimit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// transportError classifies a failure to get an answer at all. notSent is true
// when the request's headers never left, so retrying cannot duplicate it.
func (c *Client) transportError(ctx context.Context, method string, u *url.URL, err error, notSent bool, secrets []string) *sdk.Error {
	if e := egress.Refused(err); e != nil {
		return e
	}
	where := fmt.Sprintf("%s %s on %s", method, u.Path, c.displayName())
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL may hold credentials in its query
	}
	text := c.redact(err.Error(), secrets)
	if ctxErr := ctx.Err(); ctxErr != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		msg := where + ": no answer before the deadline"
		if errors.Is(ctxErr, context.Canceled) || (ctxErr == nil && errors.Is(err, context.Canceled)) {
			msg = where + ": the call was cancelled"
		}
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: msg, NotSent: notSent}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: where + ": timed out: " + text, NotSent: notSent}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: where + ": " + text, NotSent: notSent}
}

// authError classifies a failure to decorate a request: the request was never
// sent, whatever the cause.
func authError(ctx context.Context, err error) *sdk.Error {
	var se *sdk.Error
	if errors.As(err, &se) {
		cp := *se
		cp.NotSent = true
		return &cp
	}
	e := sdk.AsError(err)
	if ctx.Err() == nil && e.Code == sdk.CodeInternal {
		e = &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, Message: "rest: preparing credentials: " + err.Error()}
	}
	e.NotSent = true
	return e
}

// authSnapshot is a request's headers and query before Auth ran.
type authSnapshot struct {
	header http.Header
	query  string
}

func snapshot(r *http.Request) authSnapshot {
	return authSnapshot{header: r.Header.Clone(), query: r.URL.RawQuery}
}

// added returns the values Auth put on the request, which are credentials to
// keep out of errors: new or changed header values (and their last word, the
// token after "Bearer "; the password inside "Basic ...") and new query values.
func added(before authSnapshot, r *http.Request) []string {
	var out []string
	for k, v := range r.Header {
		if slices.Equal(before.header[k], v) {
			continue
		}
		for _, val := range v {
			out = append(out, val)
			if f := strings.Fields(val); len(f) > 1 {
				out = append(out, f[len(f)-1])
				if strings.EqualFold(f[0], "basic") {
					if dec, err := base64.StdEncoding.DecodeString(f[len(f)-1]); err == nil {
						out = append(out, string(dec))
						if _, pw, ok := strings.Cut(string(dec), ":"); ok {
							out = append(out, pw)
						}
					}
				}
			}
		}
	}
	if r.URL.RawQuery != before.query {
		old, _ := url.ParseQuery(before.query)
		now, _ := url.ParseQuery(r.URL.RawQuery)
		for k, vs := range now {
			if strings.Join(old[k], ",") == strings.Join(vs, ",") {
				continue
			}
			for _, v := range vs {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	return out
}
