// Package idempotency makes a creating operation (create a shipment, generate an
// e-way bill) safe to retry: a client that sends the same Idempotency-Key again gets
// the first answer back instead of a second label. engine/api uses it on the
// operation-invoke path; the rows live in the store (store.IdempotencyStore), so every
// replica of the hub sees the same keys.
//
// # Semantics
//
// It follows Stripe's documented behaviour (https://docs.stripe.com/idempotency) and
// the IETF draft "The Idempotency-Key HTTP Header Field"
// (draft-ietf-httpapi-idempotency-key-header-06, section "Error Scenarios"):
//
//   - A key is scoped to (tenant, connector, operation, key) and is 1 to 255 printable
//     ASCII characters, taken verbatim (a draft-style quoted sf-string keeps its
//     quotes, which is harmless: a retry sends the same bytes). A malformed key is the
//     caller's 400.
//   - The key is stored with a fingerprint of the request, the SHA-256 of the
//     operation, the account id and the exact body (Fingerprint). The same key with
//     another fingerprint is Mismatch: 422, as the draft says for a reused key.
//   - The first request claims the key with one atomic insert of an in-progress row
//     (INSERT ... ON CONFLICT, no check-then-insert race). A request arriving while
//     the first is still running gets InProgress: 409 with Retry-After, as the draft
//     says for a request that is still outstanding.
//   - Once the connector call has been made, its answer is stored (HTTP status,
//     Content-Type and body, failures included: a carrier's 5xx or refusal) and
//     replayed verbatim for the TTL (24 h by default) with the response header
//     Idempotent-Replayed: true. An unknown outcome is stored too, but not as a
//     final answer (below). Like Stripe ("results are only saved if an API
//     endpoint started executing"), failures before the call (authentication,
//     validation, an unknown connector or account, a call that provably never left
//     the hub) are not stored: the handler Releases the claim so the client can fix the
//     request and reuse the key.
//   - An unknown outcome is not an answer. When the call may have reached the
//     provider and no answer came back (an outcome_unknown problem: the connector
//     process died, the call timed out after the request was written), the handler
//     stores the problem with CompleteUnknown and a hold (the Retry-After it sends).
//     A retry with the same key and request is not given that problem back: once
//     the hold has passed, Begin hands it a claim to settle the outcome (Settle),
//     while other requests get Unsettled (answer with Retry-After). The settler
//     looks the result up or, on the caller's word that nothing was created, makes
//     the call, and Completes the key with the final answer; if it cannot tell, it
//     Releases the claim (the outcome stays unknown) or stores another unknown
//     outcome. The same key with another request is still Mismatch.
//   - Answers larger than the body cap (1 MiB by default) are stored as "completed,
//     too large to replay": a retry gets NotReplayable (409 with an explanation), never
//     a different body and never a second call.
//   - Request bodies are never stored, only their fingerprint; the stored answer is
//     the hub's own canonical JSON or problem document, which carries no credentials.
//   - Expired answers are deleted by Keeper.Sweep, which RunSweeper calls periodically.
//
// # If the hub dies mid-call
//
// A claim is a lease: the row stays in progress until the call's timeout plus a
// margin (LeaseMargin). The handler gives the call a deadline (Claim.Deadline) half a
// margin before the lease ends, so a live hub always finishes or gives up its call
// before the claim can be abandoned. If the hub dies (or its store write
// fails) after sending the request to the carrier, nothing records the answer. Once
// the lease expires, the claim is abandoned: the next request for the key (or
// the sweeper) turns it into an unknown outcome, exactly as if the call had
// timed out, and a retry of the same request settles it (looks the booking up
// where the connector can, otherwise asks the caller to confirm that nothing was
// created) instead of calling the carrier a second time. A settlement's claim is
// a lease too: if the hub dies while settling, the outcome stays unknown and the
// next retry settles it again. The key also travels to the connector
// (sdk.Call.IdempotencyKey), so a carrier that de-duplicates by a client reference
// is protected twice. A client disconnecting does not abort the call: the handler
// runs it to completion and stores the answer, so the client's retry finds it.
//
// The package imports engine/store and the standard library only.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// Defaults of Config.
const (
	// DefaultTTL is how long an answer is replayed: Stripe's 24 hours.
	DefaultTTL = 24 * time.Hour
	// DefaultLeaseMargin is added to a call's timeout to make the claim's lease.
	DefaultLeaseMargin = 30 * time.Second
	// DefaultMaxBody is the largest answer stored for replay.
	DefaultMaxBody = store.MaxIdempotencyBody
	// DefaultSweepInterval is how often RunSweeper purges when given no interval.
	DefaultSweepInterval = 10 * time.Minute
)

