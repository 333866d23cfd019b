package rest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/carrierhub/hub/sdk"
)

// DefaultSkew is how long before its expiry a cached token is replaced, when an
// Auth names no skew. A token is never refreshed earlier than half its lifetime.
const DefaultSkew = 60 * time.Second

// TokenCache holds bearer tokens keyed by a keyed hash of everything that
// identifies the credentials (endpoint, client id, secret, scopes), so two
// accounts never share a token and no secret is kept as a map key. Fetches for
// one key are single-flight: however many callers find the token missing or
// due, one fetch runs and the rest wait for it. A token is refreshed Skew
// before it expires, and a token the provider refused is dropped once (compare
// and drop, so concurrent 401s cause one refresh, not one each). A TokenCache
// is safe for concurrent use; connectors normally share DefaultTokenCache.
type TokenCache struct {
	now   func() time.Time
	log   *slog.Logger
	fpKey []byte

	mu      sync.Mutex
	entries map[string]*tokenEntry
}

type tokenEntry struct {
	token     string
	expiry    time.Time // zero: no stated expiry, good until refused
	refreshAt time.Time
	flight    *tokenFlight
}

type tokenFlight struct {
	done  chan struct{}
	token string
	err   error
	// leaderGone is true when the fetch failed because the fetching caller's own
	// context ended; waiters with time left then try again themselves.
	leaderGone bool
}

// DefaultTokenCache is the process-wide cache OAuth2 and TokenLogin use when
// their Cache is nil.
var DefaultTokenCache = NewTokenCache(nil, nil)

// NewTokenCache returns an empty cache. now is its clock (nil: time.Now) and
// logger receives token fetches and refusals at debug level, never token
// values (nil: discard).
func NewTokenCache(now func() time.Time, logger *slog.Logger) *TokenCache {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on supported platforms
	return &TokenCache{now: now, log: logger, fpKey: k, entries: map[string]*tokenEntry{}}
}

// fingerprint returns the cache key for parts: a keyed hash that cannot be
// reversed into the secrets it covers.
func (c *TokenCache) fingerprint(parts ...string) string {
	m := hmac.New(sha256.New, c.fpKey)
	for _, p := range parts {
		m.Write([]byte(strconv.Itoa(len(p))))
		m.Write([]byte{':'})
		m.Write([]byte(p))
	}
	return string(m.Sum(nil))
}

// fetchFunc fetches a new token and says when it expires (zero: unknown).
type fetchFunc func(ctx context.Context) (token string, expiry time.Time, err error)

// get returns the cached token for key, fetching one when none is cached or the
// cached one is due for refresh.
func (c *TokenCache) get(ctx context.Context, key, label string, skew time.Duration, fetch fetchFunc) (string, error) {
	for {
		c.mu.Lock()
		e := c.entries[key]
		if e == nil {
			c.prune()
			e = &tokenEntry{}
			c.entries[key] = e
		}
		now := c.now()
		if e.token != "" && (e.expiry.IsZero() || now.Before(e.refreshAt)) {
			t := e.token
			c.mu.Unlock()
			return t, nil
		}
		if f := e.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", sdk.AsError(ctx.Err())
			}
			if f.err == nil {
				return f.token, nil
			}
			// The leader's own deadline ended its fetch; try again under ours.
			if f.leaderGone && ctx.Err() == nil {
				continue
			}
			return "", f.err
		}
		f := &tokenFlight{done: make(chan struct{})}
		e.flight = f
		old, oldExpiry := e.token, e.expiry
		c.mu.Unlock()

		token, expiry, err := fetch(ctx)
		if err == nil && token == "" {
			err = sdk.CarrierError(sdk.CodeCarrierUnavailable, "", label+" answered without a token")
		}

		c.mu.Lock()
		now = c.now()
		switch {
		case err == nil:
			e.token, e.expiry = token, expiry
			e.refreshAt = refreshAt(now, expiry, skew)
			f.token = token
			c.log.Debug("rest: token fetched", "for", label, "expires", expiry)
		case old != "" && !oldExpiry.IsZero() && now.Before(oldExpiry):
			// Refreshing ahead failed; the old token still has time left.
			f.token = old
			c.log.Debug("rest: token refresh failed; keeping the current token until it expires", "for", label, "code", string(sdk.AsError(err).Code))
			err = nil
		default:
			e.token = ""
			f.err = err
			f.leaderGone = ctx.Err() != nil
		}
		e.flight = nil
		c.mu.Unlock()
		close(f.done)
		if err != nil {
			return "", err
		}
		return f.token, nil
	}
}

