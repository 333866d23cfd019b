package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/model"
)

// EWayBillStatus is the hub's view of an e-way bill's state.
type EWayBillStatus string

// The e-way bill states.
const (
	// EWayBillActive: generated and within its validity (or without Part-B yet).
	EWayBillActive EWayBillStatus = "active"
	// EWayBillCancelled: cancelled at NIC; final.
	EWayBillCancelled EWayBillStatus = "cancelled"
	// EWayBillExpired: its validity ended. An extension recorded later (NIC allows
	// one up to 8 hours after expiry) makes it active again.
	EWayBillExpired EWayBillStatus = "expired"
)

// EWayBill is the hub's record of an e-way bill it generated or updated, one per
// tenant and e-way bill number.
type EWayBill struct {
	// TenantID and Number identify the bill.
	TenantID string `json:"tenant_id"`
	// Number is NIC's e-way bill number.
	Number string `json:"number"`
	// ConnectorID is the connector that generated or last changed it.
	ConnectorID string `json:"connector"`
	// AccountID is the tenant's account of that connector.
	AccountID string `json:"account"`
	// GeneratedAt is when NIC generated it; nil when the hub only saw it cancelled.
	GeneratedAt *time.Time `json:"generated_at,omitempty"`
	// ValidUntil is the end of its validity; nil until Part-B is filled.
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	// Vehicle is the Part-B vehicle number, when known.
	Vehicle string `json:"vehicle,omitempty"`
	// Status is active, cancelled or expired; the store sets it.
	Status EWayBillStatus `json:"status"`
	// ExpiringNotifiedFor is the ValidUntil for which eway_bill.expiring was
	// appended; the store sets it. A ValidUntil different from it (an extension)
	// re-arms the notice.
	ExpiringNotifiedFor *time.Time `json:"expiring_notified_for,omitempty"`
	// CreatedAt is when the hub first recorded it.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when the record last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// EWayBillStore keeps e-way bills' state, so the hub knows when each one expires.
// Every method that changes a bill appends the events the change causes in the same
// transaction (see EventStore) and returns them as stored.
//
// A tenant id that is not a tenant's is ErrNotFound; malformed arguments are a
// *ValidationError.
type EWayBillStore interface {
	// RecordEWayBill records a generate_eway_bill (change is
	// events.EWayBillGenerated), update_eway_bill_vehicle
	// (events.EWayBillVehicleUpdated) or extend_eway_bill
	// (events.EWayBillExtended) response and appends an event of that type
	// with data, the connector's EWayBill as JSON. b carries the tenant, number,
	// connector, account, GeneratedAt, ValidUntil and Vehicle; its Status,
	// ExpiringNotifiedFor and times are the store's and ignored.
	//
	// A generation of a bill already recorded appends nothing and changes nothing.
	// A vehicle update or an extension appends nothing when it is the same
	// response (same data) as the last one recorded; otherwise it takes Vehicle when set, GeneratedAt when
	// the record had none, and ValidUntil when later than the recorded one
	// (validity only moves forward: an extension). A later ValidUntil makes an
	// expired bill active again, and re-arms eway_bill.expiring. A cancelled bill
	// stays cancelled. A bill whose ValidUntil is not after now is recorded as
	// expired.
	RecordEWayBill(ctx context.Context, b EWayBill, change events.Type, data json.RawMessage) ([]events.Stored, error)
	// CancelEWayBill records a cancellation NIC confirmed (data: the connector's
	// EWayBill as JSON): the bill becomes cancelled for good and no
	// eway_bill.expiring follows. An unknown bill is inserted as cancelled. It
	// appends eway_bill.cancelled with data, once: a bill already cancelled
	// appends nothing.
	CancelEWayBill(ctx context.Context, tenantID, connectorID, accountID, number string, data json.RawMessage) ([]events.Stored, error)
	// ClaimExpiring appends up to limit (1 to MaxEventBatch) expiry notices,
	// earliest expiry first: eway_bill.expired for bills whose ValidUntil is not
	// after now and that had no notice for it (the hub was down through the lead
	// time, or the bill was recorded already expired), then eway_bill.expiring
	// for active bills whose ValidUntil is after now and at most lead after it
	// and that had none. It marks each bill notified in the same transaction, so
	// every validity gets exactly one notice even with several replicas claiming
	// at once (they take disjoint bills). The event's subject is the number, its
	// time now, and its data the bill as a model.EWayBill with its vehicle and
	// hours_left. Other active bills past their ValidUntil become expired with no
	// event (their expiring notice went out). It returns the events appended;
	// fewer than limit means no more are due.
	ClaimExpiring(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]events.Stored, error)
	// GetEWayBill returns a tenant's e-way bill, or ErrNotFound.
	GetEWayBill(ctx context.Context, tenantID, number string) (EWayBill, error)
	// ExpiringEWayBills returns a tenant's active e-way bills whose validity
	// ends after now and at or before until, soonest first, at most limit (1 to
	// MaxEventBatch).
	ExpiringEWayBills(ctx context.Context, tenantID string, now, until time.Time, limit int) ([]EWayBill, error)
}

