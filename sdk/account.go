package sdk

import (
	"fmt"
	"log/slog"
)

// Account is one tenant's configuration of one connector: its credentials for the
// provider, its settings, and which environment it talks to. It travels with every
// call; a connector process keeps no tenant state beyond token caches keyed by it.
//
// Account never prints its credentials: String, GoString and LogValue redact them.
type Account struct {
	// ID is the hub's account id.
	ID string
	// TenantID is the owning tenant.
	TenantID string
	// Environment is sandbox or production.
	Environment string
	// BaseURL is the provider's base URL for this account: the manifest's URL for
	// Environment, or an override for a sandbox or simulator.
	BaseURL string
	// Credentials are the secrets, by the names the manifest declares.
	Credentials map[string]string
	// Settings are the non-secret values, by the names the manifest declares.
	Settings map[string]string
}

// Credential returns the named credential or an auth_failed error naming what is missing.
func (a *Account) Credential(name string) (string, error) {
	if a == nil || a.Credentials[name] == "" {
		return "", &Error{Code: CodeAuthFailed, Source: SourceConnector, NotSent: true, Message: fmt.Sprintf("account has no %q credential", name)}
	}
	return a.Credentials[name], nil
}

// Setting returns the named setting, or def when it is unset.
func (a *Account) Setting(name, def string) string {
	if a == nil || a.Settings[name] == "" {
		return def
	}
	return a.Settings[name]
}

// String describes the account without its credentials.
func (a *Account) String() string {
	if a == nil {
		return "account(none)"
	}
	return fmt.Sprintf("account(%s, tenant %s, %s, %d credentials redacted)", a.ID, a.TenantID, a.Environment, len(a.Credentials))
}

// GoString redacts like String, so %#v cannot leak credentials.
func (a *Account) GoString() string { return a.String() }

// LogValue redacts credentials in slog output.
func (a *Account) LogValue() slog.Value {
	if a == nil {
		return slog.StringValue("none")
	}
	return slog.GroupValue(slog.String("id", a.ID), slog.String("tenant", a.TenantID), slog.String("environment", a.Environment))
}
