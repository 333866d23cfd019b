-- Webhook fan-out (see engine/webhooks). Portable SQL for SQLite and Postgres; times
-- are BIGINT milliseconds since the Unix epoch, UTC; BYTEA holds bytes (SQLite keeps
-- the bound []byte values as BLOBs, see 00002).
--
-- webhook_endpoints: a tenant's subscription. event_types is a JSON array of type
-- patterns ("shipment.created", "shipment.*", "*"; empty means every type); filter a
-- JSON object of JSON-pointer (or top-level field) -> value equalities. secret and
-- previous_secret are secretbox text sealed with "<tenant id>/<endpoint id>/<slot>";
-- previous_secret ('' when none) still signs until previous_expires_at.
-- failing_since is when the endpoint's current run of failures began (NULL while it
-- succeeds).
--
-- webhook_deliveries: one row per (event, endpoint), holding the exact event bytes
-- sent. state is pending, succeeded or dead. A pending row is due when
-- next_attempt_at and lease_until have both passed; a claim sets lease_owner to a
-- token only that claim knows and lease_until to the lease's end; it also moves
-- next_attempt_at to the lease's end. seq is the event's outbox position; ordered
-- (copied from the endpoint at fan-out) makes a delivery wait for the earlier
-- ordered deliveries of its subject, and only ordered rows enter by_subject.
--
-- webhook_attempts: the attempt log; response holds at most 4 KiB of the answer.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL,
    event_types         TEXT NOT NULL,
    filter              TEXT NOT NULL,
    enabled             BOOLEAN NOT NULL,
    disabled_reason     TEXT NOT NULL,
    ordered             BOOLEAN NOT NULL,
    rate_limit          BIGINT NOT NULL,
    secret              TEXT NOT NULL,
    previous_secret     TEXT NOT NULL,
    previous_expires_at BIGINT,
    failing_since       BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, created_at);

CREATE TABLE webhook_deliveries (
    event_id        TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    ordered         BOOLEAN NOT NULL,
    event_time      BIGINT NOT NULL,
    body            BYTEA NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'dead')),
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT NOT NULL,
    lease_until     BIGINT NOT NULL,
    last_status     BIGINT NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (event_id, endpoint_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_subject ON webhook_deliveries (endpoint_id, subject, seq) WHERE state = 'pending' AND ordered;
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (endpoint_id, event_time, event_id);

CREATE TABLE webhook_attempts (
    event_id    TEXT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status      BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    error       TEXT NOT NULL,
    response    BYTEA NOT NULL
);

CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, at);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts (event_id, at);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
