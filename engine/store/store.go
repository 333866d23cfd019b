// Package store keeps the hub's durable state: tenants, API keys and accounts
// (credentials encrypted at rest). Two backends implement Store: embedded SQLite
// (pure Go, the default) and Postgres (pgx/v5, for many replicas). Both run the same
// migrations and pass the same conformance suite (storetest).
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same conditions.
var (
	// ErrNotFound: no such row, or it belongs to another tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name or id is already taken.
	ErrConflict = errors.New("already exists")
)

// Tenant is a customer of the hub: its API keys, accounts and data are its own.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey is a bearer credential of a tenant. Only a hash of the secret is stored.
type APIKey struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	// Prefix is the first characters of the secret, for telling keys apart.
	Prefix string `json:"prefix"`
	// Admin keys may manage tenants.
	Admin     bool       `json:"admin"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
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
	// EWayBillStore keeps e-way bills' state and validity, and claims
	// eway_bill.expiring notices.
	EWayBillStore
	// WebhookStore keeps webhook endpoints, deliveries and the attempt log.
	WebhookStore
	// StatsStore reads the event pipeline's backlog for metrics.
	StatsStore
	// SFTPInboxStore keeps the SFTP inbox's processed files and per-inbox leases.
	SFTPInboxStore

	// CreateTenant makes a tenant; a taken name is ErrConflict.
	CreateTenant(ctx context.Context, name string) (Tenant, error)
	// GetTenant returns a tenant by id.
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// ListTenants returns every tenant, oldest first.
	ListTenants(ctx context.Context) ([]Tenant, error)

	// CreateAPIKey makes a key and returns it with its secret, which is shown once.
	CreateAPIKey(ctx context.Context, tenantID, name string, admin bool) (APIKey, string, error)
	// Authenticate returns the live key whose secret this is, or ErrNotFound.
	Authenticate(ctx context.Context, secret string) (APIKey, error)
	// ListAPIKeys returns a tenant's keys, revoked ones included, without secrets.
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	// RevokeAPIKey revokes a key; revoking again succeeds and keeps the first time.
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
