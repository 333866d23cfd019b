package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/carrierhub/hub/engine/secretbox"
)

// querier runs statements, on the pool or inside one transaction. Queries use
// $1-style placeholders, which both SQLite and Postgres accept, and only portable SQL.
type querier interface {
	// exec runs a statement and returns how many rows it matched.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	// queryRow scans the first row of a query into dest, or returns errNoRows.
	queryRow(ctx context.Context, query string, args []any, dest ...any) error
	// query calls each once per row; scan fills dest from the current row.
	query(ctx context.Context, query string, args []any, each func(scan func(dest ...any) error) error) error
}

// rowIter is what eachRow reads: *sql.Rows and pgx.Rows both are.
type rowIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// eachRow calls each once per row with the row's Scan, stopping at its first
// error, and then reports the rows' own error. The caller closes rows.
func eachRow(rows rowIter, each func(scan func(dest ...any) error) error) error {
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// backend is what a database must provide for sqlStore: the narrow, per-driver part.
type backend interface {
	querier
	// inTx runs fn inside one transaction and commits it when fn returns nil; it
	// rolls back when fn fails (returning fn's error unchanged) or panics. Writes
	// inside fn are atomic. SQLite begins IMMEDIATE, taking the database's single
	// write lock up front, so two read-then-write transactions never deadlock;
	// Postgres runs READ COMMITTED, and fn takes row locks (an UPDATE of the row
	// first) where it reads before it writes.
	inTx(ctx context.Context, fn func(q querier) error) error
	// kind classifies a driver error.
	kind(err error) errKind
	ping(ctx context.Context) error
	close() error
	// name is "sqlite" or "postgres", for messages.
	name() string
}

// errKind is a backend-neutral class of database error.
type errKind int

const (
	kindOther errKind = iota
	kindUnique
	kindForeignKey
)

// errNoRows is what backend.queryRow returns when the query matched nothing.
var errNoRows = errors.New("no rows")

// sqlStore implements Store over any backend: the one place that knows the schema,
// validation, id and key formats, and credential sealing.
type sqlStore struct {
	db  backend
	box *secretbox.Box
	now func() time.Time
	// ships caches shipments on the embedded store; nil on Postgres.
	ships *shipmentCache
}

var _ Store = (*sqlStore)(nil)

// millis converts a time to the stored form.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis converts a stored time back; UTC so values compare equal across backends.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// stamp returns the current time at the stored precision.
func (s *sqlStore) stamp() (time.Time, int64) {
	ms := millis(s.now())
	return fromMillis(ms), ms
}

// dbErr wraps an unexpected database error once, with the operation for context.
func (s *sqlStore) dbErr(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s (%s): %w", op, s.db.name(), err)
}

// CreateTenant makes a tenant. Tenant names are unique: a taken name is ErrConflict.
func (s *sqlStore) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	if err := checkName("name", name); err != nil {
		return Tenant{}, err
	}
	t := Tenant{ID: newID(tenantPrefix), Name: name}
	var ms int64
	t.CreatedAt, ms = s.stamp()
	_, err := s.db.exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)`, t.ID, t.Name, ms)
	if err != nil {
		if s.db.kind(err) == kindUnique {
			return Tenant{}, fmt.Errorf("tenant name %q: %w", name, ErrConflict)
		}
		return Tenant{}, s.dbErr("creating tenant", err)
	}
	return t, nil
}

// GetTenant returns a tenant by id, or ErrNotFound.
func (s *sqlStore) GetTenant(ctx context.Context, id string) (Tenant, error) {
	if !validID(tenantPrefix, id) {
		return Tenant{}, notFound("tenant", id)
	}
	t := Tenant{ID: id}
	var ms int64
	err := s.db.queryRow(ctx, `SELECT name, created_at FROM tenants WHERE id = $1`, []any{id}, &t.Name, &ms)
	if errors.Is(err, errNoRows) {
		return Tenant{}, notFound("tenant", id)
	}
	if err != nil {
		return Tenant{}, s.dbErr("getting tenant", err)
	}
	t.CreatedAt = fromMillis(ms)
	return t, nil
}

// ListTenants returns every tenant, oldest first.
func (s *sqlStore) ListTenants(ctx context.Context) ([]Tenant, error) {
	out := []Tenant{}
	err := s.db.query(ctx, `SELECT id, name, created_at FROM tenants ORDER BY created_at, id`, nil,
		func(scan func(...any) error) error {
			var t Tenant
			var ms int64
			if err := scan(&t.ID, &t.Name, &ms); err != nil {
				return err
			}
			t.CreatedAt = fromMillis(ms)
			out = append(out, t)
			return nil
		})
	if err != nil {
		return nil, s.dbErr("listing tenants", err)
	}
	return out, nil
}

// CreateAPIKey makes a key for an existing tenant and returns it with its secret.
func (s *sqlStore) CreateAPIKey(ctx context.Context, tenantID, name string, admin bool, opts ...KeyOption) (APIKey, string, error) {
	if err := checkName("name", name); err != nil {
		return APIKey{}, "", err
	}
	if !validID(tenantPrefix, tenantID) {
		return APIKey{}, "", notFound("tenant", tenantID)
	}
	o := ApplyKeyOptions(opts...)
	secret := newSecret()
	k := APIKey{
		ID:        newID(apiKeyPrefix),
		TenantID:  tenantID,
		Name:      name,
		Prefix:    secret[:displayPrefixLen],
		Admin:     admin,
		ExpiresAt: o.ExpiresAt,
	}
	var ms int64
	k.CreatedAt, ms = s.stamp()
	_, err := s.db.exec(ctx, `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, admin, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.TenantID, k.Name, k.Prefix, hashSecret(secret), k.Admin, ms, msOrNil(k.ExpiresAt))
	if err != nil {
		switch s.db.kind(err) {
		case kindForeignKey:
			return APIKey{}, "", notFound("tenant", tenantID)
		case kindUnique:
			// Only a repeated random id or hash can collide: practically never.
			return APIKey{}, "", fmt.Errorf("api key: %w", ErrConflict)
		}
		return APIKey{}, "", s.dbErr("creating api key", err)
	}
	return k, secret, nil
}