// refreshAt is when a token fetched at now and expiring at expiry is replaced:
// skew before expiry, but not before half its lifetime has passed.
func refreshAt(now, expiry time.Time, skew time.Duration) time.Time {
	if expiry.IsZero() {
		return time.Time{}
	}
	life := expiry.Sub(now)
	if skew > life/2 {
		skew = life / 2
	}
	return expiry.Add(-skew)
}

// invalidate drops token from key's entry if it is still the cached one, so the
// next get fetches a fresh token. It reports whether key is known at all.
func (c *TokenCache) invalidate(key, token, label string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		return false
	}
	if token != "" && e.token == token {
		e.token = ""
		c.log.Debug("rest: token refused by the provider; dropped", "for", label)
	}
	return true
}

// prune drops expired, idle entries once the map grows large. c.mu is held.
func (c *TokenCache) prune() {
	if len(c.entries) < 4096 {
		return
	}
	now := c.now()
	for k, e := range c.entries {
		if e.flight == nil && (e.token == "" || (!e.expiry.IsZero() && now.After(e.expiry))) {
			delete(c.entries, k)
		}
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// OAuth2 authenticates with the OAuth 2.0 client-credentials grant (RFC 6749
// section 4.4) through golang.org/x/oauth2/clientcredentials and sends the token
// as "Authorization: Bearer". Tokens are cached per (token URL, client id, secret,
// scopes, parameters) in Cache, refreshed Skew ahead of expiry by one fetch
// however many calls are waiting, and renewed once after a 401. String,
// GoString and LogValue redact the secret.
type OAuth2 struct {
	// TokenURL is the provider's token endpoint.
	TokenURL string
	// ClientID is the client id.
	ClientID string
	// ClientSecret is the client secret.
	ClientSecret string
	// Scopes are requested with the token.
	Scopes []string
	// EndpointParams are extra form parameters for the token request (audience, say).
	EndpointParams url.Values
	// SecretInBody sends the client id and secret as form parameters instead of the
	// HTTP basic header RFC 6749 prefers. It is never auto-detected: probing would
	// cost a second token request on every failure.
	SecretInBody bool
	// Skew is how long before expiry the token is replaced (default DefaultSkew).
	Skew time.Duration
	// HTTP sends token requests (default: a client from NewHTTPClient).
	HTTP *http.Client
	// Cache holds the tokens (default DefaultTokenCache).
	Cache *TokenCache
}

var _ Renewer = (*OAuth2)(nil)

func (o *OAuth2) cache() *TokenCache {
	if o.Cache != nil {
		return o.Cache
	}
	return DefaultTokenCache
}

func (o *OAuth2) key() string {
	params := ""
	if o.EndpointParams != nil {
		params = o.EndpointParams.Encode()
	}
	scopes := slices.Clone(o.Scopes)
	slices.Sort(scopes)
	return o.cache().fingerprint("oauth2-cc", o.TokenURL, o.ClientID, o.ClientSecret, strings.Join(scopes, " "), params)
}

func (o *OAuth2) label() string { return redactURL(o.TokenURL) + " client " + o.ClientID }

// Apply puts a live bearer token on req, fetching one if needed.
func (o *OAuth2) Apply(ctx context.Context, req *http.Request) error {
	if o.TokenURL == "" || o.ClientID == "" || o.ClientSecret == "" {
		return missing("OAuth2 token URL, client id and client secret")
	}
	c := o.cache()
	tok, err := c.get(ctx, o.key(), o.label(), skewOr(o.Skew), o.fetch(c))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Renew drops the token sent carried, if it is still the cached one.
func (o *OAuth2) Renew(sent *http.Request) bool {
	tok, ok := strings.CutPrefix(sent.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return o.cache().invalidate(o.key(), tok, o.label())
}

func (o *OAuth2) fetch(c *TokenCache) fetchFunc {
	return func(ctx context.Context) (string, time.Time, error) {
		cfg := &clientcredentials.Config{
			ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL,
			Scopes: o.Scopes, EndpointParams: o.EndpointParams, AuthStyle: oauth2.AuthStyleInHeader,
		}
		if o.SecretInBody {
			cfg.AuthStyle = oauth2.AuthStyleInParams
		}
		hc := o.HTTP
		if hc == nil {
			hc = defaultHTTP
		}
		start := c.now()
		tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		if err != nil {
			return "", time.Time{}, o.tokenError(ctx, c, err)
		}
		// Expiry is measured on this cache's clock: expires_in from the answer,
		// or what is left of the library's wall-clock Expiry.
		var expiry time.Time
		if secs := expiresIn(tok.Extra("expires_in")); secs > 0 {
			expiry = start.Add(time.Duration(secs) * time.Second)
		} else if !tok.Expiry.IsZero() {
			expiry = start.Add(time.Until(tok.Expiry))
		}
		return tok.AccessToken, expiry, nil
	}
}

// expiresIn reads expires_in, which providers send as a number or a string.
func expiresIn(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	return 0
}

// tokenError classifies a failed token request without quoting the secret.
func (o *OAuth2) tokenError(ctx context.Context, c *TokenCache, err error) *sdk.Error {
	secrets := []string{o.ClientSecret, url.QueryEscape(o.ClientSecret)}
	where := "token endpoint " + redactURL(o.TokenURL)
	red := &Client{name: "the token endpoint"}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := CodeForStatus(status)
		if status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden {
			code = sdk.CodeAuthFailed // invalid_client, invalid_grant, unauthorized_client, invalid_scope
		}
		msg := re.ErrorDescription
		if msg == "" && re.ErrorCode == "" {
			if isHTML("", re.Body) {
				msg = htmlTitle(re.Body)
			} else {
				msg = red.quote(re.Body, secrets)
			}
		}
		e := &sdk.Error{Code: code, Source: sdk.SourceCarrier,
			CarrierCode: red.redact(re.ErrorCode, secrets), CarrierMessage: truncate(red.redact(msg, secrets)),
			Message: fmt.Sprintf("%s refused client %s with HTTP %d", where, o.ClientID, status)}
		if e.CarrierCode != "" || e.CarrierMessage != "" {
			e.Message += ": " + first(e.CarrierMessage, e.CarrierCode)
		}
		if re.Response != nil {
			e.RetryAfter = ParseRetryAfter(re.Response.Header.Get("Retry-After"), c.now())
		}
		return e
	}
	u, _ := url.Parse(o.TokenURL)
	if u == nil {
		u = &url.URL{}
	}
	if strings.Contains(err.Error(), "oauth2:") && !errors.As(err, new(*url.Error)) {
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: where + ": " + red.redact(err.Error(), secrets)}
	}
	return red.transportError(ctx, http.MethodPost, u, err, true, secrets)
}

// String describes the credentials without the secret.
func (o *OAuth2) String() string {
	return fmt.Sprintf("rest.OAuth2{%s, secret redacted}", o.label())
}

// GoString redacts like String.
func (o *OAuth2) GoString() string { return o.String() }

// LogValue redacts the secret in slog output.
func (o *OAuth2) LogValue() slog.Value { return slog.StringValue(o.String()) }

func skewOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultSkew
	}
	return d
}

