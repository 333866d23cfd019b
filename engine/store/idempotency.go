package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"
)

// Limits on idempotency rows.
const (
	// MaxIdempotencyKeyLen is the longest idempotency key, in bytes (Stripe's limit).
	MaxIdempotencyKeyLen = 255
	// MaxIdempotencyBody is the largest answer body a row keeps, in bytes. A larger
	// answer is recorded with BodyOmitted instead (engine/idempotency decides).
	MaxIdempotencyBody = 1 << 20
	// maxContentTypeLen bounds the stored Content-Type.
	maxContentTypeLen = 255
)

// IdempotencyState is where an idempotency key's first request is.
type IdempotencyState string

// Idempotency key states.
const (
	// IdempotencyInProgress: a request claimed the key and its call has not finished.
	IdempotencyInProgress IdempotencyState = "in_progress"
	// IdempotencyCompleted: the first request's answer is stored for replay.
	IdempotencyCompleted IdempotencyState = "completed"
)

// IdempotencyScope names one idempotency key. The same key string in another tenant,
// connector or operation is another key.
type IdempotencyScope struct {
	// TenantID is the calling tenant.
	TenantID string
	// ConnectorID is the connector called.
	ConnectorID string
	// Operation is the canonical operation (create_shipment).
	Operation string
	// Key is the caller's Idempotency-Key: 1 to MaxIdempotencyKeyLen printable ASCII
	// characters (space included), taken verbatim.
	Key string
}

// IdempotencyRecord is a stored idempotency key.
type IdempotencyRecord struct {
	IdempotencyScope
	// Fingerprint is the hex SHA-256 of the request that claimed the key.
	Fingerprint string
	// Token proves ownership of an in-progress claim. It is set only on the record
	// ClaimIdempotencyKey returns to the request that won the claim.
	Token string
	// State says whether the answer is stored yet.
	State IdempotencyState
	// Status is the answer's HTTP status; 0 while in progress.
	Status int
	// ContentType is the answer's Content-Type.
	ContentType string
	// Body is the answer's body, byte for byte; nil while in progress or when omitted.
	Body []byte
	// BodyOmitted is true when the answer was larger than the store keeps.
	BodyOmitted bool
	// OutcomeUnknown is true on a completed row whose answer is not final: the
	// call may have reached the provider without an answer coming back (an
	// outcome_unknown problem). A request with the same fingerprint may take the
	// row to settle it (see ClaimIdempotencyKey).
	OutcomeUnknown bool
	// LeaseUntil is, on an OutcomeUnknown row, when the current settlement's
	// lease ends, or the wait before the first one; zero when it may be settled
	// now.
	LeaseUntil time.Time
	// CreatedAt is when the current claim was made.
	CreatedAt time.Time
	// ExpiresAt is when the claim's lease ends (in progress: from then on it may
	// be abandoned, see AbandonIdempotencyKey) or the replay window closes
	// (completed: from then on the key may be claimed afresh).
	ExpiresAt time.Time
}

// IdempotencyOutcome is the answer a claim's holder records.
type IdempotencyOutcome struct {
	// Status is the HTTP status, 100 to 599.
	Status int
	// ContentType is the answer's Content-Type.
	ContentType string
	// Body is the answer's body, at most MaxIdempotencyBody bytes; nil when omitted.
	Body []byte
	// BodyOmitted records that the answer was too large to keep.
	BodyOmitted bool
	// ExpiresAt is the end of the replay window.
	ExpiresAt time.Time
	// Unknown records the answer as an unknown outcome, not a final one: the
	// row's OutcomeUnknown.
	Unknown bool
	// HoldUntil is, with Unknown, the earliest time the row may be taken to
	// settle it (its LeaseUntil); zero for at once.
	HoldUntil time.Time
}

