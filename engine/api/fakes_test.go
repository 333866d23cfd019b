package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/engine/resilience"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// memStore is a hand-written in-memory store.Store for the API's tests.
type memStore struct {
	mu       sync.Mutex
	tenants  map[string]store.Tenant
	keys     map[string]store.APIKey // by id
	secrets  map[string]string       // secret -> key id
	accounts map[string]store.Account
	// operators and opSecrets are the operator keys, made on first use.
	operators map[string]store.OperatorKey
	opSecrets map[string]string
	pingErr   error
	authErr   error
	authN     int
	memIdem
	// The outbox, shipments and webhooks are not faked: tests of those routes
	// run on a real store (webhooks_test.go). Calling them here is a test bug.
	store.EventStore
	store.ShipmentStore
	store.UnconfirmedStore
	store.EWayBillStore
	store.WebhookStore
	store.StatsStore
	store.SFTPInboxStore
	store.ConsoleSessionStore
	store.RateStore
}

var _ store.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{tenants: map[string]store.Tenant{}, keys: map[string]store.APIKey{}, secrets: map[string]string{}, accounts: map[string]store.Account{}}
}

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (m *memStore) CreateTenant(_ context.Context, name string) (store.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tenants {
		if t.Name == name {
			return store.Tenant{}, store.ErrConflict
		}
	}
	t := store.Tenant{ID: newID("ten_"), Name: name, CreatedAt: time.Unix(1700000000, 0).UTC()}
	m.tenants[t.ID] = t
	return t, nil
}

func (m *memStore) GetTenant(_ context.Context, id string) (store.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return store.Tenant{}, store.ErrNotFound
	}
	return t, nil
}

