package api

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/sdk"
)

// Problem is an RFC 9457 problem details object, the body of every error
// response (Content-Type application/problem+json).
//
// Code is one of the hub's error codes (sdk.Codes) or, for failures of the HTTP
// exchange itself, one of unauthenticated (401), forbidden (403),
// method_not_allowed (405), payload_too_large (413), unsupported_media_type
// (415), request_header_fields_too_large (431) and unavailable (503: the hub's
// own store did not answer). Type is "urn:carrierhub:problem:" followed by Code.
type Problem struct {
	// Type identifies the kind of problem.
	Type string `json:"type"`
	// Title is a short summary of the kind of problem.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path this occurrence happened on.
	Instance string `json:"instance,omitempty"`
	// Code is the stable machine-readable classification.
	Code string `json:"code"`
	// Source is who produced the error: hub, connector or carrier.
	Source string `json:"source,omitempty"`
	// CarrierCode is the provider's own error code, verbatim.
	CarrierCode string `json:"carrier_code,omitempty"`
	// CarrierMessage is the provider's own error text, verbatim.
	CarrierMessage string `json:"carrier_message,omitempty"`
	// RetryAfter is the number of seconds to wait before retrying, when known.
	RetryAfter int `json:"retry_after,omitempty"`
	// Errors name the offending fields or parameters.
	Errors []ProblemField `json:"errors,omitempty"`
	// RequestID identifies the request in the hub's logs.
	RequestID string `json:"request_id,omitempty"`
}

// ProblemField is one offending part of a request: a body field by JSON pointer,
// or a query parameter or header by name.
type ProblemField struct {
	// Pointer is the RFC 6901 JSON pointer into the request body ("" is the whole body).
	Pointer *string `json:"pointer,omitempty"`
	// Parameter names the offending query parameter or header.
	Parameter string `json:"parameter,omitempty"`
	// Detail says what is wrong.
	Detail string `json:"detail"`
}

// API-level problem codes, for failures that are not about the operation itself.
const (
	codeUnauthenticated  = "unauthenticated"
	codeForbidden        = "forbidden"
	codeMethodNotAllowed = "method_not_allowed"
	codeTooLarge         = "payload_too_large"
	codeMediaType        = "unsupported_media_type"
	codeHeaderTooLarge   = "request_header_fields_too_large"
	codeUnavailable      = "unavailable"
)

var titles = map[string]string{
	string(sdk.CodeInvalidRequest):     "The request is invalid",
	string(sdk.CodeAuthFailed):         "The provider refused the account's credentials",
	string(sdk.CodeNotFound):           "Not found",
	string(sdk.CodeConflict):           "The request conflicts with existing state",
	string(sdk.CodeRateLimited):        "Too many requests",
	string(sdk.CodeCarrierUnavailable): "The provider is unavailable",
	string(sdk.CodeTimeout):            "The provider did not answer in time",
	string(sdk.CodePermanent):          "The provider refused the request",
	string(sdk.CodeInternal):           "Internal error",
	string(sdk.CodeOutcomeUnknown):     "The outcome is unknown",
	codeUnauthenticated:                "Authentication required",
	codeForbidden:                      "Forbidden",
	codeMethodNotAllowed:               "Method not allowed",
	codeTooLarge:                       "Request body too large",
	codeMediaType:                      "Unsupported media type",
	codeHeaderTooLarge:                 "Request headers too large",
	codeUnavailable:                    "The hub is temporarily unavailable",
}

// StatusFor returns the HTTP status the API answers an error with:
//
//	invalid_request      422 (a body that is not JSON at all is 400, decided before routing)
//	auth_failed          424 Failed Dependency: the provider refused the ACCOUNT's
//	                     credentials; the caller's own API key was fine (that is 401)
//	not_found            404
//	conflict             409
//	rate_limited         429, with Retry-After
//	carrier_unavailable  503
//	timeout              504
//	permanent            422
//	internal             502 from a connector or carrier, 500 from the hub itself
//	outcome_unknown      502, with Retry-After when a retry under the same
//	                     Idempotency-Key settles it (409 when the hub needs the
//	                     caller's word to settle it; see package engine/idempotency)
func StatusFor(e *sdk.Error) int {
	switch e.Code {
	case sdk.CodeInvalidRequest, sdk.CodePermanent:
		return http.StatusUnprocessableEntity
	case sdk.CodeAuthFailed:
		return http.StatusFailedDependency
	case sdk.CodeNotFound:
		return http.StatusNotFound
	case sdk.CodeConflict:
		return http.StatusConflict
	case sdk.CodeRateLimited:
		return http.StatusTooManyRequests
	case sdk.CodeCarrierUnavailable:
		return http.StatusServiceUnavailable
	case sdk.CodeTimeout:
		return http.StatusGatewayTimeout
	case sdk.CodeOutcomeUnknown:
		return http.StatusBadGateway
	}
	if e.Source == sdk.SourceHub || e.Source == "" {
		return http.StatusInternalServerError
	}
	return http.StatusBadGateway
}

func newProblem(status int, code, detail string) *Problem {
	title := titles[code]
	if title == "" {
		title = http.StatusText(status)
	}
	return &Problem{Type: "urn:carrierhub:problem:" + code, Title: title, Status: status, Code: code, Detail: detail}
}

// problemFromError classifies any error; errors that are not *sdk.Error are hub
// internal errors.
func problemFromError(err error) *Problem {
	var ve *router.ValidationError
	e := sdk.AsError(err)
	if !errors.As(err, new(*sdk.Error)) {
		e = &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceHub, Message: "internal error"}
	}
	p := newProblem(StatusFor(e), string(e.Code), e.Message)
	p.Source = string(e.Source)
	p.CarrierCode = e.CarrierCode
	p.CarrierMessage = e.CarrierMessage
	if e.RetryAfter > 0 {
		p.RetryAfter = int(math.Ceil(e.RetryAfter.Seconds()))
	}
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			p.Errors = append(p.Errors, bodyField(f.Pointer, f.Message))
		}
	case e.Field != "" && strings.HasPrefix(e.Field, "/"):
		p.Errors = []ProblemField{bodyField(e.Field, e.Message)}
	case e.Field != "":
		p.Errors = []ProblemField{{Parameter: e.Field, Detail: e.Message}}
	}
	return p
}

func bodyField(pointer, detail string) ProblemField {
	return ProblemField{Pointer: &pointer, Detail: detail}
}

// writeProblem sends p, filling in the request's path and id.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.Instance = r.URL.Path
	if st := stateOf(r.Context()); st != nil {
		p.RequestID = st.requestID
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"urn:carrierhub:problem:internal","title":"Internal error","status":500,"code":"internal"}`)
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
