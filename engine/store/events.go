package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/telemetry"
)

// Limits on outbox rows.
const (
	// MaxEventData is the largest event payload, in bytes of JSON.
	MaxEventData = 1 << 20
	// MaxEventBatch is the most events one AppendEvents call (or one ReadEvents
	// page) takes.
	MaxEventBatch = 1000
	// maxSubjectLen bounds an event's subject and a tracking number.
	maxSubjectLen = 255
	// maxSinkLen bounds a sink's name.
	maxSinkLen = 100
	// eventIDPrefix starts every event id.
	eventIDPrefix = "evt_"
	// MaxTraceState bounds a stored W3C tracestate, in bytes: the length the
	// W3C Trace Context specification asks every vendor to propagate. A longer
	// one taken from a context is dropped rather than cut.
	MaxTraceState = 512
)

// traceParentPattern is a W3C traceparent of version 00 as engine/tracing
// writes it: lower-case hex, nonzero ids checked separately.
var traceParentPattern = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// traceContext returns the trace context to store with e: its own, or else
// that of ctx's span.
func traceContext(ctx context.Context, e events.Event) (parent, state string) {
	if e.TraceParent != "" {
		return e.TraceParent, e.TraceState
	}
	parent, state = telemetry.TraceParent(ctx), telemetry.TraceState(ctx)
	if len(state) > MaxTraceState {
		state = ""
	}
	return parent, state
}

// checkTraceContext validates a trace context given with an event or delivery.
func checkTraceContext(field func(string) string, parent, state string) error {
	switch {
	case parent == "" && state != "":
		return invalid(field("trace_state"), "needs a trace_parent")
	case parent != "" && (!traceParentPattern.MatchString(parent) || parent[:2] == "ff" ||
		parent[3:35] == strings.Repeat("0", 32) || parent[36:52] == strings.Repeat("0", 16)):
		return invalid(field("trace_parent"), "is not a W3C traceparent")
	case len(state) > MaxTraceState:
		return invalid(field("trace_state"), "is %d bytes, longer than %d", len(state), MaxTraceState)
	}
	return checkText(field("trace_state"), state)
}

// EventStore is the transactional outbox and the relays' bookkeeping. Events written
// by the store's state-changing methods (ShipmentStore) are appended in the same
// transaction as the change; AppendEvents is for events that change no state.
//
// Every appended event gets a Seq: strictly increasing in the order the appending
// transactions commit, so a reader that has seen Seq N never later finds a committed
// event below N (see migrations/00003_events.sql for how). A relay keeps one cursor
// per sink: the last Seq the sink accepted.
type EventStore interface {
	// AppendEvents validates and stores events in one transaction, in order, and
	// returns them as stored. An empty ID gets "evt_" and a time-ordered unique
	// suffix; a zero Time gets the current time. Times are kept to the millisecond,
	// in UTC. An empty TraceParent takes the W3C trace context of ctx's span (see
	// engine/tracing), so the events of a call continue its trace; so do the
	// events the store's state-changing methods append. A malformed event is a
	// *ValidationError and nothing is stored; an ID already used is ErrConflict.
	AppendEvents(ctx context.Context, evs []events.Event) ([]events.Stored, error)
	// ReadEvents returns up to limit events (1 to MaxEventBatch) with Seq after
	// after, in Seq order.
	ReadEvents(ctx context.Context, after events.Seq, limit int) ([]events.Stored, error)
	// GetCursor returns a sink's cursor: 0 for a sink never seen.
	GetCursor(ctx context.Context, sink string) (events.Seq, error)
	// SetCursor moves a sink's cursor forward to seq; a seq behind the cursor leaves
	// it where it is, so a slow relay replica cannot move it back.
	SetCursor(ctx context.Context, sink string, seq events.Seq) error
	// AcquireSinkLease gives owner the right to deliver to sink until now+ttl. It
	// succeeds when the sink has no live lease or owner already holds it (renewal);
	// otherwise it returns false. Of concurrent claimants, at most one wins.
	AcquireSinkLease(ctx context.Context, sink, owner string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseSinkLease ends owner's lease on sink, so another replica may take over
	// at once; releasing a lease not held is not an error.
	ReleaseSinkLease(ctx context.Context, sink, owner string) error
	// PurgeEvents deletes the events written before the given time that every sink's
	// cursor has passed, and returns how many. With no cursor at all, nothing is
	// deleted: no relay has run yet, and every event is still owed.
	PurgeEvents(ctx context.Context, before time.Time) (int64, error)
}

var _ EventStore = (*sqlStore)(nil)

// eventIDEncoding is base32 in an alphabet whose ASCII order is its numeric order, so
// ids sort by their leading timestamp.
var eventIDEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewEventID returns a fresh event id: "evt_", then 26 characters encoding the
// current millisecond (48 bits) and 80 random bits, so ids made later sort later
// (from one millisecond to the next) and never collide in practice.
func NewEventID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails on supported platforms.
	return eventIDPrefix + eventIDEncoding.EncodeToString(b[:])
}

