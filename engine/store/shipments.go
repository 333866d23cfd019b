package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/model"
)

// Shipment is the hub's record of a shipment it booked or tracks, one per tenant,
// connector and tracking number.
type Shipment struct {
	// TenantID, ConnectorID and TrackingNumber identify the shipment.
	TenantID string `json:"tenant_id"`
	// ConnectorID is the carrier's connector.
	ConnectorID string `json:"connector"`
	// TrackingNumber is the carrier's master number (waybill, AWB).
	TrackingNumber string `json:"tracking_number"`
	// AccountID is the tenant's account the shipment was booked or tracked with.
	AccountID string `json:"account"`
	// Reference is the shipper's reference, when known.
	Reference string `json:"reference,omitempty"`
	// Booked is true when the hub booked it; false when it is only tracked.
	Booked bool `json:"booked"`
	// Status is the normalized status; it only moves forward.
	Status model.TrackingStatus `json:"status"`
	// SubStatus refines Status.
	SubStatus string `json:"sub_status,omitempty"`
	// LastEventAt is the time of the newest tracking scan applied.
	LastEventAt *time.Time `json:"last_event_at,omitempty"`
	// DeliveredAt is set once delivered.
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// NextPollAt is when the tracking poller should next ask the carrier; nil when
	// it should not (terminal, or pushed by the carrier).
	NextPollAt *time.Time `json:"next_poll_at,omitempty"`
	// CreatedAt is when the hub first recorded it.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when the record last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// ShipmentStore keeps shipments' state. Every method that changes a shipment writes
// the events the change causes in the same transaction (see EventStore), and returns
// them as stored: either both are durable or neither is.
//
// A tenant id that is not a tenant's is ErrNotFound; malformed arguments are a
// *ValidationError.
type ShipmentStore interface {
	// RecordShipment records a booking (Booked is set; Status defaults to pending)
	// and appends shipment.created with data, the connector's ShipmentResponse as
	// JSON. A shipment already tracked becomes booked and keeps its status when that
	// is further along; one already booked is left alone and no event is appended.
	// NextPollAt, when set, is the first tracking poll, in the same transaction,
	// unless a poll is scheduled already or the status is terminal; so is a
	// PendingAnswer the context carries (WithPendingAnswer).
	RecordShipment(ctx context.Context, sh Shipment, data json.RawMessage) ([]events.Stored, error)
	// CancelShipment records a cancellation the carrier confirmed and appends
	// shipment.cancelled with data, the connector's CancelResponse as JSON. The
	// status becomes cancelled when the current one may move there
	// (model.TrackingStatus Advances); an unknown shipment is inserted.
	CancelShipment(ctx context.Context, tenantID, connectorID, accountID, trackingNumber string, data json.RawMessage) ([]events.Stored, error)
	// ApplyTracking folds a tracking result into the shipment, inserting it when
	// the hub never saw it. The status moves forward only. When anything new
	// happened (a scan later than the last applied, or a status or sub-status
	// change) it appends tracking.updated, then shipment.delivered on reaching
	// delivered and shipment.exception on reaching exception or attempt_failed; the
	// same tracking applied twice appends nothing the second time. Reaching a
	// terminal status clears NextPollAt. Results with an item error are refused.
	ApplyTracking(ctx context.Context, tenantID, connectorID, accountID string, tr model.Tracking) ([]events.Stored, error)
	// TrackingIsNews reports whether ApplyTracking with tr would append events:
	// false when the hub already has everything tr says. It reads only tr's
	// number, status, sub-status and event times, so a caller can decode those
	// first and the rest only for news. A shipment the hub does not have is news.
	TrackingIsNews(ctx context.Context, tenantID, connectorID string, tr model.Tracking) (bool, error)
	// GetShipment returns a shipment, or ErrNotFound.
	GetShipment(ctx context.Context, tenantID, connectorID, trackingNumber string) (Shipment, error)
	// FindShipments returns a tenant's shipments, of any connector, whose
	// tracking number or reference is q exactly, newest first, at most limit
	// (1 to MaxEventBatch).
	FindShipments(ctx context.Context, tenantID, q string, limit int) ([]Shipment, error)
	// DueForPoll returns up to limit shipments whose NextPollAt is not after now,
	// earliest first.
	DueForPoll(ctx context.Context, now time.Time, limit int) ([]Shipment, error)
	// SetNextPoll sets when a shipment is next polled; the zero time clears it.
	// ErrNotFound when there is no such shipment.
	SetNextPoll(ctx context.Context, tenantID, connectorID, trackingNumber string, at time.Time) error
	// ClaimPoll takes a due poll for one replica: it moves the shipment's next
	// poll from due (the NextPollAt DueForPoll returned) to until, only if it
	// is still due. Of replicas claiming the same poll, one wins; the others
	// get ErrNotFound, as for a shipment that is gone or was rescheduled.
	ClaimPoll(ctx context.Context, tenantID, connectorID, trackingNumber string, due, until time.Time) error
}

var _ ShipmentStore = (*sqlStore)(nil)

// checkShipmentKey validates the identifying fields of a shipment.
func checkShipmentKey(tenantID, connectorID, trackingNumber string) error {
	if !validID(tenantPrefix, tenantID) {
		return notFound("tenant", tenantID)
	}
	if !connectorIDPattern.MatchString(connectorID) {
		return invalid("connector_id", "must be lower snake case, 2 to 63 characters")
	}
	return checkSubject("tracking_number", trackingNumber)
}

func checkShipmentData(data json.RawMessage) error {
	switch {
	case len(data) > MaxEventData:
		return invalid("data", "is %d bytes, longer than %d", len(data), MaxEventData)
	case len(data) == 0 || !json.Valid(data):
		return invalid("data", "must be a JSON value")
	}
	return nil
}

func validStatus(s model.TrackingStatus) bool {
	for _, k := range model.TrackingStatuses {
		if k == s {
			return true
		}
	}
	return false
}

// shipmentErr classifies an error from a shipment transaction.
func (s *sqlStore) shipmentErr(op, tenantID string, err error) error {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return err
	case s.db.kind(err) == kindForeignKey:
		return notFound("tenant", tenantID)
	case s.db.kind(err) == kindUnique:
		return fmt.Errorf("%s: %w", op, ErrConflict)
	}
	return s.dbErr(op, err)
}