// IdempotencyStore keeps idempotency keys of creating operations. Every backend
// implements it; engine/idempotency builds the HTTP semantics on top. Times are passed
// in, not read from a clock, so callers decide what "now" is; they are kept to the
// millisecond like every other time in the store.
//
// A scope whose tenant id is not a tenant's is ErrNotFound; a malformed key,
// connector id, operation, fingerprint or outcome is a *ValidationError.
type IdempotencyStore interface {
	// ClaimIdempotencyKey atomically claims a key for a request with the given
	// fingerprint, holding it in progress until leaseUntil. It succeeds (claimed true,
	// the new record with its Token) when no row exists or the existing row is
	// completed and its ExpiresAt is not after now. An in-progress row whose lease
	// ran out is not taken: its holder may have reached the provider before it
	// died, so it is returned (claimed false) for the caller to abandon
	// (AbandonIdempotencyKey) and then settle. It also succeeds on an unexpired OutcomeUnknown row
	// with the same fingerprint whose LeaseUntil is not after now: that is a claim to
	// settle it, and the record returned is the row as it stands (completed,
	// OutcomeUnknown, its answer) with a new Token and LeaseUntil set to leaseUntil.
	// Otherwise it returns the existing row (without its Token) and claimed false. Of
	// any number of concurrent claims, at most one wins.
	ClaimIdempotencyKey(ctx context.Context, scope IdempotencyScope, fingerprint string, now, leaseUntil time.Time) (rec IdempotencyRecord, claimed bool, err error)
	// CompleteIdempotencyKey stores the answer of the claim holding token (in
	// progress, or settling an unknown outcome) and marks the key completed until
	// out.ExpiresAt: a final answer, or with out.Unknown an unknown outcome again.
	// The token is spent. ErrNotFound means the claim was lost: the row is gone,
	// completed, abandoned after its lease ran out (AbandonIdempotencyKey), or,
	// for a settlement, taken by another settler after its lease ran out.
	CompleteIdempotencyKey(ctx context.Context, scope IdempotencyScope, token string, out IdempotencyOutcome) error
	// ReleaseIdempotencyKey deletes an in-progress claim held with token, so the key
	// can be used again at once; a claim settling an unknown outcome is given up
	// instead (the row stays OutcomeUnknown, with no lease). ErrNotFound when that
	// claim no longer exists.
	ReleaseIdempotencyKey(ctx context.Context, scope IdempotencyScope, token string) error
	// GetIdempotencyKey returns a key's row, expired or not (without its Token), or
	// ErrNotFound.
	GetIdempotencyKey(ctx context.Context, scope IdempotencyScope) (IdempotencyRecord, error)
	// AbandonIdempotencyKey turns the key's in-progress claim whose lease ran out
	// (ExpiresAt not after now; its holder died or lost its store mid-call) into
	// the unknown outcome out (out.Unknown is implied): completed, OutcomeUnknown,
	// until out.ExpiresAt, to be settled by a retry of the same request.
	// ErrNotFound when the key has no such claim (none, live, or completed).
	AbandonIdempotencyKey(ctx context.Context, scope IdempotencyScope, now time.Time, out IdempotencyOutcome) error
	// AbandonIdempotencyKeys does what AbandonIdempotencyKey does for every
	// in-progress claim whose lease ran out, and returns how many it turned.
	AbandonIdempotencyKeys(ctx context.Context, now time.Time, out IdempotencyOutcome) (int64, error)
	// PurgeIdempotencyKeys deletes every completed row whose ExpiresAt is not
	// after now and returns how many it deleted. In-progress claims are never
	// purged: one whose lease ran out is abandoned first.
	PurgeIdempotencyKeys(ctx context.Context, now time.Time) (int64, error)
}

var _ IdempotencyStore = (*sqlStore)(nil)

