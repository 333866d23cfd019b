package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code classifies a failure. Codes, not messages, cross every boundary (gRPC, HTTP,
// Kafka), so a caller can always tell a bad address from a carrier outage.
type Code string

// The hub's error codes.
const (
	// CodeInvalidRequest: the request is malformed or the carrier rejected its content.
	CodeInvalidRequest Code = "invalid_request"
	// CodeAuthFailed: the account's credentials were refused.
	CodeAuthFailed Code = "auth_failed"
	// CodeNotFound: the shipment, document or operation does not exist.
	CodeNotFound Code = "not_found"
	// CodeConflict: the request clashes with existing state (already cancelled, duplicate reference).
	CodeConflict Code = "conflict"
	// CodeRateLimited: too many requests; RetryAfter says when to come back.
	CodeRateLimited Code = "rate_limited"
	// CodeCarrierUnavailable: the provider is down or answered 5xx; worth retrying.
	CodeCarrierUnavailable Code = "carrier_unavailable"
	// CodeTimeout: the deadline passed before the provider answered.
	CodeTimeout Code = "timeout"
	// CodePermanent: the provider refused for a reason retrying cannot fix.
	CodePermanent Code = "permanent"
	// CodeInternal: a bug or an unexpected state in the hub or a connector.
	CodeInternal Code = "internal"
	// CodeOutcomeUnknown: an operation that creates something (sdk.OperationSpec
	// Creates) may have reached the provider, but no answer came back: the
	// connector process died, or the call timed out or broke after the request
	// was written. It may or may not have been done. The engine gives this code to
	// such failures of creates; a retry with the same Idempotency-Key settles the
	// outcome (looks the result up, or asks the caller to confirm) instead of
	// calling blindly again. It is not Retryable: a blind retry could do it twice.
	CodeOutcomeUnknown Code = "outcome_unknown"
)

// Codes lists every error code.
var Codes = []Code{
	CodeInvalidRequest, CodeAuthFailed, CodeNotFound, CodeConflict, CodeRateLimited,
	CodeCarrierUnavailable, CodeTimeout, CodePermanent, CodeInternal, CodeOutcomeUnknown,
}

// Valid reports whether c is one of Codes.
func (c Code) Valid() bool {
	for _, k := range Codes {
		if k == c {
			return true
		}
	}
	return false
}

// Retryable reports whether the same request may succeed later. Whether it is safe
// to retry (the request may have reached the carrier) is the engine's decision.
func (c Code) Retryable() bool {
	return c == CodeRateLimited || c == CodeCarrierUnavailable || c == CodeTimeout
}

// Source says who produced an error.
type Source string

// Error sources.
const (
	// SourceHub: the hub itself (validation, routing, a connector process that died).
	SourceHub Source = "hub"
	// SourceConnector: the connector's own side: its code (mapping, a response it
	// could not read or refused as too large) and its connection to the provider
	// (refused, reset, timed out), where the provider said nothing.
	SourceConnector Source = "connector"
	// SourceCarrier: the provider answered with a refusal or a failure (an HTTP
	// error, a SOAP fault, an error document); CarrierCode and CarrierMessage
	// hold its words.
	SourceCarrier Source = "carrier"
)

// Error is a classified failure. Connectors return it (or let Serve wrap anything
// else as internal); the engine passes it to callers intact.
type Error struct {
	// Code classifies the failure.
	Code Code
	// Source says who produced it.
	Source Source
	// Message explains it to a person; it never contains credentials.
	Message string
	// Field is the JSON pointer of the offending request field, when there is one.
	Field string
	// RetryAfter is how long to wait before trying again, when the provider said.
	RetryAfter time.Duration
	// CarrierCode is the provider's own error code, verbatim.
	CarrierCode string
	// CarrierMessage is the provider's own error text, verbatim.
	CarrierMessage string
	// NotSent is true when the request provably never reached the provider (DNS or
	// connect failure, request built wrong), so retrying cannot duplicate its effect.
	NotSent bool
}

// Error returns a one-line description with the carrier's words when present.
func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Message
	if e.CarrierCode != "" || e.CarrierMessage != "" {
		s += fmt.Sprintf(" (carrier said %s %q)", e.CarrierCode, e.CarrierMessage)
	}
	return s
}

// FieldError names one offending field of a canonical request (or another
// JSON document the hub was given) by JSON pointer, and says what is wrong. It
// is the one field-error type of the request validator, the router and the API
// (problem+json errors[] members).
type FieldError struct {
	// Pointer is the RFC 6901 JSON pointer of the field, such as
	// /ship_to/postal_code; empty for the document as a whole.
	Pointer string `json:"pointer"`
	// Message says what is wrong with it, for a person.
	Message string `json:"detail"`
}

// Is matches another *Error with the same code, so errors.Is(err, &sdk.Error{Code: sdk.CodeNotFound}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Source == "" || t.Source == e.Source)
}

// Errorf returns a connector-sourced error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Source: SourceConnector, Message: fmt.Sprintf(format, args...)}
}

// CarrierError returns an error the provider reported, keeping its own code and text.
func CarrierError(code Code, carrierCode, carrierMessage string) *Error {
	msg := carrierMessage
	if msg == "" {
		msg = "carrier reported error " + carrierCode
	}
	return &Error{Code: code, Source: SourceCarrier, Message: msg, CarrierCode: carrierCode, CarrierMessage: carrierMessage}
}

// InvalidField returns an invalid_request error naming the offending field by JSON pointer.
func InvalidField(pointer, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidRequest, Source: SourceConnector, Field: pointer, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error: itself if it is one (anywhere in its chain), a
// timeout for context deadlines, or an internal error otherwise.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Source: SourceConnector, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeTimeout, Source: SourceConnector, Message: "the call was cancelled: " + err.Error()}
	}
	return &Error{Code: CodeInternal, Source: SourceConnector, Message: err.Error()}
}