// lockShipment inserts the shipment's row if missing and locks it for the rest of
// transaction q (the no-op update takes Postgres's row lock; SQLite's transaction
// already holds the database's write lock), then reads it.
func (s *sqlStore) lockShipment(ctx context.Context, q querier, tenantID, connectorID, accountID, trackingNumber string, nowMS int64) (Shipment, error) {
	_, err := q.exec(ctx, `INSERT INTO shipments (tenant_id, connector_id, tracking_number, account_id, reference,
		booked, status, sub_status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, '', FALSE, 'unknown', '', $5, $6)
		ON CONFLICT (tenant_id, connector_id, tracking_number) DO UPDATE SET updated_at = shipments.updated_at`,
		tenantID, connectorID, trackingNumber, accountID, nowMS, nowMS)
	if err != nil {
		return Shipment{}, err
	}
	return s.getShipment(ctx, q, tenantID, connectorID, trackingNumber)
}

const shipmentColumns = `tenant_id, connector_id, tracking_number, account_id, reference, booked, status,
	sub_status, last_event_at, delivered_at, next_poll_at, created_at, updated_at`

func scanShipment(scan func(...any) error) (Shipment, error) {
	var sh Shipment
	var status string
	var last, delivered, next nullMillis
	var created, updated int64
	if err := scan(&sh.TenantID, &sh.ConnectorID, &sh.TrackingNumber, &sh.AccountID, &sh.Reference, &sh.Booked,
		&status, &sh.SubStatus, &last, &delivered, &next, &created, &updated); err != nil {
		return Shipment{}, err
	}
	sh.Status = model.TrackingStatus(status)
	sh.LastEventAt, sh.DeliveredAt, sh.NextPollAt = last.ptr(), delivered.ptr(), next.ptr()
	sh.CreatedAt, sh.UpdatedAt = fromMillis(created), fromMillis(updated)
	return sh, nil
}

