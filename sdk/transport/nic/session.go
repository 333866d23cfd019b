package nic

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchange"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// Flavor says which NIC system a Manager talks to.
type Flavor int

const (
	// EWayBill is the e-Way Bill system, API v1.03 (POST <URL>/auth/, /ewayapi/).
	EWayBill Flavor = iota + 1
	// EInvoice is the e-Invoice registration portal (IRP), API v1.04 (POST <URL>/v1.04/auth).
	EInvoice
)

// String names the flavor.
func (f Flavor) String() string {
	switch f {
	case EWayBill:
		return "ewaybill"
	case EInvoice:
		return "einvoice"
	}
	return fmt.Sprintf("flavor(%d)", int(f))
}

// Credentials are one account's NIC secrets. They travel with each call; the
// Manager keeps only a keyed fingerprint of them. String, GoString and LogValue
// redact everything but the GSTIN and username.
type Credentials struct {
	// ClientID is the client-id NIC (or the GSP) issued for API access.
	ClientID string
	// ClientSecret is the matching client-secret.
	ClientSecret string
	// GSTIN is the taxpayer the session acts for; sessions are cached per GSTIN.
	GSTIN string
	// Username is the API user created on the NIC portal for this GSTIN.
	Username string
	// Password is that API user's password.
	Password string
}

// String describes the credentials without their secrets.
func (c Credentials) String() string {
	return fmt.Sprintf("nic.Credentials{GSTIN:%s Username:%s, secrets redacted}", c.GSTIN, c.Username)
}

// GoString redacts like String, so %#v cannot leak secrets.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts secrets in slog output.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("gstin", c.GSTIN), slog.String("username", c.Username))
}

func (c Credentials) validate() error {
	for _, f := range []struct{ name, v string }{
		{"client_id", c.ClientID}, {"client_secret", c.ClientSecret}, {"gstin", c.GSTIN},
		{"username", c.Username}, {"password", c.Password},
	} {
		if strings.TrimSpace(f.v) == "" {
			return &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
				Message: fmt.Sprintf("nic: account has no %s", f.name)}
		}
	}
	return nil
}

// Doer sends one HTTP request. *http.Client implements it; connectors may plug in
// a client with their own transport, proxy or tracing. The request always carries
// the caller's context, so its deadline bounds the whole exchange.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Config configures a Manager. Zero values take NIC's documented defaults.
type Config struct {
	// Flavor is EWayBill or EInvoice. Required.
	Flavor Flavor
	// BaseURL is the NIC (or pass-through GSP) endpoint, without a trailing slash,
	// e.g. https://ewaybillgst.gov.in/ewaybillapi/v1.03 or https://einv-apisandbox.nic.in/eivital. Required.
	BaseURL string
	// PublicKey is NIC's published RSA public key for this endpoint (ParsePublicKey reads it). Required.
	PublicKey *rsa.PublicKey
	// HTTP sends requests; nil means a client with a 60 s overall timeout whose
	// connections go through the egress guard (egress.Transport).
	HTTP Doer
	// AuthPath is the login path under BaseURL: "/auth/" for EWB, "/v1.04/auth" for IRP.
	AuthPath string
	// TokenTTL is how long an EWB token lives (NIC: 360 minutes), and the IRP fallback
	// when a response lacks a readable TokenExpiry (60 minutes, the sandbox's lifetime).
	TokenTTL time.Duration
	// RefreshBefore renews a session this long before it expires (default 2 minutes).
	RefreshBefore time.Duration
	// LoginLimit is the most logins per GSTIN in LoginWindow (default 5, NIC's limit).
	LoginLimit int
	// LoginWindow is the sliding window for LoginLimit (default 15 minutes).
	LoginWindow time.Duration
	// MaxResponseBytes caps a response body (default 8 MiB).
	MaxResponseBytes int64
	// Now is the clock (default time.Now); tests pass a fake.
	Now func() time.Time
	// Rand is the source of app keys and REKs (default crypto/rand).
	Rand io.Reader
	// Logger receives login and rate-guard events (default: discard). It never sees secrets.
	Logger *slog.Logger
}