var (
	operationPattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	fingerprintPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// CheckIdempotencyKey reports whether key can be stored: 1 to MaxIdempotencyKeyLen
// bytes of printable ASCII (0x20 to 0x7e). The error never quotes the key.
func CheckIdempotencyKey(key string) error {
	switch {
	case key == "":
		return invalid("idempotency_key", "must not be empty")
	case len(key) > MaxIdempotencyKeyLen:
		return invalid("idempotency_key", "is %d bytes, longer than %d", len(key), MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return invalid("idempotency_key", "must be printable ASCII; byte %d is 0x%02x", i, c)
		}
	}
	return nil
}

// checkScope validates a scope; a malformed tenant id is reported as not found, like
// everywhere else in the store.
func checkScope(sc IdempotencyScope) error {
	if !validID(tenantPrefix, sc.TenantID) {
		return notFound("tenant", sc.TenantID)
	}
	if !connectorIDPattern.MatchString(sc.ConnectorID) {
		return invalid("connector_id", "must be lower snake case, 2 to 63 characters")
	}
	if !operationPattern.MatchString(sc.Operation) {
		return invalid("operation", "must be lower snake case, 1 to 63 characters")
	}
	return CheckIdempotencyKey(sc.Key)
}

func checkOutcome(out IdempotencyOutcome) error {
	switch {
	case out.Status < 100 || out.Status > 599:
		return invalid("status", "must be an HTTP status, 100 to 599, not %d", out.Status)
	case len(out.ContentType) > maxContentTypeLen:
		return invalid("content_type", "is %d bytes, longer than %d", len(out.ContentType), maxContentTypeLen)
	case len(out.Body) > MaxIdempotencyBody:
		return invalid("body", "is %d bytes, longer than %d; record it as omitted", len(out.Body), MaxIdempotencyBody)
	case out.BodyOmitted && len(out.Body) > 0:
		return invalid("body", "must be empty when omitted")
	case out.ExpiresAt.IsZero():
		return invalid("expires_at", "must be set")
	case !out.Unknown && !out.HoldUntil.IsZero():
		return invalid("hold_until", "is only for unknown outcomes")
	}
	return checkText("content_type", out.ContentType)
}

// idempotencyClaimQuery inserts an in-progress row, or takes over a completed one
// whose replay window closed (an in-progress one whose lease ran out is abandoned
// instead, never taken over: see AbandonIdempotencyKey). The conflict clause makes the claim one atomic statement in both databases: of
// concurrent claimants, one inserts and the others see its row, which has not expired,
// so their update matches nothing.
const idempotencyClaimQuery = `INSERT INTO idempotency_keys
	(tenant_id, connector_id, operation, idem_key, fingerprint, token, state,
	 http_status, content_type, body, body_omitted, created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, 'in_progress', 0, '', NULL, FALSE, $7, $8)
	ON CONFLICT (tenant_id, connector_id, operation, idem_key) DO UPDATE SET
		fingerprint = excluded.fingerprint, token = excluded.token, state = 'in_progress',
		http_status = 0, content_type = '', body = NULL, body_omitted = FALSE,
		created_at = excluded.created_at, expires_at = excluded.expires_at,
		outcome_unknown = FALSE, lease_until = NULL
	WHERE idempotency_keys.expires_at <= $9 AND idempotency_keys.state = 'completed'`

// idempotencySettleQuery takes an unexpired unknown outcome with the same
// fingerprint and no live lease, to settle it. The conditions make it one atomic
// statement: of concurrent settlers, one updates and the others match nothing.
const idempotencySettleQuery = `UPDATE idempotency_keys SET token = $1, lease_until = $2
	WHERE tenant_id = $3 AND connector_id = $4 AND operation = $5 AND idem_key = $6
	AND state = 'completed' AND outcome_unknown AND fingerprint = $7 AND expires_at > $8
	AND (lease_until IS NULL OR lease_until <= $9)`

// ClaimIdempotencyKey claims a key; see IdempotencyStore.
func (s *sqlStore) ClaimIdempotencyKey(ctx context.Context, sc IdempotencyScope, fingerprint string, now, leaseUntil time.Time) (IdempotencyRecord, bool, error) {
	if err := checkScope(sc); err != nil {
		return IdempotencyRecord{}, false, err
	}
	if !fingerprintPattern.MatchString(fingerprint) {
		return IdempotencyRecord{}, false, invalid("fingerprint", "must be 64 lowercase hex digits")
	}
	nowMS, leaseMS := millis(now), millis(leaseUntil)
	if leaseMS <= nowMS {
		return IdempotencyRecord{}, false, invalid("lease", "must end after now")
	}
	// A row seen by the failed claim can vanish (released, purged) before it is read
	// back; then the key is free and the claim is tried again. Three rounds are
	// plenty: each needs another request to release the key in between.
	for range 3 {
		token := newID("")
		n, err := s.db.exec(ctx, idempotencyClaimQuery, sc.TenantID, sc.ConnectorID, sc.Operation, sc.Key,
			fingerprint, token, nowMS, leaseMS, nowMS)
		if err != nil {
			if s.db.kind(err) == kindForeignKey {
				return IdempotencyRecord{}, false, notFound("tenant", sc.TenantID)
			}
			return IdempotencyRecord{}, false, s.dbErr("claiming idempotency key", err)
		}
		if n == 1 {
			return IdempotencyRecord{
				IdempotencyScope: sc, Fingerprint: fingerprint, Token: token, State: IdempotencyInProgress,
				CreatedAt: fromMillis(nowMS), ExpiresAt: fromMillis(leaseMS),
			}, true, nil
		}
		rec, err := s.getIdempotencyKey(ctx, sc)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return IdempotencyRecord{}, false, err
		}
		if rec.OutcomeUnknown && rec.Fingerprint == fingerprint && rec.ExpiresAt.After(fromMillis(nowMS)) &&
			(rec.LeaseUntil.IsZero() || !rec.LeaseUntil.After(fromMillis(nowMS))) {
			n, err := s.db.exec(ctx, idempotencySettleQuery, token, leaseMS, sc.TenantID, sc.ConnectorID, sc.Operation, sc.Key,
				fingerprint, nowMS, nowMS)
			if err != nil {
				return IdempotencyRecord{}, false, s.dbErr("claiming idempotency key", err)
			}
			if n == 1 {
				rec.Token, rec.LeaseUntil = token, fromMillis(leaseMS)
				return rec, true, nil
			}
			// Another request took it first: report the row as it is now.
			if rec, err = s.getIdempotencyKey(ctx, sc); errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return IdempotencyRecord{}, false, err
			}
		}
		return rec, false, nil
	}
	return IdempotencyRecord{}, false, fmt.Errorf("claiming idempotency key: %w", ErrConflict)
}

