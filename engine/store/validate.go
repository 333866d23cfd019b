package store

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is the error every backend reports, wrapped in a *ValidationError, for
// input that can never be stored: an empty or overlong name, an unknown environment, a
// malformed base URL. Callers map it to a 400-class answer.
var ErrInvalid = errors.New("invalid input")

// ValidationError says which field of the input is wrong and why. It matches
// ErrInvalid with errors.Is.
type ValidationError struct {
	// Field is the input's name as the API spells it (name, connector_id, credentials.user).
	Field string
	// Reason is a lowercase phrase such as "must not be empty".
	Reason string
}

// Error returns "invalid <field>: <reason>".
func (e *ValidationError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Limits on what the store accepts. They keep rows small and logs readable; none is
// near what a real tenant or carrier account needs.
const (
	// MaxNameLen is the longest tenant, API key or account name, in bytes.
	MaxNameLen = 200
	// MaxBaseURLLen is the longest account base URL, in bytes.
	MaxBaseURLLen = 2048
	// MaxMapEntries is the most credentials or settings an account may hold.
	MaxMapEntries = 64
	// MaxMapKeyLen is the longest credential or setting name, in bytes.
	MaxMapKeyLen = 128
	// MaxMapValueLen is the longest credential or setting value, in bytes (room for a
	// PEM private key or a certificate chain).
	MaxMapValueLen = 16 << 10
)

// Environments an account may name.
const (
	EnvironmentSandbox    = "sandbox"
	EnvironmentProduction = "production"
)

// connectorIDPattern is the manifest's rule for connector ids (sdk.Manifest).
var connectorIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// checkText rejects strings no backend stores faithfully or that make logs misleading:
// invalid UTF-8 (Postgres refuses it), NUL and other control characters.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid(field, "contains control character %U", r)
		}
	}
	return nil
}

// checkName validates a human-chosen name: non-empty, no surrounding spaces, at most
// MaxNameLen bytes, printable.
func checkName(field, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return invalid(field, "must not be empty")
	case len(s) > MaxNameLen:
		return invalid(field, "is %d bytes, longer than %d", len(s), MaxNameLen)
	case strings.TrimSpace(s) != s:
		return invalid(field, "must not begin or end with spaces")
	}
	return checkText(field, s)
}

func checkAccount(a Account) error {
	if err := checkName("name", a.Name); err != nil {
		return err
	}
	if !connectorIDPattern.MatchString(a.ConnectorID) {
		if a.ConnectorID == "" {
			return invalid("connector_id", "must not be empty")
		}
		return invalid("connector_id", "must be lower snake case, 2 to 63 characters")
	}
	if a.Environment != EnvironmentSandbox && a.Environment != EnvironmentProduction {
		if a.Environment == "" {
			return invalid("environment", "must not be empty (sandbox or production)")
		}
		return invalid("environment", "must be sandbox or production")
	}
	if a.BaseURL != "" {
		if err := checkBaseURL(a.BaseURL); err != nil {
			return err
		}
	}
	if err := checkMap("credentials", a.Credentials); err != nil {
		return err
	}
	return checkMap("settings", a.Settings)
}

func checkBaseURL(s string) error {
	if len(s) > MaxBaseURLLen {
		return invalid("base_url", "is %d bytes, longer than %d", len(s), MaxBaseURLLen)
	}
	if err := checkText("base_url", s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalid("base_url", "is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid("base_url", "must be an http or https URL")
	}
	if u.Host == "" {
		return invalid("base_url", "has no host")
	}
	if u.User != nil {
		// Credentials belong in the sealed credentials, not in a plain column.
		return invalid("base_url", "must not contain a user or password; put them in credentials")
	}
	return nil
}

// checkMap validates credentials or settings. Reasons never quote a value, which may be
// a secret.
func checkMap(field string, m map[string]string) error {
	if len(m) > MaxMapEntries {
		return invalid(field, "has %d entries, more than %d", len(m), MaxMapEntries)
	}
	for k, v := range m {
		if k == "" {
			return invalid(field, "has an empty key")
		}
		if len(k) > MaxMapKeyLen {
			return invalid(field, "has a key of %d bytes, longer than %d", len(k), MaxMapKeyLen)
		}
		if err := checkText(field+" key", k); err != nil {
			return err
		}
		f := field + "." + k
		if len(v) > MaxMapValueLen {
			return invalid(f, "is %d bytes, longer than %d", len(v), MaxMapValueLen)
		}
		if !utf8.ValidString(v) {
			// JSON encoding would silently replace the bad bytes.
			return invalid(f, "is not valid UTF-8")
		}
	}
	return nil
}
