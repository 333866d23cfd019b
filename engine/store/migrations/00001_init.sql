-- Portable SQL for SQLite and Postgres alike: TEXT, BIGINT and BOOLEAN only.
-- Times are BIGINT milliseconds since the Unix epoch, UTC.
-- accounts.credentials is secretbox text ("v1:..."), sealed with the associated data
-- "<tenant id>/<account id>"; settings is plain JSON.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    admin      BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connector_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    environment  TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    base_url     TEXT NOT NULL,
    credentials  TEXT NOT NULL,
    settings     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, connector_id, name)
);

-- +goose Down
DROP TABLE accounts;
DROP INDEX api_keys_by_tenant;
DROP TABLE api_keys;
DROP TABLE tenants;