// CompleteIdempotencyKey stores a claim's answer; see IdempotencyStore.
func (s *sqlStore) CompleteIdempotencyKey(ctx context.Context, sc IdempotencyScope, token string, out IdempotencyOutcome) error {
	if err := checkScope(sc); err != nil {
		return err
	}
	if err := checkOutcome(out); err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("idempotency claim: %w", ErrNotFound)
	}
	n, err := completeIdempotencyKey(ctx, s.db, sc, token, out)
	if err != nil {
		return s.dbErr("completing idempotency key", err)
	}
	if n == 0 {
		return fmt.Errorf("idempotency claim: %w", ErrNotFound)
	}
	return nil
}

// completeIdempotencyKey stores a checked outcome for the claim holding token,
// in q (the database, or a transaction); it returns how many rows it changed:
// 0 when the claim was lost.
func completeIdempotencyKey(ctx context.Context, q querier, sc IdempotencyScope, token string, out IdempotencyOutcome) (int64, error) {
	body, hold := outcomeColumns(out)
	return q.exec(ctx, `UPDATE idempotency_keys SET state = 'completed', http_status = $1,
		content_type = $2, body = $3, body_omitted = $4, expires_at = $5, outcome_unknown = $6,
		lease_until = $7, token = ''
		WHERE tenant_id = $8 AND connector_id = $9 AND operation = $10 AND idem_key = $11
		AND token = $12 AND (state = 'in_progress' OR outcome_unknown)`,
		int64(out.Status), out.ContentType, body, out.BodyOmitted, millis(out.ExpiresAt), out.Unknown, hold,
		sc.TenantID, sc.ConnectorID, sc.Operation, sc.Key, token)
}

// outcomeColumns are a checked outcome's body (empty, not NULL, unless
// omitted) and lease_until (an unknown outcome's hold; NULL for none).
func outcomeColumns(out IdempotencyOutcome) (body []byte, hold any) {
	body = out.Body
	if body == nil && !out.BodyOmitted {
		body = []byte{}
	}
	if out.Unknown && !out.HoldUntil.IsZero() {
		hold = millis(out.HoldUntil)
	}
	return body, hold
}

