package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// idempotencyHeader is the request header carrying the caller's key.
const idempotencyHeader = "Idempotency-Key"

// storeAnswerTimeout bounds the store write that records a call's answer. It runs
// even when the client has gone, so it cannot use the request's context alone.
const storeAnswerTimeout = 10 * time.Second

// idempotencyKey reads the Idempotency-Key header: "" when absent; a 400 problem when
// it is repeated, empty, longer than 255 bytes or not printable ASCII.
func idempotencyKey(r *http.Request) (string, *Problem) {
	vals := r.Header.Values(idempotencyHeader)
	if len(vals) == 0 {
		return "", nil
	}
	bad := func(detail string) *Problem {
		p := newProblem(http.StatusBadRequest, string(sdk.CodeInvalidRequest), "Idempotency-Key "+detail)
		p.Source = string(sdk.SourceHub)
		p.Errors = []ProblemField{{Parameter: idempotencyHeader, Detail: detail}}
		return p
	}
	if len(vals) > 1 {
		return "", bad("is sent more than once; send one key")
	}
	var ve *store.ValidationError
	if err := store.CheckIdempotencyKey(vals[0]); errors.As(err, &ve) {
		return "", bad(ve.Reason + " (1 to 255 printable ASCII characters)")
	}
	return vals[0], nil
}

// invokeOnce runs a creating operation under its Idempotency-Key (see package
// engine/idempotency for the semantics) and reports whether it answered. It leaves
// the request to the plain path (false) when idempotency does not apply: the store
// keeps no keys, or the connector or operation is unknown or does not create, where
// the router gives the precise error.
func (s *server) invokeOnce(w http.ResponseWriter, r *http.Request, rt router.Route, body []byte) bool {
	keeper := s.idem
	if keeper == nil {
		return false
	}
	spec, ok := sdk.LookupOperation(rt.Operation)
	if !ok || !spec.Creates {
		return false
	}
	m, ok := s.conns.Manifest(rt.ConnectorID)
	if !ok {
		return false
	}
	if _, ok := m.Operation(rt.Operation); !ok {
		return false
	}
	ctx := r.Context()
	// The fingerprint names the account the call acts for, so leaving ?account= out
	// (the tenant's only account) and naming that account are the same request.
	acct, err := s.router.Account(ctx, rt.TenantID, rt.ConnectorID, rt.AccountID)
	if err != nil {
		writeProblem(w, r, problemFromError(err))
		return true
	}
	scope := store.IdempotencyScope{TenantID: rt.TenantID, ConnectorID: rt.ConnectorID, Operation: string(rt.Operation), Key: rt.IdempotencyKey}
	// A claim may have to settle an unknown outcome (a lookup) before its call:
	// its lease covers both, each under the timeout it runs with.
	timeout := s.callTimeout(m, rt.Operation)
	if _, ok := m.Operation(sdk.OpFindShipment); ok && rt.Operation == sdk.OpCreateShipment {
		timeout += s.callTimeout(m, sdk.OpFindShipment)
	}
	res, err := keeper.Begin(ctx, scope, idempotency.Fingerprint(string(rt.Operation), acct.ID, body), timeout)
	if err != nil {
		// Without a claim the call is not made: a duplicate label is worse than a retry.
		writeProblem(w, r, s.storeProblem(ctx, err, "idempotency key"))
		return true
	}
	switch res.Outcome {
	case idempotency.Claimed:
		s.callOnce(w, r, rt, body, res.Claim)
	case idempotency.Replay:
		s.observeReplay(rt, "replayed")
		h := w.Header()
		if res.Response.ContentType != "" {
			h.Set("Content-Type", res.Response.ContentType)
		}
		h.Set(idempotency.ReplayedHeader, "true")
		w.WriteHeader(res.Response.Status)
		_, _ = w.Write(res.Response.Body)
	case idempotency.InProgress:
		s.observeReplay(rt, "in_progress")
		p := idempotencyProblem(http.StatusConflict, sdk.CodeConflict,
			"a request with this Idempotency-Key is still in progress; retry shortly to receive its answer")
		p.RetryAfter = int(idempotency.InProgressRetryAfter / time.Second)
		writeProblem(w, r, p)
	case idempotency.Mismatch:
		s.observeReplay(rt, "mismatch")
		writeProblem(w, r, idempotencyProblem(http.StatusUnprocessableEntity, sdk.CodeInvalidRequest,
			"Idempotency-Key reused with a different request (operation, account or body differ); use a new key for a new request"))
	case idempotency.NotReplayable:
		writeProblem(w, r, idempotencyProblem(http.StatusConflict, sdk.CodeConflict, fmt.Sprintf(
			"the request with this Idempotency-Key was completed, but its answer was larger than the %d bytes kept for replay; look the result up instead of retrying the create",
			idempotency.DefaultMaxBody)))
	case idempotency.Settle:
		s.settle(w, r, rt, body, res)
	case idempotency.Unsettled:
		s.observeReplay(rt, "unsettled")
		p := idempotencyProblem(http.StatusBadGateway, sdk.CodeOutcomeUnknown,
			"the outcome of the first request with this Idempotency-Key is unknown (it may have reached the provider without an answer coming back); the hub settles it on a retry after Retry-After, or is settling it now")
		p.RetryAfter = seconds(res.RetryAfter)
		writeProblem(w, r, p)
	}
	return true
}