var _ EWayBillStore = (*sqlStore)(nil)

// checkEWayBillKey validates the fields that identify a bill and say who recorded it.
func checkEWayBillKey(tenantID, connectorID, accountID, number string) error {
	if !validID(tenantPrefix, tenantID) {
		return notFound("tenant", tenantID)
	}
	if !connectorIDPattern.MatchString(connectorID) {
		return invalid("connector_id", "must be lower snake case, 2 to 63 characters")
	}
	if err := checkRef("account", accountID, false); err != nil {
		return err
	}
	return checkSubject("number", number)
}

// changeDigest identifies a recorded response: its kind and its bytes.
func changeDigest(kind string, data json.RawMessage) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

const eWayBillColumns = `tenant_id, number, connector_id, account_id, generated_at, valid_until, vehicle, status,
	expiring_notified_for, last_change, created_at, updated_at`

// eWayBillRow is a bill with the store's private bookkeeping.
type eWayBillRow struct {
	EWayBill
	lastChange string
}

func scanEWayBill(scan func(...any) error) (eWayBillRow, error) {
	var r eWayBillRow
	var status string
	var generated, valid, notified nullMillis
	var created, updated int64
	if err := scan(&r.TenantID, &r.Number, &r.ConnectorID, &r.AccountID, &generated, &valid, &r.Vehicle, &status,
		&notified, &r.lastChange, &created, &updated); err != nil {
		return eWayBillRow{}, err
	}
	r.Status = EWayBillStatus(status)
	r.GeneratedAt, r.ValidUntil, r.ExpiringNotifiedFor = generated.ptr(), valid.ptr(), notified.ptr()
	r.CreatedAt, r.UpdatedAt = fromMillis(created), fromMillis(updated)
	return r, nil
}

func (s *sqlStore) getEWayBill(ctx context.Context, q querier, tenantID, number string) (eWayBillRow, error) {
	return scanEWayBill(func(dest ...any) error {
		return q.queryRow(ctx, `SELECT `+eWayBillColumns+` FROM eway_bills WHERE tenant_id = $1 AND number = $2`,
			[]any{tenantID, number}, dest...)
	})
}

// lockEWayBill inserts a placeholder row for the bill if missing (last_change empty
// tells it apart) and locks the row for the rest of transaction q, then reads it; see
// lockShipment.
func (s *sqlStore) lockEWayBill(ctx context.Context, q querier, tenantID, connectorID, accountID, number string, nowMS int64) (eWayBillRow, error) {
	_, err := q.exec(ctx, `INSERT INTO eway_bills (tenant_id, number, connector_id, account_id, vehicle, status,
		last_change, created_at, updated_at)
		VALUES ($1, $2, $3, $4, '', 'active', '', $5, $6)
		ON CONFLICT (tenant_id, number) DO UPDATE SET updated_at = eway_bills.updated_at`,
		tenantID, number, connectorID, accountID, nowMS, nowMS)
	if err != nil {
		return eWayBillRow{}, err
	}
	return s.getEWayBill(ctx, q, tenantID, number)
}

// saveEWayBill writes a locked bill's mutable fields back.
func saveEWayBill(ctx context.Context, q querier, r eWayBillRow) error {
	_, err := q.exec(ctx, `UPDATE eway_bills SET connector_id = $1, account_id = $2, generated_at = $3,
		valid_until = $4, vehicle = $5, status = $6, last_change = $7, updated_at = $8
		WHERE tenant_id = $9 AND number = $10`,
		r.ConnectorID, r.AccountID, msOrNil(r.GeneratedAt), msOrNil(r.ValidUntil), r.Vehicle, string(r.Status),
		r.lastChange, millis(r.UpdatedAt), r.TenantID, r.Number)
	return err
}

// msTime returns t at the stored precision, or nil.
func msTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := fromMillis(millis(*t))
	return &v
}

