package odata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// errorBody reads both OData error shapes. v2 (SAP Gateway):
//
//	{"error":{"code":"SY/530","message":{"lang":"en","value":"..."},
//	  "innererror":{"errordetails":[{"code":"...","message":"...","severity":"error"}]}}}
//
// v4 (OASIS JSON format section 21, Dynamics, SAP RAP):
//
//	{"error":{"code":"...","message":"...","target":"...","details":[{"code":"...","message":"..."}]}}
type errorBody struct {
	Error *struct {
		Code       string       `json:"code"`
		Message    errorMessage `json:"message"`
		Target     string       `json:"target"`
		Details    []errDetail  `json:"details"`
		InnerError *struct {
			ErrorDetails []errDetail `json:"errordetails"`
		} `json:"innererror"`
	} `json:"error"`
}

type errDetail struct {
	Code    string       `json:"code"`
	Message errorMessage `json:"message"`
}

// errorMessage is a v4 string or a v2 {"lang":..,"value":..} object.
type errorMessage string

// UnmarshalJSON accepts "text" or {"lang":"en","value":"text"}.
func (m *errorMessage) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*m = errorMessage(o.Value)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil // a number or null: keep nothing rather than fail the whole error
	}
	*m = errorMessage(s)
	return nil
}

// statusCode maps an HTTP status to the hub's error code.
func statusCode(status int) sdk.Code {
	switch {
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity,
		status == http.StatusPreconditionRequired, status == http.StatusUnsupportedMediaType,
		status == http.StatusRequestEntityTooLarge, status == http.StatusRequestURITooLong:
		return sdk.CodeInvalidRequest
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return sdk.CodeAuthFailed
	case status == http.StatusNotFound, status == http.StatusGone:
		return sdk.CodeNotFound
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return sdk.CodeConflict
	case status == http.StatusTooManyRequests:
		return sdk.CodeRateLimited
	case status == http.StatusRequestTimeout:
		return sdk.CodeTimeout
	case status >= 500:
		return sdk.CodeCarrierUnavailable
	}
	return sdk.CodePermanent
}

// statusError classifies a non-2xx answer, keeping the provider's error code and
// message. where is "GET A_SalesOrder('1')" (method and path, never the query).
func statusError(where string, resp *http.Response, body []byte, now time.Time) *sdk.Error {
	status := resp.StatusCode
	e := &sdk.Error{Code: statusCode(status), Source: sdk.SourceCarrier, CarrierCode: "http-" + strconv.Itoa(status)}
	var eb errorBody
	var extra []string
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		if eb.Error.Code != "" {
			e.CarrierCode = eb.Error.Code
		}
		e.CarrierMessage = string(eb.Error.Message)
		details := eb.Error.Details
		if eb.Error.InnerError != nil {
			details = append(details, eb.Error.InnerError.ErrorDetails...)
		}
		for _, d := range details {
			if d.Message != "" && string(d.Message) != e.CarrierMessage {
				extra = append(extra, strings.TrimSpace(d.Code+" "+string(d.Message)))
			}
		}
	}
	msg := fmt.Sprintf("%s: HTTP %d", where, status)
	switch {
	case e.CarrierMessage != "":
		msg += ": " + e.CarrierMessage
	case looksHTML(body):
		msg += " with an HTML page"
	}
	if len(extra) > 0 {
		msg += " (" + strings.Join(extra, "; ") + ")"
	}
	e.Message = msg
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	}
	return e
}

// retryAfter reads Retry-After as seconds or an HTTP date; zero when absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func looksHTML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<'
}

// transportError classifies a failure to get an answer. sent says whether a
// connection was obtained; without one nothing left the hub (NotSent).
func transportError(ctx context.Context, where string, err error, sent bool) *sdk.Error {
	if e := egress.Refused(err); e != nil {
		return e
	}
	// url.Error repeats the whole URL, whose query may hold a key an Auth hook
	// added; keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &sdk.Error{Source: sdk.SourceConnector, NotSent: !sent}
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		e.Code, e.Source = sdk.CodeTimeout, sdk.SourceConnector
		if errors.Is(ctx.Err(), context.Canceled) {
			e.Message = where + ": the call was cancelled"
		} else {
			e.Message = where + ": the deadline passed"
		}
		return e
	case !sent:
		e.Code = sdk.CodeCarrierUnavailable
		e.Message = fmt.Sprintf("%s: connecting: %v", where, err)
	default:
		e.Code = sdk.CodeCarrierUnavailable
		e.Message = fmt.Sprintf("%s: connection failed after sending: %v", where, err)
	}
	return e
}

// badResponse is a 2xx answer this package cannot read.
func badResponse(where, format string, args ...any) *sdk.Error {
	return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier, Message: where + ": " + fmt.Sprintf(format, args...)}
}

// local is a mistake in the request, found before anything was sent.
func local(code sdk.Code, format string, args ...any) *sdk.Error {
	return &sdk.Error{Code: code, Source: sdk.SourceConnector, NotSent: true, Message: "odata: " + fmt.Sprintf(format, args...)}
}