// callTimeout is the whole deadline of a call of op: the resolved policy's
// (an operator may override the manifest's), the manifest's without one.
func (s *server) callTimeout(m *sdk.Manifest, op sdk.Operation) time.Duration {
	if p, ok := s.router.Policy(m.ID, op); ok && p.Timeout > 0 {
		return p.Timeout
	}
	return m.TimeoutFor(op)
}

// seconds rounds d up to whole seconds, at least one, for Retry-After.
func seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// settle handles a retry of a create whose outcome is unknown, holding its key
// (res.Claim settles): where the connector can look the result up, the booking
// found is the answer, and a provider that has none lets the call be made; where it
// cannot, the call is made only when the caller says it checked and nothing was
// created (ConfirmNotCreatedHeader), and otherwise the caller is told what to check.
// A lookup that fails leaves the outcome unknown. The unconfirmed shipment's record
// says how it was settled.
func (s *server) settle(w http.ResponseWriter, r *http.Request, rt router.Route, body []byte, res idempotency.Result) {
	claim := res.Claim
	confirmed, p := confirmNotCreated(r)
	if p != nil {
		s.giveBack(r, rt, claim)
		writeProblem(w, r, p)
		return
	}
	detached := context.WithoutCancel(r.Context())
	callCtx, cancel := context.WithDeadline(detached, claim.Deadline())
	defer cancel()
	found, out, err := s.router.Settle(callCtx, rt, body)
	storeCtx, cancelStore := context.WithTimeout(detached, storeAnswerTimeout)
	defer cancelStore()
	switch {
	case err != nil:
		s.observeReplay(rt, "unsettled")
		s.giveBack(r, rt, claim)
		e := sdk.AsError(err)
		p := idempotencyProblem(http.StatusBadGateway, sdk.CodeOutcomeUnknown,
			"the outcome of the first request with this Idempotency-Key is still unknown: looking it up at the provider failed ("+
				string(e.Code)+": "+e.Message+"); retry with the same key after Retry-After")
		p.RetryAfter = seconds(max(e.RetryAfter, storedRetryAfter(res.Response)))
		writeProblem(w, r, p)
	case found == router.Found:
		s.observeReplay(rt, "settled_found")
		var booking model.ShipmentResponse
		_ = json.Unmarshal(out, &booking) // Settle checked it decodes
		s.settleRecord(storeCtx, r, rt, body, store.UnconfirmedBooked, booking.TrackingNumber,
			"the provider has it: find_shipment found it by its reference")
		if cerr := claim.Complete(storeCtx, idempotency.Response{Status: http.StatusOK, ContentType: "application/json", Body: out}); cerr != nil {
			s.log.ErrorContext(r.Context(), "storing idempotent answer", "connector", rt.ConnectorID,
				"operation", rt.Operation, "request_id", rt.RequestID, "status", http.StatusOK, "error", cerr)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(settledHeader, "found")
		_, _ = w.Write(out)
	case found == router.NotFound:
		s.observeReplay(rt, "settled_not_found")
		s.settleRecord(storeCtx, r, rt, body, store.UnconfirmedNotBooked, "",
			"the provider has none: find_shipment found nothing by its reference; the create was made again under the same Idempotency-Key")
		w.Header().Set(settledHeader, "not_found")
		s.callOnce(w, r, rt, body, claim)
	case confirmed:
		s.observeReplay(rt, "settled_confirmed")
		s.settleRecord(storeCtx, r, rt, body, store.UnconfirmedNotBooked, "",
			"the caller said nothing was created ("+router.ConfirmNotCreatedHeader+"); the create was made again under the same Idempotency-Key")
		w.Header().Set(settledHeader, "confirmed")
		s.callOnce(w, r, rt, body, claim)
	default:
		s.observeReplay(rt, "needs_confirmation")
		s.giveBack(r, rt, claim)
		ref := ""
		if v := gjson.GetBytes(body, "reference"); v.Type == gjson.String && v.Str != "" {
			ref = ", reference " + strconv.Quote(v.Str)
		}
		detail := fmt.Sprintf("the outcome of the first request with this Idempotency-Key is unknown: it may have reached the provider without an answer coming back, and the hub cannot look it up at connector %s. Check the provider (its panel or support, account %s%s): if nothing was created, retry with the same key and the header %s: true; if it was, do not send it again",
			rt.ConnectorID, accountOf(r), ref, router.ConfirmNotCreatedHeader)
		p := newProblem(http.StatusConflict, string(sdk.CodeOutcomeUnknown), detail)
		p.Source = string(sdk.SourceHub)
		p.Errors = []ProblemField{{Parameter: router.ConfirmNotCreatedHeader, Detail: "send " + router.ConfirmNotCreatedHeader + ": true once you have checked that nothing was created"}}
		writeProblem(w, r, p)
	}
}

// settledHeader is the response header saying how a retry settled a create of
// unknown outcome: found (the booking the provider has), not_found (the provider
// had none, so the call was made) or confirmed (the caller said nothing was
// created, so the call was made).
const settledHeader = "Hub-Settled"

// confirmNotCreated reads ConfirmNotCreatedHeader: true when it says "true", a 400
// problem for any other value.
func confirmNotCreated(r *http.Request) (bool, *Problem) {
	vals := r.Header.Values(router.ConfirmNotCreatedHeader)
	if len(vals) == 0 {
		return false, nil
	}
	if len(vals) == 1 && strings.EqualFold(strings.TrimSpace(vals[0]), "true") {
		return true, nil
	}
	detail := router.ConfirmNotCreatedHeader + " must be sent once, as true"
	p := newProblem(http.StatusBadRequest, string(sdk.CodeInvalidRequest), detail)
	p.Source = string(sdk.SourceHub)
	p.Errors = []ProblemField{{Parameter: router.ConfirmNotCreatedHeader, Detail: detail}}
	return false, p
}

// accountOf names the account the request acts for, for a message.
func accountOf(r *http.Request) string {
	if id := requestAccount(r); id != "" {
		return id
	}
	return "(the tenant's only one)"
}

// requestAccount is the account the request acts for, once resolved; "" before.
func requestAccount(r *http.Request) string {
	if st := stateOf(r.Context()); st != nil {
		return st.accountID()
	}
	return ""
}

// storedRetryAfter reads retry_after from a stored problem answer; 0 when none.
func storedRetryAfter(resp idempotency.Response) time.Duration {
	return time.Duration(gjson.GetBytes(resp.Body, "retry_after").Int()) * time.Second
}

// giveBack releases a settling claim that settled nothing, so the outcome stays
// unknown for the next retry.
func (s *server) giveBack(r *http.Request, rt router.Route, claim *idempotency.Claim) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeAnswerTimeout)
	defer cancel()
	if err := claim.Release(ctx); err != nil {
		s.log.WarnContext(r.Context(), "releasing idempotency key", "connector", rt.ConnectorID,
			"operation", rt.Operation, "request_id", rt.RequestID, "error", err)
	}
}

