package inbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// ErrUnknownAccount is returned by Accounts.Lookup for an id that names no account.
var ErrUnknownAccount = errors.New("no such account")

// AccountLister is the part of store.Store that Accounts reads.
type AccountLister interface {
	// ListTenants returns every tenant.
	ListTenants(ctx context.Context) ([]store.Tenant, error)
	// ListAccounts lists a tenant's accounts, of one connector when connectorID is set.
	ListAccounts(ctx context.Context, tenantID, connectorID string) ([]store.Account, error)
}

// Accounts finds the tenant and connector of an account from its id alone, which
// is all a provider's push carries: the inbound route is not authenticated with
// an API key, and the account id (unguessable) scopes it to a tenant.
//
// The store can only list accounts per tenant, so Accounts keeps an index of
// every account id, rebuilt on a miss at most once per MinRefresh: ids made up by
// a caller cost one map lookup, not a scan of the store, however many arrive.
// A new account is found at the first push after the next rebuild. It is safe for
// concurrent use.
type Accounts struct {
	src        AccountLister
	minRefresh time.Duration
	now        func() time.Time

	rebuild sync.Mutex // held while rebuilding, so misses do not rebuild at once
	mu      sync.RWMutex
	byID    map[string]accountRef
	built   time.Time
}

type accountRef struct{ tenant, connector string }

// NewAccounts returns an index over src that rebuilds at most once per
// minRefresh (5s when zero or negative).
func NewAccounts(src AccountLister, minRefresh time.Duration) *Accounts {
	if minRefresh <= 0 {
		minRefresh = 5 * time.Second
	}
	return &Accounts{src: src, minRefresh: minRefresh, now: time.Now}
}

// Lookup returns the tenant and connector of an account, ErrUnknownAccount when
// there is none, or the store's error.
func (a *Accounts) Lookup(ctx context.Context, accountID string) (tenantID, connectorID string, err error) {
	if !plausibleAccountID(accountID) {
		return "", "", ErrUnknownAccount
	}
	if ref, ok := a.get(accountID); ok {
		return ref.tenant, ref.connector, nil
	}
	a.rebuild.Lock()
	defer a.rebuild.Unlock()
	if ref, ok := a.get(accountID); ok { // rebuilt while this call waited
		return ref.tenant, ref.connector, nil
	}
	a.mu.RLock()
	fresh := !a.built.IsZero() && a.now().Sub(a.built) < a.minRefresh
	a.mu.RUnlock()
	if fresh {
		return "", "", ErrUnknownAccount
	}
	idx, err := a.load(ctx)
	if err != nil {
		return "", "", err
	}
	a.mu.Lock()
	a.byID, a.built = idx, a.now()
	a.mu.Unlock()
	if ref, ok := idx[accountID]; ok {
		return ref.tenant, ref.connector, nil
	}
	return "", "", ErrUnknownAccount
}

func (a *Accounts) get(id string) (accountRef, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	ref, ok := a.byID[id]
	return ref, ok
}

func (a *Accounts) load(ctx context.Context) (map[string]accountRef, error) {
	tenants, err := a.src.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	idx := map[string]accountRef{}
	for _, t := range tenants {
		list, err := a.src.ListAccounts(ctx, t.ID, "")
		if err != nil {
			return nil, fmt.Errorf("listing accounts of tenant %s: %w", t.ID, err)
		}
		for _, acc := range list {
			idx[acc.ID] = accountRef{tenant: acc.TenantID, connector: acc.ConnectorID}
		}
	}
	return idx, nil
}

// plausibleAccountID reports whether id could be an account id (acc_ and lower
// case letters and digits, at most 64), so that anything else is refused
// without reading the store.
func plausibleAccountID(id string) bool {
	rest, ok := strings.CutPrefix(id, "acc_")
	if !ok || len(rest) == 0 || len(rest) > 64 {
		return false
	}
	for _, c := range rest {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
