-- E-way bills the hub generated or updated, so the hub knows when each one expires
-- (see engine/ewaybills, which emits eway_bill.expiring ahead of expiry).
--
-- One row per (tenant, e-way bill number). generated_at is when NIC generated it
-- (NULL when only a cancellation was seen); valid_until is the end of its validity
-- (NULL until Part-B is filled). vehicle is the Part-B vehicle number when known.
-- status is active, cancelled or expired: cancelled is final; expired becomes active
-- again when an extension moves valid_until later. expiring_notified_for is the
-- valid_until value for which eway_bill.expiring was emitted: an extension changes
-- valid_until, which re-arms the notice. last_change is a digest of the last recorded
-- response, so recording the same response twice appends no second event. Times are
-- BIGINT milliseconds since the Unix epoch, UTC.

-- +goose Up
CREATE TABLE eway_bills (
    tenant_id             TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number                TEXT NOT NULL,
    connector_id          TEXT NOT NULL,
    account_id            TEXT NOT NULL,
    generated_at          BIGINT,
    valid_until           BIGINT,
    vehicle               TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('active', 'cancelled', 'expired')),
    expiring_notified_for BIGINT,
    last_change           TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, number)
);

CREATE INDEX eway_bills_active_by_valid_until ON eway_bills (valid_until) WHERE status = 'active';

-- +goose Down
DROP INDEX eway_bills_active_by_valid_until;
DROP TABLE eway_bills;