// settleRecord records how an unconfirmed shipment was settled. A create whose
// replica died mid-call (its claim abandoned) has no record yet: the retry
// that settles it records it first, from its own request (body). A record
// that cannot be written is logged; the answer goes on.
func (s *server) settleRecord(ctx context.Context, r *http.Request, rt router.Route, body []byte, state store.UnconfirmedState, number, how string) {
	settle := func() error {
		_, err := s.store.SettleUnconfirmed(ctx, rt.TenantID, rt.ConnectorID, string(rt.Operation), rt.IdempotencyKey, state, number, how)
		return err
	}
	err := settle()
	if errors.Is(err, store.ErrNotFound) {
		u := store.UnconfirmedShipment{TenantID: rt.TenantID, ConnectorID: rt.ConnectorID, AccountID: rt.AccountID,
			Operation: string(rt.Operation), IdempotencyKey: rt.IdempotencyKey, RequestID: rt.RequestID, Reason: abandonedReason}
		if id := requestAccount(r); id != "" {
			u.AccountID = id
		}
		if v := gjson.GetBytes(body, "reference"); v.Type == gjson.String {
			u.Reference = v.Str
		}
		if _, err = s.store.RecordUnconfirmed(ctx, u); err == nil {
			err = settle()
		}
	}
	if err != nil {
		s.log.WarnContext(r.Context(), "recording how an unconfirmed create was settled", "connector", rt.ConnectorID,
			"operation", rt.Operation, "request_id", rt.RequestID, "state", state, "error", err)
	}
}

