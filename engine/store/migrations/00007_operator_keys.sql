-- Operator keys and key expiry (issue 13).
--
-- operator_keys are hub-wide bearer credentials: they manage tenants (create, list,
-- get) and see no tenant's data. Like api_keys, only the hex SHA-256 of the secret
-- ("hub_op_" and 43 random base64url characters) is kept, with its first characters
-- for display. They are made with the CLI (hub operator-keys create), never through
-- the API.
--
-- api_keys.expires_at and operator_keys.expires_at are when a key stops
-- authenticating (NULL: never). Existing keys keep NULL, so they keep working, and
-- existing admin keys stay their tenant's admins. Times are BIGINT milliseconds since
-- the Unix epoch, UTC. Portable SQL for SQLite and Postgres alike.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;

CREATE TABLE operator_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- +goose Down
DROP TABLE operator_keys;
ALTER TABLE api_keys DROP COLUMN expires_at;