// PendingAnswer is a create's final idempotent answer, to be stored in the
// transaction that records the booking it answers (RecordShipment under
// WithPendingAnswer): the booking, its first poll and the stored answer are
// then one transaction. The answer's body is the response RecordShipment
// records, which for a create is the answer the API sends.
type PendingAnswer struct {
	// Scope and Token name the claim, as for CompleteIdempotencyKey.
	Scope IdempotencyScope
	Token string
	// Outcome is the answer but for its body; Body and BodyOmitted are set
	// from the recorded response.
	Outcome IdempotencyOutcome
	// MaxBody is the longest body kept for replay; a longer one is omitted.
	MaxBody int

	stored atomic.Bool
}

// Stored reports whether the answer was stored, its transaction committed.
// When it was not (the call failed, or recorded nothing, or the claim was
// lost meanwhile), the caller completes the key itself.
func (p *PendingAnswer) Stored() bool { return p.stored.Load() }

type pendingAnswerKey struct{}

// WithPendingAnswer returns a context under which RecordShipment stores p in
// its own transaction.
func WithPendingAnswer(ctx context.Context, p *PendingAnswer) context.Context {
	return context.WithValue(ctx, pendingAnswerKey{}, p)
}

// storePendingAnswer stores ctx's pending answer, if any, with body, in q (a
// transaction). A lost claim, or an answer that does not check, is left for
// the caller to complete (and report) as it would without one.
func storePendingAnswer(ctx context.Context, q querier, body []byte) (*PendingAnswer, error) {
	p, _ := ctx.Value(pendingAnswerKey{}).(*PendingAnswer)
	if p == nil || p.stored.Load() {
		return nil, nil
	}
	out := p.Outcome
	out.Body, out.BodyOmitted = body, false
	if len(body) > p.MaxBody || len(body) > MaxIdempotencyBody {
		out.Body, out.BodyOmitted = nil, true
	}
	if checkScope(p.Scope) != nil || checkOutcome(out) != nil || p.Token == "" {
		return nil, nil
	}
	n, err := completeIdempotencyKey(ctx, q, p.Scope, p.Token, out)
	if err != nil || n == 0 {
		return nil, err
	}
	return p, nil
}

// ReleaseIdempotencyKey drops an in-progress claim; see IdempotencyStore.
func (s *sqlStore) ReleaseIdempotencyKey(ctx context.Context, sc IdempotencyScope, token string) error {
	if err := checkScope(sc); err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("idempotency claim: %w", ErrNotFound)
	}
	n, err := s.db.exec(ctx, `DELETE FROM idempotency_keys
		WHERE tenant_id = $1 AND connector_id = $2 AND operation = $3 AND idem_key = $4
		AND token = $5 AND state = 'in_progress'`,
		sc.TenantID, sc.ConnectorID, sc.Operation, sc.Key, token)
	if err != nil {
		return s.dbErr("releasing idempotency key", err)
	}
	if n == 0 {
		// A settlement gives the unknown outcome back, as it found it.
		n, err = s.db.exec(ctx, `UPDATE idempotency_keys SET token = '', lease_until = NULL
			WHERE tenant_id = $1 AND connector_id = $2 AND operation = $3 AND idem_key = $4
			AND token = $5 AND outcome_unknown`,
			sc.TenantID, sc.ConnectorID, sc.Operation, sc.Key, token)
		if err != nil {
			return s.dbErr("releasing idempotency key", err)
		}
	}
	if n == 0 {
		return fmt.Errorf("idempotency claim: %w", ErrNotFound)
	}
	return nil
}

// GetIdempotencyKey reads a key's row; see IdempotencyStore.
func (s *sqlStore) GetIdempotencyKey(ctx context.Context, sc IdempotencyScope) (IdempotencyRecord, error) {
	if err := checkScope(sc); err != nil {
		return IdempotencyRecord{}, err
	}
	return s.getIdempotencyKey(ctx, sc)
}