const apiKeyColumns = `id, tenant_id, name, prefix, admin, created_at, expires_at, revoked_at`

func scanAPIKey(scan func(...any) error) (APIKey, error) {
	var k APIKey
	var created int64
	var expires, revoked nullMillis
	if err := scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Admin, &created, &expires, &revoked); err != nil {
		return APIKey{}, err
	}
	k.CreatedAt = fromMillis(created)
	k.ExpiresAt, k.RevokedAt = expires.ptr(), revoked.ptr()
	return k, nil
}

// Authenticate finds the live key whose secret this is. The lookup is by SHA-256 of
// the secret through a unique index: what an attacker could time is the search for a
// hash, which reveals nothing about secrets they do not already hold. Unknown,
// malformed, revoked and expired secrets are all ErrNotFound, with no hint of which.
func (s *sqlStore) Authenticate(ctx context.Context, secret string) (APIKey, error) {
	if !wellFormedSecret(secret) {
		return APIKey{}, fmt.Errorf("api key: %w", ErrNotFound)
	}
	_, now := s.stamp()
	k, err := scanAPIKey(func(dest ...any) error {
		return s.db.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
			WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
			[]any{hashSecret(secret), now}, dest...)
	})
	if errors.Is(err, errNoRows) {
		return APIKey{}, fmt.Errorf("api key: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, s.dbErr("authenticating api key", err)
	}
	return k, nil
}

