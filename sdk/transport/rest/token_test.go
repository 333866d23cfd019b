package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// oauthProvider is a token endpoint plus an API that accepts only the newest
// token each client was issued: issuing a token revokes the one before, as
// some providers do.
type oauthProvider struct {
	srv       *httptest.Server
	tokenHits atomic.Int64
	apiHits   atomic.Int64
	expiresIn int

	mu      sync.Mutex
	clients map[string]string // client id -> secret
	current map[string]string // client id -> live token
	owner   map[string]string // token -> client id
}

func newOAuthProvider(t *testing.T) *oauthProvider {
	p := &oauthProvider{expiresIn: 3600, clients: map[string]string{"c1": "s1-secret", "c2": "s2-secret"},
		current: map[string]string{}, owner: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		n := p.tokenHits.Add(1)
		id, secret, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if !ok || p.clients[id] == "" || p.clients[id] != secret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"client authentication failed for %s"}`, secret)
			return
		}
		tok := fmt.Sprintf("%s-tok-%d", id, n)
		p.current[id] = tok
		p.owner[tok] = id
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": p.expiresIn})
	})
	mux.HandleFunc("GET /api/whoami", func(w http.ResponseWriter, r *http.Request) {
		p.apiHits.Add(1)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		id := p.owner[tok]
		live := id != "" && p.current[id] == tok
		p.mu.Unlock()
		if !live {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_token"}`)
			return
		}
		fmt.Fprintf(w, `{"client":%q,"token":%q}`, id, tok)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// revoke makes the provider forget every live token, as after a key rotation.
func (p *oauthProvider) revoke() {
	p.mu.Lock()
	p.current = map[string]string{}
	p.mu.Unlock()
}

type whoami struct {
	Client string `json:"client"`
	Token  string `json:"token"`
}

func (p *oauthProvider) auth(cache *TokenCache, id string) *OAuth2 {
	return &OAuth2{TokenURL: p.srv.URL + "/oauth/token", ClientID: id, ClientSecret: p.clients[id], Cache: cache}
}

