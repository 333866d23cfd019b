package store

import (
	"context"
	"errors"
	"fmt"
)

// CreateOperatorKey makes a hub-wide operator key and returns it with its secret.
func (s *sqlStore) CreateOperatorKey(ctx context.Context, name string, opts ...KeyOption) (OperatorKey, string, error) {
	if err := checkName("name", name); err != nil {
		return OperatorKey{}, "", err
	}
	o := ApplyKeyOptions(opts...)
	secret := newSecretWith(operatorSecretPrefix)
	k := OperatorKey{
		ID:        newID(operatorKeyPrefix),
		Name:      name,
		Prefix:    secret[:displayPrefixLen],
		ExpiresAt: o.ExpiresAt,
	}
	var ms int64
	k.CreatedAt, ms = s.stamp()
	_, err := s.db.exec(ctx, `INSERT INTO operator_keys (id, name, prefix, key_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Name, k.Prefix, hashSecret(secret), ms, msOrNil(k.ExpiresAt))
	if err != nil {
		if s.db.kind(err) == kindUnique {
			// Only a repeated random id or hash can collide: practically never.
			return OperatorKey{}, "", fmt.Errorf("operator key: %w", ErrConflict)
		}
		return OperatorKey{}, "", s.dbErr("creating operator key", err)
	}
	return k, secret, nil
}

const operatorKeyColumns = `id, name, prefix, created_at, expires_at, revoked_at`

func scanOperatorKey(scan func(...any) error) (OperatorKey, error) {
	var k OperatorKey
	var created int64
	var expires, revoked nullMillis
	if err := scan(&k.ID, &k.Name, &k.Prefix, &created, &expires, &revoked); err != nil {
		return OperatorKey{}, err
	}
	k.CreatedAt = fromMillis(created)
	k.ExpiresAt, k.RevokedAt = expires.ptr(), revoked.ptr()
	return k, nil
}

// AuthenticateOperator finds the live operator key whose secret this is, by the
// SHA-256 of the secret as Authenticate does. Unknown, malformed, revoked and
// expired secrets are all ErrNotFound, with no hint of which; a tenant key's
// secret is never an operator key's.
func (s *sqlStore) AuthenticateOperator(ctx context.Context, secret string) (OperatorKey, error) {
	if !wellFormedSecretOf(operatorSecretPrefix, secret) {
		return OperatorKey{}, fmt.Errorf("operator key: %w", ErrNotFound)
	}
	_, now := s.stamp()
	k, err := scanOperatorKey(func(dest ...any) error {
		return s.db.queryRow(ctx, `SELECT `+operatorKeyColumns+` FROM operator_keys
			WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
			[]any{hashSecret(secret), now}, dest...)
	})
	if errors.Is(err, errNoRows) {
		return OperatorKey{}, fmt.Errorf("operator key: %w", ErrNotFound)
	}
	if err != nil {
		return OperatorKey{}, s.dbErr("authenticating operator key", err)
	}
	return k, nil
}

// ListOperatorKeys returns every operator key, revoked and expired ones
// included, oldest first.
func (s *sqlStore) ListOperatorKeys(ctx context.Context) ([]OperatorKey, error) {
	out := []OperatorKey{}
	err := s.db.query(ctx, `SELECT `+operatorKeyColumns+` FROM operator_keys ORDER BY created_at, id`, nil,
		func(scan func(...any) error) error {
			k, err := scanOperatorKey(scan)
			if err != nil {
				return err
			}
			out = append(out, k)
			return nil
		})
	if err != nil {
		return nil, s.dbErr("listing operator keys", err)
	}
	return out, nil
}

// RevokeOperatorKey marks an operator key revoked. Revoking a revoked key
// succeeds and keeps the first revocation time. The last operator key may be
// revoked: operator keys are made with the CLI, which needs none.
func (s *sqlStore) RevokeOperatorKey(ctx context.Context, id string) error {
	if !validID(operatorKeyPrefix, id) {
		return notFound("operator key", id)
	}
	_, ms := s.stamp()
	n, err := s.db.exec(ctx, `UPDATE operator_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, ms, id)
	if err != nil {
		return s.dbErr("revoking operator key", err)
	}
	if n == 0 {
		return notFound("operator key", id)
	}
	return nil
}