// GetAPIKey returns one of a tenant's keys; another tenant's is ErrNotFound.
func (s *sqlStore) GetAPIKey(ctx context.Context, tenantID, keyID string) (APIKey, error) {
	if !validID(tenantPrefix, tenantID) || !validID(apiKeyPrefix, keyID) {
		return APIKey{}, notFound("api key", keyID)
	}
	k, err := scanAPIKey(func(dest ...any) error {
		return s.db.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 AND id = $2`,
			[]any{tenantID, keyID}, dest...)
	})
	if errors.Is(err, errNoRows) {
		return APIKey{}, notFound("api key", keyID)
	}
	if err != nil {
		return APIKey{}, s.dbErr("getting api key", err)
	}
	return k, nil
}

// ListAPIKeys returns a tenant's keys, revoked and expired ones included, oldest first.
func (s *sqlStore) ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	out := []APIKey{}
	if !validID(tenantPrefix, tenantID) {
		return out, nil
	}
	err := s.db.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1
		ORDER BY created_at, id`, []any{tenantID},
		func(scan func(...any) error) error {
			k, err := scanAPIKey(scan)
			if err != nil {
				return err
			}
			out = append(out, k)
			return nil
		})
	if err != nil {
		return nil, s.dbErr("listing api keys", err)
	}
	return out, nil
}

// RevokeAPIKey marks a tenant's key revoked. Revoking a revoked key succeeds and keeps
// the first revocation time; another tenant's key is ErrNotFound. A live admin key
// is not revoked when no other live admin key of its tenant is left: that is
// ErrLastAdminKey. The check and the revocation are one transaction under a lock
// on the tenant's row, so two keys revoking each other cannot both succeed.
func (s *sqlStore) RevokeAPIKey(ctx context.Context, tenantID, keyID string) error {
	if !validID(tenantPrefix, tenantID) || !validID(apiKeyPrefix, keyID) {
		return notFound("api key", keyID)
	}
	now, ms := s.stamp()
	err := s.db.inTx(ctx, func(q querier) error {
		// Postgres runs READ COMMITTED: lock the tenant first, so concurrent
		// revocations of its keys take turns. (SQLite's write lock already does.)
		n, err := q.exec(ctx, `UPDATE tenants SET name = name WHERE id = $1`, tenantID)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("api key", keyID)
		}
		k, err := scanAPIKey(func(dest ...any) error {
			return q.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 AND id = $2`,
				[]any{tenantID, keyID}, dest...)
		})
		if errors.Is(err, errNoRows) {
			return notFound("api key", keyID)
		}
		if err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return nil // revoked already: the first time stands
		}
		if k.Admin && k.Live(now) {
			var others int64
			if err := q.queryRow(ctx, `SELECT COUNT(*) FROM api_keys
				WHERE tenant_id = $1 AND id <> $2 AND admin = $3 AND revoked_at IS NULL
				AND (expires_at IS NULL OR expires_at > $4)`, []any{tenantID, keyID, true, ms}, &others); err != nil {
				return err
			}
			if others == 0 {
				return fmt.Errorf("api key %s: %w (create another admin key first)", keyID, ErrLastAdminKey)
			}
		}
		_, err = q.exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL`,
			ms, tenantID, keyID)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return s.dbErr("revoking api key", err)
	}
	return err
}

// accountAAD binds sealed credentials to their row: a value copied into another
// account or tenant does not open.
func accountAAD(tenantID, accountID string) []byte {
	return []byte(tenantID + "/" + accountID)
}

// CreateAccount validates and stores an account with its credentials sealed. The id
// and creation time are chosen here, whatever a carries.
func (s *sqlStore) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := checkAccount(a); err != nil {
		return Account{}, err
	}
	if !validID(tenantPrefix, a.TenantID) {
		return Account{}, notFound("tenant", a.TenantID)
	}
	a.ID = newID(accountPrefix)
	var ms int64
	a.CreatedAt, ms = s.stamp()
	a.Credentials = cloneMap(a.Credentials)
	a.Settings = cloneMap(a.Settings)
	creds, err := json.Marshal(a.Credentials)
	if err != nil {
		return Account{}, fmt.Errorf("encoding credentials: %w", err)
	}
	sealed, err := s.box.Seal(creds, accountAAD(a.TenantID, a.ID))
	if err != nil {
		return Account{}, fmt.Errorf("sealing credentials: %w", err)
	}
	settings, err := json.Marshal(a.Settings)
	if err != nil {
		return Account{}, fmt.Errorf("encoding settings: %w", err)
	}
	_, err = s.db.exec(ctx, `INSERT INTO accounts
		(id, tenant_id, connector_id, name, environment, base_url, credentials, settings, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.ID, a.TenantID, a.ConnectorID, a.Name, a.Environment, a.BaseURL, sealed, string(settings), ms)
	if err != nil {
		switch s.db.kind(err) {
		case kindForeignKey:
			return Account{}, notFound("tenant", a.TenantID)
		case kindUnique:
			return Account{}, fmt.Errorf("account %q of connector %s: %w", a.Name, a.ConnectorID, ErrConflict)
		}
		return Account{}, s.dbErr("creating account", err)
	}
	return a, nil
}

const accountColumns = `id, tenant_id, connector_id, name, environment, base_url, credentials, settings, created_at`

// scanAccount reads a row and opens its credentials.
func (s *sqlStore) scanAccount(scan func(...any) error) (Account, error) {
	var a Account
	var sealed, settings string
	var ms int64
	if err := scan(&a.ID, &a.TenantID, &a.ConnectorID, &a.Name, &a.Environment, &a.BaseURL,
		&sealed, &settings, &ms); err != nil {
		return Account{}, err
	}
	a.CreatedAt = fromMillis(ms)
	creds, err := s.box.Open(sealed, accountAAD(a.TenantID, a.ID))
	if err != nil {
		return Account{}, fmt.Errorf("account %s credentials: %w", a.ID, err)
	}
	if err := json.Unmarshal(creds, &a.Credentials); err != nil {
		// The JSON error could quote plaintext; say only what is wrong.
		return Account{}, fmt.Errorf("account %s credentials: not a JSON object of strings", a.ID)
	}
	if err := json.Unmarshal([]byte(settings), &a.Settings); err != nil {
		return Account{}, fmt.Errorf("account %s settings: decoding: %w", a.ID, err)
	}
	if a.Credentials == nil {
		a.Credentials = map[string]string{}
	}
	if a.Settings == nil {
		a.Settings = map[string]string{}
	}
	return a, nil
}

// GetAccount returns a tenant's account with its credentials opened.
func (s *sqlStore) GetAccount(ctx context.Context, tenantID, id string) (Account, error) {
	if !validID(tenantPrefix, tenantID) || !validID(accountPrefix, id) {
		return Account{}, notFound("account", id)
	}
	var rowErr error
	a, err := s.scanAccount(func(dest ...any) error {
		rowErr = s.db.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts
			WHERE tenant_id = $1 AND id = $2`, []any{tenantID, id}, dest...)
		return rowErr
	})
	if err != nil {
		if errors.Is(rowErr, errNoRows) {
			return Account{}, notFound("account", id)
		}
		if rowErr != nil {
			return Account{}, s.dbErr("getting account", err)
		}
		return Account{}, err
	}
	return a, nil
}