func TestOAuth2SingleFlightOnExpiredToken(t *testing.T) {
	p := newOAuthProvider(t)
	clock := newClock()
	cache := NewTokenCache(clock.Now, nil)
	c := newClient(t, p.srv.URL, func(cfg *Config) { cfg.Auth = p.auth(cache, "c1") })
	ctx := context.Background()

	var first whoami
	if err := c.GetJSON(ctx, "/api/whoami", nil, &first); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour) // the token has expired

	const n = 100
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	tokens := make(chan string, n)
	for range n {
		wg.Go(func() {
			<-start
			var w whoami
			if err := c.GetJSON(ctx, "/api/whoami", nil, &w); err != nil {
				errs <- err
				return
			}
			tokens <- w.Token
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	close(tokens)
	for err := range errs {
		t.Error(err)
	}
	if got := p.tokenHits.Load(); got != 2 {
		t.Fatalf("token requests = %d, want 2 (one at start, one for 100 calls on the expired token)", got)
	}
	for tok := range tokens {
		if tok == first.Token {
			t.Fatalf("a call used the expired token %s", tok)
		}
	}
	if got := p.apiHits.Load(); got != n+1 {
		t.Fatalf("API calls = %d, want %d (no 401 retries)", got, n+1)
	}
}

func TestOAuth2RefreshesAheadOfExpiry(t *testing.T) {
	p := newOAuthProvider(t)
	clock := newClock()
	cache := NewTokenCache(clock.Now, nil)
	a := p.auth(cache, "c1")
	a.Skew = 90 * time.Second
	c := newClient(t, p.srv.URL, func(cfg *Config) { cfg.Auth = a })
	ctx := context.Background()
	get := func() string {
		t.Helper()
		var w whoami
		if err := c.GetJSON(ctx, "/api/whoami", nil, &w); err != nil {
			t.Fatal(err)
		}
		return w.Token
	}
	t1 := get()
	clock.Add(3600*time.Second - 91*time.Second)
	if got := get(); got != t1 || p.tokenHits.Load() != 1 {
		t.Fatalf("91 s before expiry: token %s after %d fetches; want the first token", got, p.tokenHits.Load())
	}
	clock.Add(2 * time.Second) // 89 s left: inside the skew
	t2 := get()
	if t2 == t1 || p.tokenHits.Load() != 2 {
		t.Fatalf("89 s before expiry: token %s after %d fetches; want a fresh token", t2, p.tokenHits.Load())
	}
	if got := get(); got != t2 || p.tokenHits.Load() != 2 {
		t.Fatalf("the fresh token was not cached")
	}
}

func TestOAuth2ShortLivedTokenRefreshesAtHalfLife(t *testing.T) {
	p := newOAuthProvider(t)
	p.expiresIn = 60 // shorter than the default skew
	clock := newClock()
	cache := NewTokenCache(clock.Now, nil)
	c := newClient(t, p.srv.URL, func(cfg *Config) { cfg.Auth = p.auth(cache, "c1") })
	for range 3 {
		if err := c.GetJSON(context.Background(), "/api/whoami", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if p.tokenHits.Load() != 1 {
		t.Fatalf("token requests = %d; a 60 s token with a 60 s skew must still be reused", p.tokenHits.Load())
	}
	clock.Add(31 * time.Second)
	if err := c.GetJSON(context.Background(), "/api/whoami", nil, nil); err != nil {
		t.Fatal(err)
	}
	if p.tokenHits.Load() != 2 {
		t.Fatalf("token requests = %d after half the lifetime, want 2", p.tokenHits.Load())
	}
}

func TestOAuth2RenewsOnceAfter401(t *testing.T) {
	p := newOAuthProvider(t)
	cache := NewTokenCache(nil, nil)
	c := newClient(t, p.srv.URL, func(cfg *Config) { cfg.Auth = p.auth(cache, "c1") })
	ctx := context.Background()
	if err := c.GetJSON(ctx, "/api/whoami", nil, nil); err != nil {
		t.Fatal(err)
	}
	p.revoke()
	var w whoami
	if err := c.GetJSON(ctx, "/api/whoami", nil, &w); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if p.tokenHits.Load() != 2 || p.apiHits.Load() != 3 {
		t.Fatalf("token requests %d, API calls %d; want 2 and 3 (one refused, one retried)", p.tokenHits.Load(), p.apiHits.Load())
	}

	// An API that refuses every token: one renewal, then the 401 stands.
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":"invalid_token","error_description":"nope"}`)
	}))
	defer deny.Close()
	before := p.tokenHits.Load()
	var denied atomic.Int64
	c2 := newClient(t, deny.URL, func(cfg *Config) {
		cfg.Auth = p.auth(cache, "c1")
		cfg.HTTP = &http.Client{Transport: countingTransport{&denied}}
	})
	e := sdktest.Error(t, c2.GetJSON(ctx, "/x", nil, nil))
	if e.Code != sdk.CodeAuthFailed || e.CarrierCode != "invalid_token" {
		t.Fatalf("error = %+v", e)
	}
	if denied.Load() != 2 || p.tokenHits.Load() != before+1 {
		t.Fatalf("API calls %d, new tokens %d; want 2 and 1", denied.Load(), p.tokenHits.Load()-before)
	}
}

type countingTransport struct{ n *atomic.Int64 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestOAuth2ConcurrentRefusalsRefreshOnce(t *testing.T) {
	p := newOAuthProvider(t)
	cache := NewTokenCache(nil, nil)
	c := newClient(t, p.srv.URL, func(cfg *Config) { cfg.Auth = p.auth(cache, "c1") })
	ctx := context.Background()
	if err := c.GetJSON(ctx, "/api/whoami", nil, nil); err != nil {
		t.Fatal(err)
	}
	p.revoke()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 50 {
		wg.Go(func() {
			if err := c.GetJSON(ctx, "/api/whoami", nil, nil); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	// Each refused caller drops only the token it was refused with, so one new
	// token serves them all; a second issuance would revoke the first and fail
	// the callers holding it.
	if failed.Load() != 0 || p.tokenHits.Load() != 2 {
		t.Fatalf("failed calls %d, token requests %d; want 0 and 2", failed.Load(), p.tokenHits.Load())
	}
}

func TestOAuth2TokensPerAccount(t *testing.T) {
	p := newOAuthProvider(t)
	cache := NewTokenCache(nil, nil)
	base := newClient(t, p.srv.URL, nil)
	ctx := context.Background()
	seen := map[string]string{}
	for range 3 {
		for _, id := range []string{"c1", "c2"} {
			c, err := base.For("", p.auth(cache, id))
			if err != nil {
				t.Fatal(err)
			}
			var w whoami
			if err := c.GetJSON(ctx, "/api/whoami", nil, &w); err != nil {
				t.Fatal(err)
			}
			if w.Client != id {
				t.Fatalf("account %s was served %s's token", id, w.Client)
			}
			if prev, ok := seen[id]; ok && prev != w.Token {
				t.Fatalf("account %s's token changed without reason", id)
			}
			seen[id] = w.Token
		}
	}
	if p.tokenHits.Load() != 2 {
		t.Fatalf("token requests = %d, want one per account", p.tokenHits.Load())
	}
	// The same client id with another secret is another account: no shared token.
	wrong := p.auth(cache, "c1")
	wrong.ClientSecret = "not-the-secret"
	c, _ := base.For("", wrong)
	e := sdktest.Error(t, c.GetJSON(ctx, "/api/whoami", nil, nil))
	if e.Code != sdk.CodeAuthFailed || !e.NotSent || e.CarrierCode != "invalid_client" {
		t.Fatalf("wrong secret: %+v", e)
	}
	if strings.Contains(e.Error(), "not-the-secret") || strings.Contains(e.CarrierMessage, "not-the-secret") {
		t.Fatalf("the secret leaked: %v", e)
	}
}

func TestOAuth2TokenEndpointDown(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
		fmt.Fprint(w, "<html><title>Maintenance</title></html>")
	}))
	defer down.Close()
	c := newClient(t, down.URL, func(cfg *Config) {
		cfg.Auth = &OAuth2{TokenURL: down.URL + "/token", ClientID: "c", ClientSecret: "s3cr3t-value", Cache: NewTokenCache(nil, nil)}
	})
	e := sdktest.Error(t, c.GetJSON(context.Background(), "/x", nil, nil))
	if e.Code != sdk.CodeCarrierUnavailable || !e.NotSent || e.RetryAfter != 30*time.Second || e.CarrierMessage != "Maintenance" {
		t.Fatalf("error = %+v", e)
	}
}

func TestTokenLoginCachePerAccount(t *testing.T) {
	clock := newClock()
	cache := NewTokenCache(clock.Now, nil)
	var mu sync.Mutex
	logins := map[string]int{}
	login := func(user, pass string) *TokenLogin {
		return &TokenLogin{
			Key: []string{"shiprocket https://apiv2.example", user, pass},
			Login: func(context.Context) (string, time.Duration, error) {
				mu.Lock()
				defer mu.Unlock()
				logins[user]++
				return fmt.Sprintf("%s-jwt-%d", user, logins[user]), 240 * time.Hour, nil
			},
			Cache: cache,
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"token":%q}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	defer srv.Close()
	base := newClient(t, srv.URL, nil)
	call := func(a *TokenLogin) string {
		t.Helper()
		c, _ := base.For("", a)
		var out struct{ Token string }
		if err := c.GetJSON(context.Background(), "/orders", nil, &out); err != nil {
			t.Fatal(err)
		}
		return out.Token
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { call(login("ana@example.com", "pw-a")) })
		wg.Go(func() { call(login("raj@example.com", "pw-r")) })
	}
	wg.Wait()
	if logins["ana@example.com"] != 1 || logins["raj@example.com"] != 1 {
		t.Fatalf("logins = %v, want one per account", logins)
	}
	if got := call(login("ana@example.com", "pw-a")); got != "ana@example.com-jwt-1" {
		t.Fatalf("ana got %s", got)
	}
	// A changed password is a new credential: a new login, not the old token.
	if got := call(login("ana@example.com", "pw-a2")); got != "ana@example.com-jwt-2" {
		t.Fatalf("after a password change ana got %s", got)
	}
	// Refreshed ahead of expiry: 240 h less the 60 s skew.
	clock.Add(240*time.Hour - 61*time.Second)
	if got := call(login("raj@example.com", "pw-r")); got != "raj@example.com-jwt-1" {
		t.Fatalf("before the skew raj got %s", got)
	}
	clock.Add(2 * time.Second)
	if got := call(login("raj@example.com", "pw-r")); got != "raj@example.com-jwt-2" {
		t.Fatalf("inside the skew raj got %s", got)
	}
}

func TestTokenLoginReloginOn401AndHeaderPlacement(t *testing.T) {
	var logins atomic.Int64
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("JWTToken") != "jwt-2" { // the first token was revoked
			w.WriteHeader(401)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	a := &TokenLogin{
		Key:    []string{"bluedart", "login-id", "licence-key"},
		Header: "JWTToken",
		Login: func(context.Context) (string, time.Duration, error) {
			return fmt.Sprintf("jwt-%d", logins.Add(1)), time.Hour, nil
		},
		Cache: NewTokenCache(nil, nil),
	}
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.Auth = a })
	if err := c.GetJSON(context.Background(), "/waybill", nil, nil); err != nil {
		t.Fatal(err)
	}
	if logins.Load() != 2 || calls.Load() != 2 {
		t.Fatalf("logins %d, calls %d; want 2 and 2", logins.Load(), calls.Load())
	}
}

func TestTokenLoginFailureIsNotSent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the API was called without a token")
	}))
	defer srv.Close()
	a := &TokenLogin{
		Key: []string{"ekart", "client", "pw-secret-9"},
		Login: func(context.Context) (string, time.Duration, error) {
			return "", 0, sdk.CarrierError(sdk.CodeAuthFailed, "E401", "bad password pw-secret-9")
		},
		Cache: NewTokenCache(nil, nil),
	}
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.Auth = a })
	e := sdktest.Error(t, c.GetJSON(context.Background(), "/x", nil, nil))
	if e.Code != sdk.CodeAuthFailed || !e.NotSent || e.CarrierCode != "E401" || strings.Contains(e.Error(), "pw-secret-9") {
		t.Fatalf("error = %+v", e)
	}
}

