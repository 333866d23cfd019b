-- Idempotency keys of creating operations (see engine/idempotency). One row per
-- (tenant, connector, operation, key). A row is in_progress while the first request's
-- connector call runs, and expires_at is then the end of that claim's lease; it is
-- completed once the answer is stored, and expires_at is then the end of the replay
-- window. A row whose expires_at has passed may be claimed again, and
-- PurgeIdempotencyKeys deletes it. token is a random value only the claim's holder
-- knows, so a holder whose lease ran out cannot overwrite its successor's row.
-- Request bodies are never stored: fingerprint is the hex SHA-256 of the request.
--
-- body is the only non-portable type name: Postgres stores it as bytea; SQLite gives
-- the declared type BYTEA numeric affinity, under which the []byte values the store
-- binds are kept as BLOBs, byte for byte.

-- +goose Up
CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connector_id TEXT NOT NULL,
    operation    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    token        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
    http_status  BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    body         BYTEA,
    body_omitted BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, connector_id, operation, idem_key)
);

CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);

-- +goose Down
DROP INDEX idempotency_keys_by_expiry;
DROP TABLE idempotency_keys;