// RecordEWayBill records a generation or a vehicle update; see EWayBillStore.
func (s *sqlStore) RecordEWayBill(ctx context.Context, in EWayBill, change events.Type, data json.RawMessage) ([]events.Stored, error) {
	if err := checkEWayBillKey(in.TenantID, in.ConnectorID, in.AccountID, in.Number); err != nil {
		return nil, err
	}
	if change != events.EWayBillGenerated && change != events.EWayBillVehicleUpdated && change != events.EWayBillExtended {
		return nil, invalid("change", "must be %s, %s or %s", events.EWayBillGenerated, events.EWayBillVehicleUpdated, events.EWayBillExtended)
	}
	if err := checkRef("vehicle", in.Vehicle, true); err != nil {
		return nil, err
	}
	if err := checkShipmentData(data); err != nil {
		return nil, err
	}
	generated, valid := msTime(in.GeneratedAt), msTime(in.ValidUntil)
	digest := changeDigest(string(change), data)
	now, nowMS := s.stamp()
	var out []events.Stored
	err := s.db.inTx(ctx, func(q querier) error {
		r, err := s.lockEWayBill(ctx, q, in.TenantID, in.ConnectorID, in.AccountID, in.Number, nowMS)
		if err != nil {
			return err
		}
		fresh := r.lastChange == ""
		switch {
		case !fresh && change == events.EWayBillGenerated:
			return nil // already recorded: a repeat
		case !fresh && r.lastChange == digest:
			return nil // the same response again
		}
		r.ConnectorID, r.AccountID, r.lastChange, r.UpdatedAt = in.ConnectorID, in.AccountID, digest, now
		if in.Vehicle != "" {
			r.Vehicle = in.Vehicle
		}
		if r.GeneratedAt == nil {
			r.GeneratedAt = generated
		}
		if valid != nil && (r.ValidUntil == nil || valid.After(*r.ValidUntil)) {
			r.ValidUntil = valid
		}
		if r.Status != EWayBillCancelled {
			r.Status = EWayBillActive
			if r.ValidUntil != nil && !r.ValidUntil.After(now) {
				r.Status = EWayBillExpired
			}
		}
		if err := saveEWayBill(ctx, q, r); err != nil {
			return err
		}
		at := now
		if change == events.EWayBillGenerated && generated != nil {
			at = *generated
		}
		out, err = s.appendEvents(ctx, q, []events.Event{{Type: change, TenantID: r.TenantID, Time: at,
			Subject: r.Number, Connector: r.ConnectorID, Account: r.AccountID, Data: data}})
		return err
	})
	if err != nil {
		return nil, s.shipmentErr("recording e-way bill", in.TenantID, err)
	}
	return nonNil(out), nil
}

// CancelEWayBill records a cancellation; see EWayBillStore.
func (s *sqlStore) CancelEWayBill(ctx context.Context, tenantID, connectorID, accountID, number string, data json.RawMessage) ([]events.Stored, error) {
	if err := checkEWayBillKey(tenantID, connectorID, accountID, number); err != nil {
		return nil, err
	}
	if err := checkShipmentData(data); err != nil {
		return nil, err
	}
	now, nowMS := s.stamp()
	var out []events.Stored
	err := s.db.inTx(ctx, func(q querier) error {
		r, err := s.lockEWayBill(ctx, q, tenantID, connectorID, accountID, number, nowMS)
		if err != nil {
			return err
		}
		if r.Status == EWayBillCancelled {
			return nil
		}
		r.Status, r.UpdatedAt = EWayBillCancelled, now
		if r.lastChange == "" {
			r.lastChange = changeDigest("cancel", data)
		}
		if err := saveEWayBill(ctx, q, r); err != nil {
			return err
		}
		out, err = s.appendEvents(ctx, q, []events.Event{{Type: events.EWayBillCancelled, TenantID: r.TenantID, Time: now,
			Subject: r.Number, Connector: r.ConnectorID, Account: r.AccountID, Data: data}})
		return err
	})
	if err != nil {
		return nil, s.shipmentErr("cancelling e-way bill", tenantID, err)
	}
	return nonNil(out), nil
}

// expiringCandidates selects active bills due for their notice: $1 now, $2 now+lead,
// $3 the limit.
const expiringCandidates = `SELECT tenant_id, number FROM eway_bills
	WHERE status = 'active' AND valid_until > $1 AND valid_until <= $2
	AND (expiring_notified_for IS NULL OR expiring_notified_for <> valid_until)
	ORDER BY valid_until, tenant_id, number
	LIMIT $3`

