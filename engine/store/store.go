// Package store keeps the hub's durable state: tenants, API keys and accounts
// (credentials encrypted at rest). Two backends implement Store: embedded SQLite
// (pure Go, the default) and Postgres (pgx/v5, for many replicas). Both run the same
// migrations and pass the same conformance suite (storetest).
package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Errors every backend returns for the same conditions.
var (
	// ErrNotFound: no such row, or it belongs to another tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name or id is already taken.
	ErrConflict = errors.New("already exists")
	// ErrLastAdminKey: the key is its tenant's last live admin key, which cannot be
	// revoked (another admin key must be made first). It matches ErrConflict.
	ErrLastAdminKey error = lastAdminKeyError{}
)

type lastAdminKeyError struct{}

func (lastAdminKeyError) Error() string { return "the tenant's last live admin key cannot be revoked" }

// Is makes ErrLastAdminKey match ErrConflict.
func (lastAdminKeyError) Is(target error) bool { return target == ErrConflict }

// Tenant is a customer of the hub: its API keys, accounts and data are its own.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey is a bearer credential of a tenant: it sees only its tenant. Only a hash
// of the secret is stored.
type APIKey struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	// Prefix is the first characters of the secret, for telling keys apart.
	Prefix string `json:"prefix"`
	// Admin keys may create and revoke the tenant's admin keys; other keys may
	// manage only non-admin keys. Tenants themselves are managed by operator keys.
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the key stops authenticating; nil means never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Live reports whether the key authenticates at now: not revoked, not expired.
func (k APIKey) Live(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// OperatorKey is a hub-wide bearer credential, made with the CLI: it manages
// tenants (create, list, get) and sees no tenant's data. Only a hash of the
// secret is stored.
type OperatorKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Prefix is the first characters of the secret, for telling keys apart.
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the key stops authenticating; nil means never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// AsAPIKey is the operator key as the API's handlers see a caller: its id,
// name, prefix and times, and no tenant (IsOperatorKeyID tells it apart).
func (k OperatorKey) AsAPIKey() APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt}
}

