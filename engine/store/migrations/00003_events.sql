-- The event outbox, the relays' cursors and the hub's record of shipments.
--
-- events is the transactional outbox: a row is written in the same transaction as the
-- state change it reports. seq is allocated from the single row of event_counter
-- (UPDATE ... RETURNING) inside that transaction, so the counter row's lock is held
-- from allocation to commit: event-writing transactions commit one after another in
-- seq order, and a reader that has seen seq N can never later find a committed row
-- below N. (A Postgres sequence would hand out values at insert and publish them at
-- commit, in any order, and a "seq > cursor" reader would skip the slower ones.) The
-- counter never goes back, even when purging empties the table; SQLite, which has
-- one writer at a time, gets the same order for free. id is the event's stable id;
-- data is the canonical payload as JSON text; time is when it happened and
-- created_at when it was written (purges go by the latter).
--
-- event_cursors holds each sink's position (the last seq it has accepted) and the
-- lease that makes one relay at a time deliver to it.
--
-- shipments is one row per (tenant, connector, tracking number): booked through the
-- hub (booked) or only tracked. status moves forward only (model.TrackingStatus
-- Advances); last_event_at is the newest tracking scan applied, which tells a repeated
-- tracking answer from one with news. next_poll_at, when set, is when the tracking
-- poller should ask the carrier again.

-- +goose Up
CREATE TABLE event_counter (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL
);

INSERT INTO event_counter (id, last_seq) VALUES (1, 0);

CREATE TABLE events (
    seq          BIGINT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    tenant_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    time         BIGINT NOT NULL,
    data         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE INDEX events_by_created ON events (created_at);

CREATE TABLE event_cursors (
    sink        TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE shipments (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connector_id    TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    reference       TEXT NOT NULL,
    booked          BOOLEAN NOT NULL,
    status          TEXT NOT NULL,
    sub_status      TEXT NOT NULL,
    last_event_at   BIGINT,
    delivered_at    BIGINT,
    next_poll_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, connector_id, tracking_number)
);

CREATE INDEX shipments_by_next_poll ON shipments (next_poll_at);

-- +goose Down
DROP INDEX shipments_by_next_poll;
DROP TABLE shipments;
DROP TABLE event_cursors;
DROP INDEX events_by_created;
DROP TABLE events;
DROP TABLE event_counter;