// Manager logs in to one NIC endpoint and caches each GSTIN's token and SEK until
// they expire. Logins for a GSTIN are single-flight (concurrent callers wait for one
// login) and limited to LoginLimit per LoginWindow: past that, callers get
// rate_limited with RetryAfter and no request is sent. A Manager is safe for
// concurrent use by any number of goroutines.
type Manager struct {
	cfg   Config
	fpKey []byte

	mu      sync.Mutex
	entries map[string]*entry
	logins  map[string][]time.Time
}

type entry struct {
	sess   *Session
	fp     [32]byte
	flight *flight
}

type flight struct {
	done chan struct{}
	fp   [32]byte
	sess *Session
	err  error
}

// NewManager checks cfg and returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	switch cfg.Flavor {
	case EWayBill:
		if cfg.AuthPath == "" {
			cfg.AuthPath = "/auth/"
		}
		if cfg.TokenTTL == 0 {
			cfg.TokenTTL = 360 * time.Minute
		}
	case EInvoice:
		if cfg.AuthPath == "" {
			cfg.AuthPath = "/v1.04/auth"
		}
		if cfg.TokenTTL == 0 {
			cfg.TokenTTL = 60 * time.Minute
		}
	default:
		return nil, sdk.Errorf(sdk.CodeInternal, "nic: config flavor %s is not EWayBill or EInvoice", cfg.Flavor)
	}
	if cfg.BaseURL == "" {
		return nil, sdk.Errorf(sdk.CodeInternal, "nic: config has no BaseURL")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.PublicKey == nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "nic: config has no NIC public key")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: exchange.Recording(egress.Transport())}
	}
	if cfg.RefreshBefore == 0 {
		cfg.RefreshBefore = 2 * time.Minute
	}
	if cfg.LoginLimit == 0 {
		cfg.LoginLimit = 5
	}
	if cfg.LoginWindow == 0 {
		cfg.LoginWindow = 15 * time.Minute
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = 8 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	fpKey := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, fpKey); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "nic: seeding credential fingerprints: %v", err)
	}
	return &Manager{cfg: cfg, fpKey: fpKey, entries: map[string]*entry{}, logins: map[string][]time.Time{}}, nil
}

// Session is one logged-in NIC session: the auth token and the SEK. It is
// immutable and safe to share. String redacts the token.
type Session struct {
	token    string
	sek      []byte
	expiry   time.Time
	gstin    string
	username string
	layering Layering
}

// AuthToken returns the token to send in the authtoken (EWB) or AuthToken (IRP) header.
// It is a secret: never log it.
func (s *Session) AuthToken() string { return s.token }

// Expiry returns when NIC stops accepting the token.
func (s *Session) Expiry() time.Time { return s.expiry }

// GSTIN returns the taxpayer the session acts for.
func (s *Session) GSTIN() string { return s.gstin }

// Seal encrypts a JSON request payload with the SEK, layered for this session's
// system (Base64(JSON) inside for EWB, JSON for IRP).
func (s *Session) Seal(jsonPayload []byte) (string, error) {
	return Seal(s.sek, jsonPayload, s.layering)
}

// Open decrypts a response's data field with the SEK and returns its JSON.
func (s *Session) Open(data string) ([]byte, error) { return Open(s.sek, data) }

// OpenREK decrypts and verifies an EWB GET response with the SEK.
func (s *Session) OpenREK(r RekResponse) ([]byte, error) { return OpenREK(s.sek, r) }

// String describes the session without its token or key.
func (s *Session) String() string {
	return fmt.Sprintf("nic.Session{GSTIN:%s expires %s, token and sek redacted}", s.gstin, s.expiry.Format(time.RFC3339))
}

// GoString redacts like String.
func (s *Session) GoString() string { return s.String() }

func (m *Manager) key(c Credentials) string { return m.cfg.BaseURL + "\x00" + c.GSTIN }

