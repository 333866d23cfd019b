-- Unknown outcomes of creates (issue 13). A create (create_shipment, generate an
-- e-way bill, ...) that may have reached the provider without an answer coming back
-- (its connector process died, it timed out after the request was written) may or
-- may not have been done. Portable SQL for SQLite and Postgres alike.
--
-- idempotency_keys.outcome_unknown marks a completed row whose stored answer is such
-- an outcome_unknown problem: not a final answer. A retry with the same key and the
-- same request settles it (engine/idempotency): it takes the row with a new token
-- until lease_until, looks the result up or makes the call on the caller's word, and
-- completes the row with the final answer, or leaves it unknown. lease_until is, on
-- such a row, the end of the current settlement's lease or, right after the unknown
-- outcome, the end of the wait before the first settlement (so the provider has
-- finished with the lost request); NULL when anyone may settle it now. Rows written
-- before this migration are final answers.
--
-- unconfirmed_shipments is the hub's record of each such create, one row per
-- (tenant, connector, operation, idempotency key) when the caller sent a key and one
-- per call otherwise (idem_key ''). reference is the request's own reference
-- ('' when it has none); reason says what happened (never a credential). state is
-- unconfirmed until it is settled: booked (the provider has it; tracking_number is
-- its number) or not_booked (the provider has none, or the caller said so), with
-- resolution saying how. Times are BIGINT milliseconds since the Unix epoch, UTC.

-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN outcome_unknown BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT;

CREATE TABLE unconfirmed_shipments (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connector_id    TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    operation       TEXT NOT NULL,
    reference       TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('unconfirmed', 'booked', 'not_booked')),
    tracking_number TEXT NOT NULL,
    reason          TEXT NOT NULL,
    resolution      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE UNIQUE INDEX unconfirmed_shipments_by_key ON unconfirmed_shipments (tenant_id, connector_id, operation, idem_key)
    WHERE idem_key <> '';
CREATE INDEX unconfirmed_shipments_by_tenant ON unconfirmed_shipments (tenant_id, created_at);

-- +goose Down
DROP INDEX unconfirmed_shipments_by_tenant;
DROP INDEX unconfirmed_shipments_by_key;
DROP TABLE unconfirmed_shipments;
ALTER TABLE idempotency_keys DROP COLUMN lease_until;
ALTER TABLE idempotency_keys DROP COLUMN outcome_unknown;