func (m *memStore) ListTenants(context.Context) ([]store.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Tenant
	for _, t := range m.tenants {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) CreateAPIKey(_ context.Context, tenantID, name string, admin bool, opts ...store.KeyOption) (store.APIKey, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tenants[tenantID]; !ok {
		return store.APIKey{}, "", store.ErrNotFound
	}
	secret := newID("hub_sk_") + newID("")
	k := store.APIKey{ID: newID("key_"), TenantID: tenantID, Name: name, Prefix: secret[:10], Admin: admin, CreatedAt: time.Unix(1700000000, 0).UTC(),
		ExpiresAt: store.ApplyKeyOptions(opts...).ExpiresAt}
	m.keys[k.ID] = k
	m.secrets[secret] = k.ID
	return k, secret, nil
}

func (m *memStore) Authenticate(_ context.Context, secret string) (store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.authN++
	if m.authErr != nil {
		return store.APIKey{}, m.authErr
	}
	id, ok := m.secrets[secret]
	if !ok || m.keys[id].RevokedAt != nil {
		return store.APIKey{}, store.ErrNotFound
	}
	return m.keys[id], nil
}

func (m *memStore) ListAPIKeys(_ context.Context, tenantID string) ([]store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.APIKey
	for _, k := range m.keys {
		if k.TenantID == tenantID {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) GetAPIKey(_ context.Context, tenantID, keyID string) (store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[keyID]
	if !ok || k.TenantID != tenantID {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, nil
}

// RevokeAPIKey keeps the tenant's last admin key as the real store does (which
// storetest checks); expiry is not considered here.
func (m *memStore) RevokeAPIKey(_ context.Context, tenantID, keyID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[keyID]
	if !ok || k.TenantID != tenantID {
		return store.ErrNotFound
	}
	if k.RevokedAt != nil {
		return nil
	}
	if k.Admin {
		others := 0
		for _, o := range m.keys {
			if o.TenantID == tenantID && o.ID != keyID && o.Admin && o.RevokedAt == nil {
				others++
			}
		}
		if others == 0 {
			return store.ErrLastAdminKey
		}
	}
	now := time.Unix(1700000100, 0).UTC()
	k.RevokedAt = &now
	m.keys[keyID] = k
	return nil
}

func (m *memStore) CreateAccount(_ context.Context, a store.Account) (store.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.accounts {
		if b.TenantID == a.TenantID && b.Name == a.Name {
			return store.Account{}, store.ErrConflict
		}
	}
	a.ID = newID("acc_")
	a.CreatedAt = time.Unix(1700000000, 0).UTC()
	m.accounts[a.ID] = a
	return a, nil
}

func (m *memStore) GetAccount(_ context.Context, tenantID, id string) (store.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok || a.TenantID != tenantID {
		return store.Account{}, store.ErrNotFound
	}
	return a, nil
}

func (m *memStore) ListAccounts(_ context.Context, tenantID, connectorID string) ([]store.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Account
	for _, a := range m.accounts {
		if a.TenantID == tenantID && (connectorID == "" || a.ConnectorID == connectorID) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) DeleteAccount(_ context.Context, tenantID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok || a.TenantID != tenantID {
		return store.ErrNotFound
	}
	delete(m.accounts, id)
	return nil
}

func (m *memStore) Ping(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pingErr
}

func (m *memStore) Close() error { return nil }

// fakeConnectors serves both the API (listing, health) and the router (manifest, invoke).
type fakeConnectors struct {
	infos  []plugins.Info
	invoke func(ctx context.Context, id string, call *sdk.Call) ([]byte, error)
	health func(ctx context.Context, id string, account *sdk.Account) (plugins.Health, error)
	// exchanges answers Exchanges; nil answers an empty list.
	exchanges func(ctx context.Context, id, accountID string, limit int) (json.RawMessage, error)
}

func (f *fakeConnectors) Connectors() []plugins.Info { return append([]plugins.Info(nil), f.infos...) }

func (f *fakeConnectors) Manifest(id string) (*sdk.Manifest, bool) {
	for _, i := range f.infos {
		if i.Manifest.ID == id {
			return i.Manifest, true
		}
	}
	return nil, false
}

func (f *fakeConnectors) Invoke(ctx context.Context, id string, call *sdk.Call) ([]byte, error) {
	return f.invoke(ctx, id, call)
}

func (f *fakeConnectors) Health(ctx context.Context, id string, account *sdk.Account) (plugins.Health, error) {
	return f.health(ctx, id, account)
}

func (f *fakeConnectors) Exchanges(ctx context.Context, id, accountID string, limit int) (json.RawMessage, error) {
	if f.exchanges == nil {
		return json.RawMessage("[]"), nil
	}
	return f.exchanges(ctx, id, accountID, limit)
}

// memIdem is an in-memory store.IdempotencyStore for the fake store, with the
// semantics the storetest suite checks on the real ones.
type memIdem struct {
	mu   sync.Mutex
	rows map[store.IdempotencyScope]store.IdempotencyRecord
	seq  int
}

func (m *memIdem) ClaimIdempotencyKey(_ context.Context, sc store.IdempotencyScope, fp string, now, lease time.Time) (store.IdempotencyRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows == nil {
		m.rows = map[store.IdempotencyScope]store.IdempotencyRecord{}
	}
	if r, ok := m.rows[sc]; ok && (r.ExpiresAt.After(now) || r.State == store.IdempotencyInProgress) {
		r.Token = ""
		return r, false, nil
	}
	m.seq++
	r := store.IdempotencyRecord{IdempotencyScope: sc, Fingerprint: fp, State: store.IdempotencyInProgress,
		Token: fmt.Sprintf("tok%d", m.seq), CreatedAt: now, ExpiresAt: lease}
	m.rows[sc] = r
	return r, true, nil
}

func (m *memIdem) CompleteIdempotencyKey(_ context.Context, sc store.IdempotencyScope, token string, out store.IdempotencyOutcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[sc]
	if !ok || r.Token != token || r.State != store.IdempotencyInProgress {
		return store.ErrNotFound
	}
	r.State, r.Status, r.ContentType, r.Body, r.BodyOmitted, r.ExpiresAt = store.IdempotencyCompleted, out.Status, out.ContentType, out.Body, out.BodyOmitted, out.ExpiresAt
	m.rows[sc] = r
	return nil
}

func (m *memIdem) ReleaseIdempotencyKey(_ context.Context, sc store.IdempotencyScope, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[sc]
	if !ok || r.Token != token || r.State != store.IdempotencyInProgress {
		return store.ErrNotFound
	}
	delete(m.rows, sc)
	return nil
}

func (m *memIdem) GetIdempotencyKey(_ context.Context, sc store.IdempotencyScope) (store.IdempotencyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[sc]
	if !ok {
		return store.IdempotencyRecord{}, store.ErrNotFound
	}
	r.Token = ""
	return r, nil
}

func (m *memIdem) AbandonIdempotencyKey(_ context.Context, sc store.IdempotencyScope, now time.Time, out store.IdempotencyOutcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.abandon(sc, now, out) {
		return store.ErrNotFound
	}
	return nil
}

func (m *memIdem) AbandonIdempotencyKeys(_ context.Context, now time.Time, out store.IdempotencyOutcome) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for sc := range m.rows {
		if m.abandon(sc, now, out) {
			n++
		}
	}
	return n, nil
}

// abandon turns sc's claim into an unknown outcome when its lease ran out.
func (m *memIdem) abandon(sc store.IdempotencyScope, now time.Time, out store.IdempotencyOutcome) bool {
	r, ok := m.rows[sc]
	if !ok || r.State != store.IdempotencyInProgress || r.ExpiresAt.After(now) {
		return false
	}
	r.State, r.OutcomeUnknown, r.Token = store.IdempotencyCompleted, true, ""
	r.Status, r.ContentType, r.Body, r.BodyOmitted, r.ExpiresAt = out.Status, out.ContentType, out.Body, out.BodyOmitted, out.ExpiresAt
	m.rows[sc] = r
	return true
}

func (m *memIdem) PurgeIdempotencyKeys(_ context.Context, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, r := range m.rows {
		if r.State == store.IdempotencyCompleted && !r.ExpiresAt.After(now) {
			delete(m.rows, k)
			n++
		}
	}
	return n, nil
}

// oneAttempt makes the test connector's calls single attempts with a breaker
// that never opens: these tests are about the API's answers, and the resilience
// layer has its own tests (engine/resilience, engine/router).
var oneAttempt = &resilience.Overrides{Connectors: map[string]resilience.ConnectorOverrides{
	"acme": {Policy: sdk.Policy{MaxAttempts: 1, BreakerFailures: 1 << 20, BreakerMinRequests: 1 << 20}},
}}

// Operator keys: the fake keeps them in memory like tenants' keys.

func (m *memStore) CreateOperatorKey(_ context.Context, name string, opts ...store.KeyOption) (store.OperatorKey, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.operators == nil {
		m.operators, m.opSecrets = map[string]store.OperatorKey{}, map[string]string{}
	}
	secret := newID("hub_op_") + newID("")
	// Operator ids must have the real form: isOperator tells keys apart by it.
	var id strings.Builder
	for _, c := range newID("") + newID("") + newID("") {
		id.WriteByte("abcdefghijklmnopqrstuvwxyz234567"[c%32])
	}
	k := store.OperatorKey{ID: "opk_" + id.String()[:26], Name: name, Prefix: secret[:10],
		CreatedAt: time.Unix(1700000000, 0).UTC(), ExpiresAt: store.ApplyKeyOptions(opts...).ExpiresAt}
	m.operators[k.ID] = k
	m.opSecrets[secret] = k.ID
	return k, secret, nil
}

func (m *memStore) AuthenticateOperator(_ context.Context, secret string) (store.OperatorKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.authN++
	if m.authErr != nil {
		return store.OperatorKey{}, m.authErr
	}
	id, ok := m.opSecrets[secret]
	if !ok || m.operators[id].RevokedAt != nil {
		return store.OperatorKey{}, store.ErrNotFound
	}
	return m.operators[id], nil
}

func (m *memStore) ListOperatorKeys(context.Context) ([]store.OperatorKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []store.OperatorKey{}
	for _, k := range m.operators {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) RevokeOperatorKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.operators[id]
	if !ok {
		return store.ErrNotFound
	}
	if k.RevokedAt == nil {
		now := time.Unix(1700000100, 0).UTC()
		k.RevokedAt = &now
		m.operators[id] = k
	}
	return nil
}