// ptr returns the time, or nil when NULL.
func (n nullMillis) ptr() *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMillis(n.Int64)
	return &t
}

// msOrNil is the stored form of an optional time.
func msOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return millis(*t)
}

func (s *sqlStore) getShipment(ctx context.Context, q querier, tenantID, connectorID, trackingNumber string) (Shipment, error) {
	return scanShipment(func(dest ...any) error {
		return q.queryRow(ctx, `SELECT `+shipmentColumns+` FROM shipments
			WHERE tenant_id = $1 AND connector_id = $2 AND tracking_number = $3`,
			[]any{tenantID, connectorID, trackingNumber}, dest...)
	})
}

// readShipment reads a shipment outside any transaction, from the cache when it
// has it (see shipmentCache).
func (s *sqlStore) readShipment(ctx context.Context, tenantID, connectorID, trackingNumber string) (Shipment, error) {
	k := shipmentKey{tenantID, connectorID, trackingNumber}
	if sh, ok := s.ships.get(k); ok {
		return sh, nil
	}
	gen := s.ships.generation()
	sh, err := s.getShipment(ctx, s.db, tenantID, connectorID, trackingNumber)
	if err == nil {
		s.ships.put(k, sh, gen)
	}
	return sh, err
}

// saveShipment writes a locked shipment's mutable fields back.
func saveShipment(ctx context.Context, q querier, sh Shipment) error {
	_, err := q.exec(ctx, `UPDATE shipments SET account_id = $1, reference = $2, booked = $3, status = $4,
		sub_status = $5, last_event_at = $6, delivered_at = $7, next_poll_at = $8, updated_at = $9
		WHERE tenant_id = $10 AND connector_id = $11 AND tracking_number = $12`,
		sh.AccountID, sh.Reference, sh.Booked, string(sh.Status), sh.SubStatus, msOrNil(sh.LastEventAt),
		msOrNil(sh.DeliveredAt), msOrNil(sh.NextPollAt), millis(sh.UpdatedAt),
		sh.TenantID, sh.ConnectorID, sh.TrackingNumber)
	return err
}

// shipmentEvent builds an event about a shipment.
func shipmentEvent(sh Shipment, typ events.Type, at time.Time, data json.RawMessage) events.Event {
	return events.Event{Type: typ, TenantID: sh.TenantID, Time: at, Subject: sh.TrackingNumber,
		Connector: sh.ConnectorID, Account: sh.AccountID, Data: data}
}

// RecordShipment records a booking; see ShipmentStore.
func (s *sqlStore) RecordShipment(ctx context.Context, in Shipment, data json.RawMessage) ([]events.Stored, error) {
	if err := checkShipmentKey(in.TenantID, in.ConnectorID, in.TrackingNumber); err != nil {
		return nil, err
	}
	if err := checkRef("account", in.AccountID, false); err != nil {
		return nil, err
	}
	if err := checkRef("reference", in.Reference, true); err != nil {
		return nil, err
	}
	if in.Status == "" {
		in.Status = model.StatusPending
	}
	if !validStatus(in.Status) {
		return nil, invalid("status", "is not a tracking status")
	}
	if err := checkText("sub_status", in.SubStatus); err != nil {
		return nil, err
	}
	if err := checkShipmentData(data); err != nil {
		return nil, err
	}
	now, nowMS := s.stamp()
	defer s.ships.forget(shipmentKey{in.TenantID, in.ConnectorID, in.TrackingNumber})
	var out []events.Stored
	var answered *PendingAnswer
	err := s.db.inTx(ctx, func(q querier) error {
		answered = nil // a transaction may run again
		sh, err := s.lockShipment(ctx, q, in.TenantID, in.ConnectorID, in.AccountID, in.TrackingNumber, nowMS)
		if err != nil {
			return err
		}
		if answered, err = storePendingAnswer(ctx, q, data); err != nil {
			return err
		}
		if sh.Booked {
			return nil
		}
		sh.Booked, sh.AccountID, sh.UpdatedAt = true, in.AccountID, now
		if in.Reference != "" {
			sh.Reference = in.Reference
		}
		if sh.Status == model.StatusUnknown || (sh.Status != in.Status && sh.Status.Advances(in.Status) && in.Status != model.StatusException) {
			sh.Status, sh.SubStatus = in.Status, in.SubStatus
		}
		if in.NextPollAt != nil && sh.NextPollAt == nil && !sh.Status.Terminal() {
			sh.NextPollAt = in.NextPollAt
		}
		if err := saveShipment(ctx, q, sh); err != nil {
			return err
		}
		out, err = s.appendEvents(ctx, q, []events.Event{shipmentEvent(sh, events.ShipmentCreated, now, data)})
		return err
	})
	if err != nil {
		return nil, s.shipmentErr("recording shipment", in.TenantID, err)
	}
	if answered != nil {
		answered.stored.Store(true)
	}
	return nonNil(out), nil
}

