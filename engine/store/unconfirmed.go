package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// unconfirmedPrefix is the kind of unconfirmed shipments' ids.
const unconfirmedPrefix = "ush_"

// Limits on unconfirmed shipments' text.
const (
	// MaxUnconfirmedReason is the longest Reason kept, in bytes; callers cut
	// longer ones.
	MaxUnconfirmedReason = 1000
	// maxRequestIDLen bounds a stored request id.
	maxRequestIDLen = 128
)

// UnconfirmedState is where a create of unknown outcome stands.
type UnconfirmedState string

// Unconfirmed shipments' states.
const (
	// Unconfirmed: nobody knows yet whether the provider did it.
	Unconfirmed UnconfirmedState = "unconfirmed"
	// UnconfirmedBooked: settled; the provider has it (TrackingNumber is its number).
	UnconfirmedBooked UnconfirmedState = "booked"
	// UnconfirmedNotBooked: settled; the provider has none, or the caller said so.
	UnconfirmedNotBooked UnconfirmedState = "not_booked"
)

// UnconfirmedShipment is the hub's record of a create whose outcome is unknown:
// it may have reached the provider, but no answer came back (the connector process
// died, the call timed out after the request was written). It has no tracking
// number until it is settled; a shipment the provider turns out to have is also
// recorded as booked (ShipmentStore).
type UnconfirmedShipment struct {
	// ID identifies the row ("ush_" and 26 characters).
	ID string `json:"id"`
	// TenantID is the calling tenant.
	TenantID string `json:"tenant_id"`
	// ConnectorID is the connector called.
	ConnectorID string `json:"connector"`
	// AccountID is the account the call acted for.
	AccountID string `json:"account"`
	// Operation is the creating operation (create_shipment, generate_eway_bill, ...).
	Operation string `json:"operation"`
	// Reference is the request's own reference (a shipment's reference), when it has one.
	Reference string `json:"reference,omitempty"`
	// IdempotencyKey is the caller's Idempotency-Key; empty when it sent none,
	// and then nothing settles the row on a retry.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// RequestID is the request id of the call whose outcome is unknown.
	RequestID string `json:"request_id,omitempty"`
	// State is unconfirmed until settled.
	State UnconfirmedState `json:"state"`
	// TrackingNumber is the provider's number once settled as booked.
	TrackingNumber string `json:"tracking_number,omitempty"`
	// Reason says what happened to the call (no credentials).
	Reason string `json:"reason"`
	// Resolution says how it was settled.
	Resolution string `json:"resolution,omitempty"`
	// CreatedAt is when the hub first recorded it.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// UnconfirmedStore keeps creates of unknown outcome. A tenant id that is not a
// tenant's is ErrNotFound; malformed arguments are a *ValidationError.
type UnconfirmedStore interface {
	// RecordUnconfirmed records a create of unknown outcome, in state
	// Unconfirmed (ID, State, TrackingNumber, Resolution and the times are the
	// store's). With an IdempotencyKey the key's row (tenant, connector,
	// operation, key) is reused: it becomes Unconfirmed again with the new
	// account, reference, request id and reason, keeping its id and CreatedAt.
	// It returns the row as stored.
	RecordUnconfirmed(ctx context.Context, u UnconfirmedShipment) (UnconfirmedShipment, error)
	// SettleUnconfirmed records how the create under an idempotency key turned
	// out: state UnconfirmedBooked with the provider's tracking number, or
	// UnconfirmedNotBooked, and resolution saying how that is known. ErrNotFound
	// when the key has no row.
	SettleUnconfirmed(ctx context.Context, tenantID, connectorID, operation, idempotencyKey string,
		state UnconfirmedState, trackingNumber, resolution string) (UnconfirmedShipment, error)
	// ListUnconfirmed lists a tenant's rows in state (every state when empty),
	// newest first, at most limit (1 to MaxEventBatch).
	ListUnconfirmed(ctx context.Context, tenantID string, state UnconfirmedState, limit int) ([]UnconfirmedShipment, error)
}

var _ UnconfirmedStore = (*sqlStore)(nil)

func validUnconfirmedState(st UnconfirmedState) bool {
	return st == Unconfirmed || st == UnconfirmedBooked || st == UnconfirmedNotBooked
}

func checkReason(field, s string) error {
	if len(s) > MaxUnconfirmedReason {
		return invalid(field, "is %d bytes, longer than %d", len(s), MaxUnconfirmedReason)
	}
	return checkText(field, s)
}

func checkUnconfirmedScope(tenantID, connectorID, operation string) error {
	if !validID(tenantPrefix, tenantID) {
		return notFound("tenant", tenantID)
	}
	if !connectorIDPattern.MatchString(connectorID) {
		return invalid("connector_id", "must be lower snake case, 2 to 63 characters")
	}
	if !operationPattern.MatchString(operation) {
		return invalid("operation", "must be lower snake case, 1 to 63 characters")
	}
	return nil
}

const unconfirmedColumns = `id, tenant_id, connector_id, account_id, operation, reference, idem_key, request_id,
	state, tracking_number, reason, resolution, created_at, updated_at`

func scanUnconfirmed(scan func(...any) error) (UnconfirmedShipment, error) {
	var u UnconfirmedShipment
	var state string
	var created, updated int64
	if err := scan(&u.ID, &u.TenantID, &u.ConnectorID, &u.AccountID, &u.Operation, &u.Reference, &u.IdempotencyKey,
		&u.RequestID, &state, &u.TrackingNumber, &u.Reason, &u.Resolution, &created, &updated); err != nil {
		return UnconfirmedShipment{}, err
	}
	u.State = UnconfirmedState(state)
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return u, nil
}

func (s *sqlStore) unconfirmedByKey(ctx context.Context, q querier, tenantID, connectorID, operation, key string) (UnconfirmedShipment, error) {
	return scanUnconfirmed(func(dest ...any) error {
		return q.queryRow(ctx, `SELECT `+unconfirmedColumns+` FROM unconfirmed_shipments
			WHERE tenant_id = $1 AND connector_id = $2 AND operation = $3 AND idem_key = $4`,
			[]any{tenantID, connectorID, operation, key}, dest...)
	})
}

// RecordUnconfirmed records a create of unknown outcome; see UnconfirmedStore.
func (s *sqlStore) RecordUnconfirmed(ctx context.Context, u UnconfirmedShipment) (UnconfirmedShipment, error) {
	if err := checkUnconfirmedScope(u.TenantID, u.ConnectorID, u.Operation); err != nil {
		return UnconfirmedShipment{}, err
	}
	if err := checkRef("account", u.AccountID, false); err != nil {
		return UnconfirmedShipment{}, err
	}
	if err := checkRef("reference", u.Reference, true); err != nil {
		return UnconfirmedShipment{}, err
	}
	if u.IdempotencyKey != "" {
		if err := CheckIdempotencyKey(u.IdempotencyKey); err != nil {
			return UnconfirmedShipment{}, err
		}
	}
	if len(u.RequestID) > maxRequestIDLen {
		return UnconfirmedShipment{}, invalid("request_id", "is %d bytes, longer than %d", len(u.RequestID), maxRequestIDLen)
	}
	if err := checkText("request_id", u.RequestID); err != nil {
		return UnconfirmedShipment{}, err
	}
	if err := checkReason("reason", u.Reason); err != nil {
		return UnconfirmedShipment{}, err
	}
	now, nowMS := s.stamp()
	u.State, u.TrackingNumber, u.Resolution, u.UpdatedAt = Unconfirmed, "", "", now
	err := s.db.inTx(ctx, func(q querier) error {
		if u.IdempotencyKey != "" {
			old, err := s.unconfirmedByKey(ctx, q, u.TenantID, u.ConnectorID, u.Operation, u.IdempotencyKey)
			switch {
			case err == nil:
				u.ID, u.CreatedAt = old.ID, old.CreatedAt
				_, err = q.exec(ctx, `UPDATE unconfirmed_shipments SET account_id = $1, reference = $2, request_id = $3,
					state = 'unconfirmed', tracking_number = '', reason = $4, resolution = '', updated_at = $5
					WHERE id = $6`, u.AccountID, u.Reference, u.RequestID, u.Reason, nowMS, u.ID)
				return err
			case !errors.Is(err, errNoRows):
				return err
			}
		}
		u.ID, u.CreatedAt = newID(unconfirmedPrefix), now
		_, err := q.exec(ctx, `INSERT INTO unconfirmed_shipments (`+unconfirmedColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unconfirmed', '', $9, '', $10, $11)`,
			u.ID, u.TenantID, u.ConnectorID, u.AccountID, u.Operation, u.Reference, u.IdempotencyKey, u.RequestID,
			u.Reason, nowMS, nowMS)
		return err
	})
	if err != nil {
		// A concurrent first record of the same key loses the unique index: the
		// winner's row says the same.
		if s.db.kind(err) == kindUnique {
			return UnconfirmedShipment{}, fmt.Errorf("recording unconfirmed shipment: %w", ErrConflict)
		}
		return UnconfirmedShipment{}, s.shipmentErr("recording unconfirmed shipment", u.TenantID, err)
	}
	return u, nil
}

// SettleUnconfirmed settles a create of unknown outcome; see UnconfirmedStore.
func (s *sqlStore) SettleUnconfirmed(ctx context.Context, tenantID, connectorID, operation, key string,
	state UnconfirmedState, trackingNumber, resolution string) (UnconfirmedShipment, error) {
	if err := checkUnconfirmedScope(tenantID, connectorID, operation); err != nil {
		return UnconfirmedShipment{}, err
	}
	if err := CheckIdempotencyKey(key); err != nil {
		return UnconfirmedShipment{}, err
	}
	switch state {
	case UnconfirmedBooked:
		if err := checkSubject("tracking_number", trackingNumber); err != nil {
			return UnconfirmedShipment{}, err
		}
	case UnconfirmedNotBooked:
		if trackingNumber != "" {
			return UnconfirmedShipment{}, invalid("tracking_number", "must be empty when not booked")
		}
	default:
		return UnconfirmedShipment{}, invalid("state", "must be booked or not_booked")
	}
	if err := checkReason("resolution", resolution); err != nil {
		return UnconfirmedShipment{}, err
	}
	now, nowMS := s.stamp()
	n, err := s.db.exec(ctx, `UPDATE unconfirmed_shipments SET state = $1, tracking_number = $2, resolution = $3,
		updated_at = $4 WHERE tenant_id = $5 AND connector_id = $6 AND operation = $7 AND idem_key = $8`,
		string(state), trackingNumber, resolution, nowMS, tenantID, connectorID, operation, key)
	if err != nil {
		return UnconfirmedShipment{}, s.dbErr("settling unconfirmed shipment", err)
	}
	if n == 0 {
		return UnconfirmedShipment{}, fmt.Errorf("unconfirmed shipment: %w", ErrNotFound)
	}
	u, err := s.unconfirmedByKey(ctx, s.db, tenantID, connectorID, operation, key)
	if err != nil {
		return UnconfirmedShipment{}, s.dbErr("reading unconfirmed shipment", err)
	}
	u.UpdatedAt = now
	return u, nil
}

// ListUnconfirmed lists a tenant's creates of unknown outcome; see UnconfirmedStore.
func (s *sqlStore) ListUnconfirmed(ctx context.Context, tenantID string, state UnconfirmedState, limit int) ([]UnconfirmedShipment, error) {
	if !validID(tenantPrefix, tenantID) {
		return nil, notFound("tenant", tenantID)
	}
	if state != "" && !validUnconfirmedState(state) {
		return nil, invalid("state", "must be unconfirmed, booked or not_booked")
	}
	if limit < 1 || limit > MaxEventBatch {
		return nil, invalid("limit", "must be 1 to %d, not %d", MaxEventBatch, limit)
	}
	out := []UnconfirmedShipment{}
	err := s.db.query(ctx, `SELECT `+unconfirmedColumns+` FROM unconfirmed_shipments
		WHERE tenant_id = $1 AND ($2 = '' OR state = $3)
		ORDER BY created_at DESC, id DESC LIMIT $4`,
		[]any{tenantID, string(state), string(state), int64(limit)}, func(scan func(...any) error) error {
			u, err := scanUnconfirmed(scan)
			if err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	if err != nil {
		return nil, s.dbErr("listing unconfirmed shipments", err)
	}
	return out, nil
}
