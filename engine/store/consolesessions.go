package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ConsoleSession is a browser's signed-in session of the operators' console. It
// acts as the API key it was made from (a tenant's or an operator's) until it
// expires, is ended by signing out, or that key is revoked or expires. Only a
// hash of its secret is stored.
type ConsoleSession struct {
	ID string `json:"id"`
	// KeyID is the key signed in with: a tenant's API key or an operator key
	// (IsOperatorKeyID tells them apart).
	KeyID string `json:"key_id"`
	// TenantID is the key's tenant; empty for an operator key.
	TenantID  string    `json:"tenant_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ConsoleSessionStore keeps the console's sessions.
type ConsoleSessionStore interface {
	// CreateConsoleSession starts a session for key, a live key the caller has
	// just authenticated, lasting ttl or until the key expires, whichever is
	// first. It returns the session with its secret, which only the browser's
	// cookie holds. Sessions ended or expired a day ago are purged on the way.
	CreateConsoleSession(ctx context.Context, key APIKey, ttl time.Duration) (ConsoleSession, string, error)
	// AuthenticateConsoleSession returns the live session whose secret this is
	// and the live key it acts as (an operator key as an APIKey with no
	// tenant), or ErrNotFound: unknown, malformed, ended and expired sessions,
	// and sessions of revoked or expired keys, alike.
	AuthenticateConsoleSession(ctx context.Context, secret string) (ConsoleSession, APIKey, error)
	// EndConsoleSession signs a session out; ending it again succeeds. An
	// unknown or malformed secret is ErrNotFound.
	EndConsoleSession(ctx context.Context, secret string) error
}

// Console session secrets are "hub_cs_" and 32 random bytes in unpadded
// base64url, like keys' secrets.
const (
	consoleSessionPrefix       = "cs_"
	consoleSessionSecretPrefix = "hub_cs_"
	// consoleSessionPurgeAfter is how long ended and expired sessions stay.
	consoleSessionPurgeAfter = 24 * time.Hour
)

func (s *sqlStore) CreateConsoleSession(ctx context.Context, key APIKey, ttl time.Duration) (ConsoleSession, string, error) {
	operator := IsOperatorKeyID(key.ID)
	if !operator && (!validID(apiKeyPrefix, key.ID) || !validID(tenantPrefix, key.TenantID)) {
		return ConsoleSession{}, "", &ValidationError{Field: "key", Reason: "must be a live API key or operator key"}
	}
	if ttl <= 0 {
		return ConsoleSession{}, "", &ValidationError{Field: "lifetime", Reason: "must be positive"}
	}
	now, nowMs := s.stamp()
	sess := ConsoleSession{ID: newID(consoleSessionPrefix), KeyID: key.ID, TenantID: key.TenantID, CreatedAt: now,
		ExpiresAt: now.Add(ttl).Truncate(time.Millisecond)}
	if key.ExpiresAt != nil && key.ExpiresAt.Before(sess.ExpiresAt) {
		sess.ExpiresAt = key.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	if operator {
		sess.TenantID = ""
	}
	secret := newSecretWith(consoleSessionSecretPrefix)
	purgeBefore := nowMs - consoleSessionPurgeAfter.Milliseconds()
	err := s.db.inTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, `DELETE FROM console_sessions WHERE expires_at < $1 OR ended_at < $1`, purgeBefore); err != nil {
			return err
		}
		_, err := q.exec(ctx, `INSERT INTO console_sessions (id, token_hash, key_id, tenant_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			sess.ID, hashSecret(secret), sess.KeyID, sess.TenantID, nowMs, millis(sess.ExpiresAt))
		return err
	})
	if err != nil {
		return ConsoleSession{}, "", s.dbErr("creating console session", err)
	}
	return sess, secret, nil
}

func (s *sqlStore) AuthenticateConsoleSession(ctx context.Context, secret string) (ConsoleSession, APIKey, error) {
	none := fmt.Errorf("console session: %w", ErrNotFound)
	if !wellFormedSecretOf(consoleSessionSecretPrefix, secret) {
		return ConsoleSession{}, APIKey{}, none
	}
	_, now := s.stamp()
	var sess ConsoleSession
	var created, expires int64
	err := s.db.queryRow(ctx, `SELECT id, key_id, tenant_id, created_at, expires_at FROM console_sessions
		WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2`,
		[]any{hashSecret(secret), now}, &sess.ID, &sess.KeyID, &sess.TenantID, &created, &expires)
	if errors.Is(err, errNoRows) {
		return ConsoleSession{}, APIKey{}, none
	}
	if err != nil {
		return ConsoleSession{}, APIKey{}, s.dbErr("authenticating console session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMillis(created), fromMillis(expires)

	// The key it acts as must still be live: a revoked or expired key ends it.
	var key APIKey
	if IsOperatorKeyID(sess.KeyID) {
		var op OperatorKey
		op, err = scanOperatorKey(func(dest ...any) error {
			return s.db.queryRow(ctx, `SELECT `+operatorKeyColumns+` FROM operator_keys WHERE id = $1`, []any{sess.KeyID}, dest...)
		})
		switch {
		case errors.Is(err, errNoRows), err == nil && !op.Live(fromMillis(now)):
			err = ErrNotFound
		case err != nil:
			err = s.dbErr("reading console session's operator key", err)
		}
		key = op.AsAPIKey()
	} else {
		key, err = s.GetAPIKey(ctx, sess.TenantID, sess.KeyID)
		if err == nil && !key.Live(fromMillis(now)) {
			err = ErrNotFound
		}
	}
	if errors.Is(err, ErrNotFound) {
		return ConsoleSession{}, APIKey{}, none
	}
	if err != nil {
		return ConsoleSession{}, APIKey{}, err // already wrapped by dbErr
	}
	return sess, key, nil
}

func (s *sqlStore) EndConsoleSession(ctx context.Context, secret string) error {
	none := fmt.Errorf("console session: %w", ErrNotFound)
	if !wellFormedSecretOf(consoleSessionSecretPrefix, secret) {
		return none
	}
	_, now := s.stamp()
	n, err := s.db.exec(ctx, `UPDATE console_sessions SET ended_at = COALESCE(ended_at, $1) WHERE token_hash = $2`,
		now, hashSecret(secret))
	if err != nil {
		return s.dbErr("ending console session", err)
	}
	if n == 0 {
		return none
	}
	return nil
}