// CancelShipment records a cancellation; see ShipmentStore.
func (s *sqlStore) CancelShipment(ctx context.Context, tenantID, connectorID, accountID, trackingNumber string, data json.RawMessage) ([]events.Stored, error) {
	if err := checkShipmentKey(tenantID, connectorID, trackingNumber); err != nil {
		return nil, err
	}
	if err := checkRef("account", accountID, false); err != nil {
		return nil, err
	}
	if err := checkShipmentData(data); err != nil {
		return nil, err
	}
	now, nowMS := s.stamp()
	defer s.ships.forget(shipmentKey{tenantID, connectorID, trackingNumber})
	var out []events.Stored
	err := s.db.inTx(ctx, func(q querier) error {
		sh, err := s.lockShipment(ctx, q, tenantID, connectorID, accountID, trackingNumber, nowMS)
		if err != nil {
			return err
		}
		if sh.Status.Advances(model.StatusCancelled) {
			sh.Status, sh.SubStatus, sh.NextPollAt = model.StatusCancelled, "", nil
		}
		sh.UpdatedAt = now
		if err := saveShipment(ctx, q, sh); err != nil {
			return err
		}
		out, err = s.appendEvents(ctx, q, []events.Event{shipmentEvent(sh, events.ShipmentCancelled, now, data)})
		return err
	})
	if err != nil {
		return nil, s.shipmentErr("cancelling shipment", tenantID, err)
	}
	return nonNil(out), nil
}

// ApplyTracking folds a tracking result in; see ShipmentStore.
func (s *sqlStore) ApplyTracking(ctx context.Context, tenantID, connectorID, accountID string, tr model.Tracking) ([]events.Stored, error) {
	if err := checkShipmentKey(tenantID, connectorID, tr.TrackingNumber); err != nil {
		return nil, err
	}
	if err := checkRef("account", accountID, false); err != nil {
		return nil, err
	}
	if tr.Error != nil {
		return nil, invalid("tracking.error", "is set; a failed lookup carries no state to apply")
	}
	if !validStatus(tr.Status) {
		return nil, invalid("tracking.status", "is not a tracking status")
	}
	if err := checkText("tracking.sub_status", tr.SubStatus); err != nil {
		return nil, err
	}
	for i, ev := range tr.Events {
		if ev.Time.IsZero() {
			return nil, invalid(fmt.Sprintf("tracking.events[%d].time", i), "must be set")
		}
	}
	now, nowMS := s.stamp()
	// Most tracking answers repeat what the hub already has (a poll with no new
	// scan). Tell those from news with a plain read, so they cost no write
	// transaction: state only moves forward, so an answer with nothing new for a
	// snapshot would append nothing after any later change either.
	if news, err := s.isNews(ctx, tenantID, connectorID, tr, now); err != nil {
		return nil, s.shipmentErr("applying tracking", tenantID, err)
	} else if !news {
		return []events.Stored{}, nil
	}
	defer s.ships.forget(shipmentKey{tenantID, connectorID, tr.TrackingNumber})
	data, err := json.Marshal(tr)
	if err != nil {
		return nil, fmt.Errorf("encoding tracking: %w", err)
	}
	if err := checkShipmentData(data); err != nil {
		return nil, err
	}
	var out []events.Stored
	err = s.db.inTx(ctx, func(q querier) error {
		sh, err := s.lockShipment(ctx, q, tenantID, connectorID, accountID, tr.TrackingNumber, nowMS)
		if err != nil {
			return err
		}
		evs := foldTracking(&sh, tr, now)
		if len(evs) == 0 {
			return nil
		}
		if err := saveShipment(ctx, q, sh); err != nil {
			return err
		}
		for i := range evs {
			evs[i].Data = data
		}
		out, err = s.appendEvents(ctx, q, evs)
		return err
	})
	if err != nil {
		return nil, s.shipmentErr("applying tracking", tenantID, err)
	}
	return nonNil(out), nil
}

