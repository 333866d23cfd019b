-- The operators' console's sign-in sessions (issue 17).
--
-- A browser signs in with an API key (a tenant's or an operator's) and gets a
-- session secret ("hub_cs_" and 43 random base64url characters) in an HttpOnly
-- cookie. Only the hex SHA-256 of that secret is kept, as for keys. A session acts
-- as the key it was made from (key_id, with tenant_id '' for an operator key)
-- until it expires, is signed out (ended_at), or that key is revoked or expires.
-- Times are BIGINT milliseconds since the Unix epoch, UTC. Portable SQL for SQLite
-- and Postgres alike.

-- +goose Up
CREATE TABLE console_sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    key_id     TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
