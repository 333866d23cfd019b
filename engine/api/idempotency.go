package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/carrierhub/hub/engine/idempotency"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
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
	res, err := keeper.Begin(ctx, scope, idempotency.Fingerprint(string(rt.Operation), acct.ID, body), m.TimeoutFor(rt.Operation))
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
	}
	return true
}

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
// before the call left the hub is not stored; the key is released.
func (s *server) callOnce(w http.ResponseWriter, r *http.Request, rt router.Route, body []byte, claim *idempotency.Claim) {
	detached := context.WithoutCancel(r.Context())
	callCtx, cancel := context.WithDeadline(detached, claim.Deadline())
	defer cancel()
	out, err := s.router.Invoke(callCtx, rt, body)
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
	}
	if cerr := claim.Complete(storeCtx, answer); cerr != nil {
		s.log.ErrorContext(r.Context(), "storing idempotent answer", "connector", rt.ConnectorID,
			"operation", rt.Operation, "request_id", rt.RequestID, "status", answer.Status, "error", cerr)
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