// TrackingIsNews tells news from a repeat; see ShipmentStore.
func (s *sqlStore) TrackingIsNews(ctx context.Context, tenantID, connectorID string, tr model.Tracking) (bool, error) {
	if err := checkShipmentKey(tenantID, connectorID, tr.TrackingNumber); err != nil {
		return false, err
	}
	now, _ := s.stamp()
	news, err := s.isNews(ctx, tenantID, connectorID, tr, now)
	if err != nil {
		return false, s.shipmentErr("reading shipment", tenantID, err)
	}
	return news, nil
}

// isNews folds tr into the shipment as read outside any transaction (the cache
// on the embedded store) and reports whether anything would change. A shipment
// the hub does not have is news.
func (s *sqlStore) isNews(ctx context.Context, tenantID, connectorID string, tr model.Tracking, now time.Time) (bool, error) {
	sh, err := s.readShipment(ctx, tenantID, connectorID, tr.TrackingNumber)
	if errors.Is(err, errNoRows) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(foldTracking(&sh, tr, now)) > 0, nil
}

// foldTracking applies tr to sh and returns the events it causes (without data), or
// none when nothing new happened.
func foldTracking(sh *Shipment, tr model.Tracking, now time.Time) []events.Event {
	var newest time.Time
	fresh := false
	for _, ev := range tr.Events {
		at := fromMillis(millis(ev.Time))
		if sh.LastEventAt == nil || at.After(*sh.LastEventAt) {
			fresh = true
		}
		if at.After(newest) {
			newest = at
		}
	}
	from := sh.Status
	moved := tr.Status != from && from.Advances(tr.Status)
	refined := tr.Status == from && !from.Terminal() && tr.SubStatus != sh.SubStatus
	if !fresh && !moved && !refined {
		return nil
	}
	if moved || refined {
		sh.Status, sh.SubStatus = tr.Status, tr.SubStatus
	}
	at := now
	if fresh {
		sh.LastEventAt = &newest
		at = newest
	}
	if moved && sh.Status == model.StatusDelivered {
		d := at
		if tr.DeliveredAt != nil {
			d = fromMillis(millis(*tr.DeliveredAt))
		}
		sh.DeliveredAt = &d
	}
	if sh.Status.Terminal() {
		sh.NextPollAt = nil
	}
	sh.UpdatedAt = now
	out := []events.Event{shipmentEvent(*sh, events.TrackingUpdated, at, nil)}
	if moved {
		switch sh.Status {
		case model.StatusDelivered:
			out = append(out, shipmentEvent(*sh, events.ShipmentDelivered, at, nil))
		case model.StatusException, model.StatusAttemptFailed:
			out = append(out, shipmentEvent(*sh, events.ShipmentException, at, nil))
		}
	}
	return out
}

// GetShipment reads a shipment; see ShipmentStore.
func (s *sqlStore) GetShipment(ctx context.Context, tenantID, connectorID, trackingNumber string) (Shipment, error) {
	if err := checkShipmentKey(tenantID, connectorID, trackingNumber); err != nil {
		if errors.Is(err, ErrInvalid) {
			return Shipment{}, notFound("shipment", trackingNumber)
		}
		return Shipment{}, err
	}
	sh, err := s.readShipment(ctx, tenantID, connectorID, trackingNumber)
	if errors.Is(err, errNoRows) {
		return Shipment{}, notFound("shipment", trackingNumber)
	}
	if err != nil {
		return Shipment{}, s.dbErr("getting shipment", err)
	}
	return sh, nil
}

