package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// access says who may call a route.
type access int

const (
	// public routes need no API key (probes, the OpenAPI document).
	public access = iota
	// tenant routes need a live key of a tenant and act for that tenant; an
	// operator key is refused (403).
	tenant
	// operator routes need a live operator key; a tenant's key is refused (403).
	operator
	// tenantOrOperator routes take either kind of key; their handler limits a
	// tenant's key to its own tenant (isOperator tells the kinds apart).
	tenantOrOperator
)

// isOperator reports whether the caller's key is a hub-wide operator key, which
// authenticate hands to handlers as a store.APIKey with the operator key's id,
// name, prefix and times, and no tenant.
func isOperator(key store.APIKey) bool { return store.IsOperatorKeyID(key.ID) }

// lookupKey finds the live key whose secret this is: among the operator keys
// for a secret of the operator form (hub_op_), among the tenants' keys
// otherwise. Unknown, revoked and expired keys of either kind are
// store.ErrNotFound alike.
func (s *server) lookupKey(ctx context.Context, secret string) (store.APIKey, error) {
	if store.IsOperatorSecret(secret) {
		op, err := s.store.AuthenticateOperator(ctx, secret)
		return op.AsAPIKey(), err
	}
	return s.store.Authenticate(ctx, secret)
}

// authCache remembers authenticated keys by the SHA-256 of their secret, so the
// hot path does not hash-and-query the store on every call. Failures are not
// cached.
type authCache struct {
	ttl     time.Duration
	mu      sync.RWMutex
	entries map[[32]byte]authEntry
}

type authEntry struct {
	key     store.APIKey
	expires time.Time
}

func newAuthCache(ttl time.Duration) *authCache {
	if ttl < 0 {
		return nil
	}
	return &authCache{ttl: ttl, entries: map[[32]byte]authEntry{}}
}

func (c *authCache) get(h [32]byte, now time.Time) (store.APIKey, bool) {
	if c == nil {
		return store.APIKey{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[h]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return store.APIKey{}, false
	}
	return e.key, true
}

func (c *authCache) put(h [32]byte, k store.APIKey, now time.Time) {
	c.putUntil(h, k, now, time.Time{})
}

// putUntil is put for a credential that ends at until (a console session's
// expiry) unless until is zero.
func (c *authCache) putUntil(h [32]byte, k store.APIKey, now, until time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 10000 {
		clear(c.entries)
	}
	expires := now.Add(c.ttl)
	if k.ExpiresAt != nil && k.ExpiresAt.Before(expires) {
		expires = *k.ExpiresAt // an expiring key is not trusted past its expiry
	}
	if !until.IsZero() && until.Before(expires) {
		expires = until
	}
	c.entries[h] = authEntry{key: k, expires: expires}
}

// drop forgets one credential (a console session signed out).
func (c *authCache) drop(h [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, h)
}

// revoke drops a key from the cache so its revocation takes effect at once.
func (c *authCache) revoke(keyID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if e.key.ID == keyID {
			delete(c.entries, h)
		}
	}
}

// authenticate finds the caller's key or writes a 401/403/503 problem and
// returns false. A secret of the operator form (hub_op_) is looked up among the
// operator keys, any other among the tenants' keys; unknown, revoked and expired
// keys of either kind get the same 401. A request without an Authorization
// header may carry the console's session cookie instead (authenticateSession).
// Then the route's access rule (admit).
func (s *server) authenticate(w http.ResponseWriter, r *http.Request, need access) (store.APIKey, bool) {
	const challenge = bearerChallenge
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			return s.authenticateSession(w, r, need, c.Value)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthenticated, "send an API key as Authorization: Bearer <secret>"))
		return store.APIKey{}, false
	}
	scheme, secret, _ := strings.Cut(authz, " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_request"`)
		writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthenticated, "the Authorization header must be Bearer <secret>"))
		return store.APIKey{}, false
	}
	h := sha256.Sum256([]byte(secret))
	now := s.now()
	key, ok := s.auth.get(h, now)
	if !ok {
		k, err := s.lookupKey(r.Context(), secret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknownKey(w, r)
			return store.APIKey{}, false
		case err != nil:
			s.log.ErrorContext(r.Context(), "authenticating", "error", err)
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, codeUnavailable, "the hub's store is unavailable; try again"))
			return store.APIKey{}, false
		}
		key = k
		s.auth.put(h, key, now)
	}
	return s.admit(w, r, need, key, now)
}

// admit applies the route's access rule to an authenticated key: tenant routes
// refuse operator keys and operator routes tenants' keys, with 403. The store
// compares expiry with its own clock; the API's clock decides too, so a key is
// refused once expired by either.
func (s *server) admit(w http.ResponseWriter, r *http.Request, need access, key store.APIKey, now time.Time) (store.APIKey, bool) {
	if key.ExpiresAt != nil && !now.Before(*key.ExpiresAt) {
		unknownKey(w, r)
		return store.APIKey{}, false
	}
	if st := stateOf(r.Context()); st != nil {
		st.tenant = key.TenantID
	}
	switch op := isOperator(key); {
	case need == tenant && op:
		writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "an operator key manages tenants and sees no tenant's data; call this route with one of the tenant's API keys"))
		return store.APIKey{}, false
	case need == operator && !op:
		writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "this route needs an operator key (made with hub operator-keys create); a tenant's keys see only their tenant"))
		return store.APIKey{}, false
	}
	return key, true
}

// bearerChallenge is the WWW-Authenticate challenge of a 401.
const bearerChallenge = `Bearer realm="hub"`

// unknownKey answers a key that is unknown, revoked or expired, alike.
func unknownKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", bearerChallenge+`, error="invalid_token"`)
	writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthenticated, "the API key is unknown, revoked or expired"))
}