func (s *sqlStore) getIdempotencyKey(ctx context.Context, sc IdempotencyScope) (IdempotencyRecord, error) {
	rec := IdempotencyRecord{IdempotencyScope: sc}
	var state string
	var status, created, expires int64
	var lease nullMillis
	var body []byte
	err := s.db.queryRow(ctx, `SELECT fingerprint, state, http_status, content_type, body, body_omitted,
		created_at, expires_at, outcome_unknown, lease_until FROM idempotency_keys
		WHERE tenant_id = $1 AND connector_id = $2 AND operation = $3 AND idem_key = $4`,
		[]any{sc.TenantID, sc.ConnectorID, sc.Operation, sc.Key},
		&rec.Fingerprint, &state, &status, &rec.ContentType, &body, &rec.BodyOmitted, &created, &expires,
		&rec.OutcomeUnknown, &lease)
	if errors.Is(err, errNoRows) {
		return IdempotencyRecord{}, fmt.Errorf("idempotency key: %w", ErrNotFound)
	}
	if err != nil {
		return IdempotencyRecord{}, s.dbErr("reading idempotency key", err)
	}
	rec.State = IdempotencyState(state)
	rec.Status = int(status)
	rec.CreatedAt, rec.ExpiresAt = fromMillis(created), fromMillis(expires)
	if lease.Valid {
		rec.LeaseUntil = fromMillis(lease.Int64)
	}
	if rec.State == IdempotencyCompleted && !rec.BodyOmitted && body == nil {
		body = []byte{}
	}
	rec.Body = body
	return rec, nil
}

// AbandonIdempotencyKey turns one dead claim into an unknown outcome; see
// IdempotencyStore.
func (s *sqlStore) AbandonIdempotencyKey(ctx context.Context, sc IdempotencyScope, now time.Time, out IdempotencyOutcome) error {
	if err := checkScope(sc); err != nil {
		return err
	}
	n, err := s.abandonIdempotencyKeys(ctx, now, out, `AND tenant_id = $8 AND connector_id = $9 AND operation = $10 AND idem_key = $11`,
		sc.TenantID, sc.ConnectorID, sc.Operation, sc.Key)
	if err == nil && n == 0 {
		err = fmt.Errorf("idempotency claim whose lease ran out: %w", ErrNotFound)
	}
	return err
}

// AbandonIdempotencyKeys turns every dead claim into an unknown outcome; see
// IdempotencyStore.
func (s *sqlStore) AbandonIdempotencyKeys(ctx context.Context, now time.Time, out IdempotencyOutcome) (int64, error) {
	return s.abandonIdempotencyKeys(ctx, now, out, "")
}

// abandonIdempotencyKeys runs the abandoning update on the in-progress rows
// whose lease ended by now and that match where (conditions from $8 on, bound
// to args).
func (s *sqlStore) abandonIdempotencyKeys(ctx context.Context, now time.Time, out IdempotencyOutcome, where string, args ...any) (int64, error) {
	out.Unknown = true
	if err := checkOutcome(out); err != nil {
		return 0, err
	}
	body, hold := outcomeColumns(out)
	n, err := s.db.exec(ctx, `UPDATE idempotency_keys SET state = 'completed', http_status = $1,
		content_type = $2, body = $3, body_omitted = $4, expires_at = $5, outcome_unknown = TRUE,
		lease_until = $6, token = ''
		WHERE state = 'in_progress' AND expires_at <= $7 `+where,
		append([]any{int64(out.Status), out.ContentType, body, out.BodyOmitted, millis(out.ExpiresAt), hold, millis(now)}, args...)...)
	if err != nil {
		return 0, s.dbErr("abandoning idempotency claims", err)
	}
	return n, nil
}

// PurgeIdempotencyKeys deletes expired answers; see IdempotencyStore.
func (s *sqlStore) PurgeIdempotencyKeys(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.db.exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= $1 AND state = 'completed'`, millis(now))
	if err != nil {
		return 0, s.dbErr("purging idempotency keys", err)
	}
	return n, nil
}