// fingerprint identifies a credential set without keeping anything reversible:
// a cached session is only handed to callers presenting the same secrets.
func (m *Manager) fingerprint(c Credentials) [32]byte {
	h := hmac.New(sha256.New, m.fpKey)
	for _, s := range []string{c.ClientID, c.ClientSecret, c.GSTIN, c.Username, c.Password} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Session returns a live session for the credentials' GSTIN, logging in only if
// none is cached, the cached one is about to expire, or it was made with other
// credentials. Concurrent callers share one login.
func (m *Manager) Session(ctx context.Context, c Credentials) (*Session, error) {
	return m.session(ctx, c, nil)
}

// Refresh replaces stale, a session NIC has just refused, with a new login (still
// subject to the rate guard). If another caller already replaced it, that session
// is returned without logging in again.
func (m *Manager) Refresh(ctx context.Context, c Credentials, stale *Session) (*Session, error) {
	if stale == nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "nic: Refresh needs the stale session")
	}
	return m.session(ctx, c, stale)
}

func (m *Manager) session(ctx context.Context, c Credentials, stale *Session) (*Session, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	key, fp := m.key(c), m.fingerprint(c)
	for {
		m.mu.Lock()
		e := m.entries[key]
		if e == nil {
			e = &entry{}
			m.entries[key] = e
		}
		if stale != nil && e.sess == stale {
			e.sess = nil
		}
		now := m.cfg.Now()
		if e.sess != nil && e.fp == fp && now.Before(e.sess.expiry.Add(-m.cfg.RefreshBefore)) {
			s := e.sess
			m.mu.Unlock()
			return s, nil
		}
		if f := e.flight; f != nil {
			m.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, sdk.AsError(ctx.Err())
			}
			if f.fp != fp {
				continue // another account's login for this GSTIN; look again
			}
			if f.err != nil && isContextErr(f.err) && ctx.Err() == nil {
				continue // the leader gave up; this caller may still log in
			}
			return f.sess, f.err
		}
		if err := m.reserveLogin(key, c.GSTIN, now); err != nil {
			m.mu.Unlock()
			return nil, err
		}
		f := &flight{done: make(chan struct{}), fp: fp}
		e.flight = f
		m.mu.Unlock()

		sess, err := m.login(ctx, c, stale != nil)

		m.mu.Lock()
		e.flight = nil
		if err == nil {
			e.sess, e.fp = sess, fp
		}
		m.mu.Unlock()
		f.sess, f.err = sess, err
		close(f.done)
		return sess, err
	}
}

