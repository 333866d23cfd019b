// Package inbound is how the hub learns about shipments without being asked:
// carrier pushes, tracking polls and status files in SFTP inboxes.
//
// A push arrives at POST /v1/inbound/{connector}/{account} (engine/api):
// PushLimiter rate-limits it per account id, Accounts finds the tenant an
// account id belongs to, PushVerifier checks the push against the inbound
// authentication the connector's manifest declares (sdk.InboundAuth: a shared
// token, an HMAC signature with a timestamp window, or basic auth) and the
// account's credentials, in constant time and with the same work and answer
// for an unknown account, then the router runs the connector's receive_push
// (which maps the payload), and Recording, wrapped around the events recorder as the router's
// AfterCall, records the results as tracking (ApplyTracking, so a provider's
// retried push appends nothing twice) and proofs of delivery.
//
// Poller polls shipments the hub booked or tracked whose connector does not push
// (or whose pushes fell silent): it reads the store's due shipments, claims them,
// groups them by tenant, connector and account into batches, runs one track call
// per batch through the router (so results are recorded like any other call) and
// schedules each shipment's next poll from its status. Recording schedules the
// first poll of a shipment when it is booked or first tracked, and defers it when
// a push reports on it.
//
// Inbox polls SFTP inboxes: carriers and ERPs that drop status files (carrier
// CSVs, EDI 214) on an SFTP server rather than push them. Every Interval it
// lists the accounts of every tenant that have an sftp_inbox setting, and for
// each one whose lease it gets (one replica polls an inbox at a time) it
// connects, takes the files that have stopped changing with
// sdk/transport/sftp's Poller, and hands each file, whole, to the account's
// connector's receive_push through the router, whose AfterCall (Recording)
// records the results as tracking. Any connector that serves receive_push can
// read an inbox; the request is a model.PushRequest whose Body is the file,
// whose x-hub-file-name header is its base name, and whose ContentType comes
// from its extension (.edi, .x12, .214: application/edi-x12; .csv: text/csv;
// otherwise application/octet-stream).
//
// # SFTP inbox settings
//
// An account's inbox is configured by its settings (Account.Settings):
//
//	sftp_inbox        the inbox directory on the server; setting it enables
//	                  the inbox. Absolute, or relative to the login directory.
//	                  The connection is confined to it.
//	sftp_host         the server's host name or address (required)
//	sftp_port         the SSH port (22)
//	sftp_user         the login name (required)
//	sftp_known_hosts  the server's host keys, in known_hosts format (required:
//	                  the host key is always checked; `ssh-keyscan -p PORT
//	                  HOST` prints them)
//	sftp_pattern      a glob on file names (*); dot files only when it starts
//	                  with a dot
//	sftp_archive      where processed files go (<inbox>/archive)
//	sftp_failed       where files the connector refuses go (<inbox>/failed)
//	sftp_processing   where claimed files wait while processed
//	                  (<inbox>/.processing)
//
// The three directories are relative to the inbox, or absolute inside it. The
// credentials (Account.Credentials, sealed at rest, never logged) are
// sftp_password or sftp_private_key (PEM), with sftp_passphrase for an
// encrypted key. An account whose settings cannot be used, or whose server
// cannot be reached or refuses the login, is reported in the log once per
// change of its problem, in Inbox.Status and in the hub_sftp_inbox_accounts
// metric; the other accounts are polled as usual. Two accounts must not share
// an inbox directory: each takes every claimed file in its processing
// directory as its own.
//
// # Exactly once
//
// A file is taken only when its size and modification time are the same as
// at the previous look, claimed by an atomic rename into the processing
// directory, handed to receive_push, then recorded and moved to the archive.
// Two records in the store (SFTPInboxStore, shared by replicas and durable
// across restarts) make this exactly once:
//
//   - the sftp Poller's Journal ("claim/<claim name>"): a claim recorded there
//     is archived without being processed again when a hub stopped between
//     recording it and archiving it;
//   - the file key ("file/<name:size:mtime>", sftp.IdempotencyKey), recorded
//     as soon as receive_push succeeded and checked before each call: a claim
//     left by a hub that stopped after the call but before the Journal write
//     is not handed over again, and neither is the same file dropped again
//     (same name, size and modification time) within Retention (30 days).
//
// One window remains: a hub that stops after receive_push's results are
// committed and before the file key is written hands the file over again on
// the next pass. Recording applies the results through ApplyTracking, which
// appends nothing for scans it already holds, so the repeated call changes no
// state and emits no event: exactly once in effect. (The file key is not
// written in ApplyTracking's transaction because the router records results
// in its AfterCall, out of reach of the caller.)
//
// A non-retryable refusal by the connector or the carrier (a malformed file)
// moves the file to the failed directory; a retryable one leaves it claimed
// for the next pass. An error of the hub rather than the file (the connector
// or its receive_push or the account is gone, the store failed) stops the
// account's pass and leaves the file claimed, so nothing is moved aside for a
// fault that is not the file's.
//
// The package imports the router, the store and the sdk; it must not import
// engine/api.
package inbound