// ListAccounts returns a tenant's accounts, of one connector when connectorID is set,
// oldest first.
func (s *sqlStore) ListAccounts(ctx context.Context, tenantID, connectorID string) ([]Account, error) {
	out := []Account{}
	if !validID(tenantPrefix, tenantID) {
		return out, nil
	}
	q := `SELECT ` + accountColumns + ` FROM accounts WHERE tenant_id = $1`
	args := []any{tenantID}
	if connectorID != "" {
		if !connectorIDPattern.MatchString(connectorID) {
			return out, nil // no account can have it
		}
		q += ` AND connector_id = $2`
		args = append(args, connectorID)
	}
	q += ` ORDER BY created_at, id`
	var openErr error
	err := s.db.query(ctx, q, args, func(scan func(...any) error) error {
		var rowErr error
		a, err := s.scanAccount(func(dest ...any) error {
			rowErr = scan(dest...)
			return rowErr
		})
		if err != nil {
			if rowErr == nil {
				openErr = err
			}
			return err
		}
		out = append(out, a)
		return nil
	})
	if openErr != nil {
		return nil, openErr
	}
	if err != nil {
		return nil, s.dbErr("listing accounts", err)
	}
	return out, nil
}

// DeleteAccount removes a tenant's account; another tenant's is ErrNotFound.
func (s *sqlStore) DeleteAccount(ctx context.Context, tenantID, id string) error {
	if !validID(tenantPrefix, tenantID) || !validID(accountPrefix, id) {
		return notFound("account", id)
	}
	n, err := s.db.exec(ctx, `DELETE FROM accounts WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return s.dbErr("deleting account", err)
	}
	if n == 0 {
		return notFound("account", id)
	}
	return nil
}

// Ping checks the database answers.
func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.db.ping(ctx); err != nil {
		return s.dbErr("ping", err)
	}
	return nil
}

// Close releases the database.
func (s *sqlStore) Close() error {
	return s.db.close()
}

// notFound wraps ErrNotFound with what was looked for. An id that is not even
// well-formed is not echoed in full, since it may be anything a client sent.
func notFound(what, id string) error {
	if len(id) > 40 || checkText("id", id) != nil {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s %q: %w", what, id, ErrNotFound)
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// nullMillis scans a nullable BIGINT with either driver.
type nullMillis struct {
	Int64 int64
	Valid bool
}

// Scan implements sql.Scanner, which pgx also honours.
func (n *nullMillis) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.Int64, n.Valid = 0, false
	case int64:
		n.Int64, n.Valid = v, true
	case int32:
		n.Int64, n.Valid = int64(v), true
	default:
		return fmt.Errorf("scanning time: unexpected %T", src)
	}
	return nil
}
