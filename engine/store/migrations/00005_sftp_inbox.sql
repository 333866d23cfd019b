-- The SFTP inbox (engine/inbound): which files of an account's inbox have been
-- processed, and which replica polls an inbox now.
--
-- sftp_inbox_files is the durable, shared journal of sdk/transport/sftp's Poller
-- and the record of processed files. file_key is opaque to the store; engine/inbound
-- writes two kinds: "claim/<claim name>" while a claimed file is between its
-- processing and its archiving (the Poller's Journal, forgotten once archived), and
-- "file/<name:size:mtime>" (sftp.IdempotencyKey) once a file's effects are
-- committed, kept until purged, so that the same arrival is never processed twice.
-- processed_at is when the key was first recorded; purges go by it.
--
-- sftp_inbox_leases gives one replica at a time the right to poll an account's
-- inbox directory, like event_cursors' sink leases: lease_owner holds it until
-- lease_until (Unix milliseconds) and renews it while it polls.
--
-- Both cascade from accounts: deleting an account forgets its inbox.

-- +goose Up
CREATE TABLE sftp_inbox_files (
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    file_key     TEXT NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, file_key)
);

CREATE INDEX sftp_inbox_files_by_processed ON sftp_inbox_files (processed_at);

CREATE TABLE sftp_inbox_leases (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox       TEXT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    PRIMARY KEY (account_id, inbox)
);

-- +goose Down
DROP TABLE sftp_inbox_leases;
DROP INDEX sftp_inbox_files_by_processed;
DROP TABLE sftp_inbox_files;