// FindShipments looks shipments up by tracking number or reference; see ShipmentStore.
func (s *sqlStore) FindShipments(ctx context.Context, tenantID, q string, limit int) ([]Shipment, error) {
	if limit < 1 || limit > MaxEventBatch {
		return nil, invalid("limit", "must be 1 to %d, not %d", MaxEventBatch, limit)
	}
	if !validID(tenantPrefix, tenantID) || q == "" {
		return []Shipment{}, nil
	}
	return s.listShipments(ctx, "finding shipments", `WHERE tenant_id = $1 AND (tracking_number = $2 OR reference = $2)
		ORDER BY created_at DESC, connector_id, tracking_number LIMIT $3`, tenantID, q, limit)
}

// listShipments runs a query of shipments, where is its clause from WHERE on.
func (s *sqlStore) listShipments(ctx context.Context, what, where string, args ...any) ([]Shipment, error) {
	out := []Shipment{}
	err := s.db.query(ctx, `SELECT `+shipmentColumns+` FROM shipments `+where, args, func(scan func(...any) error) error {
		sh, err := scanShipment(scan)
		if err != nil {
			return err
		}
		out = append(out, sh)
		return nil
	})
	if err != nil {
		return nil, s.dbErr(what, err)
	}
	return out, nil
}

// DueForPoll lists shipments to poll; see ShipmentStore.
func (s *sqlStore) DueForPoll(ctx context.Context, now time.Time, limit int) ([]Shipment, error) {
	if limit < 1 || limit > MaxEventBatch {
		return nil, invalid("limit", "must be 1 to %d, not %d", MaxEventBatch, limit)
	}
	return s.listShipments(ctx, "listing shipments due for polling", `WHERE next_poll_at IS NOT NULL AND next_poll_at <= $1
		ORDER BY next_poll_at, tenant_id, connector_id, tracking_number LIMIT $2`, millis(now), int64(limit))
}

// ClaimPoll takes a due poll; see ShipmentStore.
func (s *sqlStore) ClaimPoll(ctx context.Context, tenantID, connectorID, trackingNumber string, due, until time.Time) error {
	return s.updateNextPoll(ctx, "claiming shipment poll", "due poll of shipment", tenantID, connectorID, trackingNumber,
		millis(until), "AND next_poll_at = $5", millis(due))
}

// SetNextPoll schedules a shipment's next poll; see ShipmentStore.
func (s *sqlStore) SetNextPoll(ctx context.Context, tenantID, connectorID, trackingNumber string, at time.Time) error {
	var next any
	if !at.IsZero() {
		next = millis(at)
	}
	return s.updateNextPoll(ctx, "scheduling shipment poll", "shipment", tenantID, connectorID, trackingNumber, next, "")
}

// updateNextPoll sets a shipment's next_poll_at to next (nil clears it) where
// cond (conditions from $5 on, bound to args) also holds; a shipment it does
// not change is missing's ErrNotFound. what names the work in errors.
func (s *sqlStore) updateNextPoll(ctx context.Context, what, missing, tenantID, connectorID, trackingNumber string, next any, cond string, args ...any) error {
	if err := checkShipmentKey(tenantID, connectorID, trackingNumber); err != nil {
		return err
	}
	defer s.ships.forget(shipmentKey{tenantID, connectorID, trackingNumber})
	n, err := s.db.exec(ctx, `UPDATE shipments SET next_poll_at = $1
		WHERE tenant_id = $2 AND connector_id = $3 AND tracking_number = $4 `+cond,
		append([]any{next, tenantID, connectorID, trackingNumber}, args...)...)
	if err != nil {
		return s.dbErr(what, err)
	}
	if n == 0 {
		return notFound(missing, trackingNumber)
	}
	return nil
}

func nonNil(evs []events.Stored) []events.Stored {
	if evs == nil {
		return []events.Stored{}
	}
	return evs
}