// abandonedReason is the reason an unconfirmed shipment recorded on settling
// an abandoned claim gives.
const abandonedReason = "outcome_unknown: the hub replica that made the call stopped before its answer was stored"

func idempotencyProblem(status int, code sdk.Code, detail string) *Problem {
	p := newProblem(status, string(code), detail)
	p.Source = string(sdk.SourceHub)
	p.Errors = []ProblemField{{Parameter: idempotencyHeader, Detail: detail}}
	return p
}

// callOnce makes the call a claim allows, stores its answer and sends it. The call
// and the store write outlive the client's connection (bounded by the claim's
// deadline and storeAnswerTimeout): a client that gave up and retries then gets the
// answer instead of a 409 until the lease runs out. A failure that provably happened
// before the call left the hub is not stored; the key is released. An
// outcome_unknown failure is stored as unknown, held for its Retry-After: a retry
// settles it rather than replaying it.
func (s *server) callOnce(w http.ResponseWriter, r *http.Request, rt router.Route, body []byte, claim *idempotency.Claim) {
	detached := context.WithoutCancel(r.Context())
	callCtx, cancel := context.WithDeadline(detached, claim.Deadline())
	defer cancel()
	// A create's answer is stored with the booking it records, in one
	// transaction, when the call succeeds.
	pending := claim.Pending(http.StatusOK, "application/json")
	out, err := s.router.Invoke(store.WithPendingAnswer(callCtx, pending), rt, body)
	storeCtx, cancelStore := context.WithTimeout(detached, storeAnswerTimeout)
	defer cancelStore()

	answer := idempotency.Response{Status: http.StatusOK, ContentType: "application/json", Body: out}
	header := http.Header{"Content-Type": {"application/json"}}
	if err != nil {
		if notSent(err) {
			if rerr := claim.Release(storeCtx); rerr != nil {
				// The key stays taken until its lease runs out; nothing worse.
				s.log.WarnContext(r.Context(), "releasing idempotency key", "connector", rt.ConnectorID,
					"operation", rt.Operation, "request_id", rt.RequestID, "error", rerr)
			}
			writeProblem(w, r, problemFromError(err))
			return
		}
		rec := &answerRecorder{header: http.Header{}}
		writeProblem(rec, r, problemFromError(err))
		answer = idempotency.Response{Status: rec.status, ContentType: rec.header.Get("Content-Type"), Body: rec.body}
		header = rec.header
		if e := sdk.AsError(err); e.Code == sdk.CodeOutcomeUnknown {
			if cerr := claim.CompleteUnknown(storeCtx, answer, e.RetryAfter); cerr != nil {
				s.log.ErrorContext(r.Context(), "storing an unknown outcome", "connector", rt.ConnectorID,
					"operation", rt.Operation, "request_id", rt.RequestID, "error", cerr)
			}
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(answer.Status)
			_, _ = w.Write(answer.Body)
			return
		}
	}
	if err != nil || !pending.Stored() {
		if cerr := claim.Complete(storeCtx, answer); cerr != nil {
			s.log.ErrorContext(r.Context(), "storing idempotent answer", "connector", rt.ConnectorID,
				"operation", rt.Operation, "request_id", rt.RequestID, "status", answer.Status, "error", cerr)
		}
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(answer.Status)
	_, _ = w.Write(answer.Body)
}

// notSent reports whether a failed call provably never reached the provider: the
// error says so, or it is the router's own validation of the body, which runs before
// any call (router.NewValidationError does not mark its error NotSent).
func notSent(err error) bool {
	var ve *router.ValidationError
	return sdk.AsError(err).NotSent || errors.As(err, &ve)
}

// answerRecorder captures a problem answer so it can be stored before it is sent.
type answerRecorder struct {
	header http.Header
	status int
	body   []byte
}

func (a *answerRecorder) Header() http.Header { return a.header }

func (a *answerRecorder) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	a.body = append(a.body, b...)
	return len(b), nil
}

// observeReplay reports an Idempotency-Key outcome to the metrics hook, if any.
func (s *server) observeReplay(rt router.Route, outcome string) {
	if s.obsRep != nil {
		s.obsRep(rt.ConnectorID, rt.Operation, outcome)
	}
}