// reserveLogin records a login attempt for the GSTIN, or refuses it when the
// sliding window is full. Called with m.mu held. Attempts count whether they
// succeed or not: NIC counts calls, not successes.
func (m *Manager) reserveLogin(key, gstin string, now time.Time) error {
	cutoff := now.Add(-m.cfg.LoginWindow)
	ts := m.logins[key]
	kept := ts[:0]
	for _, t := range ts {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	if len(kept) >= m.cfg.LoginLimit {
		m.logins[key] = kept
		wait := kept[0].Add(m.cfg.LoginWindow).Sub(now)
		if wait < time.Second {
			wait = time.Second
		}
		m.cfg.Logger.Warn("nic login refused by rate guard", "flavor", m.cfg.Flavor.String(), "gstin", gstin,
			"logins", len(kept), "window", m.cfg.LoginWindow.String(), "retry_after", wait.String())
		return &sdk.Error{Code: sdk.CodeRateLimited, Source: sdk.SourceConnector, NotSent: true, RetryAfter: wait,
			Message: fmt.Sprintf("nic: %d logins for GSTIN %s in the last %s; NIC allows %d, next login possible in %s",
				len(kept), gstin, m.cfg.LoginWindow, m.cfg.LoginLimit, wait.Round(time.Second))}
	}
	m.logins[key] = append(kept, now)
	return nil
}

// LoginsInWindow reports how many logins for the GSTIN count against the rate guard now.
func (m *Manager) LoginsInWindow(gstin string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	cutoff := m.cfg.Now().Add(-m.cfg.LoginWindow)
	n := 0
	for _, t := range m.logins[m.cfg.BaseURL+"\x00"+gstin] {
		if t.After(cutoff) {
			n++
		}
	}
	return n
}

// Do runs call with a live session. If NIC answers that the token or SEK is stale
// (IsStaleSession), Do logs in again once, rate guard permitting, and repeats the
// call: NIC refused the first attempt at its door, so repeating it cannot do the
// operation twice.
func (m *Manager) Do(ctx context.Context, c Credentials, call func(ctx context.Context, s *Session) error) error {
	s, err := m.Session(ctx, c)
	if err != nil {
		return err
	}
	err = call(ctx, s)
	if !IsStaleSession(err) {
		return err
	}
	m.cfg.Logger.Info("nic session refused, logging in again", "flavor", m.cfg.Flavor.String(), "gstin", c.GSTIN,
		"carrier_code", sdk.AsError(err).CarrierCode)
	s2, rerr := m.Refresh(ctx, c, s)
	if rerr != nil {
		return rerr
	}
	return call(ctx, s2)
}

func isContextErr(err error) bool {
	e := sdk.AsError(err)
	return e.Code == sdk.CodeTimeout
}

// ewbLogin is the v1.03 login JSON, field order as NIC documents it.
type ewbLogin struct {
	Action   string `json:"action"`
	Username string `json:"username"`
	Password string `json:"password"`
	AppKey   string `json:"app_key"`
}

// irpLogin is the v1.04 login JSON.
type irpLogin struct {
	UserName                string `json:"UserName"`
	Password                string `json:"Password"`
	AppKey                  string `json:"AppKey"`
	ForceRefreshAccessToken bool   `json:"ForceRefreshAccessToken"`
}

func (m *Manager) login(ctx context.Context, c Credentials, forced bool) (*Session, error) {
	appKey, err := NewAppKey(m.cfg.Rand)
	if err != nil {
		return nil, err
	}
	defer clear(appKey)
	appKeyB64 := b64(appKey)
	var creds any
	if m.cfg.Flavor == EWayBill {
		creds = ewbLogin{Action: "ACCESSTOKEN", Username: c.Username, Password: c.Password, AppKey: appKeyB64}
	} else {
		creds = irpLogin{UserName: c.Username, Password: c.Password, AppKey: appKeyB64, ForceRefreshAccessToken: forced}
	}
	plain, err := json.Marshal(creds)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "nic: encoding login payload: %v", err)
	}
	data, err := EncryptLogin(m.cfg.PublicKey, plain)
	clear(plain)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"Data": data})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.cfg.BaseURL+m.cfg.AuthPath, bytes.NewReader(body))
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: "nic: building login request: " + err.Error()}
	}
	m.setHeaders(req, c, nil)
	status, resp, err := m.send(req)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	var encSEK, token string
	var expiry time.Time
	if m.cfg.Flavor == EWayBill {
		var r struct {
			Status    Digits          `json:"status"`
			AuthToken string          `json:"authtoken"`
			Sek       string          `json:"sek"`
			Error     json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(resp, &r); err != nil {
			return nil, badResponse(status, resp, "login")
		}
		if !r.Status.ok() {
			return nil, loginRefused(ClassifyCodes(ewbErrorCodes(r.Error)))
		}
		token, encSEK, expiry = r.AuthToken, r.Sek, now.Add(m.cfg.TokenTTL)
	} else {
		var r struct {
			Status Digits `json:"Status"`
			Data   struct {
				AuthToken   string `json:"AuthToken"`
				Sek         string `json:"Sek"`
				TokenExpiry string `json:"TokenExpiry"`
			} `json:"Data"`
			ErrorDetails []irpErrorDetail `json:"ErrorDetails"`
		}
		if err := json.Unmarshal(resp, &r); err != nil {
			return nil, badResponse(status, resp, "login")
		}
		if !r.Status.ok() {
			return nil, loginRefused(irpError(r.ErrorDetails))
		}
		token, encSEK = r.Data.AuthToken, r.Data.Sek
		expiry = now.Add(m.cfg.TokenTTL)
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", r.Data.TokenExpiry, model.IST); err == nil {
			expiry = t
		}
	}
	if token == "" || encSEK == "" {
		return nil, sdk.CarrierError(sdk.CodeCarrierUnavailable, "", "NIC login answered success without a token or sek")
	}
	sek, err := DecryptSEK(appKey, encSEK)
	if err != nil {
		return nil, err
	}
	layering := LayerBase64JSON
	if m.cfg.Flavor == EInvoice {
		layering = LayerJSON
	}
	m.cfg.Logger.Info("nic login", "flavor", m.cfg.Flavor.String(), "gstin", c.GSTIN, "forced", forced, "expires", expiry)
	return &Session{token: token, sek: sek, expiry: expiry, gstin: c.GSTIN, username: c.Username, layering: layering}, nil
}