// claimExpiringPostgres locks candidates with SKIP LOCKED, so concurrent claimers
// take disjoint bills without waiting; a bill another claimer marked meanwhile fails
// the re-checked condition on the locked row version and is not taken twice.
const claimExpiringPostgres = `WITH c AS (` + expiringCandidates + ` FOR UPDATE SKIP LOCKED)
	UPDATE eway_bills b SET expiring_notified_for = b.valid_until, updated_at = $4
	FROM c WHERE b.tenant_id = c.tenant_id AND b.number = c.number
	RETURNING b.tenant_id, b.number, b.connector_id, b.account_id, b.generated_at, b.valid_until, b.vehicle,
	b.status, b.expiring_notified_for, b.last_change, b.created_at, b.updated_at`

// claimExpiringSQLite is one UPDATE over a LIMIT subquery; SQLite runs one writer at
// a time, so selection and marking are atomic.
const claimExpiringSQLite = `UPDATE eway_bills SET expiring_notified_for = valid_until, updated_at = $4
	WHERE (tenant_id, number) IN (` + expiringCandidates + `)
	RETURNING ` + eWayBillColumns

// expiredCandidates selects bills past their end with no notice for this
// validity (the hub was down through the lead time, or the bill was recorded
// late): $1 now, $2 the limit.
const expiredCandidates = `SELECT tenant_id, number FROM eway_bills
	WHERE status IN ('active', 'expired') AND valid_until <= $1
	AND (expiring_notified_for IS NULL OR expiring_notified_for <> valid_until)
	ORDER BY valid_until, tenant_id, number
	LIMIT $2`

// claimExpiredSQLite marks such bills expired and notified ($3 the stamp).
const claimExpiredSQLite = `UPDATE eway_bills SET status = 'expired', expiring_notified_for = valid_until, updated_at = $3
	WHERE (tenant_id, number) IN (` + expiredCandidates + `)
	RETURNING ` + eWayBillColumns

// claimExpiredPostgres is claimExpiredSQLite with SKIP LOCKED, as for
// claimExpiringPostgres.
const claimExpiredPostgres = `WITH c AS (` + expiredCandidates + ` FOR UPDATE SKIP LOCKED)
	UPDATE eway_bills b SET status = 'expired', expiring_notified_for = b.valid_until, updated_at = $3
	FROM c WHERE b.tenant_id = c.tenant_id AND b.number = c.number
	RETURNING b.tenant_id, b.number, b.connector_id, b.account_id, b.generated_at, b.valid_until, b.vehicle,
	b.status, b.expiring_notified_for, b.last_change, b.created_at, b.updated_at`

// expireSQLite marks active bills past their end ($2) expired.
const expireSQLite = `UPDATE eway_bills SET status = 'expired', updated_at = $1
	WHERE status = 'active' AND valid_until <= $2`

// expirePostgres is expireSQLite skipping rows another transaction holds (a
// concurrent claim, record or expiry), so replicas never wait on each other or
// deadlock over the order they lock rows in; a skipped bill expires on a later pass.
const expirePostgres = `UPDATE eway_bills SET status = 'expired', updated_at = $1
	WHERE (tenant_id, number) IN (SELECT tenant_id, number FROM eway_bills
		WHERE status = 'active' AND valid_until <= $2 FOR UPDATE SKIP LOCKED)`

// ClaimExpiring appends due expiry notices; see EWayBillStore.
func (s *sqlStore) ClaimExpiring(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]events.Stored, error) {
	if limit < 1 || limit > MaxEventBatch {
		return nil, invalid("limit", "must be 1 to %d, not %d", MaxEventBatch, limit)
	}
	if lead <= 0 {
		return nil, invalid("lead", "must be positive")
	}
	now = fromMillis(millis(now))
	_, stampMS := s.stamp()
	expired, expire, claim := claimExpiredSQLite, expireSQLite, claimExpiringSQLite
	if s.db.name() == "postgres" {
		expired, expire, claim = claimExpiredPostgres, expirePostgres, claimExpiringPostgres
	}
	var out []events.Stored
	err := s.db.inTx(ctx, func(tx querier) error {
		gone, err := claimBills(ctx, tx, expired, millis(now), int64(limit), stampMS)
		if err != nil {
			return fmt.Errorf("claiming expired bills: %w", err)
		}
		if _, err := tx.exec(ctx, expire, stampMS, millis(now)); err != nil {
			return fmt.Errorf("expiring: %w", err)
		}
		var due []eWayBillRow
		if left := limit - len(gone); left > 0 {
			if due, err = claimBills(ctx, tx, claim, millis(now), millis(now.Add(lead)), int64(left), stampMS); err != nil {
				return err
			}
		}
		var evs []events.Event
		for _, batch := range []struct {
			rows []eWayBillRow
			kind events.Type
		}{{gone, events.EWayBillExpired}, {due, events.EWayBillExpiring}} {
			for _, r := range batch.rows {
				ev, err := expiryNotice(r, batch.kind, now)
				if err != nil {
					return err
				}
				evs = append(evs, ev)
			}
		}
		if len(evs) == 0 {
			return nil
		}
		out, err = s.appendEvents(ctx, tx, evs)
		return err
	})
	if err != nil {
		return nil, s.dbErr("claiming expiring e-way bills", err)
	}
	return nonNil(out), nil
}