// TokenLogin is a login flow that exchanges an account's credentials for a
// token with a lifetime (Shiprocket: POST /v1/external/auth/login, 240 hours;
// Ekart: 60 minutes; Blue Dart: a JWT). The token is cached per Key in Cache,
// refreshed Skew ahead of expiry by one login however many calls are waiting,
// and replaced by one new login after a 401. String, GoString and LogValue
// redact everything.
type TokenLogin struct {
	// Key identifies the credentials: name the provider and endpoint first, then
	// every credential Login uses, password included (it is hashed, never kept),
	// so a changed password logs in afresh and two accounts never share a token.
	Key []string
	// Login exchanges the credentials for a token and says how long it lives (0 or
	// less: until the provider refuses it). It should return *sdk.Error; its error
	// is passed on with every Key value redacted.
	Login func(ctx context.Context) (token string, ttl time.Duration, err error)
	// Header carries the token. Empty means "Authorization" with the prefix
	// "Bearer " (unless Prefix says otherwise); a named header gets Prefix only.
	Header string
	// Prefix goes before the token in the header.
	Prefix string
	// Query names a query parameter to carry the token instead of a header.
	Query string
	// Skew is how long before expiry the token is replaced (default DefaultSkew).
	Skew time.Duration
	// Cache holds the tokens (default DefaultTokenCache).
	Cache *TokenCache
}

