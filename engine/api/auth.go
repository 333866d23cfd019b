package api

import (
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
	// tenant routes need a live API key and act for its tenant.
	tenant
	// admin routes need an admin key.
	admin
)

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
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 10000 {
		clear(c.entries)
	}
	c.entries[h] = authEntry{key: k, expires: now.Add(c.ttl)}
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

// authenticate finds the caller's key or writes a 401/403/500 problem and
// returns false.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request, need access) (store.APIKey, bool) {
	const challenge = `Bearer realm="hub"`
	authz := r.Header.Get("Authorization")
	if authz == "" {
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
	key, ok := s.auth.get(h, s.now())
	if !ok {
		k, err := s.store.Authenticate(r.Context(), secret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
			writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthenticated, "the API key is unknown or revoked"))
			return store.APIKey{}, false
		case err != nil:
			s.log.ErrorContext(r.Context(), "authenticating", "error", err)
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, codeUnavailable, "the hub's store is unavailable; try again"))
			return store.APIKey{}, false
		}
		key = k
		s.auth.put(h, key, s.now())
	}
	if st := stateOf(r.Context()); st != nil {
		st.tenant = key.TenantID
	}
	if need == admin && !key.Admin {
		writeProblem(w, r, newProblem(http.StatusForbidden, codeForbidden, "this route needs an admin API key"))
		return store.APIKey{}, false
	}
	return key, true
}