// loginRefused classifies NIC's refusal of a login: the payload is nothing but
// credentials, so a refusal that is not an outage is an authentication failure.
func loginRefused(e *sdk.Error) *sdk.Error {
	if e.Code == sdk.CodeInvalidRequest || e.Code == sdk.CodeNotFound || e.Code == sdk.CodeConflict {
		e.Code = sdk.CodeAuthFailed
	}
	return e
}

func badResponse(status int, body []byte, what string) *sdk.Error {
	if status != http.StatusOK {
		return httpStatusError(status, body)
	}
	e := sdk.CarrierError(sdk.CodeCarrierUnavailable, "", "NIC "+what+" response is not the expected JSON")
	if looksHTML(body) {
		e.Message += " (an HTML page)"
	}
	return e
}

// setHeaders adds the headers every NIC call carries; s is nil for login.
func (m *Manager) setHeaders(req *http.Request, c Credentials, s *Session) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if m.cfg.Flavor == EWayBill {
		req.Header.Set("client-id", c.ClientID)
		req.Header.Set("client-secret", c.ClientSecret)
		req.Header.Set("gstin", c.GSTIN)
		if s != nil {
			req.Header.Set("authtoken", s.token)
		}
		return
	}
	req.Header.Set("client_id", c.ClientID)
	req.Header.Set("client_secret", c.ClientSecret)
	req.Header.Set("Gstin", c.GSTIN)
	if s != nil {
		req.Header.Set("user_name", c.Username)
		req.Header.Set("AuthToken", s.token)
	}
}

// send performs the request and reads a bounded body. Transport failures are
// classified: the context's end is a timeout; a failure to connect never sent the
// request (NotSent); anything later may have reached NIC.
func (m *Manager) send(req *http.Request) (int, []byte, error) {
	resp, err := m.cfg.HTTP.Do(req)
	if err != nil {
		if e := egress.Refused(err); e != nil {
			return 0, nil, e
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			e := sdk.AsError(ctxErr)
			e.Message = "nic: " + req.Method + " " + req.URL.Path + ": " + e.Message
			return 0, nil, e
		}
		e := &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "nic: " + req.Method + " " + req.URL.Path + ": " + transportText(err)}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			e.NotSent = true
		}
		return 0, nil, e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, m.cfg.MaxResponseBytes+1))
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return 0, nil, sdk.AsError(ctxErr)
		}
		return 0, nil, &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceConnector, Message: "nic: reading response: " + transportText(err)}
	}
	if int64(len(body)) > m.cfg.MaxResponseBytes {
		return 0, nil, sdk.CarrierError(sdk.CodeCarrierUnavailable, "", fmt.Sprintf("NIC response is larger than %d bytes", m.cfg.MaxResponseBytes))
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		e := httpStatusError(resp.StatusCode, body)
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if d, err := time.ParseDuration(ra + "s"); err == nil {
				e.RetryAfter = d
			}
		}
		return 0, nil, e
	}
	return resp.StatusCode, body, nil
}

// transportText describes a transport error without the request URL's query.
func transportText(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
