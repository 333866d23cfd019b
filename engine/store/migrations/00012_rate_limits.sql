-- Cluster-wide rate limits (store.RateStore): one row per limited key, holding
-- the key's theoretical arrival time (GCRA) in microseconds since the epoch, so
-- limits above 1000 a second keep their precision. Replicas sharing the
-- database reserve their requests' slots here, one statement per call. Rows of
-- idle keys are left in place: a few dozen bytes per (connector, account, rate).
-- Portable SQL for SQLite and Postgres alike.

-- +goose Up
CREATE TABLE rate_limits (
    limit_key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);

-- +goose Down
DROP TABLE rate_limits;
