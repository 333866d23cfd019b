package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// DefaultSettleAfter is Config.SettleAfter's default.
const DefaultSettleAfter = 5 * time.Second

// ConfirmNotCreatedHeader is the request header with which a caller, retrying a
// create of unknown outcome under the same Idempotency-Key, says it has checked
// the provider and nothing was created, so the call may be made: the hub's answer
// to such an outcome names it when the hub cannot look the result up itself.
const ConfirmNotCreatedHeader = "Hub-Confirm-Not-Created"

// Unknown is a create whose outcome is unknown, as Config.Unknown receives it.
type Unknown struct {
	// TenantID, ConnectorID and AccountID say who called what for whom.
	TenantID, ConnectorID, AccountID string
	// Operation is the creating operation.
	Operation sdk.Operation
	// IdempotencyKey is the caller's key; empty when it sent none.
	IdempotencyKey string
	// RequestID identifies the call.
	RequestID string
	// Reference is the request's top-level "reference" (a shipment's), when it has one.
	Reference string
	// Err is the outcome_unknown error returned to the caller; Cause the
	// failure that made it.
	Err, Cause *sdk.Error
}

// noAnswer reports whether a failed attempt may have reached the provider with no
// answer coming back: nothing says it never left (NotSent), and the provider did
// not answer it either. That is a timeout (the request may have been written), the
// connector process dying or its connection breaking mid-call (internal from the
// hub or the connector, which includes a connector failing to read an answer), a
// connection that broke after the request was written (carrier_unavailable from the
// connector rather than from the provider's words), or a connector saying so
// itself. Anything the provider answered (a refusal, a 5xx) is an answer.
func noAnswer(e *sdk.Error) bool {
	if e == nil || e.NotSent {
		return false
	}
	switch e.Code {
	case sdk.CodeOutcomeUnknown, sdk.CodeTimeout:
		return true
	case sdk.CodeInternal, sdk.CodeCarrierUnavailable:
		return e.Source != sdk.SourceCarrier
	}
	return false
}

// reference returns a request's top-level "reference" string, if any.
func reference(body []byte) string {
	if r := gjson.GetBytes(body, "reference"); r.Type == gjson.String {
		return r.Str
	}
	return ""
}

// canFind reports whether a create of op through m can be looked up afterwards:
// it is create_shipment and the connector serves find_shipment.
func canFind(m *sdk.Manifest, op sdk.Operation) bool {
	if op != sdk.OpCreateShipment {
		return false
	}
	_, ok := m.Operation(sdk.OpFindShipment)
	return ok
}

// unknownOutcome turns the failure of a create that may have reached the provider
// into the caller's outcome_unknown error, saying what to do next, and records it
// (Config.Unknown).
func (r *Router) unknownOutcome(ctx context.Context, rt Route, m *sdk.Manifest, accountID string, body []byte, cause *sdk.Error) *sdk.Error {
	ref := reference(body)
	refText := ""
	if ref != "" {
		refText = " " + strconv.Quote(ref)
	}
	msg := fmt.Sprintf("%s may have reached %s, but no answer came back (%s): it may or may not have been done", rt.Operation, m.Name, cause.Message)
	e := &sdk.Error{Code: sdk.CodeOutcomeUnknown, Source: cause.Source, CarrierCode: cause.CarrierCode, CarrierMessage: cause.CarrierMessage}
	switch {
	case rt.IdempotencyKey == "":
		msg += fmt.Sprintf("; it was sent without an Idempotency-Key, so the hub cannot settle it: check %s (reference%s) before sending it again", m.Name, refText)
	case canFind(m, rt.Operation) && ref != "":
		msg += fmt.Sprintf("; retry with the same Idempotency-Key after Retry-After: the hub then looks the shipment up by its reference%s and answers with the booking, or books it if %s has none", refText, m.Name)
		e.RetryAfter = r.settle
	default:
		msg += fmt.Sprintf("; retry with the same Idempotency-Key to settle it: the hub cannot look it up at %s, so check there (its panel, reference%s) and, if nothing was created, retry with the header %s: true; if it was, do not send it again", m.Name, refText, ConfirmNotCreatedHeader)
		e.RetryAfter = r.settle
	}
	e.Message = msg
	r.log.WarnContext(ctx, "create of unknown outcome", "connector", rt.ConnectorID, "operation", rt.Operation,
		"account", accountID, "request_id", rt.RequestID, "idempotency_key_set", rt.IdempotencyKey != "",
		"code", cause.Code, "source", cause.Source, "error", cause.Message)
	if r.unknown != nil {
		// The caller may hang up now; the record must still be written.
		u := Unknown{TenantID: rt.TenantID, ConnectorID: rt.ConnectorID, AccountID: accountID, Operation: rt.Operation,
			IdempotencyKey: rt.IdempotencyKey, RequestID: rt.RequestID, Reference: ref, Err: e, Cause: cause}
		if err := r.unknown(context.WithoutCancel(ctx), u); err != nil {
			r.log.ErrorContext(ctx, "recording a create of unknown outcome", "connector", rt.ConnectorID,
				"operation", rt.Operation, "request_id", rt.RequestID, "error", err)
		}
	}
	return e
}