// Live reports whether the key authenticates at now: not revoked, not expired.
func (k OperatorKey) Live(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// KeyOption adjusts an API or operator key being created.
type KeyOption func(*KeyOptions)

// KeyOptions are the settings of a key being created, as its KeyOptions leave
// them; a Store implementation reads them with ApplyKeyOptions.
type KeyOptions struct {
	// ExpiresAt is when the key stops authenticating; nil means never.
	ExpiresAt *time.Time
}

// ApplyKeyOptions returns the settings opts make.
func ApplyKeyOptions(opts ...KeyOption) KeyOptions {
	var o KeyOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithExpiry makes the key stop authenticating at t, kept to the millisecond. A
// time already past makes a key that never authenticates; callers that take
// the time from a person refuse that first. The zero time means no expiry.
func WithExpiry(t time.Time) KeyOption {
	return func(o *KeyOptions) {
		if t.IsZero() {
			o.ExpiresAt = nil
			return
		}
		t = fromMillis(millis(t))
		o.ExpiresAt = &t
	}
}

// IsOperatorSecret reports whether a bearer secret has the form of an operator
// key's ("hub_op_..."), which AuthenticateOperator, not Authenticate, looks up.
func IsOperatorSecret(secret string) bool { return strings.HasPrefix(secret, operatorSecretPrefix) }

// IsOperatorKeyID reports whether id has the form of an operator key's id ("opk_...").
func IsOperatorKeyID(id string) bool { return validID(operatorKeyPrefix, id) }

// OperatorKeyStore keeps the hub-wide operator keys.
type OperatorKeyStore interface {
	// CreateOperatorKey makes an operator key and returns it with its secret,
	// which is shown once.
	CreateOperatorKey(ctx context.Context, name string, opts ...KeyOption) (OperatorKey, string, error)
	// AuthenticateOperator returns the live operator key whose secret this is, or
	// ErrNotFound (unknown, revoked and expired alike).
	AuthenticateOperator(ctx context.Context, secret string) (OperatorKey, error)
	// ListOperatorKeys returns every operator key, revoked and expired ones
	// included, oldest first, without secrets.
	ListOperatorKeys(ctx context.Context) ([]OperatorKey, error)
	// RevokeOperatorKey revokes an operator key; revoking again succeeds and keeps
	// the first time.
	RevokeOperatorKey(ctx context.Context, id string) error
}

// Account is a tenant's credentials and settings for one connector.
type Account struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenant_id"`
	ConnectorID string `json:"connector_id"`
	Name        string `json:"name"`
	// Environment is sandbox or production.
	Environment string `json:"environment"`
	// BaseURL overrides the manifest's URL for Environment (sandboxes, simulators).
	BaseURL string `json:"base_url,omitempty"`
	// Credentials are encrypted at rest and never returned by the API.
	Credentials map[string]string `json:"-"`
	Settings    map[string]string `json:"settings,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
}

// Store is the hub's durable state. All methods are safe for concurrent use.
// Methods that take a tenantID never return another tenant's rows: they report
// ErrNotFound instead. Input that can never be stored (an empty or overlong
// name, an unknown environment, a malformed base URL) is reported as a
// *ValidationError matching ErrInvalid. Lists of an unknown tenant are empty.
// Times are kept to the millisecond, in UTC.
type Store interface {
	// IdempotencyStore keeps Idempotency-Key claims and stored answers.
	IdempotencyStore
	// EventStore is the outbox of events and the relays' cursors and leases.
	EventStore
	// ShipmentStore keeps the shipments the hub booked or tracks, with their events.
	ShipmentStore
	// UnconfirmedStore keeps creates whose outcome is unknown until they are settled.
	UnconfirmedStore
	// EWayBillStore keeps e-way bills' state and validity, and claims
	// eway_bill.expiring notices.
	EWayBillStore
	// WebhookStore keeps webhook endpoints, deliveries and the attempt log.
	WebhookStore
	// StatsStore reads the event pipeline's backlog for metrics.
	StatsStore
	// SFTPInboxStore keeps the SFTP inbox's processed files and per-inbox leases.
	SFTPInboxStore
	// OperatorKeyStore keeps the hub-wide operator keys.
	OperatorKeyStore
	// ConsoleSessionStore keeps the operators' console's sign-in sessions.
	ConsoleSessionStore
	// RateStore keeps rate limits shared by every process on the database.
	RateStore

	// CreateTenant makes a tenant; a taken name is ErrConflict.
	CreateTenant(ctx context.Context, name string) (Tenant, error)
	// GetTenant returns a tenant by id.
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// ListTenants returns every tenant, oldest first.
	ListTenants(ctx context.Context) ([]Tenant, error)

	// CreateAPIKey makes a key and returns it with its secret, which is shown once.
	CreateAPIKey(ctx context.Context, tenantID, name string, admin bool, opts ...KeyOption) (APIKey, string, error)
	// Authenticate returns the live (neither revoked nor expired) tenant key whose
	// secret this is, or ErrNotFound. Operator secrets are not looked up here.
	Authenticate(ctx context.Context, secret string) (APIKey, error)
	// GetAPIKey returns one of a tenant's keys, without its secret.
	GetAPIKey(ctx context.Context, tenantID, keyID string) (APIKey, error)
	// ListAPIKeys returns a tenant's keys, revoked and expired ones included,
	// without secrets.
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	// RevokeAPIKey revokes a key; revoking again succeeds and keeps the first time.
	// The tenant's last live admin key is not revoked: that is ErrLastAdminKey.
	RevokeAPIKey(ctx context.Context, tenantID, keyID string) error

	// CreateAccount stores a new account; ID and CreatedAt are filled in.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	// GetAccount returns an account with its credentials decrypted.
	GetAccount(ctx context.Context, tenantID, id string) (Account, error)
	// ListAccounts lists a tenant's accounts, of one connector when connectorID is set.
	ListAccounts(ctx context.Context, tenantID, connectorID string) ([]Account, error)
	// DeleteAccount removes an account and its sealed credentials.
	DeleteAccount(ctx context.Context, tenantID, id string) error

	// Ping checks the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend's connections.
	Close() error
}