// claimBills runs a claiming statement and returns the bills it marked,
// earliest expiry first.
func claimBills(ctx context.Context, tx querier, stmt string, args ...any) ([]eWayBillRow, error) {
	var rows []eWayBillRow
	err := tx.query(ctx, stmt, args, func(scan func(...any) error) error {
		r, err := scanEWayBill(scan)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	slices.SortFunc(rows, func(a, b eWayBillRow) int {
		if c := a.ValidUntil.Compare(*b.ValidUntil); c != 0 {
			return c
		}
		if c := cmp.Compare(a.TenantID, b.TenantID); c != 0 {
			return c
		}
		return cmp.Compare(a.Number, b.Number)
	})
	return rows, err
}

// expiryNotice is the eway_bill.expiring or eway_bill.expired event of a
// bill: the bill as a model.EWayBill with its hours left at now.
func expiryNotice(r eWayBillRow, kind events.Type, now time.Time) (events.Event, error) {
	status := EWayBillActive
	if kind == events.EWayBillExpired {
		status = EWayBillExpired
	}
	hours := math.Round(r.ValidUntil.Sub(now).Hours()*10) / 10
	bill := model.EWayBill{Number: r.Number, ValidUntil: r.ValidUntil, Status: string(status),
		VehicleNumber: r.Vehicle, HoursLeft: &hours}
	if r.GeneratedAt != nil {
		bill.GeneratedAt = *r.GeneratedAt
	}
	data, err := json.Marshal(bill)
	if err != nil {
		return events.Event{}, fmt.Errorf("encoding e-way bill %s: %w", r.Number, err)
	}
	return events.Event{Type: kind, TenantID: r.TenantID, Time: now, Subject: r.Number,
		Connector: r.ConnectorID, Account: r.AccountID, Data: data}, nil
}

// GetEWayBill reads a bill; see EWayBillStore.
func (s *sqlStore) GetEWayBill(ctx context.Context, tenantID, number string) (EWayBill, error) {
	if !validID(tenantPrefix, tenantID) || checkSubject("number", number) != nil {
		return EWayBill{}, notFound("e-way bill", number)
	}
	r, err := s.getEWayBill(ctx, s.db, tenantID, number)
	if errors.Is(err, errNoRows) {
		return EWayBill{}, notFound("e-way bill", number)
	}
	if err != nil {
		return EWayBill{}, s.dbErr("getting e-way bill", err)
	}
	return r.EWayBill, nil
}

// ExpiringEWayBills lists bills about to expire; see EWayBillStore.
func (s *sqlStore) ExpiringEWayBills(ctx context.Context, tenantID string, now, until time.Time, limit int) ([]EWayBill, error) {
	out := []EWayBill{}
	if limit < 1 || limit > MaxEventBatch {
		return nil, invalid("limit", "must be 1 to %d, not %d", MaxEventBatch, limit)
	}
	if !validID(tenantPrefix, tenantID) {
		return out, nil
	}
	err := s.db.query(ctx, `SELECT `+eWayBillColumns+` FROM eway_bills
		WHERE status = 'active' AND valid_until > $1 AND valid_until <= $2 AND tenant_id = $3
		ORDER BY valid_until, number LIMIT $4`,
		[]any{millis(now), millis(until), tenantID, limit}, func(scan func(...any) error) error {
			r, err := scanEWayBill(scan)
			if err != nil {
				return err
			}
			out = append(out, r.EWayBill)
			return nil
		})
	if err != nil {
		return nil, s.dbErr("listing expiring e-way bills", err)
	}
	return out, nil
}