// TestTokenWaiterOutlivesLeader: the caller whose login is in flight gives up;
// a caller still within its deadline logs in itself rather than failing.
func TestTokenWaiterOutlivesLeader(t *testing.T) {
	cache := NewTokenCache(nil, nil)
	entered := make(chan struct{})
	var n atomic.Int64
	a := &TokenLogin{
		Key: []string{"x", "u"},
		Login: func(ctx context.Context) (string, time.Duration, error) {
			if n.Add(1) == 1 {
				close(entered)
				<-ctx.Done()
				return "", 0, ctx.Err()
			}
			return "tok", time.Hour, nil
		},
		Cache: cache,
	}
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		r, _ := http.NewRequest("GET", "http://127.0.0.1/", nil)
		leaderErr <- a.Apply(leaderCtx, r)
	}()
	<-entered
	waiterErr := make(chan error, 1)
	r2, _ := http.NewRequest("GET", "http://127.0.0.1/", nil)
	go func() { waiterErr <- a.Apply(context.Background(), r2) }()
	cancel()
	if err := <-leaderErr; sdktest.Error(t, err).Code != sdk.CodeTimeout {
		t.Fatalf("leader: %v", err)
	}
	if err := <-waiterErr; err != nil || r2.Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("waiter: %v, header %q", err, r2.Header.Get("Authorization"))
	}
}
