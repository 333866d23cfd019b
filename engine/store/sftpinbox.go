package store

import (
	"context"
	"time"
)

// MaxSFTPKeyLen bounds a key of SFTPInboxStore's file records and an inbox
// directory's path, in bytes.
const MaxSFTPKeyLen = 1024

// SFTPInboxStore is what the SFTP inbox (engine/inbound) keeps in the store: the
// files of each account's inbox already processed, and the lease that lets one
// replica at a time poll an inbox. Keys are opaque to the store: 1 to
// MaxSFTPKeyLen bytes of printable UTF-8 (callers hash anything else).
//
// The file records serve as the sdk/transport/sftp Journal of every replica at
// once: MarkSFTPFileDone is durable when it returns (the transaction has
// committed), so a record survives a crash of the hub that wrote it and is seen
// by every other replica.
//
// An account id that names no account is ErrNotFound on writes and reports
// nothing recorded on reads; deleting an account deletes its records and leases.
type SFTPInboxStore interface {
	// SFTPFileDone reports whether key is recorded for the account.
	SFTPFileDone(ctx context.Context, accountID, key string) (bool, error)
	// MarkSFTPFileDone records key for the account at the current time. Recording
	// a key again succeeds and keeps the first time.
	MarkSFTPFileDone(ctx context.Context, accountID, key string) error
	// ForgetSFTPFile removes a key; forgetting a key not recorded is not an error.
	ForgetSFTPFile(ctx context.Context, accountID, key string) error
	// PurgeSFTPFiles deletes the records made before the given time, of every
	// account, and returns how many.
	PurgeSFTPFiles(ctx context.Context, before time.Time) (int64, error)
	// AcquireSFTPInboxLease gives owner the right to poll the account's inbox
	// directory until now+ttl. It succeeds when the inbox has no live lease or
	// owner already holds it (renewal); otherwise it returns false. Of concurrent
	// claimants, at most one wins.
	AcquireSFTPInboxLease(ctx context.Context, accountID, inbox, owner string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseSFTPInboxLease ends owner's lease on the inbox, so another replica
	// may take over at once; releasing a lease not held is not an error.
	ReleaseSFTPInboxLease(ctx context.Context, accountID, inbox, owner string) error
}

var _ SFTPInboxStore = (*sqlStore)(nil)

// checkSFTPKey validates a file key or an inbox path.
func checkSFTPKey(field, s string) error {
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > MaxSFTPKeyLen:
		return invalid(field, "is %d bytes, longer than %d", len(s), MaxSFTPKeyLen)
	}
	return checkText(field, s)
}

// SFTPFileDone reports whether a key is recorded; see SFTPInboxStore.
func (s *sqlStore) SFTPFileDone(ctx context.Context, accountID, key string) (bool, error) {
	if err := checkSFTPKey("key", key); err != nil {
		return false, err
	}
	if !validID(accountPrefix, accountID) {
		return false, nil
	}
	var n int64
	err := s.db.queryRow(ctx, `SELECT COUNT(*) FROM sftp_inbox_files WHERE account_id = $1 AND file_key = $2`,
		[]any{accountID, key}, &n)
	if err != nil {
		return false, s.dbErr("reading sftp inbox journal", err)
	}
	return n > 0, nil
}

// MarkSFTPFileDone records a key; see SFTPInboxStore.
func (s *sqlStore) MarkSFTPFileDone(ctx context.Context, accountID, key string) error {
	if err := checkSFTPKey("key", key); err != nil {
		return err
	}
	if !validID(accountPrefix, accountID) {
		return notFound("account", accountID)
	}
	_, ms := s.stamp()
	_, err := s.db.exec(ctx, `INSERT INTO sftp_inbox_files (account_id, file_key, processed_at) VALUES ($1, $2, $3)
		ON CONFLICT (account_id, file_key) DO NOTHING`, accountID, key, ms)
	if err != nil {
		if s.db.kind(err) == kindForeignKey {
			return notFound("account", accountID)
		}
		return s.dbErr("recording in sftp inbox journal", err)
	}
	return nil
}

// ForgetSFTPFile removes a key; see SFTPInboxStore.
func (s *sqlStore) ForgetSFTPFile(ctx context.Context, accountID, key string) error {
	if err := checkSFTPKey("key", key); err != nil {
		return err
	}
	if !validID(accountPrefix, accountID) {
		return nil
	}
	if _, err := s.db.exec(ctx, `DELETE FROM sftp_inbox_files WHERE account_id = $1 AND file_key = $2`, accountID, key); err != nil {
		return s.dbErr("forgetting in sftp inbox journal", err)
	}
	return nil
}

// PurgeSFTPFiles deletes old records; see SFTPInboxStore.
func (s *sqlStore) PurgeSFTPFiles(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.db.exec(ctx, `DELETE FROM sftp_inbox_files WHERE processed_at < $1`, millis(before))
	if err != nil {
		return 0, s.dbErr("purging sftp inbox journal", err)
	}
	return n, nil
}

// AcquireSFTPInboxLease claims or renews an inbox's lease; see SFTPInboxStore.
func (s *sqlStore) AcquireSFTPInboxLease(ctx context.Context, accountID, inbox, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkSFTPKey("inbox", inbox); err != nil {
		return false, err
	}
	if err := checkRef("owner", owner, false); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, invalid("ttl", "must be positive")
	}
	if !validID(accountPrefix, accountID) {
		return false, notFound("account", accountID)
	}
	nowMS := millis(now)
	n, err := s.db.exec(ctx, `INSERT INTO sftp_inbox_leases (account_id, inbox, lease_owner, lease_until)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, inbox) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
		WHERE sftp_inbox_leases.lease_owner = excluded.lease_owner OR sftp_inbox_leases.lease_until <= $5`,
		accountID, inbox, owner, millis(now.Add(ttl)), nowMS)
	if err != nil {
		if s.db.kind(err) == kindForeignKey {
			return false, notFound("account", accountID)
		}
		return false, s.dbErr("acquiring sftp inbox lease", err)
	}
	return n == 1, nil
}

// ReleaseSFTPInboxLease ends a lease; see SFTPInboxStore.
func (s *sqlStore) ReleaseSFTPInboxLease(ctx context.Context, accountID, inbox, owner string) error {
	if err := checkSFTPKey("inbox", inbox); err != nil {
		return err
	}
	if !validID(accountPrefix, accountID) {
		return nil
	}
	_, err := s.db.exec(ctx, `UPDATE sftp_inbox_leases SET lease_owner = '', lease_until = 0
		WHERE account_id = $1 AND inbox = $2 AND lease_owner = $3`, accountID, inbox, owner)
	if err != nil {
		return s.dbErr("releasing sftp inbox lease", err)
	}
	return nil
}
