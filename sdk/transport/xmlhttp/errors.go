package xmlhttp

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carrierhub/hub/sdk"
)

// MaxCarrierText bounds the provider's own text kept in an error.
const MaxCarrierText = 1024

// Truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// IsHTML reports whether body is an HTML page (a proxy's or gateway's error page)
// rather than XML.
func IsHTML(body []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, utf8BOM), " \t\r\n")
	if len(b) > 64 {
		b = b[:64]
	}
	b = bytes.ToLower(b)
	return bytes.HasPrefix(b, []byte("<!doctype html")) || bytes.HasPrefix(b, []byte("<html"))
}

// HTMLError classifies a reply that is an HTML page: the provider (or something in
// front of it) failed, so the status decides, and a 2xx page counts as the
// provider being unavailable.
func HTMLError(provider string, res *Response) *sdk.Error {
	e := StatusError(provider, res)
	if res.StatusCode >= 200 && res.StatusCode <= 299 {
		e.Code = sdk.CodeCarrierUnavailable
	}
	e.Message = fmt.Sprintf("%s answered HTTP %d with an HTML page instead of XML", provider, res.StatusCode)
	if t := htmlTitle(res.Body); t != "" {
		e.CarrierMessage = t
	}
	return e
}

func htmlTitle(b []byte) string {
	lower := bytes.ToLower(b)
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return ""
	}
	j := bytes.Index(lower[i:], []byte("</title>"))
	if j < 0 {
		return ""
	}
	return Truncate(string(b[i+len("<title>"):i+j]), 200)
}

// StatusError classifies a reply by its HTTP status alone: 401/403 auth, 404 not
// found, 409 conflict, 429 rate limited (with Retry-After), 400/422 and other 4xx
// invalid, 5xx carrier unavailable. CarrierCode is "HTTP <status>".
func StatusError(provider string, res *Response) *sdk.Error {
	s := res.StatusCode
	e := &sdk.Error{Source: sdk.SourceCarrier, CarrierCode: "HTTP " + strconv.Itoa(s),
		Message: fmt.Sprintf("%s answered HTTP %d", provider, s)}
	switch {
	case s == http.StatusTooManyRequests:
		e.Code = sdk.CodeRateLimited
		e.RetryAfter = RetryAfter(res.Header)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Code = sdk.CodeAuthFailed
	case s == http.StatusNotFound:
		e.Code = sdk.CodeNotFound
	case s == http.StatusConflict:
		e.Code = sdk.CodeConflict
	case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout:
		e.Code = sdk.CodeTimeout
	case s >= 500:
		e.Code = sdk.CodeCarrierUnavailable
		e.RetryAfter = RetryAfter(res.Header)
	case s >= 400:
		e.Code = sdk.CodeInvalidRequest
	default: // 1xx and 3xx the HTTP client did not resolve
		e.Code = sdk.CodeCarrierUnavailable
	}
	return e
}

// RetryAfter reads a Retry-After header in seconds or as an HTTP date; zero when
// absent or unreadable.
func RetryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// DecodeError classifies a reply that could not be decoded: a refused DOCTYPE or
// over-deep nesting is permanent (the provider will send the same again), a
// malformed document means the provider is misbehaving.
func DecodeError(provider string, err error) *sdk.Error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	switch {
	case errors.Is(err, ErrDoctype), errors.Is(err, ErrTooDeep):
		return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("%s's reply was refused: %v", provider, err)}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
		Message: fmt.Sprintf("%s's reply is not the XML expected: %v", provider, err)}
}