// checkEvent validates an event before it is stored; i is its index in the batch.
func checkEvent(i int, e events.Event) error {
	field := func(name string) string { return fmt.Sprintf("events[%d].%s", i, name) }
	switch {
	case !e.Type.Known():
		if err := checkText(field("type"), string(e.Type)); err != nil || len(e.Type) > 64 {
			return invalid(field("type"), "is not a canonical event type")
		}
		return invalid(field("type"), "%q is not a canonical event type", e.Type)
	case e.TenantID != "" && !validID(tenantPrefix, e.TenantID):
		return invalid(field("tenant_id"), "is not a tenant id")
	case e.ID != "" && (!strings.HasPrefix(e.ID, eventIDPrefix) || len(e.ID) > 64 || len(e.ID) <= len(eventIDPrefix)):
		return invalid(field("id"), "must be %q and 1 to 60 characters", eventIDPrefix)
	case len(e.Data) > MaxEventData:
		return invalid(field("data"), "is %d bytes, longer than %d", len(e.Data), MaxEventData)
	case len(e.Data) == 0 || !json.Valid(e.Data):
		return invalid(field("data"), "must be a JSON value")
	}
	if err := checkText(field("id"), e.ID); err != nil {
		return err
	}
	if err := checkSubject(field("subject"), e.Subject); err != nil {
		return err
	}
	if e.Connector != "" && !connectorIDPattern.MatchString(e.Connector) {
		return invalid(field("connector"), "must be lower snake case, 2 to 63 characters")
	}
	if err := checkTraceContext(field, e.TraceParent, e.TraceState); err != nil {
		return err
	}
	return checkRef(field("account"), e.Account, true)
}

// checkSubject validates a subject or tracking number: 1 to 255 bytes of printable text.
func checkSubject(field, s string) error {
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > maxSubjectLen:
		return invalid(field, "is %d bytes, longer than %d", len(s), maxSubjectLen)
	}
	return checkText(field, s)
}

// checkRef validates a short reference such as an account id: at most 100 bytes of
// printable text, and not empty unless optional.
func checkRef(field, s string, optional bool) error {
	switch {
	case s == "" && !optional:
		return invalid(field, "must not be empty")
	case len(s) > 100:
		return invalid(field, "is %d bytes, longer than 100", len(s))
	}
	return checkText(field, s)
}

func checkSink(sink string) error {
	switch {
	case sink == "":
		return invalid("sink", "must not be empty")
	case len(sink) > maxSinkLen:
		return invalid("sink", "is %d bytes, longer than %d", len(sink), maxSinkLen)
	}
	return checkText("sink", sink)
}

// AppendEvents stores events with no state change; see EventStore.
func (s *sqlStore) AppendEvents(ctx context.Context, evs []events.Event) ([]events.Stored, error) {
	if len(evs) == 0 {
		return []events.Stored{}, nil
	}
	if len(evs) > MaxEventBatch {
		return nil, invalid("events", "holds %d events, more than %d", len(evs), MaxEventBatch)
	}
	for i, e := range evs {
		if err := checkEvent(i, e); err != nil {
			return nil, err
		}
	}
	var out []events.Stored
	err := s.db.inTx(ctx, func(q querier) error {
		var err error
		out, err = s.appendEvents(ctx, q, evs)
		return err
	})
	if err != nil {
		return nil, s.eventsErr(err)
	}
	return out, nil
}

// eventsErr classifies an error of a transaction that appended events.
func (s *sqlStore) eventsErr(err error) error {
	if s.db.kind(err) == kindUnique {
		return fmt.Errorf("event id: %w", ErrConflict)
	}
	if _, ok := err.(*ValidationError); ok {
		return err
	}
	return s.dbErr("appending events", err)
}

// eventInsertChunk is how many rows one INSERT statement carries.
const eventInsertChunk = 50