var _ Renewer = (*TokenLogin)(nil)

func (t *TokenLogin) cache() *TokenCache {
	if t.Cache != nil {
		return t.Cache
	}
	return DefaultTokenCache
}

func (t *TokenLogin) key() string {
	return t.cache().fingerprint(append([]string{"token-login"}, t.Key...)...)
}

func (t *TokenLogin) label() string {
	if len(t.Key) > 0 {
		return "token login " + t.Key[0]
	}
	return "token login"
}

func (t *TokenLogin) placement() (header, prefix string) {
	if t.Header == "" {
		if t.Prefix == "" {
			return "Authorization", "Bearer "
		}
		return "Authorization", t.Prefix
	}
	return t.Header, t.Prefix
}

// Apply puts a live token on req, logging in if needed.
func (t *TokenLogin) Apply(ctx context.Context, req *http.Request) error {
	if t.Login == nil || len(t.Key) == 0 {
		return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: "rest: TokenLogin needs Key and Login"}
	}
	c := t.cache()
	tok, err := c.get(ctx, t.key(), t.label(), skewOr(t.Skew), func(ctx context.Context) (string, time.Time, error) {
		start := c.now()
		tok, ttl, err := t.Login(ctx)
		if err != nil {
			return "", time.Time{}, t.loginError(err)
		}
		var expiry time.Time
		if ttl > 0 {
			expiry = start.Add(ttl)
		}
		return tok, expiry, nil
	})
	if err != nil {
		return err
	}
	if t.Query != "" {
		q := req.URL.Query()
		q.Set(t.Query, tok)
		req.URL.RawQuery = q.Encode()
		return nil
	}
	h, p := t.placement()
	req.Header.Set(h, p+tok)
	return nil
}

// Renew drops the token sent carried, if it is still the cached one.
func (t *TokenLogin) Renew(sent *http.Request) bool {
	var tok string
	if t.Query != "" {
		tok = sent.URL.Query().Get(t.Query)
	} else {
		h, p := t.placement()
		v, ok := strings.CutPrefix(sent.Header.Get(h), p)
		if !ok {
			return false
		}
		tok = v
	}
	return t.cache().invalidate(t.key(), tok, t.label())
}

// loginError passes Login's error on with the credentials redacted; a plain
// error becomes auth_failed.
func (t *TokenLogin) loginError(err error) *sdk.Error {
	red := &Client{}
	var e sdk.Error
	var se *sdk.Error
	if errors.As(err, &se) {
		e = *se
	} else if isContextErr(err) {
		e = *sdk.AsError(err)
	} else {
		e = sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, Message: t.label() + ": " + err.Error()}
	}
	e.Message = red.redact(e.Message, t.Key[1:])
	e.CarrierMessage = red.redact(e.CarrierMessage, t.Key[1:])
	e.CarrierCode = red.redact(e.CarrierCode, t.Key[1:])
	return &e
}

// String names the login without its credentials.
func (t *TokenLogin) String() string {
	return "rest.TokenLogin{" + t.label() + ", credentials redacted}"
}

// GoString redacts like String.
func (t *TokenLogin) GoString() string { return t.String() }

// LogValue redacts the credentials in slog output.
func (t *TokenLogin) LogValue() slog.Value { return slog.StringValue(t.String()) }
