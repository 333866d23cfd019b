package nic

import (
	"context"
	"strings"
	"sync"

	"github.com/carrierhub/hub/sdk"
)

// The account fields every NIC connector's manifest declares: the API
// user's credentials, the GSTIN it was created for, and NIC's public key
// for the account's environment (public, and different per environment, so
// a setting).
const (
	CredClientID     = "client_id"
	CredClientSecret = "client_secret"
	CredUsername     = "username"
	CredPassword     = "password"
	SettingGSTIN     = "gstin"
	SettingPublicKey = "public_key"
)

// maxManagers bounds the managers an Accounts keeps, one per base URL and
// public key; past it the cache starts afresh (sessions are then logged in
// again, the rate guard permitting).
const maxManagers = 256

// Accounts resolves hub accounts to session managers for one NIC system: one
// Manager per base URL and public key, whose sessions are keyed by GSTIN. It
// is safe for concurrent use by every tenant's accounts.
type Accounts struct {
	// Flavor and AuthPath configure every manager (Config).
	Flavor   Flavor
	AuthPath string
	// Adjust, when set, changes each manager's configuration before it is
	// made (tests set a clock or an HTTP client); Flavor, BaseURL, AuthPath
	// and PublicKey stay the account's.
	Adjust func(*Config)

	mu       sync.Mutex
	managers map[string]*Manager
}

// Resolve reads an account's NIC credentials and returns its session manager.
func (s *Accounts) Resolve(a *sdk.Account) (*Manager, Credentials, error) {
	var creds Credentials
	if a == nil {
		return nil, creds, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true, Message: "no account"}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{CredClientID, &creds.ClientID}, {CredClientSecret, &creds.ClientSecret}, {CredUsername, &creds.Username}, {CredPassword, &creds.Password}} {
		v, err := a.Credential(f.name)
		if err != nil {
			return nil, creds, err
		}
		*f.dst = v
	}
	creds.GSTIN = strings.ToUpper(strings.TrimSpace(a.Setting(SettingGSTIN, "")))
	if creds.GSTIN == "" {
		return nil, creds, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: `account has no "gstin" setting: the GSTIN the ` + s.Flavor.system() + ` API user was created for`}
	}
	pemText := strings.TrimSpace(a.Setting(SettingPublicKey, ""))
	if pemText == "" {
		return nil, creds, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: `account has no "public_key" setting: paste the ` + s.Flavor.system() + ` public key NIC issued for this environment (PEM or Base64)`}
	}
	base := strings.TrimRight(strings.TrimSpace(a.BaseURL), "/")
	if base == "" {
		return nil, creds, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true, Message: "account has no base URL"}
	}
	m, err := s.manager(base, pemText)
	return m, creds, err
}

// Login logs an account in, or finds its cached session: NIC has no ping, and
// a login proves the host, the public key and the credentials. A cached
// session costs nothing; a new login counts against the login-rate guard.
func (s *Accounts) Login(ctx context.Context, a *sdk.Account) error {
	m, creds, err := s.Resolve(a)
	if err != nil {
		return err
	}
	_, err = m.Session(ctx, creds)
	return err
}

func (s *Accounts) manager(base, pemText string) (*Manager, error) {
	key := base + "\x00" + pemText // the key is public: it keys the cache as it is
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.managers[key]; m != nil {
		return m, nil
	}
	pub, err := ParsePublicKey([]byte(pemText))
	if err != nil {
		e := sdk.AsError(err)
		return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: `the account's "public_key" setting is not NIC's public key: ` + e.Message}
	}
	cfg := Config{Flavor: s.Flavor, BaseURL: base, AuthPath: s.AuthPath, PublicKey: pub}
	if s.Adjust != nil {
		s.Adjust(&cfg)
		cfg.Flavor, cfg.BaseURL, cfg.AuthPath, cfg.PublicKey = s.Flavor, base, s.AuthPath, pub
	}
	m, err := NewManager(cfg)
	if err != nil {
		return nil, err
	}
	if s.managers == nil || len(s.managers) >= maxManagers {
		s.managers = map[string]*Manager{}
	}
	s.managers[key] = m
	return m, nil
}

// system names the flavor's NIC system for people.
func (f Flavor) system() string {
	if f == EInvoice {
		return "e-Invoice"
	}
	return "e-Way Bill"
}