// ReplayedHeader is the response header set on a replayed answer, as Stripe does.
const ReplayedHeader = "Idempotent-Replayed"

// InProgressRetryAfter is the Retry-After sent with an InProgress answer: short, since
// most creates finish in a second or two, and a retry is a cheap store read.
const InProgressRetryAfter = time.Second

// Config configures a Keeper.
type Config struct {
	// Store keeps the keys; required.
	Store store.IdempotencyStore
	// TTL is how long an answer is replayed; DefaultTTL when zero.
	TTL time.Duration
	// LeaseMargin is added to a call's timeout to make its claim's lease; it must
	// cover the store write after the call. DefaultLeaseMargin when zero.
	LeaseMargin time.Duration
	// MaxBody is the largest answer body stored for replay; larger answers are
	// stored as not replayable. DefaultMaxBody when zero; at most DefaultMaxBody.
	MaxBody int
	// Now is the clock; time.Now when nil (tests replace it).
	Now func() time.Time
	// Logger receives the sweeper's messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Keeper claims, completes and replays idempotency keys. It is safe for concurrent
// use and cheap to build: it holds only its configuration.
type Keeper struct {
	st      store.IdempotencyStore
	ttl     time.Duration
	margin  time.Duration
	maxBody int
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Keeper, or an error for a missing store or a negative or oversize
// setting.
func New(cfg Config) (*Keeper, error) {
	if cfg.Store == nil {
		return nil, errors.New("idempotency: Store is required")
	}
	if cfg.TTL < 0 || cfg.LeaseMargin < 0 || cfg.MaxBody < 0 {
		return nil, errors.New("idempotency: TTL, LeaseMargin and MaxBody must not be negative")
	}
	if cfg.MaxBody > DefaultMaxBody {
		return nil, fmt.Errorf("idempotency: MaxBody %d is more than the store keeps (%d)", cfg.MaxBody, DefaultMaxBody)
	}
	k := &Keeper{st: cfg.Store, ttl: cfg.TTL, margin: cfg.LeaseMargin, maxBody: cfg.MaxBody, now: cfg.Now, log: cfg.Logger}
	if k.ttl == 0 {
		k.ttl = DefaultTTL
	}
	if k.margin == 0 {
		k.margin = DefaultLeaseMargin
	}
	if k.maxBody == 0 {
		k.maxBody = DefaultMaxBody
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	return k, nil
}

// Fingerprint returns the hex SHA-256 of a request: its operation, the id of the
// account it acts for and its exact body, each length-prefixed so no two different
// requests frame to the same bytes.
func Fingerprint(operation, accountID string, body []byte) string {
	h := sha256.New()
	var n [8]byte
	for _, part := range [][]byte{[]byte(operation), []byte(accountID), body} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Outcome is what Begin decided about a request.
type Outcome int

// Outcomes of Begin.
const (
	// Claimed: the request holds the key; make the call, then Complete or Release.
	Claimed Outcome = iota + 1
	// Replay: the first request's answer is stored; send Result.Response.
	Replay
	// InProgress: the first request's call is still running; answer 409, Retry-After.
	InProgress
	// Mismatch: the key was used for a different request; answer 422.
	Mismatch
	// NotReplayable: the first request completed but its answer was too large to
	// store; answer 409 and do not call again.
	NotReplayable
	// Settle: the first request's outcome is unknown and this request, the same
	// one again, holds the key to settle it (Result.Claim, whose Settling is
	// true; Result.Response is the stored outcome_unknown answer): find out what
	// happened, then Complete, CompleteUnknown or Release.
	Settle
	// Unsettled: the first request's outcome is unknown and cannot be settled
	// now (another request is settling it, or the wait after the unknown outcome
	// has not passed); answer that it is unknown, with Result.RetryAfter.
	Unsettled
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Replay:
		return "replay"
	case InProgress:
		return "in_progress"
	case Mismatch:
		return "mismatch"
	case NotReplayable:
		return "not_replayable"
	case Settle:
		return "settle"
	case Unsettled:
		return "unsettled"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Response is an HTTP answer as stored and replayed.
type Response struct {
	// Status is the HTTP status.
	Status int
	// ContentType is the Content-Type header.
	ContentType string
	// Body is the body, byte for byte.
	Body []byte
}

// Result is Begin's decision.
type Result struct {
	// Outcome says what to do.
	Outcome Outcome
	// Claim is the held key when Outcome is Claimed.
	Claim *Claim
	// Response is the stored answer when Outcome is Replay or Settle.
	Response Response
	// RetryAfter is how long to wait before retrying when Outcome is Unsettled.
	RetryAfter time.Duration
}

// Begin claims scope for a request with the given fingerprint, or reports what is
// stored for it. callTimeout is the connector call's timeout; the claim's lease is
// that plus LeaseMargin. Errors are the store's (including a *store.ValidationError
// for a malformed key); on an error no call should be made.
func (k *Keeper) Begin(ctx context.Context, scope store.IdempotencyScope, fingerprint string, callTimeout time.Duration) (Result, error) {
	now := k.now()
	lease := now.Add(max(callTimeout, 0) + k.margin)
	rec, claimed, err := k.st.ClaimIdempotencyKey(ctx, scope, fingerprint, now, lease)
	if err == nil && !claimed && rec.State == store.IdempotencyInProgress && !rec.ExpiresAt.After(now) {
		// The claim's holder died mid-call (its lease ran out): it may have
		// reached the provider, so its outcome is unknown, not free to make again.
		// Turn it into an unknown outcome (whoever does it first) and claim
		// again: the same request settles it, another is a mismatch.
		if err = k.st.AbandonIdempotencyKey(ctx, scope, now, k.abandoned(now)); err == nil || errors.Is(err, store.ErrNotFound) {
			rec, claimed, err = k.st.ClaimIdempotencyKey(ctx, scope, fingerprint, now, lease)
		}
	}
	if err != nil {
		return Result{}, err
	}
	if claimed {
		c := &Claim{k: k, scope: scope, token: rec.Token, deadline: lease.Add(-k.margin / 2), settling: rec.OutcomeUnknown}
		if rec.OutcomeUnknown {
			return Result{Outcome: Settle, Claim: c,
				Response: Response{Status: rec.Status, ContentType: rec.ContentType, Body: rec.Body}}, nil
		}
		return Result{Outcome: Claimed, Claim: c}, nil
	}
	switch {
	case rec.Fingerprint != fingerprint:
		return Result{Outcome: Mismatch}, nil
	case rec.State == store.IdempotencyInProgress:
		return Result{Outcome: InProgress}, nil
	case rec.OutcomeUnknown:
		return Result{Outcome: Unsettled, RetryAfter: max(InProgressRetryAfter, rec.LeaseUntil.Sub(now))}, nil
	case rec.BodyOmitted:
		return Result{Outcome: NotReplayable}, nil
	}
	return Result{Outcome: Replay, Response: Response{Status: rec.Status, ContentType: rec.ContentType, Body: rec.Body}}, nil
}

// Claim is a key held by one request while its call runs, or while it settles an
// unknown outcome. Its methods may be called from any goroutine, but only one of
// Complete, CompleteUnknown and Release should be.
type Claim struct {
	k        *Keeper
	scope    store.IdempotencyScope
	token    string
	deadline time.Time
	settling bool
}

// Settling reports whether the claim settles an earlier unknown outcome (Begin's
// Settle) rather than making a first call.
func (c *Claim) Settling() bool { return c.settling }

// Deadline is when the call must have ended: half a lease margin before the lease
// expires, leaving the rest for storing the answer.
func (c *Claim) Deadline() time.Time { return c.deadline }

// Complete stores the call's answer for replay until the TTL passes. An answer larger
// than MaxBody is stored as not replayable. store.ErrNotFound means the claim was
// lost (its lease ran out and it was abandoned): the answer is not
// stored.
func (c *Claim) Complete(ctx context.Context, r Response) error {
	out := store.IdempotencyOutcome{
		Status: r.Status, ContentType: r.ContentType, Body: r.Body, ExpiresAt: c.k.now().Add(c.k.ttl),
	}
	if len(r.Body) > c.k.maxBody {
		out.Body, out.BodyOmitted = nil, true
	}
	return c.k.st.CompleteIdempotencyKey(ctx, c.scope, c.token, out)
}

// Pending returns the answer a successful call will give, to be stored in
// the transaction that records the booking it makes (store.WithPendingAnswer
// on the call's context). When it reports Stored after the call, Complete is
// not needed; otherwise Complete as usual.
func (c *Claim) Pending(status int, contentType string) *store.PendingAnswer {
	return &store.PendingAnswer{Scope: c.scope, Token: c.token, MaxBody: c.k.maxBody,
		Outcome: store.IdempotencyOutcome{Status: status, ContentType: contentType, ExpiresAt: c.k.now().Add(c.k.ttl)}}
}

// CompleteUnknown stores an outcome_unknown answer: the call may have reached the
// provider without an answer coming back. It is kept for the TTL but never
// replayed as final: after hold (the Retry-After sent with it), a retry of the same
// request settles it (Begin's Settle). store.ErrNotFound means the claim was lost.
func (c *Claim) CompleteUnknown(ctx context.Context, r Response, hold time.Duration) error {
	now := c.k.now()
	out := store.IdempotencyOutcome{
		Status: r.Status, ContentType: r.ContentType, Body: r.Body, ExpiresAt: now.Add(c.k.ttl), Unknown: true,
	}
	if hold > 0 {
		out.HoldUntil = now.Add(hold)
	}
	if len(r.Body) > c.k.maxBody {
		out.Body, out.BodyOmitted = nil, true
	}
	return c.k.st.CompleteIdempotencyKey(ctx, c.scope, c.token, out)
}

// Release gives the key up without storing anything, for a request that failed
// before its call was made: a first claim frees the key; a settling claim leaves
// the outcome unknown, to be settled by the next retry. Releasing a lost claim is
// store.ErrNotFound.
func (c *Claim) Release(ctx context.Context) error {
	return c.k.st.ReleaseIdempotencyKey(ctx, c.scope, c.token)
}

// abandonedDetail explains the unknown outcome a dead claim becomes.
const abandonedDetail = "the hub that made the first request with this Idempotency-Key stopped before its answer was stored; the request may have reached the provider. A retry with the same key and body settles it: the hub looks the result up, or asks you to confirm nothing was created"

// abandoned is the unknown outcome a claim whose lease ran out becomes at now:
// an outcome_unknown problem, kept for the TTL and settled by the next retry
// (no hold: its holder is gone).
func (k *Keeper) abandoned(now time.Time) store.IdempotencyOutcome {
	body, _ := json.Marshal(map[string]any{
		"type": "urn:carrierhub:problem:outcome_unknown", "title": "The outcome is unknown", "status": http.StatusBadGateway,
		"code": "outcome_unknown", "source": "hub", "detail": abandonedDetail,
	})
	return store.IdempotencyOutcome{Status: http.StatusBadGateway, ContentType: "application/problem+json", Body: body,
		ExpiresAt: now.Add(k.ttl), Unknown: true}
}

// Sweep turns every claim past its lease into an unknown outcome (see Begin)
// and deletes every answer past its TTL; it returns how many rows it deleted.
func (k *Keeper) Sweep(ctx context.Context) (int64, error) {
	now := k.now()
	abandoned, err := k.st.AbandonIdempotencyKeys(ctx, now, k.abandoned(now))
	if err != nil {
		return 0, err
	}
	if abandoned > 0 {
		k.log.WarnContext(ctx, "idempotency claims abandoned by a stopped hub are now unknown outcomes", "rows", abandoned)
	}
	return k.st.PurgeIdempotencyKeys(ctx, now)
}

// RunSweeper calls Sweep now and then every interval (DefaultSweepInterval when not
// positive) until ctx is done, logging failures and how many rows each sweep removed.
// hub serve runs it in a goroutine of its own; several replicas may run it at once.
func (k *Keeper) RunSweeper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := k.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			k.log.WarnContext(ctx, "idempotency sweep failed", "error", err)
		case n > 0:
			k.log.InfoContext(ctx, "idempotency keys purged", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