// appendEvents writes already-validated events inside transaction q: it allocates
// their seqs from event_counter, whose row lock it then holds until q commits (see
// migrations/00003_events.sql), so callers append events as the last writes of a
// transaction.
func (s *sqlStore) appendEvents(ctx context.Context, q querier, evs []events.Event) ([]events.Stored, error) {
	now, nowMS := s.stamp()
	var last int64
	if err := q.queryRow(ctx, `UPDATE event_counter SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq`,
		[]any{int64(len(evs))}, &last); err != nil {
		return nil, err
	}
	out := make([]events.Stored, len(evs))
	first := last - int64(len(evs)) + 1
	for i, e := range evs {
		if e.ID == "" {
			e.ID = NewEventID(now)
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = fromMillis(millis(e.Time))
		e.TraceParent, e.TraceState = traceContext(ctx, e)
		out[i] = events.Stored{Event: e, Seq: events.Seq(first + int64(i))}
	}
	for start := 0; start < len(out); start += eventInsertChunk {
		chunk := out[start:min(start+eventInsertChunk, len(out))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO events (seq, id, tenant_id, type, subject, connector_id, account_id, time, data, created_at,
			trace_parent, trace_state) VALUES `)
		args := make([]any, 0, len(chunk)*12)
		for i, e := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
				n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12)
			args = append(args, int64(e.Seq), e.ID, e.TenantID, string(e.Type), e.Subject, e.Connector, e.Account,
				millis(e.Time), string(e.Data), nowMS, e.TraceParent, e.TraceState)
		}
		if _, err := q.exec(ctx, sb.String(), args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadEvents returns a page of the outbox; see EventStore.
func (s *sqlStore) ReadEvents(ctx context.Context, after events.Seq, limit int) ([]events.Stored, error) {
	if limit < 1 || limit > MaxEventBatch {
		return nil, invalid("limit", "must be 1 to %d, not %d", MaxEventBatch, limit)
	}
	out := make([]events.Stored, 0, min(limit, 64))
	err := s.db.query(ctx, `SELECT seq, id, tenant_id, type, subject, connector_id, account_id, time, data,
		trace_parent, trace_state FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, []any{int64(after), int64(limit)},
		func(scan func(...any) error) error {
			var e events.Stored
			var seq, ms int64
			var typ, data string
			if err := scan(&seq, &e.ID, &e.TenantID, &typ, &e.Subject, &e.Connector, &e.Account, &ms, &data,
				&e.TraceParent, &e.TraceState); err != nil {
				return err
			}
			e.Seq, e.Type, e.Time, e.Data = events.Seq(seq), events.Type(typ), fromMillis(ms), json.RawMessage(data)
			out = append(out, e)
			return nil
		})
	if err != nil {
		return nil, s.dbErr("reading events", err)
	}
	return out, nil
}

// GetCursor returns a sink's cursor; see EventStore.
func (s *sqlStore) GetCursor(ctx context.Context, sink string) (events.Seq, error) {
	if err := checkSink(sink); err != nil {
		return 0, err
	}
	var seq int64
	err := s.db.queryRow(ctx, `SELECT seq FROM event_cursors WHERE sink = $1`, []any{sink}, &seq)
	if err == errNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, s.dbErr("reading cursor", err)
	}
	return events.Seq(seq), nil
}

// SetCursor moves a sink's cursor forward; see EventStore.
func (s *sqlStore) SetCursor(ctx context.Context, sink string, seq events.Seq) error {
	if err := checkSink(sink); err != nil {
		return err
	}
	if seq < 0 {
		return invalid("seq", "must not be negative")
	}
	_, ms := s.stamp()
	_, err := s.db.exec(ctx, `INSERT INTO event_cursors (sink, seq, lease_owner, lease_until, updated_at)
		VALUES ($1, $2, '', 0, $3)
		ON CONFLICT (sink) DO UPDATE SET
			seq = CASE WHEN event_cursors.seq > excluded.seq THEN event_cursors.seq ELSE excluded.seq END,
			updated_at = excluded.updated_at`, sink, int64(seq), ms)
	if err != nil {
		return s.dbErr("setting cursor", err)
	}
	return nil
}

// AcquireSinkLease claims or renews a sink's lease; see EventStore.
func (s *sqlStore) AcquireSinkLease(ctx context.Context, sink, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkSink(sink); err != nil {
		return false, err
	}
	if err := checkRef("owner", owner, false); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, invalid("ttl", "must be positive")
	}
	nowMS := millis(now)
	n, err := s.db.exec(ctx, `INSERT INTO event_cursors (sink, seq, lease_owner, lease_until, updated_at)
		VALUES ($1, 0, $2, $3, $4)
		ON CONFLICT (sink) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
		WHERE event_cursors.lease_owner = excluded.lease_owner OR event_cursors.lease_until <= $5`,
		sink, owner, millis(now.Add(ttl)), nowMS, nowMS)
	if err != nil {
		return false, s.dbErr("acquiring sink lease", err)
	}
	return n == 1, nil
}

// ReleaseSinkLease ends a lease; see EventStore.
func (s *sqlStore) ReleaseSinkLease(ctx context.Context, sink, owner string) error {
	if err := checkSink(sink); err != nil {
		return err
	}
	_, err := s.db.exec(ctx, `UPDATE event_cursors SET lease_owner = '', lease_until = 0
		WHERE sink = $1 AND lease_owner = $2`, sink, owner)
	if err != nil {
		return s.dbErr("releasing sink lease", err)
	}
	return nil
}

// PurgeEvents deletes delivered, old events; see EventStore.
func (s *sqlStore) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.db.exec(ctx, `DELETE FROM events WHERE created_at < $1
		AND seq <= (SELECT MIN(seq) FROM event_cursors)`, millis(before))
	if err != nil {
		return 0, s.dbErr("purging events", err)
	}
	return n, nil
}