// Settlement is what Settle found out about a create of unknown outcome.
type Settlement int

// Settlements.
const (
	// CannotSettle: the hub cannot look the result up: the operation is not
	// create_shipment, the connector does not serve find_shipment, or the request
	// has no reference. Only the caller can say what happened.
	CannotSettle Settlement = iota + 1
	// Found: the provider has the shipment; Settle's answer is its
	// ShipmentResponse, recorded as the booking.
	Found
	// NotFound: the provider has no shipment with the reference: nothing was
	// booked, and the create may be made.
	NotFound
)

// String names the settlement.
func (s Settlement) String() string {
	switch s {
	case CannotSettle:
		return "cannot_settle"
	case Found:
		return "found"
	case NotFound:
		return "not_found"
	}
	return fmt.Sprintf("Settlement(%d)", int(s))
}

// Settle finds out how a create of unknown outcome (rt and body as first sent)
// turned out, where the connector can look it up: it calls find_shipment with the
// request's reference (through Invoke, under its own policy). A shipment found is
// recorded as the booking (Config.AfterCall, as create_shipment) and returned as
// the create's canonical response; the provider's not_found is NotFound. An error
// is the lookup's own failure: the outcome is still unknown.
func (r *Router) Settle(ctx context.Context, rt Route, body []byte) (Settlement, []byte, error) {
	m, ok := r.conns.Manifest(rt.ConnectorID)
	if !ok {
		return 0, nil, hubError(sdk.CodeNotFound, "no connector %q", rt.ConnectorID)
	}
	ref := reference(body)
	if !canFind(m, rt.Operation) || ref == "" {
		return CannotSettle, nil, nil
	}
	req, err := json.Marshal(model.FindShipmentRequest{Reference: ref})
	if err != nil {
		return 0, nil, hubError(sdk.CodeInternal, "encoding find_shipment request: %v", err)
	}
	find := Route{TenantID: rt.TenantID, ConnectorID: rt.ConnectorID, Operation: sdk.OpFindShipment,
		AccountID: rt.AccountID, RequestID: rt.RequestID}
	out, err := r.Invoke(ctx, find, req)
	if err != nil {
		// A not_found the hub raised (an account gone) says nothing about the provider.
		if e := sdk.AsError(err); e.Code == sdk.CodeNotFound && e.Source != sdk.SourceHub {
			return NotFound, nil, nil
		}
		return 0, nil, err
	}
	var resp model.ShipmentResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.TrackingNumber == "" {
		return 0, nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector,
			Message: "find_shipment answered without a tracking number"}
	}
	if resp.Reference != "" && resp.Reference != ref {
		return 0, nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector,
			Message: fmt.Sprintf("find_shipment for reference %q answered with reference %q", ref, resp.Reference)}
	}
	if r.after != nil {
		acct, err := r.resolve(ctx, rt.TenantID, m, rt.AccountID)
		if err == nil {
			err = r.after(context.WithoutCancel(ctx), rt.TenantID, rt.ConnectorID, acct.ID, sdk.OpCreateShipment, out)
		}
		if err != nil {
			r.log.ErrorContext(ctx, "recording a booking found by reference", "connector", rt.ConnectorID,
				"request_id", rt.RequestID, "error", err)
		}
	}
	return Found, out, nil
}
